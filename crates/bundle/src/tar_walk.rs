//! Walking a tar stream, one entry at a time.
//!
//! The `tar` crate is used in raw mode: GNU long names, long link names and PAX headers are
//! read here, each bounded in size, because the crate's own handling reads them into memory
//! whatever their declared size. Only `path`, `linkpath` and `size` PAX keys matter; a PAX
//! size that disagrees with the header, or a GNU sparse file, is refused rather than guessed.

use std::borrow::Cow;
use std::io::Read;

use tar::{Archive, Entry, EntryType, PaxExtensions};

use crate::index::{Item, Kind};
use crate::limits::Budget;
use crate::path::{EntryPath, MAX_NAME_BYTES};
use crate::{BundleError, LinkProblem, PathProblem};

/// Largest PAX extended header accepted.
const MAX_PAX_BYTES: u64 = 64 * 1024;

/// Called for each entry with the entry's data; what it leaves unread is drained (and
/// counted) afterwards.
pub(crate) type Visit<'a> =
    dyn FnMut(Item, &mut dyn Read, &mut Budget) -> Result<(), BundleError> + 'a;

/// Extension headers waiting for the entry they describe.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.long_name.is_none() && self.long_link.is_none() && self.pax.is_none()
    }
}

pub(crate) fn walk(
    reader: impl Read,
    budget: &mut Budget,
    visit: &mut Visit<'_>,
) -> Result<(), BundleError> {
    let mut archive = Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| budget.archive_error(e))?
        .raw(true);
    let mut pending = Pending::default();
    for entry in entries {
        let mut entry = entry.map_err(|e| budget.archive_error(e))?;
        let header_name = lossy(&entry.header().path_bytes());
        let slot = match entry.header().entry_type() {
            EntryType::GNULongName => Some((&mut pending.long_name, MAX_NAME_BYTES as u64)),
            EntryType::GNULongLink => Some((&mut pending.long_link, MAX_NAME_BYTES as u64)),
            EntryType::XHeader => Some((&mut pending.pax, MAX_PAX_BYTES)),
            EntryType::XGlobalHeader => {
                // Global PAX headers carry nothing ferry uses; they still count, as an entry
                // and as bytes inflated.
                budget.entry(&header_name)?;
                budget.drain(&header_name, &mut entry)?;
                continue;
            }
            _ => None,
        };
        if let Some((slot, max)) = slot {
            if slot.is_some() {
                return Err(budget.archive_error("two extension headers for one entry"));
            }
            *slot = Some(read_small(&mut entry, max, &header_name, budget)?);
            continue;
        }
        let ext = std::mem::take(&mut pending);
        let name = ext
            .long_name
            .as_deref()
            .map(trim_nul)
            .map(Cow::Borrowed)
            .or_else(|| pax_value(&ext, b"path"))
            .unwrap_or_else(|| entry.header().path_bytes());
        let raw = lossy(&name);
        budget.entry(&raw)?;
        let item = describe(&entry, &ext, raw, &name, budget)?;
        let raw = item.raw.clone();
        visit(item, &mut entry, budget)?;
        budget.drain(&raw, &mut entry)?;
    }
    if !pending.is_empty() {
        return Err(budget.archive_error("extension header without a following entry"));
    }
    Ok(())
}

fn describe<R: Read>(
    entry: &Entry<'_, R>,
    ext: &Pending,
    raw: String,
    name: &[u8],
    budget: &Budget,
) -> Result<Item, BundleError> {
    let header = entry.header();
    let path = EntryPath::parse_bytes(name).map_err(|problem| BundleError::UnsafePath {
        entry: raw.clone(),
        problem,
    })?;
    let unsupported = |what: &str| BundleError::Unsupported {
        entry: raw.clone(),
        what: what.to_owned(),
    };
    if let Some(pax) = &ext.pax {
        for field in PaxExtensions::new(pax) {
            let field = field.map_err(|e| budget.archive_error(e))?;
            if field.key_bytes().starts_with(b"GNU.sparse.") {
                return Err(unsupported("GNU sparse file"));
            }
        }
        if let Some(size) = pax_value(ext, b"size") {
            let header_size = header.entry_size().map_err(|e| budget.archive_error(e))?;
            if size.as_ref() != header_size.to_string().as_bytes() {
                return Err(unsupported("PAX size that differs from the header's size"));
            }
        }
    }
    let special = |kind: &str| BundleError::SpecialFile {
        entry: raw.clone(),
        kind: kind.to_owned(),
    };
    let ty = header.entry_type();
    let kind = match ty {
        EntryType::Regular if name.ends_with(b"/") => Kind::Dir,
        EntryType::Regular | EntryType::Continuous => Kind::File,
        EntryType::Directory => Kind::Dir,
        EntryType::Symlink | EntryType::Link => {
            let target = link_target(ext, header, &raw, ty == EntryType::Symlink)?;
            if ty == EntryType::Symlink {
                Kind::Symlink(target)
            } else {
                Kind::HardLink(target)
            }
        }
        EntryType::Char => return Err(special("character device")),
        EntryType::Block => return Err(special("block device")),
        EntryType::Fifo => return Err(special("fifo")),
        EntryType::GNUSparse => return Err(unsupported("GNU sparse file")),
        other => {
            return Err(special(&format!(
                "tar type {:?}",
                char::from(other.as_byte())
            )));
        }
    };
    let mode = header.mode().map_err(|e| budget.archive_error(e))?;
    Ok(Item {
        raw,
        path,
        kind,
        mode: Some(mode),
    })
}

fn link_target(
    ext: &Pending,
    header: &tar::Header,
    raw: &str,
    symlink: bool,
) -> Result<String, BundleError> {
    let target = ext
        .long_link
        .as_deref()
        .map(trim_nul)
        .map(Cow::Borrowed)
        .or_else(|| pax_value(ext, b"linkpath"))
        .or_else(|| header.link_name_bytes())
        .unwrap_or_default();
    String::from_utf8(target.into_owned()).map_err(|e| {
        let target = lossy(e.as_bytes());
        let problem = LinkProblem::BadTarget(PathProblem::NotUtf8);
        let entry = raw.to_owned();
        if symlink {
            BundleError::UnsafeSymlink {
                entry,
                target,
                problem,
            }
        } else {
            BundleError::UnsafeHardLink {
                entry,
                target,
                problem,
            }
        }
    })
}

fn pax_value<'a>(ext: &'a Pending, key: &[u8]) -> Option<Cow<'a, [u8]>> {
    let pax = ext.pax.as_deref()?;
    PaxExtensions::new(pax)
        .filter_map(Result::ok)
        .filter(|f| f.key_bytes() == key)
        .last()
        .map(|f| Cow::Borrowed(f.value_bytes()))
}

/// Reads an extension header's data, refusing more than `max` bytes.
fn read_small(
    entry: &mut impl Read,
    max: u64,
    header_name: &str,
    budget: &mut Budget,
) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    (&mut *entry)
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| budget.archive_error(e))?;
    if out.len() as u64 > max {
        return Err(BundleError::UnsafePath {
            entry: header_name.to_owned(),
            problem: PathProblem::TooLong,
        });
    }
    Ok(out)
}

fn trim_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
