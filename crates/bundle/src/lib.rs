//! Reading and safe extraction of CodeDeploy revision bundles: tar, tgz and zip.
//!
//! Bundles are read as streams from any [`Read`] — a download, a blob, a file — and never
//! need `Seek`. Memory stays bounded: file data goes straight to disk (or, for
//! [`read_entry`], into at most two buffers of at most `max_bytes`); what is kept in memory
//! is a trie of entry names, bounded by [`Limits::max_entries`] nodes of at most 255 bytes.
//!
//! Zips are read with the zip crate's streaming reader, with its check that local headers
//! and the central directory agree. A zip whose local headers lack the sizes (a data
//! descriptor, as zip writers produce on a pipe) cannot be streamed and is refused as
//! [`BundleError::Archive`].
//!
//! # The bundle root
//!
//! As in CodeDeploy, when every entry of the archive sits under one single top-level folder,
//! that folder is stripped: `app-1.0/appspec.yml` extracts to `dest/appspec.yml`, and
//! [`Extracted::stripped_prefix`] says so. A single top-level file or symlink is not
//! stripped. [`extract`] and [`read_entry`] apply the same rule.
//!
//! # What is refused
//!
//! Each refusal is a [`BundleError`] naming the entry:
//!
//! - names that are absolute, contain `..`, a backslash, a Windows drive prefix or a NUL
//!   byte, are not UTF-8, longer than 4096 bytes, have a component longer than 255 bytes,
//!   or are more than 128 components deep ([`BundleError::UnsafePath`]);
//! - symlinks whose target is absolute or leaves the root, resolved lexically from the
//!   link's directory, and against the stripped root when the top folder is stripped
//!   ([`BundleError::UnsafeSymlink`]);
//! - hard links to anything but a regular file extracted earlier ([`BundleError::UnsafeHardLink`]);
//! - any entry whose path goes through a symlink ([`BundleError::ThroughSymlink`]) or a file
//!   ([`BundleError::NotADirectory`]) extracted earlier;
//! - a path extracted twice ([`BundleError::DuplicateEntry`]): tar would let the later entry
//!   win, but then the AppSpec that was validated need not be the one deployed, and a
//!   rewritten file could be a hard link; only directory entries may repeat;
//! - device nodes, FIFOs, sockets and unknown entry types ([`BundleError::SpecialFile`]);
//!   GNU sparse files and encrypted zip entries ([`BundleError::Unsupported`]);
//! - going over any of the [`Limits`], counted while streaming from the bytes actually
//!   produced, never from headers.
//!
//! Nothing is ever written outside the destination. On error the destination is left as it
//! was found: emptied if it existed (it must have been empty), removed if [`extract`]
//! created it. One destination must not be used by two extractions at once.
//!
//! # Modes
//!
//! Files keep their permission bits (so hooks stay executable) but never setuid, setgid or
//! sticky; directories keep theirs with owner `rwx` added; files and directories without a
//! mode in the archive (zips made on Windows) get `0644` and `0755`. Ownership and
//! modification times are not restored. This crate is for Unix hosts.
//!
//! Extraction is blocking I/O; call it from `spawn_blocking` in async code.

mod error;
mod extract;
mod find;
mod index;
mod limits;
mod path;
mod tar_walk;
mod zip_walk;

use std::fmt;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;

pub use error::{BundleError, LinkProblem, PathProblem};
pub use limits::{Limits, RATIO_GRACE_BYTES};

/// A bundle's archive format, as CodeDeploy names it (`tar`, `tgz`, `zip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BundleType {
    Tar,
    Tgz,
    Zip,
}

impl BundleType {
    /// How many leading bytes [`BundleType::detect`] needs to recognise every format.
    pub const SNIFF_LEN: usize = 512;

    /// Recognises a format by its magic bytes: gzip `1f 8b`, zip `PK\x03\x04` (or the
    /// `PK\x05\x06` of an empty zip), tar `ustar` at offset 257. Old v7 tars have no magic
    /// and are not recognised.
    pub fn detect(prefix: &[u8]) -> Option<Self> {
        if prefix.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Tgz)
        } else if prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(b"PK\x05\x06") {
            Some(Self::Zip)
        } else if prefix.get(257..262) == Some(b"ustar") {
            Some(Self::Tar)
        } else {
            None
        }
    }

    /// CodeDeploy's name for the format.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tar => "tar",
            Self::Tgz => "tgz",
            Self::Zip => "zip",
        }
    }
}

impl fmt::Display for BundleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is not `tar`, `tgz` or `zip`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown bundle type {0:?} (expected tar, tgz or zip)")]
pub struct UnknownBundleType(pub String);

impl FromStr for BundleType {
    type Err = UnknownBundleType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tar" => Ok(Self::Tar),
            "tgz" => Ok(Self::Tgz),
            "zip" => Ok(Self::Zip),
            other => Err(UnknownBundleType(other.to_owned())),
        }
    }
}

/// A reader that replays the sniffed prefix, then the rest of the stream.
pub type Sniffed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Reads up to [`BundleType::SNIFF_LEN`] bytes to [`detect`](BundleType::detect) the format,
/// and gives back a reader that still yields the whole stream.
pub fn sniff<R: Read>(mut reader: R) -> io::Result<(Option<BundleType>, Sniffed<R>)> {
    let mut prefix = Vec::with_capacity(BundleType::SNIFF_LEN);
    (&mut reader)
        .take(BundleType::SNIFF_LEN as u64)
        .read_to_end(&mut prefix)?;
    let kind = BundleType::detect(&prefix);
    Ok((kind, io::Cursor::new(prefix).chain(reader)))
}

/// What [`extract`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// Regular files written, hard links included.
    pub files: u64,
    /// Bytes of file data written.
    pub bytes: u64,
    /// The single top-level folder that was stripped, if any.
    pub stripped_prefix: Option<String>,
}

/// Extracts a bundle into `dest`, which must be an empty directory or not exist yet (its
/// parent must exist).
///
/// The archive is first laid out in `dest/.ferry-staging`, then its content root (the
/// archive root, or its single top-level folder) is moved into `dest`. See the crate docs
/// for what is refused; on error `dest` is left empty, or removed if this call created it.
pub fn extract(
    reader: impl Read,
    kind: BundleType,
    dest: &Path,
    limits: &Limits,
) -> Result<Extracted, BundleError> {
    extract::extract(reader, kind, dest, limits)
}

/// Finds the regular file `name` (for example `appspec.yml`, relative to the bundle root
/// after the single top-level folder rule) without extracting anything, with the default
/// [`Limits`]. `Ok(None)` if there is no such file; [`BundleError::FileTooLarge`] if it is
/// larger than `max_bytes`.
///
/// The whole stream is read: only its end tells whether the top folder is stripped.
pub fn read_entry(
    reader: impl Read,
    kind: BundleType,
    name: &str,
    max_bytes: u64,
) -> Result<Option<Vec<u8>>, BundleError> {
    find::read_entry(reader, kind, name, max_bytes, &Limits::default())
}

/// [`read_entry`] with explicit [`Limits`].
pub fn read_entry_with_limits(
    reader: impl Read,
    kind: BundleType,
    name: &str,
    max_bytes: u64,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, BundleError> {
    find::read_entry(reader, kind, name, max_bytes, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic() {
        assert_eq!(BundleType::detect(&[0x1f, 0x8b, 8]), Some(BundleType::Tgz));
        assert_eq!(BundleType::detect(b"PK\x03\x04rest"), Some(BundleType::Zip));
        assert_eq!(BundleType::detect(b"PK\x05\x06"), Some(BundleType::Zip));
        let mut tar = vec![0u8; 512];
        tar[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(BundleType::detect(&tar), Some(BundleType::Tar));
        assert_eq!(BundleType::detect(b"hello"), None);
        assert_eq!(BundleType::detect(&[]), None);
    }

    #[test]
    fn sniff_keeps_the_whole_stream() {
        let data = b"PK\x03\x04 and then the rest".to_vec();
        let (kind, mut reader) = sniff(&data[..]).unwrap();
        assert_eq!(kind, Some(BundleType::Zip));
        let mut back = Vec::new();
        reader.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn names_round_trip() {
        for kind in [BundleType::Tar, BundleType::Tgz, BundleType::Zip] {
            assert_eq!(kind.as_str().parse::<BundleType>(), Ok(kind));
        }
        assert!("YAML".parse::<BundleType>().is_err());
    }
}
