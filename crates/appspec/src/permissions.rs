//! The `permissions` section: object, pattern, except, owner, group, mode, acls, context, type.
//! The syntax rules are those of CodeDeploy's agent (its mode, ACL and SELinux range parsers).

use crate::model::{Mode, ObjectType, Os, Permission, SelinuxContext, SelinuxRange};
use crate::node::{Node, Value};
use crate::problem::index;
use crate::walk::{Cx, Fields, Key, key};

const PERMISSION: &[Key] = &[
    key("object"),
    key("pattern"),
    key("except"),
    key("owner"),
    key("group"),
    key("mode"),
    key("acls"),
    key("context"),
    key("type"),
];

const CONTEXT: &[Key] = &[
    key("user"),
    key("type"),
    key("range"),
    Key {
        name: "name",
        deprecated: Some(
            "CodeDeploy's agent reads the SELinux user from `name`, but the documented key is \
             `user`: ferry accepts both; prefer `user`",
        ),
    },
];

pub(crate) fn validate(
    cx: &mut Cx,
    fields: &Fields<'_>,
    os: Option<Os>,
) -> Option<Vec<Permission>> {
    let Some((node, path)) = cx.optional(fields, "permissions", "") else {
        return Some(Vec::new());
    };
    let items = cx.list(node, &path, "`permissions`")?;
    if os == Some(Os::Windows) && !items.is_empty() {
        cx.error(
            &path,
            node.line,
            "permissions apply to Linux instances only, and CodeDeploy fails a Windows deployment \
             that has them: remove the section",
        );
        return None;
    }
    let before = cx.error_count();
    let mut out: Vec<Permission> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let here = index(&path, i);
        let Some(p) = permission(cx, item, &here) else {
            continue;
        };
        if let Some(first) = out.iter().position(|q| *q == p) {
            cx.error(
                &here,
                item.line,
                format!(
                    "the same as permissions[{first}]: CodeDeploy fails a deployment that sets \
                     permissions on an object twice; remove one"
                ),
            );
        }
        out.push(p);
    }
    (cx.error_count() == before).then_some(out)
}

fn permission(cx: &mut Cx, node: &Node, path: &str) -> Option<Permission> {
    let what = "a permissions entry";
    let f = cx.map(node, path, what, PERMISSION, false)?;
    let before = cx.error_count();
    let object = cx.required(&f, "object", path, what).and_then(|(n, p)| {
        let s = cx.text(n, &p)?;
        if !s.starts_with('/') {
            cx.error(&p, n.line, format!("object `{s}` is a path on the instance and must be absolute, like the files destinations"));
        }
        Some(s)
    });
    let pattern = match cx.optional(&f, "pattern", path) {
        Some((n, p)) => cx.string(n, &p),
        None => Some("**".to_owned()),
    };
    let except = match cx.optional(&f, "except", path) {
        Some((n, p)) => cx.strings(n, &p, "`except`"),
        None => Some(Vec::new()),
    };
    let owner = cx
        .optional(&f, "owner", path)
        .and_then(|(n, p)| cx.string(n, &p));
    let group = cx
        .optional(&f, "group", path)
        .and_then(|(n, p)| cx.string(n, &p));
    let mode = cx
        .optional(&f, "mode", path)
        .and_then(|(n, p)| mode(cx, n, &p));
    let acls = match cx.optional(&f, "acls", path) {
        Some((n, p)) => cx.strings(n, &p, "`acls`").inspect(|list| {
            for (i, entry) in list.iter().enumerate() {
                if let Err(why) = parse_ace(entry) {
                    let p = index(&p, i);
                    let line = cx.lines.get(&p).copied();
                    cx.error(&p, line, format!("invalid ACL entry `{entry}`: {why}"));
                }
            }
        }),
        None => Some(Vec::new()),
    };
    let context = cx
        .optional(&f, "context", path)
        .and_then(|(n, p)| context(cx, n, &p));
    let types = match cx.optional(&f, "type", path) {
        Some((n, p)) => types(cx, n, &p),
        None => Some(vec![ObjectType::File, ObjectType::Directory]),
    };
    if cx.error_count() != before {
        return None;
    }
    Some(Permission {
        object: object?,
        pattern: pattern?,
        except: except?,
        owner,
        group,
        mode,
        acls: acls?,
        context,
        types: types?,
    })
}

fn mode(cx: &mut Cx, node: &Node, path: &str) -> Option<Mode> {
    // The text as written: YAML would read `0644` as a number and lose the zero.
    let text = match &node.value {
        Value::Int(_) | Value::Float(_) if !node.quoted() => node.scalar_text().unwrap_or_default(),
        Value::Str(s) => s.clone(),
        _ => {
            cx.error(
                path,
                node.line,
                format!("mode must be octal digits such as 644, not {}", node.kind()),
            );
            return None;
        }
    };
    let digits = text.trim().to_owned();
    if !matches!(node.value, Value::Str(_)) && digits.len() > 1 && digits.starts_with('0') {
        cx.error(
            path,
            node.line,
            format!(
                "mode {digits} has a leading zero, so CodeDeploy's YAML reader takes it for an octal \
                 number and applies another mode: quote it (\"{digits}\") or drop the zero"
            ),
        );
        return None;
    }
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        cx.error(
            path,
            node.line,
            format!("mode `{digits}` must be one to four octal digits (0-7), such as 644 or 4755"),
        );
        return None;
    }
    Some(Mode(format!("{digits:0>3}")))
}

fn types(cx: &mut Cx, node: &Node, path: &str) -> Option<Vec<ObjectType>> {
    let names = cx.strings(node, path, "`type`")?;
    if names.is_empty() {
        cx.error(
            path,
            node.line,
            "type lists no object type: give `file`, `directory` or both, or leave it out for both",
        );
        return None;
    }
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match name.as_str() {
            "file" => out.push(ObjectType::File),
            "directory" => out.push(ObjectType::Directory),
            other => {
                let p = index(path, i);
                let line = cx.lines.get(&p).copied();
                cx.error(
                    &p,
                    line,
                    format!("unknown object type `{other}`: use `file` or `directory`"),
                );
                return None;
            }
        }
    }
    Some(out)
}

fn context(cx: &mut Cx, node: &Node, path: &str) -> Option<SelinuxContext> {
    let what = "an SELinux context";
    let f = cx.map(node, path, what, CONTEXT, false)?;
    if f.has("user") && f.has("name") {
        cx.error(
            path,
            f.line,
            "give the SELinux user once, as `user` (not also as `name`)",
        );
        return None;
    }
    let user = cx
        .optional(&f, "user", path)
        .or_else(|| cx.optional(&f, "name", path));
    let user = match user {
        Some((n, p)) => Some(cx.string(n, &p)?),
        None => None,
    };
    let (type_node, type_path) = cx.required(&f, "type", path, what)?;
    let type_ = cx.string(type_node, &type_path)?;
    let range = match cx.optional(&f, "range", path) {
        Some((n, p)) => {
            let text = cx.text(n, &p)?;
            match parse_range(&text) {
                Ok(r) => Some(r),
                Err(why) => {
                    cx.error(
                        &p,
                        n.line,
                        format!(
                            "invalid SELinux range `{text}`: {why}; the form is s0[-s1][:c0[.c9],…]"
                        ),
                    );
                    return None;
                }
            }
        }
        None => None,
    };
    Some(SelinuxContext { user, type_, range })
}

/// `s<low>[-s<high>][:<categories>]`, categories `c<n>` or `c<n>.c<m>`, comma separated.
pub(crate) fn parse_range(text: &str) -> Result<SelinuxRange, String> {
    let (levels, categories) = match text.split_once(':') {
        Some((l, c)) => (l, Some(c)),
        None => (text, None),
    };
    let (low, high) = match levels.split_once('-') {
        Some((l, h)) => (level(l, 's')?, level(h, 's')?),
        None => (level(levels, 's')?, level(levels, 's')?),
    };
    if high < low {
        return Err(format!(
            "the high sensitivity s{high} is below the low s{low}"
        ));
    }
    let mut cats = Vec::new();
    for part in categories
        .map(|c| c.split(',').collect::<Vec<_>>())
        .unwrap_or_default()
    {
        match part.split_once('.') {
            Some((a, b)) => {
                let (a, b) = (category(a)?, category(b)?);
                if b < a {
                    return Err(format!("category range c{a}.c{b} is backwards"));
                }
                cats.extend(a..=b);
            }
            None => cats.push(category(part)?),
        }
    }
    let n = cats.len();
    cats.sort_unstable();
    cats.dedup();
    if cats.len() != n {
        return Err("a category is listed twice".to_owned());
    }
    Ok(SelinuxRange {
        low,
        high,
        categories: cats,
    })
}

fn level(text: &str, prefix: char) -> Result<u32, String> {
    text.strip_prefix(prefix)
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| format!("`{text}` is not {prefix} followed by a number"))
}

fn category(text: &str) -> Result<u32, String> {
    let n = level(text, 'c')?;
    if n > 1023 {
        Err(format!("category c{n} is above c1023"))
    } else {
        Ok(n)
    }
}

/// An ACL entry as CodeDeploy's agent reads it: `[d[efault]:][u[ser]|g[roup]|m[ask]|o[ther]]:[name]:perms`
/// with perms `rwx`/`-` letters or one octal digit. Unnamed user/group entries are refused
/// (`mode` sets those).
pub(crate) fn parse_ace(entry: &str) -> Result<(), String> {
    let parts: Vec<&str> = entry.split(':').rev().collect();
    if !(2..=4).contains(&parts.len()) {
        return Err("expected [default:][user|group|mask|other:]name:permissions".to_owned());
    }
    let is_default = |p: &str| p == "d" || p == "default";
    let mut default = false;
    let mut kind: Option<&str> = None;
    let mut name = "";
    if parts.len() == 4 {
        if !is_default(parts[3]) {
            return Err(format!("`{}` must be `d` or `default`", parts[3]));
        }
        default = true;
    }
    if parts.len() >= 3 {
        match parts[2] {
            p if is_default(p) && !default => default = true,
            "m" | "mask" => kind = Some("mask"),
            "o" | "other" => kind = Some("other"),
            "g" | "group" => kind = Some("group"),
            "u" | "user" => kind = Some("user"),
            p => {
                return Err(format!(
                    "unknown entry type `{p}`: use user, group, mask or other"
                ));
            }
        }
    }
    match (parts[1], kind) {
        ("m" | "mask", None) => kind = Some("mask"),
        ("o" | "other", None) => kind = Some("other"),
        (n, _) => {
            kind = kind.or(Some("user"));
            name = n;
        }
    }
    if matches!(kind, Some("mask" | "other")) && !name.is_empty() {
        return Err("mask and other entries take no name".to_owned());
    }
    if !default && kind != Some("mask") && name.is_empty() {
        return Err(
            "unnamed user, group and other entries are set with `mode`, not acls".to_owned(),
        );
    }
    let perms = parts[0];
    let octal = perms.len() == 1 && perms.bytes().all(|b| (b'0'..=b'7').contains(&b));
    if !octal && let Some(bad) = perms.chars().find(|c| !matches!(c, 'r' | 'w' | 'x' | '-')) {
        return Err(format!(
            "permission character `{bad}`: use r, w, x and -, or one octal digit"
        ));
    }
    Ok(())
}

/// True when an ACL entry is a default (`d:`) entry, which only directories can have.
pub(crate) fn is_default_ace(entry: &str) -> bool {
    let parts: Vec<&str> = entry.split(':').collect();
    parts.len() >= 3 && matches!(parts[0], "d" | "default")
}
