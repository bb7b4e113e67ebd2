//! EC2/on-premises AppSpecs: `os`, `files` and `file_exists_behavior` (`permissions` and
//! `hooks` have their own modules).

use crate::model::{FileExistsBehavior, FileMapping, Os, ServerSpec};
use crate::node::Node;
use crate::problem::index;
use crate::walk::{Cx, Fields, Key, key};

const TOP: &[Key] = &[
    key("version"),
    key("os"),
    key("files"),
    key("permissions"),
    key("hooks"),
    key("file_exists_behavior"),
];

pub(crate) fn validate(cx: &mut Cx, root: &Node) -> Option<ServerSpec> {
    let fields = cx.map(root, "", "an EC2/on-premises AppSpec", TOP, false)?;
    crate::version(cx, &fields, true);
    let os = os(cx, &fields);
    let files = files(cx, &fields, os);
    let file_exists_behavior = file_exists_behavior(cx, &fields);
    let permissions = crate::permissions::validate(cx, &fields, os);
    let hooks = crate::hooks::validate(cx, &fields, os);
    Some(ServerSpec {
        os: os?,
        files: files?,
        file_exists_behavior: file_exists_behavior.ok()?,
        permissions: permissions?,
        hooks: hooks?,
    })
}

fn os(cx: &mut Cx, fields: &Fields<'_>) -> Option<Os> {
    let (node, path) = cx.required(fields, "os", "", "an EC2/on-premises AppSpec")?;
    let text = cx.string(node, &path)?;
    match text.as_str() {
        "linux" => Some(Os::Linux),
        "windows" => Some(Os::Windows),
        other if other.eq_ignore_ascii_case("linux") || other.eq_ignore_ascii_case("windows") => {
            let lower = other.to_ascii_lowercase();
            cx.error(
                &path,
                node.line,
                format!("write `os: {lower}` in lower case: CodeDeploy compares it exactly"),
            );
            None
        }
        other => {
            cx.error(
                &path,
                node.line,
                format!("unsupported os `{other}`: use `linux` or `windows`"),
            );
            None
        }
    }
}

/// True for a path that is absolute on the instance's operating system.
pub(crate) fn is_absolute(path: &str, os: Option<Os>) -> bool {
    let windows = {
        let b = path.as_bytes();
        (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/'))
            || path.starts_with("\\\\")
    };
    match os {
        Some(Os::Linux) => path.starts_with('/'),
        Some(Os::Windows) => windows,
        None => path.starts_with('/') || windows,
    }
}

/// A bundle-relative path with `.` and leading `/` removed, or `None` if it leaves the bundle.
pub(crate) fn bundle_relative(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn files(cx: &mut Cx, fields: &Fields<'_>, os: Option<Os>) -> Option<Vec<FileMapping>> {
    let Some((node, path)) = cx.optional(fields, "files", "") else {
        return Some(Vec::new());
    };
    let items = cx.list(node, &path, "`files`")?;
    let before = cx.error_count();
    let mut out: Vec<FileMapping> = Vec::new();
    let mut seen: Vec<(String, String, usize)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let here = index(&path, i);
        let Some(entry) = cx.map(
            item,
            &here,
            "a `files` entry",
            &[key("source"), key("destination")],
            false,
        ) else {
            continue;
        };
        let source = cx
            .required(&entry, "source", &here, "a `files` entry")
            .and_then(|(n, p)| cx.text(n, &p).map(|s| (s, n, p)));
        let destination = cx
            .required(&entry, "destination", &here, "a `files` entry")
            .and_then(|(n, p)| cx.text(n, &p).map(|s| (s, n, p)));
        if let Some((s, n, p)) = &source
            && bundle_relative(s).is_none()
        {
            cx.error(
                p,
                n.line,
                format!("source `{s}` leaves the bundle: name a path inside it (`/` is all of it)"),
            );
        }
        if let Some((d, n, p)) = &destination
            && !is_absolute(d, os)
        {
            let example = if os == Some(Os::Windows) {
                "C:\\inetpub\\app"
            } else {
                "/var/www/app"
            };
            cx.error(
                p,
                n.line,
                format!(
                    "destination `{d}` must be an absolute path on the instance, such as {example}"
                ),
            );
        }
        if let (Some((s, ..)), Some((d, n, p))) = (source, destination) {
            let key = (
                bundle_relative(&s).unwrap_or_default(),
                d.trim_end_matches(['/', '\\']).to_owned(),
            );
            if let Some((_, _, first)) = seen.iter().find(|(a, b, _)| (a, b) == (&key.0, &key.1)) {
                cx.error(
                    &p,
                    n.line,
                    format!(
                        "files[{first}] already copies `{s}` to `{d}`: CodeDeploy fails a deployment that \
                         installs the same file twice; remove one of the entries"
                    ),
                );
            }
            seen.push((key.0, key.1, i));
            out.push(FileMapping {
                source: s,
                destination: d,
            });
        }
    }
    (cx.error_count() == before).then_some(out)
}

/// `Err` when invalid, `Ok(None)` when absent.
fn file_exists_behavior(
    cx: &mut Cx,
    fields: &Fields<'_>,
) -> Result<Option<FileExistsBehavior>, ()> {
    let Some((node, path)) = cx.optional(fields, "file_exists_behavior", "") else {
        return Ok(None);
    };
    let text = cx.string(node, &path).ok_or(())?;
    match text.as_str() {
        "DISALLOW" => Ok(Some(FileExistsBehavior::Disallow)),
        "OVERWRITE" => Ok(Some(FileExistsBehavior::Overwrite)),
        "RETAIN" => Ok(Some(FileExistsBehavior::Retain)),
        other => {
            let upper = other.to_ascii_uppercase();
            let hint = if ["DISALLOW", "OVERWRITE", "RETAIN"].contains(&upper.as_str()) {
                format!("write it in capitals: `{upper}`")
            } else {
                "use DISALLOW (fail the deployment), OVERWRITE or RETAIN (keep the file on the instance)"
                    .to_owned()
            };
            cx.error(
                &path,
                node.line,
                format!("unknown file_exists_behavior `{other}`: {hint}"),
            );
            Err(())
        }
    }
}
