//! The Properties of an ECS AppSpec's `AWS::ECS::Service` target.

use std::collections::BTreeMap;

use crate::model::{AwsVpcConfiguration, CapacityProviderStrategyItem, EcsSpec, LifecycleEvent};
use crate::node::Node;
use crate::problem::index;
use crate::walk::{Cx, key};

pub(crate) fn validate(
    cx: &mut Cx,
    resource: &str,
    node: &Node,
    path: &str,
    hooks: BTreeMap<LifecycleEvent, String>,
) -> Option<EcsSpec> {
    let what = "the ECS service's Properties";
    let keys = [
        key("TaskDefinition"),
        key("LoadBalancerInfo"),
        key("PlatformVersion"),
        key("NetworkConfiguration"),
        key("CapacityProviderStrategy"),
    ];
    let f = cx.map(node, path, what, &keys, true)?;
    let before = cx.error_count();
    let task_definition = cx
        .required(&f, "TaskDefinition", path, what)
        .and_then(|(n, p)| cx.text(n, &p));
    let lb = cx
        .required(&f, "LoadBalancerInfo", path, what)
        .and_then(|(n, p)| load_balancer(cx, n, &p));
    let platform_version = cx
        .optional(&f, "PlatformVersion", path)
        .and_then(|(n, p)| cx.text(n, &p));
    let network = cx
        .optional(&f, "NetworkConfiguration", path)
        .and_then(|(n, p)| network(cx, n, &p));
    let strategy = match cx.optional(&f, "CapacityProviderStrategy", path) {
        Some((n, p)) => strategy(cx, n, &p),
        None => Some(Vec::new()),
    };
    if cx.error_count() != before {
        return None;
    }
    let (container_name, container_port) = lb?;
    Some(EcsSpec {
        resource: resource.to_owned(),
        task_definition: task_definition?,
        container_name,
        container_port,
        platform_version,
        network,
        capacity_provider_strategy: strategy?,
        hooks,
    })
}

fn load_balancer(cx: &mut Cx, node: &Node, path: &str) -> Option<(String, u16)> {
    let what = "LoadBalancerInfo";
    let f = cx.map(
        node,
        path,
        what,
        &[key("ContainerName"), key("ContainerPort")],
        true,
    )?;
    let name = cx
        .required(&f, "ContainerName", path, what)
        .and_then(|(n, p)| cx.text(n, &p));
    let port = cx
        .required(&f, "ContainerPort", path, what)
        .and_then(|(n, p)| cx.integer(n, &p, 1, 65535))
        .and_then(|p| u16::try_from(p).ok());
    Some((name?, port?))
}

fn network(cx: &mut Cx, node: &Node, path: &str) -> Option<AwsVpcConfiguration> {
    let f = cx.map(
        node,
        path,
        "NetworkConfiguration",
        &[key("AwsvpcConfiguration")],
        true,
    )?;
    let (node, path) = cx.required(&f, "AwsvpcConfiguration", path, "NetworkConfiguration")?;
    let what = "AwsvpcConfiguration";
    let keys = [key("Subnets"), key("SecurityGroups"), key("AssignPublicIp")];
    let f = cx.map(node, &path, what, &keys, true)?;
    // CodeDeploy takes all three settings or none of them.
    let mut list = |k: &str, max: usize| {
        let (n, p) = cx.required(
            &f,
            k,
            &path,
            "AwsvpcConfiguration (all of its settings or none)",
        )?;
        let items = cx.strings(n, &p, k)?;
        if items.is_empty() || items.len() > max {
            cx.error(
                &p,
                n.line,
                format!(
                    "{k} must list between 1 and {max} entries, not {}",
                    items.len()
                ),
            );
            return None;
        }
        Some(items)
    };
    let subnets = list("Subnets", 16);
    let security_groups = list("SecurityGroups", 5);
    let assign = cx
        .required(
            &f,
            "AssignPublicIp",
            &path,
            "AwsvpcConfiguration (all of its settings or none)",
        )
        .and_then(|(n, p)| match cx.text(n, &p)?.as_str() {
            "ENABLED" => Some(true),
            "DISABLED" => Some(false),
            other => {
                cx.error(
                    &p,
                    n.line,
                    format!("AssignPublicIp `{other}` must be ENABLED or DISABLED"),
                );
                None
            }
        });
    Some(AwsVpcConfiguration {
        subnets: subnets?,
        security_groups: security_groups?,
        assign_public_ip: assign?,
    })
}

fn strategy(cx: &mut Cx, node: &Node, path: &str) -> Option<Vec<CapacityProviderStrategyItem>> {
    let items = cx.list(node, path, "CapacityProviderStrategy")?;
    if items.len() > 6 {
        cx.error(
            path,
            node.line,
            format!(
                "CapacityProviderStrategy may list at most 6 providers, not {}",
                items.len()
            ),
        );
    }
    let before = cx.error_count();
    let mut out = Vec::new();
    let mut with_base: Option<usize> = None;
    for (i, item) in items.iter().enumerate() {
        let here = index(path, i);
        let what = "a capacity provider strategy item";
        let keys = [key("CapacityProvider"), key("Base"), key("Weight")];
        let Some(f) = cx.map(item, &here, what, &keys, true) else {
            continue;
        };
        let provider = cx
            .required(&f, "CapacityProvider", &here, what)
            .and_then(|(n, p)| cx.text(n, &p));
        let base = cx.optional(&f, "Base", &here).and_then(|(n, p)| {
            let b = u32::try_from(cx.integer(n, &p, 0, 100_000)?).ok()?;
            if b > 0 {
                if let Some(first) = with_base {
                    cx.error(
                        &p,
                        n.line,
                        format!("only one provider may have a Base, and item {first} has one"),
                    );
                }
                with_base = Some(i);
            }
            Some(b)
        });
        let weight = cx
            .optional(&f, "Weight", &here)
            .and_then(|(n, p)| cx.integer(n, &p, 0, 1000))
            .and_then(|w| u32::try_from(w).ok());
        if let Some(capacity_provider) = provider {
            out.push(CapacityProviderStrategyItem {
                capacity_provider,
                base,
                weight,
            });
        }
    }
    (cx.error_count() == before).then_some(out)
}
