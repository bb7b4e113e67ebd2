//! Entry names and link targets, checked lexically.
//!
//! An entry name becomes an [`EntryPath`]: its `/`-separated components with empty and `.`
//! components dropped. Anything that could leave the root, or mean something else on another
//! platform, is refused rather than rewritten: absolute names, `..`, backslashes, drive
//! prefixes, NUL bytes, names that are not UTF-8.
//!
//! A symlink target may start with `..` components but may not have `..` after a name:
//! `a/../b` means `b` lexically, but if `a` is itself a link it means something else on disk.
//! With `..` only in front, lexical resolution from the link's directory (a real directory:
//! nothing is ever extracted through a link) is exactly what the kernel does.

use std::path::{Path, PathBuf};

use crate::{LinkProblem, PathProblem};

/// Longest entry name or link target accepted, in bytes (Linux's `PATH_MAX`).
pub(crate) const MAX_NAME_BYTES: usize = 4096;

/// Longest path component accepted, in bytes (Linux's `NAME_MAX`).
const MAX_COMPONENT_BYTES: usize = 255;

/// Deepest path accepted, in components. Every directory operation walks the whole path, so
/// depth multiplies the work of each entry; no real bundle comes near this.
const MAX_DEPTH: usize = 128;

/// A checked, normalised, relative entry path. Empty means the archive root (`./`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct EntryPath(Vec<String>);

impl EntryPath {
    /// Parses an entry name as the archive stores it.
    pub(crate) fn parse_bytes(raw: &[u8]) -> Result<Self, PathProblem> {
        if raw.contains(&0) {
            return Err(PathProblem::Nul);
        }
        let name = std::str::from_utf8(raw).map_err(|_| PathProblem::NotUtf8)?;
        Self::parse(name)
    }

    /// Parses an entry name.
    pub(crate) fn parse(name: &str) -> Result<Self, PathProblem> {
        let components = components(name)?;
        let mut out = Vec::with_capacity(components.len());
        for c in components {
            match c {
                Component::Parent => return Err(PathProblem::ParentDir),
                Component::Name(n) => out.push(n.to_owned()),
            }
        }
        if out.len() > MAX_DEPTH {
            return Err(PathProblem::TooDeep);
        }
        Ok(Self(out))
    }

    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn components(&self) -> &[String] {
        &self.0
    }

    pub(crate) fn first(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }

    /// The first `n` components joined with `/`.
    pub(crate) fn prefix_key(&self, n: usize) -> String {
        self.0[..n].join("/")
    }

    /// All components joined with `/`.
    #[cfg(test)]
    pub(crate) fn key(&self) -> String {
        self.0.join("/")
    }

    /// The path below `base` for the first `n` components.
    pub(crate) fn prefix_under(&self, base: &Path, n: usize) -> PathBuf {
        let mut p = base.to_path_buf();
        p.extend(&self.0[..n]);
        p
    }

    pub(crate) fn under(&self, base: &Path) -> PathBuf {
        self.prefix_under(base, self.0.len())
    }

    /// `prefix` followed by this path's components.
    pub(crate) fn prefixed(&self, prefix: &str) -> Self {
        let mut v = Vec::with_capacity(self.0.len() + 1);
        v.push(prefix.to_owned());
        v.extend(self.0.iter().cloned());
        Self(v)
    }
}

enum Component<'a> {
    Parent,
    Name(&'a str),
}

/// Splits a name into components, refusing what is unsafe on any platform.
fn components(name: &str) -> Result<Vec<Component<'_>>, PathProblem> {
    if name.len() > MAX_NAME_BYTES {
        return Err(PathProblem::TooLong);
    }
    if name.contains('\0') {
        return Err(PathProblem::Nul);
    }
    if name.contains('\\') {
        return Err(PathProblem::Backslash);
    }
    if name.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    let mut out = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => out.push(Component::Parent),
            c if is_drive(c) => return Err(PathProblem::WindowsPrefix),
            c if c.len() > MAX_COMPONENT_BYTES => return Err(PathProblem::TooLong),
            c => out.push(Component::Name(c)),
        }
    }
    Ok(out)
}

/// `C:` or `C:anything`: a drive prefix on Windows, where `Path::join` would jump to it.
fn is_drive(component: &str) -> bool {
    let b = component.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// Checks a symlink target, resolved from the directory of the link at `link`, against a
/// root `floor` components below the archive root (1 when the single top folder is stripped).
pub(crate) fn check_symlink_target(
    link: &EntryPath,
    target: &str,
    floor: usize,
) -> Result<(), LinkProblem> {
    if target.is_empty() {
        return Err(LinkProblem::Empty);
    }
    let components = components(target).map_err(|p| match p {
        PathProblem::Absolute => LinkProblem::Absolute,
        PathProblem::TooLong => LinkProblem::TooLong,
        p => LinkProblem::BadTarget(p),
    })?;
    let mut depth = link.len().saturating_sub(1);
    let mut seen_name = false;
    for c in components {
        match c {
            Component::Parent if seen_name => return Err(LinkProblem::DotDotAfterName),
            Component::Parent if depth <= floor => return Err(LinkProblem::EscapesRoot),
            Component::Parent => depth -= 1,
            Component::Name(_) => seen_name = true,
        }
    }
    Ok(())
}

/// Parses a hard-link target, which tar gives relative to the archive root.
pub(crate) fn parse_hardlink_target(target: &str) -> Result<EntryPath, LinkProblem> {
    if target.is_empty() {
        return Err(LinkProblem::Empty);
    }
    match EntryPath::parse(target) {
        Ok(p) if p.is_root() => Err(LinkProblem::NotExtractedFile),
        Ok(p) => Ok(p),
        Err(PathProblem::Absolute) => Err(LinkProblem::Absolute),
        Err(PathProblem::ParentDir) => Err(LinkProblem::EscapesRoot),
        Err(PathProblem::TooLong) => Err(LinkProblem::TooLong),
        Err(p) => Err(LinkProblem::BadTarget(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<String>, PathProblem> {
        EntryPath::parse(s).map(|p| p.0)
    }

    #[test]
    fn normalises_harmless_forms() {
        assert_eq!(parse("./a//b/./c/").unwrap(), ["a", "b", "c"]);
        assert_eq!(parse("a").unwrap(), ["a"]);
        assert!(parse("./").unwrap().is_empty());
        assert!(parse(".").unwrap().is_empty());
        assert_eq!(parse("10:30/ab:c").unwrap(), ["10:30", "ab:c"]);
    }

    #[test]
    fn refuses_unsafe_names() {
        assert_eq!(parse("/etc/passwd"), Err(PathProblem::Absolute));
        assert_eq!(parse("../evil"), Err(PathProblem::ParentDir));
        assert_eq!(parse("a/../b"), Err(PathProblem::ParentDir));
        assert_eq!(parse("..\\evil"), Err(PathProblem::Backslash));
        assert_eq!(parse("C:/evil"), Err(PathProblem::WindowsPrefix));
        assert_eq!(parse("a/c:evil"), Err(PathProblem::WindowsPrefix));
        assert_eq!(parse("a\0b"), Err(PathProblem::Nul));
        assert_eq!(parse(&"a".repeat(5000)), Err(PathProblem::TooLong));
        assert_eq!(
            parse(&format!("d/{}", "a".repeat(256))),
            Err(PathProblem::TooLong)
        );
        assert_eq!(EntryPath::parse_bytes(b"a\xff"), Err(PathProblem::NotUtf8));
    }

    #[test]
    fn symlink_targets_stay_below_the_floor() {
        let link = EntryPath::parse("app/hooks/current").unwrap();
        assert_eq!(check_symlink_target(&link, "v1/run.sh", 0), Ok(()));
        assert_eq!(check_symlink_target(&link, "../lib", 0), Ok(()));
        assert_eq!(check_symlink_target(&link, "../../x", 0), Ok(()));
        assert_eq!(check_symlink_target(&link, ".", 0), Ok(()));
        assert_eq!(
            check_symlink_target(&link, "../../../etc", 0),
            Err(LinkProblem::EscapesRoot)
        );
        // Once `app/` is stripped, `../../x` leaves the bundle.
        assert_eq!(check_symlink_target(&link, "../lib", 1), Ok(()));
        assert_eq!(
            check_symlink_target(&link, "../../x", 1),
            Err(LinkProblem::EscapesRoot)
        );
        assert_eq!(
            check_symlink_target(&link, "/etc/passwd", 0),
            Err(LinkProblem::Absolute)
        );
        assert_eq!(
            check_symlink_target(&link, "a/../../b", 0),
            Err(LinkProblem::DotDotAfterName)
        );
        assert_eq!(check_symlink_target(&link, "", 0), Err(LinkProblem::Empty));
        let top = EntryPath::parse("l").unwrap();
        assert_eq!(
            check_symlink_target(&top, "..", 0),
            Err(LinkProblem::EscapesRoot)
        );
    }

    #[test]
    fn hardlink_targets_are_archive_paths() {
        assert_eq!(parse_hardlink_target("./a/b").unwrap().key(), "a/b");
        assert_eq!(parse_hardlink_target("../x"), Err(LinkProblem::EscapesRoot));
        assert_eq!(
            parse_hardlink_target("/etc/passwd"),
            Err(LinkProblem::Absolute)
        );
        assert_eq!(
            parse_hardlink_target("."),
            Err(LinkProblem::NotExtractedFile)
        );
    }
}
