//! Walking a zip stream: local entries first, their kinds and modes only at the end.
//!
//! A zip read as a stream gives each entry's name and data from its local header, but the
//! Unix mode — which says whether the entry is a symlink, and whether it is executable —
//! lives in the central directory at the very end. So a zip is walked in two phases:
//!
//! 1. every local entry's name is checked and counted, and its data handed to a `stage`
//!    callback (extraction writes it to a numbered blob file, reading keeps only the
//!    wanted entry);
//! 2. once the central directory has been read and checked against the local headers
//!    (`enforce_header_consistency`, so the two cannot disagree), the entries come back in
//!    archive order with their kinds and modes, and the caller replays them.

use std::collections::HashMap;
use std::io::Read;

use zip::System;
use zip::read::{ZipFile, ZipFileEntry};
use zip::result::{ZipError, ZipResult};
// Unstable in zip 9: the workspace should pin zip with `=` (Cargo.lock already does).
use zip::unstable::stream::{ZipStreamReader, ZipStreamVisitor};

use crate::limits::Budget;
use crate::path::EntryPath;
use crate::{BundleError, BundleType, PathProblem};

/// What an entry turned out to be, once the central directory is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZipKind {
    Dir,
    File,
    Symlink,
}

#[derive(Debug)]
pub(crate) struct ZipItem {
    pub(crate) raw: String,
    pub(crate) path: EntryPath,
    pub(crate) kind: ZipKind,
    pub(crate) mode: Option<u32>,
}

/// Phase-1 callback: `(index, raw name, path, is a directory by name, data, budget)`.
pub(crate) type Stage<'a> = dyn FnMut(usize, &str, &EntryPath, bool, &mut dyn Read, &mut Budget) -> Result<(), BundleError>
    + 'a;

struct Local {
    raw: String,
    path: EntryPath,
    dir: bool,
    /// The Unix mode from the central directory: `None` until its record is read,
    /// `Some(None)` for a zip made elsewhere than Unix.
    mode: Option<Option<u32>>,
}

struct Visitor<'a, 'b> {
    budget: &'a mut Budget,
    stage: &'a mut Stage<'b>,
    locals: Vec<Local>,
    /// Raw name to its position in `locals`.
    seen: HashMap<Vec<u8>, usize>,
    failure: Option<BundleError>,
}

impl Visitor<'_, '_> {
    fn local<R: Read>(&mut self, file: &mut ZipFile<'_, R>) -> Result<(), BundleError> {
        let name_raw = file.name_raw().to_vec();
        let name = file.name().map(|n| n.into_owned());
        let raw = match &name {
            Ok(n) => n.clone(),
            Err(_) => String::from_utf8_lossy(&name_raw).into_owned(),
        };
        self.budget.entry(&raw)?;
        let unsafe_path = |problem| BundleError::UnsafePath {
            entry: raw.clone(),
            problem,
        };
        let name = name.map_err(|_| unsafe_path(PathProblem::NotUtf8))?;
        let path = EntryPath::parse(&name).map_err(unsafe_path)?;
        if self.seen.contains_key(&name_raw) {
            return Err(BundleError::DuplicateEntry { entry: raw });
        }
        if file.encrypted() {
            return Err(BundleError::Unsupported {
                entry: raw,
                what: "encrypted entry".to_owned(),
            });
        }
        let dir = name.ends_with('/');
        let index = self.locals.len();
        (self.stage)(index, &raw, &path, dir, file, self.budget)?;
        self.seen.insert(name_raw, index);
        self.locals.push(Local {
            raw,
            path,
            dir,
            mode: None,
        });
        Ok(())
    }

    /// Keeps our own error and stops the zip reader with a placeholder.
    fn stop(&mut self, result: Result<(), BundleError>) -> ZipResult<()> {
        result.map_err(|e| {
            self.failure = Some(e);
            ZipError::Io(std::io::Error::other("stopped by ferry-bundle"))
        })
    }
}

impl ZipStreamVisitor for Visitor<'_, '_> {
    fn visit_file<R: Read>(&mut self, file: &mut ZipFile<'_, R>) -> ZipResult<()> {
        let result = self.local(file);
        self.stop(result)
    }

    fn visit_additional_metadata(&mut self, meta: &ZipFileEntry<'_>) -> ZipResult<()> {
        let mode = match meta.system() {
            System::Unix => meta.unix_mode(),
            _ => None,
        };
        if let Some(&i) = self.seen.get(meta.name_raw()) {
            self.locals[i].mode = Some(mode);
        }
        Ok(())
    }
}

/// Walks a zip stream; returns its entries in archive order once everything is verified.
pub(crate) fn walk(
    reader: impl Read,
    budget: &mut Budget,
    stage: &mut Stage<'_>,
) -> Result<Vec<ZipItem>, BundleError> {
    let mut visitor = Visitor {
        budget,
        stage,
        locals: Vec::new(),
        seen: HashMap::new(),
        failure: None,
    };
    let result = ZipStreamReader::new(reader)
        .enforce_header_consistency(true)
        .visit(&mut visitor);
    if let Some(e) = visitor.failure.take() {
        return Err(e);
    }
    result.map_err(|e| visitor.budget.archive_error(e))?;

    let locals = visitor.locals;
    let mut items = Vec::with_capacity(locals.len());
    for local in locals {
        // The consistency check guarantees a central record for every local one.
        let Some(mode) = local.mode else {
            return Err(BundleError::archive(
                BundleType::Zip,
                format!("no central directory record for {:?}", local.raw),
            ));
        };
        let kind = if local.dir {
            ZipKind::Dir
        } else {
            kind_of(mode).map_err(|kind| BundleError::SpecialFile {
                entry: local.raw.clone(),
                kind: kind.to_owned(),
            })?
        };
        items.push(ZipItem {
            raw: local.raw,
            path: local.path,
            kind,
            mode: mode.map(|m| m & 0o7777),
        });
    }
    Ok(items)
}

/// The entry's kind from its Unix mode's file-type bits.
fn kind_of(mode: Option<u32>) -> Result<ZipKind, &'static str> {
    match mode.map(|m| m & 0o170_000) {
        None | Some(0) | Some(0o100_000) => Ok(ZipKind::File),
        Some(0o040_000) => Ok(ZipKind::Dir),
        Some(0o120_000) => Ok(ZipKind::Symlink),
        Some(0o010_000) => Err("fifo"),
        Some(0o020_000) => Err("character device"),
        Some(0o060_000) => Err("block device"),
        Some(0o140_000) => Err("socket"),
        Some(_) => Err("unknown file type"),
    }
}
