//! Checks of a server AppSpec against the unpacked bundle (revision) it came in: hook scripts
//! and file sources exist, and the install plan CodeDeploy's agent would make from `files` and
//! `permissions` has no conflict (two files to one path, permissions set twice, a pattern on a
//! file).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::model::{ObjectType, Os, Permission, ServerSpec};
use crate::permissions::is_default_ace;
use crate::problem::Problem;
use crate::server::bundle_relative;

/// The names CodeDeploy looks for at the root of a bundle, in order. (CodeDeploy has no
/// `appspec.json` for bundles: a JSON AppSpec is written to `appspec.yml`, JSON being YAML.)
pub const APPSPEC_NAMES: [&str; 2] = ["appspec.yml", "appspec.yaml"];

/// The AppSpec file at the root of an unpacked bundle.
pub fn find_in_dir(root: &Path) -> Option<PathBuf> {
    APPSPEC_NAMES
        .iter()
        .map(|name| root.join(name))
        .find(|p| p.is_file())
}

/// Check `spec` against the bundle unpacked at `root`. Problems carry paths into the AppSpec;
/// their lines can be filled in with [`crate::Report::locate`].
pub fn validate_against_bundle(spec: &ServerSpec, root: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    scripts(spec, root, &mut problems);
    let mut plan = Plan {
        root: root.to_path_buf(),
        ..Plan::default()
    };
    for (i, file) in spec.files.iter().enumerate() {
        let path = format!("files[{i}].source");
        let Some(rel) = bundle_relative(&file.source) else {
            continue;
        };
        let full = root.join(&rel);
        let Ok(meta) = full.symlink_metadata() else {
            problems.push(Problem::error(
                path,
                None,
                format!("source `{}` is not in the bundle: add it, or fix the path (relative to the bundle root)", file.source),
            ));
            continue;
        };
        let destination = normalize(&file.destination, spec.os);
        if meta.is_dir() {
            plan.directory(i, &full, &destination, &mut problems);
        } else {
            let name = full
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            plan.copy(i, &rel, &format!("{destination}/{name}"), &mut problems);
        }
    }
    if spec.os == Os::Linux {
        permissions(&spec.permissions, &plan, &mut problems);
    }
    problems
}

fn scripts(spec: &ServerSpec, root: &Path, problems: &mut Vec<Problem>) {
    for (event, hooks) in &spec.hooks {
        for (i, hook) in hooks.iter().enumerate() {
            let path = format!("hooks.{event}[{i}].location");
            let Some(rel) = bundle_relative(&hook.location) else {
                continue;
            };
            let full = root.join(&rel);
            match full.metadata() {
                Err(_) => problems.push(Problem::error(
                    path,
                    None,
                    format!(
                        "script `{}` is not in the bundle (CodeDeploy would fail with ScriptMissing): \
                         add it, or fix the location (relative to the bundle root)",
                        hook.location
                    ),
                )),
                Ok(meta) if meta.is_dir() => problems.push(Problem::error(
                    path,
                    None,
                    format!("`{}` is a directory: the location names the script file to run", hook.location),
                )),
                Ok(meta) if spec.os == Os::Linux && !executable(&meta) => problems.push(Problem::warning(
                    path,
                    None,
                    format!(
                        "script `{}` is not executable: the agent will chmod +x it before running, but \
                         store it executable (git update-index --chmod=+x) to not depend on that",
                        hook.location
                    ),
                )),
                Ok(_) => {}
            }
        }
    }
}

#[cfg(unix)]
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_: &std::fs::Metadata) -> bool {
    true
}

/// A destination as a comparable path: `/` separators, no `.`, `..`, repeated or trailing `/`.
fn normalize(path: &str, os: Os) -> String {
    let path = if os == Os::Windows {
        path.replace('\\', "/")
    } else {
        path.to_owned()
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if os == Os::Windows {
        joined
    } else {
        format!("/{joined}")
    }
}

/// What the agent would install: file copies and directories, with the `files` entry of each.
#[derive(Default)]
struct Plan {
    root: PathBuf,
    /// Destination file → (files index, source in the bundle).
    copies: BTreeMap<String, (usize, String)>,
    /// Destination directory → files index.
    dirs: BTreeMap<String, usize>,
    /// Pairs of files entries already reported as conflicting.
    reported: BTreeSet<(usize, usize)>,
}

impl Plan {
    fn copy(&mut self, entry: usize, source: &str, destination: &str, problems: &mut Vec<Problem>) {
        if let Some((first, first_source)) = self.copies.get(destination) {
            if self.reported.insert((*first, entry)) {
                problems.push(Problem::error(
                    format!("files[{entry}]"),
                    None,
                    format!(
                        "installs `{source}` to `{destination}`, where files[{first}] already installs \
                         `{first_source}`: CodeDeploy fails a deployment that copies two files to one path"
                    ),
                ));
            }
            return;
        }
        if let Some(first) = self.dirs.get(destination) {
            if self.reported.insert((*first, entry)) {
                problems.push(Problem::error(
                    format!("files[{entry}]"),
                    None,
                    format!("installs the file `{source}` to `{destination}`, a directory that files[{first}] creates"),
                ));
            }
            return;
        }
        self.copies
            .insert(destination.to_owned(), (entry, source.to_owned()));
    }

    fn directory(
        &mut self,
        entry: usize,
        dir: &Path,
        destination: &str,
        problems: &mut Vec<Problem>,
    ) {
        if let Some((first, source)) = self.copies.get(destination) {
            if self.reported.insert((*first, entry)) {
                problems.push(Problem::error(
                    format!("files[{entry}]"),
                    None,
                    format!("creates the directory `{destination}`, where files[{first}] installs the file `{source}`"),
                ));
            }
            return;
        }
        self.dirs.entry(destination.to_owned()).or_insert(entry);
        let Ok(read) = std::fs::read_dir(dir) else {
            return;
        };
        let mut children: Vec<_> = read.filter_map(Result::ok).collect();
        children.sort_by_key(|c| c.file_name());
        for child in children {
            let name = child.file_name().to_string_lossy().into_owned();
            let target = format!("{}/{name}", destination.trim_end_matches('/'));
            let path = child.path();
            // Like the agent: a symbolic link is copied as a link, never followed.
            if child.file_type().is_ok_and(|t| t.is_dir()) {
                self.directory(entry, &path, &target, problems);
            } else {
                let source = path
                    .strip_prefix(&self.root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                self.copy(entry, &source, &target, problems);
            }
        }
    }

    fn is_dir(&self, object: &str) -> bool {
        let prefix = format!("{}/", object.trim_end_matches('/'));
        self.dirs.contains_key(object)
            || self
                .copies
                .keys()
                .chain(self.dirs.keys())
                .any(|t| t.starts_with(&prefix))
    }
}

/// Apply the permissions the way the agent does, reporting what it would fail on.
fn permissions(permissions: &[Permission], plan: &Plan, problems: &mut Vec<Problem>) {
    let mut set: BTreeMap<String, usize> = BTreeMap::new();
    let mut reported = BTreeSet::new();
    for (k, p) in permissions.iter().enumerate() {
        let object = normalize(&p.object, Os::Linux);
        let mut targets = Vec::new();
        if plan.copies.contains_key(&object) {
            if !p.types.contains(&ObjectType::File) {
                continue;
            }
            file_only_rules(k, p, problems);
            targets.push(object);
        } else if plan.is_dir(&object) {
            let prefix = format!("{}/", object.trim_end_matches('/'));
            let under = |kind: ObjectType, names: Vec<&String>| {
                names
                    .into_iter()
                    .filter(move |_| p.types.contains(&kind))
                    .filter_map(|t| {
                        t.strip_prefix(&prefix)
                            .map(|rel| (t.clone(), rel.to_owned()))
                    })
                    .collect::<Vec<_>>()
            };
            let candidates = under(ObjectType::File, plan.copies.keys().collect())
                .into_iter()
                .chain(under(ObjectType::Directory, plan.dirs.keys().collect()));
            for (target, rel) in candidates {
                let matched = p.pattern == "**" || glob(&p.pattern, &rel);
                if matched && !p.except.iter().any(|e| glob(e, &rel)) {
                    targets.push(target);
                }
            }
        } else {
            problems.push(Problem::warning(
                format!("permissions[{k}].object"),
                None,
                format!(
                    "`{}` is not installed by the files section: this permission changes nothing",
                    p.object
                ),
            ));
            continue;
        }
        for target in targets {
            match set.get(&target) {
                Some(first) if reported.insert((*first, k)) => problems.push(Problem::error(
                    format!("permissions[{k}]"),
                    None,
                    format!(
                        "applies to `{target}`, as permissions[{first}] does: CodeDeploy fails a deployment \
                         that sets permissions on an object twice; narrow one with pattern, except or type"
                    ),
                )),
                Some(_) => {}
                None => {
                    set.insert(target, k);
                }
            }
        }
    }
}

/// An object that is a file takes no pattern, except, or default ACL.
fn file_only_rules(k: usize, p: &Permission, problems: &mut Vec<Problem>) {
    let on_file = |what: &str| {
        format!(
            "`{}` is a file, and {what} applies only to a directory: remove it",
            p.object
        )
    };
    if p.pattern != "**" {
        problems.push(Problem::error(
            format!("permissions[{k}].pattern"),
            None,
            on_file("a pattern"),
        ));
    }
    if !p.except.is_empty() {
        problems.push(Problem::error(
            format!("permissions[{k}].except"),
            None,
            on_file("except"),
        ));
    }
    if p.acls.iter().any(|a| is_default_ace(a)) {
        problems.push(Problem::error(
            format!("permissions[{k}].acls"),
            None,
            on_file("a default (d:) ACL entry"),
        ));
    }
}

/// The agent's simple glob: `*` matches any run of characters; names in subdirectories
/// (with a `/`) never match.
fn glob(pattern: &str, name: &str) -> bool {
    if name.contains('/') {
        return false;
    }
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n
                .split_first()
                .is_some_and(|(d, tail)| c == d && go(rest, tail)),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_the_agent() {
        assert!(glob("*.txt", "a.txt"));
        assert!(glob("*my-folder*", "my-folder-1"));
        assert!(!glob("*.txt", "a.txt.bak"));
        assert!(!glob("*.txt", "dir/a.txt"));
        assert!(glob("a*b*c", "aXbYc"));
    }

    #[test]
    fn normalizes_destinations() {
        assert_eq!(normalize("/opt//app/./x/../", Os::Linux), "/opt/app");
        assert_eq!(
            normalize("C:\\inetpub\\app\\", Os::Windows),
            "C:/inetpub/app"
        );
    }
}
