//! The predefined `CodeDeployDefault.*` configurations: seeded at start-up, read-only, with
//! ids derived from their names so that every replica and every restart agrees on them.

use ferry_proto::common::v1::ComputePlatform;
use ferry_proto::registry::v1::{MinimumHealthyHostsType, TrafficRoutingType};
use sha2::{Digest, Sha256};

use super::model::{ConfigSpec, MinimumHealthyHosts, Step, TrafficRouting};

/// The prefix CodeDeploy reserves for its own configurations.
pub const RESERVED_PREFIX: &str = "CodeDeployDefault.";

/// The configuration a new deployment group of each platform gets when it names none.
pub fn default_for(platform: ComputePlatform) -> &'static str {
    match platform {
        ComputePlatform::Lambda => "CodeDeployDefault.LambdaAllAtOnce",
        ComputePlatform::Ecs => "CodeDeployDefault.ECSAllAtOnce",
        ComputePlatform::Server | ComputePlatform::Unspecified => "CodeDeployDefault.OneAtATime",
    }
}

/// One predefined configuration.
pub struct Predefined {
    pub name: &'static str,
    pub platform: ComputePlatform,
    pub spec: ConfigSpec,
}

impl Predefined {
    /// A UUID made from the name (version 8, "custom": the first 16 bytes of a SHA-256 of a
    /// ferry namespace and the name), so every replica inserts the same id.
    pub fn id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"ferry:predefined-deployment-config\0")
            .chain_update(self.name.as_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_custom_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}

fn server(name: &'static str, kind: MinimumHealthyHostsType, value: i32) -> Predefined {
    let spec = ConfigSpec {
        minimum_healthy_hosts: Some(MinimumHealthyHosts { kind, value }),
        ..ConfigSpec::default()
    };
    Predefined {
        name,
        platform: ComputePlatform::Server,
        spec,
    }
}

fn routed(
    name: &'static str,
    platform: ComputePlatform,
    kind: TrafficRoutingType,
    step: Option<Step>,
) -> Predefined {
    let routing = TrafficRouting {
        kind,
        time_based_canary: step.filter(|_| kind == TrafficRoutingType::TimeBasedCanary),
        time_based_linear: step.filter(|_| kind == TrafficRoutingType::TimeBasedLinear),
    };
    let spec = ConfigSpec {
        traffic_routing_config: Some(routing),
        ..ConfigSpec::default()
    };
    Predefined {
        name,
        platform,
        spec,
    }
}

/// Every predefined configuration, as CodeDeploy's GetDeploymentConfig describes them.
pub fn all() -> Vec<Predefined> {
    use ComputePlatform::{Ecs, Lambda};
    use TrafficRoutingType::{AllAtOnce, TimeBasedCanary as Canary, TimeBasedLinear as Linear};
    let step = |percentage, interval| {
        Some(Step {
            percentage,
            interval,
        })
    };
    vec![
        // OneAtATime is described with MOST_CONCURRENCY 1, a type only it carries.
        server(
            "CodeDeployDefault.OneAtATime",
            MinimumHealthyHostsType::MostConcurrency,
            1,
        ),
        server(
            "CodeDeployDefault.HalfAtATime",
            MinimumHealthyHostsType::FleetPercent,
            50,
        ),
        server(
            "CodeDeployDefault.AllAtOnce",
            MinimumHealthyHostsType::HostCount,
            0,
        ),
        routed("CodeDeployDefault.LambdaAllAtOnce", Lambda, AllAtOnce, None),
        routed(
            "CodeDeployDefault.LambdaCanary10Percent5Minutes",
            Lambda,
            Canary,
            step(10, 5),
        ),
        routed(
            "CodeDeployDefault.LambdaCanary10Percent10Minutes",
            Lambda,
            Canary,
            step(10, 10),
        ),
        routed(
            "CodeDeployDefault.LambdaCanary10Percent15Minutes",
            Lambda,
            Canary,
            step(10, 15),
        ),
        routed(
            "CodeDeployDefault.LambdaCanary10Percent30Minutes",
            Lambda,
            Canary,
            step(10, 30),
        ),
        routed(
            "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
            Lambda,
            Linear,
            step(10, 1),
        ),
        routed(
            "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
            Lambda,
            Linear,
            step(10, 2),
        ),
        routed(
            "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
            Lambda,
            Linear,
            step(10, 3),
        ),
        routed(
            "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
            Lambda,
            Linear,
            step(10, 10),
        ),
        routed("CodeDeployDefault.ECSAllAtOnce", Ecs, AllAtOnce, None),
        routed(
            "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
            Ecs,
            Linear,
            step(10, 1),
        ),
        routed(
            "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
            Ecs,
            Linear,
            step(10, 3),
        ),
        routed(
            "CodeDeployDefault.ECSCanary10Percent5Minutes",
            Ecs,
            Canary,
            step(10, 5),
        ),
        routed(
            "CodeDeployDefault.ECSCanary10Percent15Minutes",
            Ecs,
            Canary,
            step(10, 15),
        ),
    ]
}

/// True for the name of a predefined configuration.
pub fn is_predefined(name: &str) -> bool {
    name.starts_with(RESERVED_PREFIX) && all().iter().any(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::names::{self, NameKind};

    #[test]
    fn names_are_valid_unique_and_reserved() {
        let all = all();
        let names: BTreeSet<_> = all.iter().map(|p| p.name).collect();
        assert_eq!(names.len(), all.len());
        for p in &all {
            assert!(p.name.starts_with(RESERVED_PREFIX), "{}", p.name);
            names::check(NameKind::DeploymentConfig, p.name).unwrap();
            assert!(is_predefined(p.name));
        }
        assert!(!is_predefined("CodeDeployDefault.Other"));
        assert!(!is_predefined("OneAtATime"));
    }

    #[test]
    fn ids_are_stable_distinct_uuids() {
        let all = all();
        let ids: BTreeSet<_> = all.iter().map(Predefined::id).collect();
        assert_eq!(ids.len(), all.len());
        for p in &all {
            assert_eq!(p.id(), p.id());
            assert!(uuid::Uuid::parse_str(&p.id()).is_ok());
        }
    }

    #[test]
    fn every_platform_default_is_predefined_for_that_platform() {
        for platform in [
            ComputePlatform::Server,
            ComputePlatform::Lambda,
            ComputePlatform::Ecs,
        ] {
            let name = default_for(platform);
            let found = all()
                .into_iter()
                .find(|p| p.name == name)
                .expect("predefined");
            assert_eq!(found.platform, platform);
        }
    }
}
