//! Resource limits, enforced while streaming.
//!
//! Nothing here trusts an archive header: entries are counted as they are met, and bytes are
//! counted as they come out of the decompressor. The ratio compares those bytes with the bytes
//! actually read from the input stream.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::path::Path;
use std::rc::Rc;

use crate::{BundleError, BundleType};

const GIB: u64 = 1 << 30;

/// The compression ratio is only enforced once this many bytes have come out, so that a
/// small bundle of a few very compressible files is never refused for its ratio.
pub const RATIO_GRACE_BYTES: u64 = 1 << 20;

/// Limits on what one bundle may expand to. Every check runs while streaming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes of entry data coming out of the archive (default 2 GiB).
    pub max_total_bytes: u64,
    /// Entries, directories and links included, and directories that entries only imply
    /// (default 50 000).
    pub max_entries: u64,
    /// Bytes of one file (default 2 GiB, i.e. only the total applies).
    pub max_file_bytes: u64,
    /// Bytes out per byte read from the input (default 200), checked once more than
    /// [`RATIO_GRACE_BYTES`] have come out.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_total_bytes: 2 * GIB,
            max_entries: 50_000,
            max_file_bytes: 2 * GIB,
            max_ratio: 200,
        }
    }
}

/// Counts the bytes read from the caller's stream, for the ratio.
pub(crate) struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// The running totals of one extraction or read, checked against its [`Limits`].
pub(crate) struct Budget {
    limits: Limits,
    kind: BundleType,
    entries: u64,
    bytes: u64,
    consumed: Rc<Cell<u64>>,
    buf: Box<[u8]>,
}

impl Budget {
    pub(crate) fn new(limits: &Limits, kind: BundleType) -> Self {
        Self {
            limits: limits.clone(),
            kind,
            entries: 0,
            bytes: 0,
            consumed: Rc::default(),
            buf: vec![0; 64 * 1024].into_boxed_slice(),
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Wraps the caller's stream so the ratio sees every byte read from it.
    pub(crate) fn wrap<R: Read>(&self, inner: R) -> Counting<R> {
        Counting {
            inner,
            count: Rc::clone(&self.consumed),
        }
    }

    /// An error of the archive format (malformed header, truncated stream, bad checksum).
    pub(crate) fn archive_error(
        &self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> BundleError {
        BundleError::archive(self.kind, source)
    }

    /// Counts one entry.
    pub(crate) fn entry(&mut self, entry: &str) -> Result<(), BundleError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(BundleError::TooManyEntries {
                entry: entry.to_owned(),
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    /// Copies one entry's data from `from` to `to`, counting every byte against the limits
    /// before it is written. `to_path` names `to` in an I/O error.
    pub(crate) fn copy(
        &mut self,
        entry: &str,
        from: &mut dyn Read,
        to: &mut dyn Write,
        to_path: &Path,
        file_limit: u64,
    ) -> Result<u64, BundleError> {
        let mut file = 0u64;
        loop {
            let n = match from.read(&mut self.buf) {
                Ok(0) => return Ok(file),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(BundleError::archive(self.kind, e)),
            };
            file = file.saturating_add(n as u64);
            if file > file_limit {
                return Err(BundleError::FileTooLarge {
                    entry: entry.to_owned(),
                    limit: file_limit,
                });
            }
            self.add_bytes(entry, n as u64)?;
            to.write_all(&self.buf[..n])
                .map_err(BundleError::io(to_path))?;
        }
    }

    /// Reads and discards what is left of an entry's data, still counting it.
    pub(crate) fn drain(&mut self, entry: &str, from: &mut dyn Read) -> Result<u64, BundleError> {
        self.copy(entry, from, &mut io::sink(), Path::new(""), u64::MAX)
    }

    fn add_bytes(&mut self, entry: &str, n: u64) -> Result<(), BundleError> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_total_bytes {
            return Err(BundleError::TotalTooLarge {
                entry: entry.to_owned(),
                limit: self.limits.max_total_bytes,
            });
        }
        let allowed = self.consumed.get().saturating_mul(self.limits.max_ratio);
        if self.bytes > RATIO_GRACE_BYTES && self.bytes > allowed {
            return Err(BundleError::RatioExceeded {
                entry: entry.to_owned(),
                limit: self.limits.max_ratio,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_entries_up_to_the_limit() {
        let limits = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        let mut budget = Budget::new(&limits, BundleType::Tar);
        budget.entry("a").unwrap();
        budget.entry("b").unwrap();
        let err = budget.entry("c").unwrap_err();
        assert!(
            matches!(err, BundleError::TooManyEntries { limit: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn ratio_counts_bytes_read_from_the_input() {
        let mut budget = Budget::new(&Limits::default(), BundleType::Tgz);
        // 10 input bytes may yield 2000 output bytes, and the grace covers 1 MiB.
        let mut input = budget.wrap(&[0u8; 10][..]);
        io::copy(&mut input, &mut io::sink()).unwrap();
        let mut zeros = io::repeat(0).take(RATIO_GRACE_BYTES);
        budget.drain("x", &mut zeros).unwrap();
        let mut more = io::repeat(0).take(1);
        let err = budget.drain("x", &mut more).unwrap_err();
        assert!(
            matches!(err, BundleError::RatioExceeded { limit: 200, .. }),
            "{err}"
        );
    }

    #[test]
    fn file_and_total_limits_count_real_bytes() {
        let limits = Limits {
            max_total_bytes: 100,
            max_file_bytes: 60,
            ..Limits::default()
        };
        let mut budget = Budget::new(&limits, BundleType::Tar);
        let mut sink = io::sink();
        let p = Path::new("");
        let err = budget
            .copy("big", &mut io::repeat(1).take(61), &mut sink, p, 60)
            .unwrap_err();
        assert!(
            matches!(err, BundleError::FileTooLarge { limit: 60, .. }),
            "{err}"
        );
        let mut budget = Budget::new(&limits, BundleType::Tar);
        budget
            .copy("a", &mut io::repeat(1).take(60), &mut sink, p, 60)
            .unwrap();
        let err = budget
            .copy("b", &mut io::repeat(1).take(60), &mut sink, p, 60)
            .unwrap_err();
        assert!(
            matches!(err, BundleError::TotalTooLarge { limit: 100, .. }),
            "{err}"
        );
    }
}
