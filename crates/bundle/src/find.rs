//! Reading one file out of a bundle without extracting it (for AppSpec validation).
//!
//! Whether the single top-level folder is stripped is only known at the end of the stream, so
//! at most two candidates are kept in memory while walking, each at most `max_bytes`: the
//! entry at `name`, and the entry at `<first top-level name>/name`. The same index as
//! extraction admits every entry, so a bundle that `extract` refuses for its names, types,
//! repeats or number of entries is refused here too, and the two always agree on which entry
//! `name` is. Only regular files match: a link at `name` reads as absent.
//!
//! Zip entry data other than the candidates' is skipped without being inflated, so a zip
//! bomb costs nothing here (and zip symlink targets, being entry data, are only checked by
//! `extract`). A tar stream is decompressed in full anyway, so its byte limits apply.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::index::{Index, Item, Kind};
use crate::limits::Budget;
use crate::path::EntryPath;
use crate::zip_walk::{self, ZipKind};
use crate::{BundleError, BundleType, Limits, PathProblem, tar_walk};

pub(crate) fn read_entry(
    reader: impl Read,
    kind: BundleType,
    name: &str,
    max_bytes: u64,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, BundleError> {
    let unsafe_name = |problem| BundleError::UnsafePath {
        entry: name.to_owned(),
        problem,
    };
    let want = EntryPath::parse(name).map_err(unsafe_name)?;
    if want.is_root() {
        return Err(unsafe_name(PathProblem::Empty));
    }
    let mut finder = Finder {
        index: Index::new(limits.max_entries),
        nested_want: None,
        want,
        root: None,
        nested: None,
        limit: max_bytes.min(limits.max_file_bytes),
    };
    let mut budget = Budget::new(limits, kind);
    let reader = budget.wrap(reader);
    match kind {
        BundleType::Tar => tar_walk::walk(reader, &mut budget, &mut |item, data, budget| {
            finder.tar_item(item, data, budget)
        })?,
        BundleType::Tgz => {
            let reader = MultiGzDecoder::new(reader);
            tar_walk::walk(reader, &mut budget, &mut |item, data, budget| {
                finder.tar_item(item, data, budget)
            })?;
        }
        BundleType::Zip => finder.zip(reader, &mut budget)?,
    }
    let strip = finder.index.finish()?;
    let found = if strip.is_some() {
        finder.nested
    } else {
        finder.root
    };
    Ok(found.map(|(_, bytes)| bytes))
}

struct Finder {
    index: Index,
    want: EntryPath,
    /// `want` under the first top-level name, once that name is known.
    nested_want: Option<EntryPath>,
    /// Candidates: (entry number, data).
    root: Option<(usize, Vec<u8>)>,
    nested: Option<(usize, Vec<u8>)>,
    limit: u64,
}

impl Finder {
    fn learn_top(&mut self, top: Option<&str>) {
        if self.nested_want.is_none()
            && let Some(top) = top
        {
            self.nested_want = Some(self.want.prefixed(top));
        }
    }

    /// Keeps `data` if `path` is one of the two candidates.
    fn offer(
        &mut self,
        number: usize,
        raw: &str,
        path: &EntryPath,
        data: &mut dyn Read,
        budget: &mut Budget,
    ) -> Result<(), BundleError> {
        let slot = if *path == self.want {
            &mut self.root
        } else if self.nested_want.as_ref() == Some(path) {
            &mut self.nested
        } else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        budget.copy(raw, data, &mut bytes, Path::new(raw), self.limit)?;
        *slot = Some((number, bytes));
        Ok(())
    }

    fn tar_item(
        &mut self,
        item: Item,
        data: &mut dyn Read,
        budget: &mut Budget,
    ) -> Result<(), BundleError> {
        self.index.admit(&item)?;
        if self.nested_want.is_none() {
            let top = self.index.first_top().map(str::to_owned);
            self.learn_top(top.as_deref());
        }
        if matches!(item.kind, Kind::File) {
            self.offer(0, &item.raw, &item.path, data, budget)?;
        }
        Ok(())
    }

    fn zip(&mut self, reader: impl Read, budget: &mut Budget) -> Result<(), BundleError> {
        let items = zip_walk::walk(
            reader,
            budget,
            &mut |number, raw, path, dir, data, budget| {
                self.learn_top(path.first());
                if dir {
                    return Ok(());
                }
                self.offer(number, raw, path, data, budget)
            },
        )?;
        for (number, item) in items.into_iter().enumerate() {
            let kind = match item.kind {
                ZipKind::File => Kind::File,
                ZipKind::Dir => Kind::Dir,
                ZipKind::Symlink => {
                    self.index.admit_unchecked_symlink(&item.raw, &item.path)?;
                    self.forget(number);
                    continue;
                }
            };
            if !matches!(kind, Kind::File) {
                self.forget(number);
            }
            self.index.admit(&Item {
                raw: item.raw,
                path: item.path,
                kind,
                mode: item.mode,
            })?;
        }
        Ok(())
    }

    /// Drops a candidate that turned out not to be a regular file.
    fn forget(&mut self, number: usize) {
        for slot in [&mut self.root, &mut self.nested] {
            if slot.as_ref().is_some_and(|(n, _)| *n == number) {
                *slot = None;
            }
        }
    }
}
