//! The `permissions` section: which installed objects each entry matches, and applying it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, lchown};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ferry_appspec::{ObjectType, Permission, SelinuxContext, SelinuxRange};

use super::{InstallRequest, Tools, glob, io_failure, reroot};
use crate::outcome::Failure;

/// One `permissions` entry, resolved: ids looked up, tools found, objects matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionPlan {
    /// The entry's index in `permissions`.
    pub index: usize,
    /// `object` as the AppSpec writes it.
    pub object: String,
    pub mode: Option<u32>,
    /// Name and uid.
    pub owner: Option<(String, u32)>,
    /// Name and gid.
    pub group: Option<(String, u32)>,
    pub acls: Vec<String>,
    pub context: Option<SelinuxContext>,
    /// Where `setfacl` is, when `acls` has entries and there are targets.
    pub setfacl: Option<PathBuf>,
    /// Where `chcon` is, when there is a context and there are targets.
    pub chcon: Option<PathBuf>,
    /// The installed objects it applies to, in path order.
    pub targets: Vec<PathBuf>,
}

impl fmt::Display for PermissionPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut what: Vec<String> = Vec::new();
        if let Some((name, _)) = &self.owner {
            what.push(format!("owner {name}"));
        }
        if let Some((name, _)) = &self.group {
            what.push(format!("group {name}"));
        }
        if let Some(mode) = self.mode {
            what.push(format!("mode {mode:03o}"));
        }
        what.extend(self.acls.iter().map(|acl| format!("acl {acl}")));
        if let Some(context) = &self.context {
            what.push(format!("context {}", chcon_args(context).join(" ")));
        }
        let what = what.join(", ");
        if self.targets.is_empty() {
            return writeln!(
                f,
                "permissions[{}] on {}: matches nothing installed",
                self.index, self.object
            );
        }
        for target in &self.targets {
            writeln!(
                f,
                "permissions[{}] {}: {what}",
                self.index,
                target.display()
            )?;
        }
        Ok(())
    }
}

/// Resolves every entry against what the install copies or creates.
pub(super) fn plan(
    req: &InstallRequest,
    tools: &Tools,
    installed: &BTreeMap<PathBuf, ObjectType>,
) -> Result<Vec<PermissionPlan>, Failure> {
    req.spec
        .permissions
        .iter()
        .enumerate()
        .map(|(index, p)| entry(req, tools, installed, index, p))
        .collect()
}

fn entry(
    req: &InstallRequest,
    tools: &Tools,
    installed: &BTreeMap<PathBuf, ObjectType>,
    index: usize,
    p: &Permission,
) -> Result<PermissionPlan, Failure> {
    let on = |what: String| Failure::unknown(format!("permissions on {}: {what}", p.object));
    let object = reroot(req.install_root, &p.object, "permissions object")?;
    let targets: Vec<PathBuf> = installed
        .iter()
        .filter(|(path, kind)| {
            (p.types.is_empty() || p.types.contains(kind)) && matches(p, &object, path, **kind)
        })
        .map(|(path, _)| path.clone())
        .collect();
    let owner = match &p.owner {
        Some(name) => {
            let user = req
                .accounts
                .user(name)
                .map_err(|e| on(e.to_string()))?
                .ok_or_else(|| on(format!("owner `{name}` is not a user on this host")))?;
            Some((name.clone(), user.uid))
        }
        None => None,
    };
    let group = match &p.group {
        Some(name) => {
            let gid = req
                .accounts
                .group_id(name)
                .map_err(|e| on(e.to_string()))?
                .ok_or_else(|| on(format!("group `{name}` is not a group on this host")))?;
            Some((name.clone(), gid))
        }
        None => None,
    };
    let needs = |wanted: bool, tool: &str, why: &str| -> Result<Option<PathBuf>, Failure> {
        if !wanted || targets.is_empty() {
            return Ok(None);
        }
        find_tool(tool, tools.search_path.as_deref())
            .map(Some)
            .ok_or_else(|| on(format!("{why} need {tool}, which this host does not have")))
    };
    let setfacl = needs(!p.acls.is_empty(), "setfacl", "acls")?;
    let chcon = needs(p.context.is_some(), "chcon", "SELinux contexts")?;
    Ok(PermissionPlan {
        index,
        object: p.object.clone(),
        mode: p.mode.as_ref().map(|m| m.bits()),
        owner,
        group,
        acls: p.acls.clone(),
        context: p.context.clone(),
        setfacl,
        chcon,
        targets,
    })
}

/// `object` itself when it is a file; else anything below it whose relative path matches
/// `pattern` and no `except`.
fn matches(p: &Permission, object: &Path, path: &Path, kind: ObjectType) -> bool {
    if path == object {
        return kind == ObjectType::File;
    }
    let Ok(relative) = path.strip_prefix(object) else {
        return false;
    };
    let relative: Vec<_> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    let relative = relative.join("/");
    glob::matches(&p.pattern, &relative) && !p.except.iter().any(|e| glob::matches(e, &relative))
}

/// Applies an entry to its targets: owner and group first (chown clears set-id bits), then
/// mode, ACLs and SELinux context. Returns how many objects it was applied to.
pub(super) fn apply(p: &PermissionPlan) -> Result<usize, Failure> {
    let on = |what: String| Failure::unknown(format!("permissions on {}: {what}", p.object));
    for target in &p.targets {
        let (uid, gid) = (p.owner.as_ref().map(|o| o.1), p.group.as_ref().map(|g| g.1));
        if uid.is_some() || gid.is_some() {
            lchown(target, uid, gid).map_err(|e| io_failure("cannot chown", target, &e))?;
        }
        if let Some(mode) = p.mode {
            fs::set_permissions(target, fs::Permissions::from_mode(mode))
                .map_err(|e| io_failure("cannot chmod", target, &e))?;
        }
        if let Some(setfacl) = &p.setfacl {
            for acl in &p.acls {
                let args = [OsStr::new("-m"), OsStr::new(acl), target.as_os_str()];
                run(setfacl, &args).map_err(on)?;
            }
        }
        if let (Some(chcon), Some(context)) = (&p.chcon, &p.context) {
            let mut args: Vec<&OsStr> = Vec::new();
            let texts = chcon_args(context);
            args.extend(texts.iter().map(OsStr::new));
            args.push(target.as_os_str());
            run(chcon, &args).map_err(on)?;
        }
        tracing::debug!(path = %target.display(), "permissions[{}] applied", p.index);
    }
    Ok(p.targets.len())
}

/// `chcon`'s options for a context: `[-u user] -t type [-l range]`.
fn chcon_args(context: &SelinuxContext) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(user) = &context.user {
        args.extend(["-u".to_owned(), user.clone()]);
    }
    args.extend(["-t".to_owned(), context.type_.clone()]);
    if let Some(range) = &context.range {
        args.extend(["-l".to_owned(), selinux_range(range)]);
    }
    args
}

/// A range as `chcon -l` takes it: `s<low>-s<high>[:c<n>,…]`.
pub fn selinux_range(range: &SelinuxRange) -> String {
    let mut text = format!("s{}-s{}", range.low, range.high);
    if !range.categories.is_empty() {
        let categories: Vec<String> = range.categories.iter().map(|c| format!("c{c}")).collect();
        text.push(':');
        text.push_str(&categories.join(","));
    }
    text
}

/// The executable `name` in `search` (`PATH` syntax; `None` = the agent's `PATH`).
fn find_tool(name: &str, search: Option<&OsStr>) -> Option<PathBuf> {
    let search: OsString = match search {
        Some(path) => path.to_owned(),
        None => std::env::var_os("PATH").unwrap_or_default(),
    };
    std::env::split_paths(&search)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|path| {
            fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Runs a tool to completion; a failure names the command and carries its stderr.
fn run(tool: &Path, args: &[&OsStr]) -> Result<(), String> {
    let command = || {
        let mut words = vec![tool.display().to_string()];
        words.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
        words.join(" ")
    };
    let output = spawn(tool, args).map_err(|e| format!("cannot run `{}`: {e}", command()))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "`{}` failed ({}): {}",
        command(),
        output.status,
        stderr.trim()
    ))
}

fn spawn(tool: &Path, args: &[&OsStr]) -> io::Result<Output> {
    let mut tries = 0;
    loop {
        let result = Command::new(tool).args(args).stdin(Stdio::null()).output();
        match result {
            // Another thread may briefly hold the executable open for writing while forking.
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selinux_range_as_chcon_takes_it() {
        let range = SelinuxRange {
            low: 0,
            high: 0,
            categories: vec![0, 1],
        };
        assert_eq!(selinux_range(&range), "s0-s0:c0,c1");
        let range = SelinuxRange {
            low: 0,
            high: 2,
            categories: vec![],
        };
        assert_eq!(selinux_range(&range), "s0-s2");
    }

    #[test]
    fn tools_are_found_only_on_the_given_path() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("setfacl");
        fs::write(&tool, "#!/bin/sh\n").unwrap();
        assert_eq!(find_tool("setfacl", Some(dir.path().as_os_str())), None);
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
        let search = std::env::join_paths(["/nonexistent".as_ref(), dir.path()]).unwrap();
        assert_eq!(find_tool("setfacl", Some(&search)), Some(tool));
        assert_eq!(find_tool("setfacl", Some(OsStr::new(""))), None);
    }
}
