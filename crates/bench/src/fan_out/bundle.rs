//! The bundle the agents download: a tar of an empty AppSpec and seeded random bytes.

use std::io::Read;
use std::path::Path;

use anyhow::Context as _;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use super::{BUFFER, PAYLOAD};

/// The bundle as written: its size and hex sha256.
pub(super) struct Bundle {
    pub(super) size: u64,
    pub(super) sha256: String,
}

/// Writes a tar of an AppSpec without files or hooks (Install copies nothing) and `payload`
/// bytes of seeded random data, hashing it as it goes.
pub(super) fn write_bundle(path: &Path, payload: u64) -> anyhow::Result<Bundle> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let out = HashingWriter {
        inner: std::io::BufWriter::with_capacity(BUFFER, file),
        hasher: Sha256::new(),
        size: 0,
    };
    let mut builder = tar::Builder::new(out);
    let appspec = b"version: 0.0\nos: linux\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(appspec.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, "appspec.yml", &appspec[..])?;
    let mut header = tar::Header::new_gnu();
    header.set_size(payload);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    let random = Random {
        rng: rand::rngs::StdRng::seed_from_u64(4),
        left: payload,
    };
    builder.append_data(&mut header, PAYLOAD, random)?;
    let out = builder.into_inner()?;
    let file = out
        .inner
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error()))?;
    file.sync_all()?;
    Ok(Bundle {
        size: out.size,
        sha256: hex(&out.hasher.finalize()),
    })
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `left` bytes of a seeded random stream.
struct Random {
    rng: rand::rngs::StdRng,
    left: u64,
}

impl Read for Random {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        self.rng.fill_bytes(&mut buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
