//! Lambda and ECS AppSpecs: `version`, `Resources` (one target) and `Hooks` (validation
//! functions). CodeDeploy matches their keys whatever their case (its own reference writes
//! both `Resources` and `resources`), so this module does too.

use std::collections::BTreeMap;

use crate::model::{AppSpec, Kind, LambdaSpec, LifecycleEvent};
use crate::node::{Node, Value};
use crate::problem::{index, join};
use crate::walk::{Cx, Fields, key};

pub(crate) const LAMBDA_TYPE: &str = "AWS::Lambda::Function";
pub(crate) const ECS_TYPE: &str = "AWS::ECS::Service";

/// The kind named by the first resource's `Type`, if it is one CodeDeploy deploys.
pub(crate) fn kind_of(resources: &Node) -> Option<Kind> {
    let Value::Seq(items) = &resources.value else {
        return None;
    };
    items.iter().find_map(|item| {
        let Value::Map(entries) = &item.value else {
            return None;
        };
        let (_, target) = entries.first()?;
        let Value::Map(props) = &target.value else {
            return None;
        };
        let ty = props
            .iter()
            .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case("Type")))?;
        match ty.1.as_str()? {
            LAMBDA_TYPE => Some(Kind::Lambda),
            ECS_TYPE => Some(Kind::Ecs),
            _ => None,
        }
    })
}

pub(crate) fn validate(cx: &mut Cx, root: &Node, kind: Option<Kind>) -> Option<AppSpec> {
    let what = match kind {
        Some(Kind::Ecs) => "an ECS AppSpec",
        _ => "a Lambda AppSpec",
    };
    let fields = cx.map(
        root,
        "",
        what,
        &[key("version"), key("Resources"), key("Hooks")],
        true,
    )?;
    crate::version(cx, &fields, false);
    let (resources, path) = cx.required(&fields, "Resources", "", what)?;
    let Some(kind) = kind else {
        let first = match &resources.value {
            Value::Seq(items) if !items.is_empty() => index(&path, 0),
            _ => path.clone(),
        };
        cx.error(
            &first,
            resources.line,
            format!(
                "Resources must hold one target whose Type is {LAMBDA_TYPE} or {ECS_TYPE} \
                 (an EC2/on-premises AppSpec has `os`, `files` and `hooks` instead)"
            ),
        );
        return None;
    };
    let target = resource(cx, resources, &path, kind);
    let hooks = hooks(cx, &fields, kind);
    let (name, properties, props_path) = target?;
    let hooks = hooks?;
    match kind {
        Kind::Lambda => lambda(cx, &name, properties, &props_path, hooks).map(AppSpec::Lambda),
        Kind::Ecs | Kind::Server => {
            crate::ecs::validate(cx, &name, properties, &props_path, hooks).map(AppSpec::Ecs)
        }
    }
}

/// The one target: its name, its `Properties` node and that node's path.
fn resource<'n>(
    cx: &mut Cx,
    node: &'n Node,
    path: &str,
    kind: Kind,
) -> Option<(String, &'n Node, String)> {
    let items = cx.list(node, path, "Resources")?;
    let Some(first) = items.first() else {
        cx.error(
            path,
            node.line,
            format!("Resources is empty: give the {kind} target to deploy"),
        );
        return None;
    };
    for (i, extra) in items.iter().enumerate().skip(1) {
        cx.error(
            &index(path, i),
            extra.line,
            format!("a {kind} deployment has one target: Resources must hold exactly one entry"),
        );
    }
    let here = index(path, 0);
    cx.seen(&here, first);
    let entries = match &first.value {
        Value::Map(entries) if entries.len() == 1 => entries,
        _ => {
            cx.error(
                &here,
                first.line,
                "a Resources entry is a mapping of one name to its Type and Properties",
            );
            return None;
        }
    };
    let (name_node, target) = &entries[0];
    let name = name_node.scalar_text().unwrap_or_default();
    let here = join(&here, &name);
    let what = "a Resources target";
    let f = cx.map(target, &here, what, &[key("Type"), key("Properties")], true)?;
    let expected = if kind == Kind::Lambda {
        LAMBDA_TYPE
    } else {
        ECS_TYPE
    };
    if let Some((n, p)) = cx.required(&f, "Type", &here, what)
        && let Some(ty) = cx.string(n, &p)
        && ty != expected
    {
        cx.error(
            &p,
            n.line,
            format!("Type `{ty}` is not {expected}, the target type of a {kind} AppSpec"),
        );
    }
    let (props, props_path) = cx.required(&f, "Properties", &here, what)?;
    Some((name, props, props_path))
}

fn lambda(
    cx: &mut Cx,
    resource: &str,
    node: &Node,
    path: &str,
    hooks: BTreeMap<LifecycleEvent, String>,
) -> Option<LambdaSpec> {
    let what = "the Lambda function's Properties";
    let keys = [
        key("Name"),
        key("Alias"),
        key("CurrentVersion"),
        key("TargetVersion"),
    ];
    let f = cx.map(node, path, what, &keys, true)?;
    let mut get = |k: &str| {
        cx.required(&f, k, path, what)
            .and_then(|(n, p)| cx.text(n, &p).map(|s| (s, n, p)))
    };
    let (name, alias, current, target) = (
        get("Name"),
        get("Alias"),
        get("CurrentVersion"),
        get("TargetVersion"),
    );
    if let (Some((c, ..)), Some((t, n, p))) = (&current, &target)
        && c == t
    {
        cx.warn(
            p,
            n.line,
            format!("TargetVersion is CurrentVersion ({t}): the deployment shifts no traffic"),
        );
    }
    if let Some((n, node, p)) = &name
        && !function_name_ok(n)
    {
        cx.error(
            p,
            node.line,
            format!("`{n}` is not a Lambda function name: letters, digits, - and _, at most 64"),
        );
    }
    Some(LambdaSpec {
        resource: resource.to_owned(),
        name: name?.0,
        alias: alias?.0,
        current_version: current?.0,
        target_version: target?.0,
        hooks,
    })
}

/// A function name, or an ARN / partial ARN naming one.
fn function_name_ok(name: &str) -> bool {
    let plain = |n: &str| {
        (1..=64).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    plain(name) || (name.contains(":function:") && !name.contains(char::is_whitespace))
}

/// `Hooks`: a list of one-entry mappings, `- BeforeAllowTraffic: FunctionName`.
fn hooks(cx: &mut Cx, fields: &Fields<'_>, kind: Kind) -> Option<BTreeMap<LifecycleEvent, String>> {
    let Some((node, path)) = cx.optional(fields, "Hooks", "") else {
        return Some(BTreeMap::new());
    };
    let allowed: &[LifecycleEvent] = if kind == Kind::Lambda {
        &LifecycleEvent::LAMBDA
    } else {
        &LifecycleEvent::ECS
    };
    let names: Vec<&str> = allowed.iter().map(|e| e.as_str()).collect();
    if let Value::Map(_) = node.value {
        cx.error(
            &path,
            node.line,
            "Hooks is a list of one-entry mappings: write `- BeforeAllowTraffic: MyFunction`",
        );
        return None;
    }
    let items = cx.list(node, &path, "Hooks")?;
    let before = cx.error_count();
    let mut out = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let here = index(&path, i);
        cx.seen(&here, item);
        let Value::Map(entries) = &item.value else {
            cx.error(
                &here,
                item.line,
                format!(
                    "a hook is a one-entry mapping `Event: FunctionName`, not {}",
                    item.kind()
                ),
            );
            continue;
        };
        if entries.len() != 1 {
            cx.error(
                &here,
                item.line,
                "give each hook as its own list item: `- Event: FunctionName`",
            );
            continue;
        }
        let (event_node, function) = &entries[0];
        let event_name = event_node.scalar_text().unwrap_or_default();
        let here = join(&here, &event_name);
        cx.seen(&here, event_node);
        let Some(event) = allowed
            .iter()
            .copied()
            .find(|e| e.as_str().eq_ignore_ascii_case(&event_name))
        else {
            let hint = match crate::suggest::closest(&event_name, &names) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("a {kind} AppSpec can hook {}", names.join(", ")),
            };
            cx.error(
                &here,
                event_node.line,
                format!("`{event_name}` is not a {kind} lifecycle event with hooks: {hint}"),
            );
            continue;
        };
        let Some(name) = cx.text(function, &here) else {
            continue;
        };
        if !function_name_ok(&name) {
            cx.error(
                &here,
                function.line,
                format!("`{name}` is not a Lambda function name or ARN"),
            );
        }
        if out.insert(event, name).is_some() {
            cx.error(
                &here,
                event_node.line,
                format!("`{event}` is hooked twice: a {kind} event runs one function"),
            );
        }
    }
    (cx.error_count() == before).then_some(out)
}
