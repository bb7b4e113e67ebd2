//! Parse and validate AppSpec files — EC2/on-premises, Lambda and ECS — with CodeDeploy's rules.
//!
//! [`validate`] reads YAML or JSON into a loosely typed tree that knows the line of every node,
//! walks it, and reports **every** problem (not just the first) with its path
//! (`hooks.BeforeInstall[0].timeout`), line and a message that says what to do. When there is
//! no error, the [`Report`] also carries the typed [`AppSpec`]. [`validate_against_bundle`]
//! checks a server AppSpec against the unpacked bundle it came in.
//!
//! # Severity
//!
//! An [`Severity::Error`] is something CodeDeploy (or ferry's agent) would fail the deployment
//! for, or that cannot be understood. A [`Severity::Warning`] is accepted but probably not what
//! was meant, or not portable to CodeDeploy's own agent. In particular:
//!
//! - Unknown keys are errors, with a "did you mean" when a known key is close: CodeDeploy's
//!   agent silently ignores them, so a typo (`timout:`) would otherwise go unnoticed. Keys the
//!   agent reads but does not document (`sudo` in a script, `name` in an SELinux context) are
//!   warnings.
//! - Unknown lifecycle events are errors (the agent never runs them); so are hooks on events
//!   CodeDeploy runs itself (`DownloadBundle`, `Install`, `BlockTraffic`, `AllowTraffic`, …).
//! - A script that is not executable is a warning: the agent makes it executable (`chmod +x`)
//!   before running it, and only fails (`ScriptNotExecutable`) when it cannot.
//!
//! Decisions where this validator differs from CodeDeploy, and why, are listed in the
//! crate's README.

mod bundle;
mod cloud;
mod ecs;
mod hooks;
mod model;
mod node;
mod permissions;
mod problem;
mod server;
mod suggest;
mod walk;

pub use bundle::{APPSPEC_NAMES, find_in_dir, validate_against_bundle};
pub use model::{
    AppSpec, AwsVpcConfiguration, CapacityProviderStrategyItem, DEFAULT_TIMEOUT, EcsSpec,
    FileExistsBehavior, FileMapping, Hook, Kind, LambdaSpec, LifecycleEvent, Mode, ObjectType, Os,
    Permission, SelinuxContext, SelinuxRange, ServerSpec, Summary,
};
pub use node::Format;
pub use problem::{Problem, Report, Severity};

use node::{Node, Value};
use walk::{Cx, Fields};

/// Validate an AppSpec, sniffing whether it is JSON or YAML.
pub fn validate(text: &str) -> Report {
    validate_as(text, Format::sniff(text))
}

/// Validate an AppSpec in a known format (JSON syntax errors are then reported as JSON's).
pub fn validate_as(text: &str, format: Format) -> Report {
    let root = match node::parse(text, format) {
        Ok(root) => root,
        Err(problem) => {
            return Report {
                problems: vec![problem],
                ..Report::default()
            };
        }
    };
    let mut cx = Cx::default();
    let spec = document(&mut cx, &root);
    let spec = if cx.has_errors() { None } else { spec };
    // In reading order; problems of the whole document (no line) first.
    cx.problems.sort_by_key(|p| p.line.unwrap_or(0));
    Report {
        spec,
        problems: cx.problems,
        lines: cx.lines,
    }
}

fn document(cx: &mut Cx, root: &Node) -> Option<AppSpec> {
    match &root.value {
        Value::Null => {
            cx.error(
                "",
                root.line,
                "the AppSpec is empty: it needs at least `version: 0.0` and, for EC2/on-premises, \
                 `os: linux` or `os: windows`",
            );
            None
        }
        Value::Map(entries) => {
            let resources = entries.iter().find(|(k, _)| {
                k.as_str()
                    .is_some_and(|k| k.eq_ignore_ascii_case("resources"))
            });
            match resources {
                Some((_, resources)) => cloud::validate(cx, root, cloud::kind_of(resources)),
                None => server::validate(cx, root).map(AppSpec::Server),
            }
        }
        _ => {
            cx.error(
                "",
                root.line,
                format!(
                    "an AppSpec is a mapping of sections (version, os, files, hooks, …), not {}",
                    root.kind()
                ),
            );
            None
        }
    }
}

/// `version`: required, and 0.0, the only version there is.
fn version(cx: &mut Cx, fields: &Fields<'_>, server: bool) {
    let what = "the AppSpec";
    let Some((node, path)) = cx.required(fields, "version", "", what) else {
        return;
    };
    cx.seen(&path, node);
    match &node.value {
        Value::Float(f) if *f == 0.0 => {}
        Value::Int(0) => {}
        Value::Str(s) if s == "0.0" => {
            if server {
                cx.warn(
                    &path,
                    node.line,
                    "CodeDeploy's agent compares version with the number 0.0 and fails the \
                     deployment for the string \"0.0\": write `version: 0.0` without quotes",
                );
            }
        }
        other => cx.error(
            &path,
            node.line,
            format!(
                "unsupported version {other}: the only AppSpec version is 0.0 (`version: 0.0`)"
            ),
        ),
    }
}
