//! Every way a bundle can be refused, each naming the entry and the reason.

use std::io;
use std::path::PathBuf;

use crate::BundleType;

/// Why extracting or reading a bundle failed.
///
/// `entry` is the entry's name as the archive spells it (lossily decoded to UTF-8), so an
/// operator can find the entry in the archive listing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The entry's name is not a safe relative path.
    #[error("entry {entry:?}: unsafe path: {problem}")]
    UnsafePath { entry: String, problem: PathProblem },

    /// A symbolic link whose target is absolute or leaves the bundle root.
    #[error("entry {entry:?}: symlink to {target:?} refused: {problem}")]
    UnsafeSymlink {
        entry: String,
        target: String,
        problem: LinkProblem,
    },

    /// A hard link whose target is outside the bundle or not a file extracted before it.
    #[error("entry {entry:?}: hard link to {target:?} refused: {problem}")]
    UnsafeHardLink {
        entry: String,
        target: String,
        problem: LinkProblem,
    },

    /// The entry's path goes through a symlink extracted by an earlier entry.
    #[error("entry {entry:?}: would be written through the symlink {link:?}")]
    ThroughSymlink { entry: String, link: String },

    /// The entry's path goes through a file extracted by an earlier entry.
    #[error("entry {entry:?}: parent {parent:?} is not a directory")]
    NotADirectory { entry: String, parent: String },

    /// The path was already extracted by an earlier entry; only directories may repeat.
    #[error("entry {entry:?}: the path was already extracted by an earlier entry")]
    DuplicateEntry { entry: String },

    /// A device node, FIFO, socket or other special file.
    #[error("entry {entry:?}: {kind} entries are not allowed in a bundle")]
    SpecialFile { entry: String, kind: String },

    /// An entry this crate does not extract (sparse, encrypted, …).
    #[error("entry {entry:?}: unsupported: {what}")]
    Unsupported { entry: String, what: String },

    /// The archive has more entries, or entries and the directories they imply, than
    /// [`Limits::max_entries`](crate::Limits).
    #[error(
        "entry {entry:?}: the bundle has more than {limit} entries (implied directories included)"
    )]
    TooManyEntries { entry: String, limit: u64 },

    /// One file is larger than the limit (counted while writing, not read from headers).
    #[error("entry {entry:?}: larger than {limit} bytes")]
    FileTooLarge { entry: String, limit: u64 },

    /// The bundle expands to more than [`Limits::max_total_bytes`](crate::Limits).
    #[error("entry {entry:?}: the bundle expands to more than {limit} bytes")]
    TotalTooLarge { entry: String, limit: u64 },

    /// The bundle expands more than [`Limits::max_ratio`](crate::Limits) times its size.
    #[error("entry {entry:?}: the bundle expands more than {limit} times its compressed size")]
    RatioExceeded { entry: String, limit: u64 },

    /// The destination directory is unusable (not a directory, not empty).
    #[error("destination {}: {reason}", path.display())]
    BadDestination { path: PathBuf, reason: &'static str },

    /// The archive itself is malformed or truncated, or reading it failed.
    #[error("reading the {kind} archive failed: {source}")]
    Archive {
        kind: BundleType,
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Writing to the destination failed.
    #[error("writing {} failed: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Why an entry's name is not a safe relative path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathProblem {
    #[error("absolute path")]
    Absolute,
    #[error("`..` component")]
    ParentDir,
    #[error("backslash in the name (a Windows separator)")]
    Backslash,
    #[error("Windows drive prefix")]
    WindowsPrefix,
    #[error("NUL byte in the name")]
    Nul,
    #[error("name is not UTF-8")]
    NotUtf8,
    #[error("name is empty")]
    Empty,
    #[error("name is too long")]
    TooLong,
    #[error("path is too deep")]
    TooDeep,
}

/// Why a link's target is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkProblem {
    #[error("target is absolute")]
    Absolute,
    #[error("target resolves outside the bundle root")]
    EscapesRoot,
    #[error("`..` after a name in the target (its meaning would depend on other links)")]
    DotDotAfterName,
    #[error("target is empty")]
    Empty,
    #[error("target is too long")]
    TooLong,
    #[error("target is not a regular file extracted earlier")]
    NotExtractedFile,
    #[error("target is not a safe path: {0}")]
    BadTarget(PathProblem),
}

impl BundleError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    pub(crate) fn archive(
        kind: BundleType,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Archive {
            kind,
            source: source.into(),
        }
    }
}
