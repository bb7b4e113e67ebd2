//! The one bridge from protobuf enum names to `ferry_proto::codedeploy`: flag values are read
//! through a message's descriptor, which knows an enum by its protobuf name only.

use std::marker::PhantomData;

use ferry_proto::codedeploy::CodeDeployName;
use ferry_proto::common::v1 as common;
use ferry_proto::deploy::v1 as deploy;
use ferry_proto::registry::v1 as registry;
use ferry_proto::revision::v1 as revision;

/// CodeDeploy's names of the values of the protobuf enum `full_name`, with their numbers;
/// `None` for an enum that has no CodeDeploy counterpart.
pub fn codedeploy_names(full_name: &str) -> Option<Vec<(i32, &'static str)>> {
    struct Names<E>(PhantomData<E>);
    impl<E: CodeDeployName + Into<i32> + 'static> Names<E> {
        fn get() -> Vec<(i32, &'static str)> {
            E::all()
                .iter()
                .filter_map(|&value| Some((value.into(), value.codedeploy_name()?)))
                .collect()
        }
    }
    Some(match full_name {
        "ferry.common.v1.ComputePlatform" => Names::<common::ComputePlatform>::get(),
        "ferry.common.v1.TagFilterType" => Names::<common::TagFilterType>::get(),
        "ferry.common.v1.DeploymentStatus" => Names::<common::DeploymentStatus>::get(),
        "ferry.common.v1.RevisionLocationType" => Names::<common::RevisionLocationType>::get(),
        "ferry.common.v1.BundleType" => Names::<common::BundleType>::get(),
        "ferry.common.v1.FileExistsBehavior" => Names::<common::FileExistsBehavior>::get(),
        "ferry.common.v1.LifecycleEventStatus" => Names::<common::LifecycleEventStatus>::get(),
        "ferry.common.v1.LifecycleErrorCode" => Names::<common::LifecycleErrorCode>::get(),
        "ferry.registry.v1.MinimumHealthyHostsType" => {
            Names::<registry::MinimumHealthyHostsType>::get()
        }
        "ferry.registry.v1.MinimumHealthyHostsPerZoneType" => {
            Names::<registry::MinimumHealthyHostsPerZoneType>::get()
        }
        "ferry.registry.v1.TrafficRoutingType" => Names::<registry::TrafficRoutingType>::get(),
        "ferry.registry.v1.TriggerEventType" => Names::<registry::TriggerEventType>::get(),
        "ferry.registry.v1.AutoRollbackEvent" => Names::<registry::AutoRollbackEvent>::get(),
        "ferry.registry.v1.DeploymentType" => Names::<registry::DeploymentType>::get(),
        "ferry.registry.v1.DeploymentOption" => Names::<registry::DeploymentOption>::get(),
        "ferry.registry.v1.InstanceAction" => Names::<registry::InstanceAction>::get(),
        "ferry.registry.v1.DeploymentReadyAction" => {
            Names::<registry::DeploymentReadyAction>::get()
        }
        "ferry.registry.v1.GreenFleetProvisioningAction" => {
            Names::<registry::GreenFleetProvisioningAction>::get()
        }
        "ferry.registry.v1.OutdatedInstancesStrategy" => {
            Names::<registry::OutdatedInstancesStrategy>::get()
        }
        "ferry.registry.v1.RegistrationStatus" => Names::<registry::RegistrationStatus>::get(),
        "ferry.revision.v1.ApplicationRevisionSortBy" => {
            Names::<revision::ApplicationRevisionSortBy>::get()
        }
        "ferry.revision.v1.SortOrder" => Names::<revision::SortOrder>::get(),
        "ferry.revision.v1.ListStateFilterAction" => {
            Names::<revision::ListStateFilterAction>::get()
        }
        "ferry.deploy.v1.ErrorCode" => Names::<deploy::ErrorCode>::get(),
        "ferry.deploy.v1.DeploymentCreator" => Names::<deploy::DeploymentCreator>::get(),
        "ferry.deploy.v1.StopStatus" => Names::<deploy::StopStatus>::get(),
        "ferry.deploy.v1.DeploymentWaitType" => Names::<deploy::DeploymentWaitType>::get(),
        "ferry.deploy.v1.TargetStatus" => Names::<deploy::TargetStatus>::get(),
        "ferry.deploy.v1.TargetLabel" => Names::<deploy::TargetLabel>::get(),
        "ferry.deploy.v1.DeploymentTargetType" => Names::<deploy::DeploymentTargetType>::get(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;

    use super::*;

    #[test]
    fn every_codedeploy_enum_is_in_the_table_under_its_protobuf_name() {
        let pool = DescriptorPool::decode(ferry_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut missing = Vec::new();
        for descriptor in pool.all_enums() {
            let name = descriptor.full_name();
            if !name.starts_with("ferry.") {
                continue;
            }
            match codedeploy_names(name) {
                Some(names) => {
                    for (number, _) in names {
                        assert!(descriptor.get_value(number).is_some(), "{name} {number}");
                    }
                }
                None => missing.push(name.to_owned()),
            }
        }
        // Enums of ferry's own that CodeDeploy has no counterpart of.
        missing.sort();
        assert_eq!(
            missing,
            [
                "ferry.agent.v1.OutputStream",
                "ferry.deploy.v1.OutputStream",
                "ferry.revision.v1.Severity"
            ]
        );
    }
}
