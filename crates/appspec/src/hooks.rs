//! The `hooks` of an EC2/on-premises AppSpec: lifecycle event → scripts with location,
//! timeout and runas.

use std::collections::BTreeMap;

use crate::model::{DEFAULT_TIMEOUT, Hook, LifecycleEvent, Os};
use crate::node::{Node, Value};
use crate::problem::{index, join};
use crate::server::bundle_relative;
use crate::walk::{Cx, Fields, Key, key};

const SCRIPT: &[Key] = &[
    key("location"),
    key("timeout"),
    key("runas"),
    Key {
        name: "sudo",
        deprecated: Some(
            "`sudo` is read by CodeDeploy's agent but not documented, and ferry ignores it: \
             use `runas` to choose the user",
        ),
    },
];

/// Events that CodeDeploy runs itself: no script can be hooked to them.
const RESERVED: &[&str] = &[
    "Start",
    "DownloadBundle",
    "Install",
    "BlockTraffic",
    "AllowTraffic",
    "End",
    "TestTraffic",
    "AllowTestTraffic",
];

/// The names the traffic events had before CodeDeploy renamed them.
const RENAMED: &[(&str, LifecycleEvent)] = &[
    ("BeforeELBRemove", LifecycleEvent::BeforeBlockTraffic),
    ("AfterELBRemove", LifecycleEvent::AfterBlockTraffic),
    ("BeforeELBAdd", LifecycleEvent::BeforeAllowTraffic),
    ("AfterELBAdd", LifecycleEvent::AfterAllowTraffic),
];

pub(crate) fn validate(
    cx: &mut Cx,
    fields: &Fields<'_>,
    os: Option<Os>,
) -> Option<BTreeMap<LifecycleEvent, Vec<Hook>>> {
    let Some((node, path)) = cx.optional(fields, "hooks", "") else {
        return Some(BTreeMap::new());
    };
    let before = cx.error_count();
    let Value::Map(entries) = &node.value else {
        cx.error(
            &path,
            node.line,
            format!(
                "`hooks` must be a mapping of lifecycle event to scripts, not {}",
                node.kind()
            ),
        );
        return None;
    };
    cx.seen(&path, node);
    let mut out = BTreeMap::new();
    for (name_node, scripts) in entries {
        let Some(name) = name_node.scalar_text() else {
            cx.error(
                &path,
                name_node.line,
                format!("a lifecycle event name is {}", name_node.kind()),
            );
            continue;
        };
        let here = join(&path, &name);
        cx.seen(&here, name_node);
        let Some(event) = event(cx, &name, &here, name_node.line) else {
            continue;
        };
        if out.contains_key(&event) {
            cx.error(
                &here,
                name_node.line,
                format!("duplicate lifecycle event `{name}`: list all its scripts under one key"),
            );
            continue;
        }
        if let Some(list) = scripts_of(cx, scripts, &here, &name, os) {
            out.insert(event, list);
        }
    }
    (cx.error_count() == before).then_some(out)
}

fn event(cx: &mut Cx, name: &str, path: &str, line: Option<u32>) -> Option<LifecycleEvent> {
    let names: Vec<&str> = LifecycleEvent::SERVER.iter().map(|e| e.as_str()).collect();
    if let Some(e) = LifecycleEvent::SERVER
        .into_iter()
        .find(|e| e.as_str() == name)
    {
        return Some(e);
    }
    let message = if RESERVED.contains(&name) {
        format!(
            "`{name}` is run by CodeDeploy itself and cannot have hooks: use one of the events \
             around it, such as BeforeInstall or AfterInstall"
        )
    } else if let Some((_, new)) = RENAMED.iter().find(|(old, _)| *old == name) {
        format!("`{name}` is the old name of `{new}`: rename the event")
    } else if name == "AfterAllowTestTraffic" {
        "`AfterAllowTestTraffic` exists only in ECS deployments; an EC2/on-premises AppSpec cannot hook it".to_owned()
    } else if let Some(s) = crate::suggest::closest(name, &names) {
        format!("unknown lifecycle event `{name}`: did you mean `{s}`?")
    } else {
        format!(
            "unknown lifecycle event `{name}`: the events are {}",
            names.join(", ")
        )
    };
    cx.error(path, line, message);
    None
}

fn scripts_of(
    cx: &mut Cx,
    node: &Node,
    path: &str,
    event: &str,
    os: Option<Os>,
) -> Option<Vec<Hook>> {
    if node.is_null() {
        cx.error(path, node.line, format!("`{event}` has no scripts: list them (`- location: scripts/x.sh`) or remove the event"));
        return None;
    }
    let items = cx.list(node, path, &format!("the scripts of `{event}`"))?;
    if items.is_empty() {
        cx.warn(
            path,
            node.line,
            format!("`{event}` has an empty list of scripts; remove the event"),
        );
    }
    let before = cx.error_count();
    let mut out = Vec::new();
    let mut total: u64 = 0;
    for (i, item) in items.iter().enumerate() {
        let here = index(path, i);
        let Some(f) = cx.map(item, &here, "a hook script", SCRIPT, false) else {
            continue;
        };
        let location = cx.required(&f, "location", &here, "a hook script").and_then(|(n, p)| {
            let s = cx.text(n, &p)?;
            if bundle_relative(&s).is_none_or(|r| r.is_empty()) {
                cx.error(&p, n.line, format!("location `{s}` must name a script inside the bundle, relative to its root"));
            }
            Some(s)
        });
        let timeout = timeout(cx, &f, &here);
        let runas = cx.optional(&f, "runas", &here).and_then(|(n, p)| {
            let user = cx.text(n, &p)?;
            if os == Some(Os::Windows) {
                cx.warn(&p, n.line, "`runas` applies to Linux instances only; on Windows the script runs as the agent");
            }
            Some(user)
        });
        if let (Some(location), Some(timeout)) = (location, timeout) {
            // CodeDeploy asks that the timeouts *given* fit in the event's hour.
            if f.has("timeout") {
                total += u64::from(timeout);
            }
            out.push(Hook {
                location,
                timeout,
                runas,
            });
        }
    }
    if total > u64::from(DEFAULT_TIMEOUT) {
        cx.warn(
            path,
            node.line,
            format!(
                "the timeouts of `{event}` add up to {total} seconds, but a lifecycle event may run \
                 for at most 3600: lower them so that the scripts together fit in an hour"
            ),
        );
    }
    (cx.error_count() == before).then_some(out)
}

fn timeout(cx: &mut Cx, fields: &Fields<'_>, path: &str) -> Option<u32> {
    let Some((node, path)) = cx.optional(fields, "timeout", path) else {
        return Some(DEFAULT_TIMEOUT);
    };
    cx.seen(&path, node);
    let value = match &node.value {
        Value::Int(i) => *i,
        Value::Str(s) if s.trim().parse::<i128>().is_ok() => {
            cx.warn(
                &path,
                node.line,
                format!("timeout is the string \"{s}\"; write the number without quotes"),
            );
            s.trim().parse().unwrap_or_default()
        }
        _ => {
            cx.error(
                &path,
                node.line,
                format!(
                    "timeout must be a whole number of seconds, not {}",
                    node.kind()
                ),
            );
            return None;
        }
    };
    if value <= 0 {
        cx.error(
            &path,
            node.line,
            format!("timeout must be a positive number of seconds, not {value}"),
        );
        None
    } else if value > i128::from(DEFAULT_TIMEOUT) {
        cx.error(
            &path,
            node.line,
            format!("timeout {value} is more than CodeDeploy's limit of 3600 seconds for a script; lower it"),
        );
        None
    } else {
        u32::try_from(value).ok()
    }
}
