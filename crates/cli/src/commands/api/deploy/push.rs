//! `ferry push`: a directory, checked (its AppSpec at the root, validated against the files),
//! packed as a tgz and uploaded with UploadBundle, which registers it as a revision of the
//! application (`aws deploy push`, with ferry's own store in place of S3).
//!
//! The archive is reproducible: entries in name order, every mode kept, owners and times left
//! out (the agent restores neither). Pushing the same directory twice yields the same sha256,
//! so the same revision, which `--update-outdated-instances-only` recognises as installed.

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use ferry_appspec::{APPSPEC_NAMES, AppSpec, Format};
use ferry_proto::common::v1::BundleType;
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{UploadBundleHeader, UploadBundleRequest};
use futures::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::commands::EXIT_INVALID;
use crate::commands::api::{DEFAULT_ENDPOINT, Global, print, refused, to_json};

/// Bytes per UploadBundle chunk.
const CHUNK: usize = 1 << 20;

#[derive(Args)]
pub struct PushArgs {
    /// The application to register the revision with.
    #[arg(long)]
    application_name: String,
    /// The directory to bundle; its AppSpec (appspec.yml) must be at its root.
    #[arg(long)]
    source: PathBuf,
    /// A description of the revision.
    #[arg(long)]
    description: Option<String>,
    #[command(flatten)]
    global: Global,
}

pub async fn run(args: PushArgs) -> anyhow::Result<u8> {
    if let Some(code) = check(&args.source)? {
        return Ok(code);
    }
    let source = args.source.clone();
    let (file, sha256, size) = tokio::task::spawn_blocking(move || pack(&source))
        .await
        .context("packing the bundle")??;

    let header = UploadBundleRequest {
        part: Some(Part::Header(UploadBundleHeader {
            application_name: args.application_name.clone(),
            description: args.description.clone().unwrap_or_default(),
            bundle_type: BundleType::Tgz as i32,
            expected_sha256: sha256.clone(),
        })),
    };
    let file = tokio::fs::File::from_std(file);
    let chunks = futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buffer = vec![0; CHUNK];
        let mut filled = 0;
        while filled < CHUNK {
            match file.read(&mut buffer[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                // The stream ends short; the service then refuses the upload, whose bytes
                // do not match expected_sha256.
                Err(_) => return None,
            }
        }
        if filled == 0 {
            return None;
        }
        buffer.truncate(filled);
        let chunk = UploadBundleRequest {
            part: Some(Part::Chunk(buffer)),
        };
        Some((chunk, (filled == CHUNK).then_some(file)))
    });
    let requests = futures::stream::iter([header]).chain(chunks);
    let mut client = RevisionServiceClient::new(args.global.channel()?);
    let response = match client.upload_bundle(requests).await {
        Ok(response) => response.into_inner(),
        Err(status) => return Ok(refused("UploadBundle", &status)),
    };
    if response.sha256 != sha256 || response.size != size {
        bail!(
            "the service stored {} ({} bytes), not the bundle sent ({sha256}, {size} bytes)",
            response.sha256,
            response.size
        );
    }
    let location = response.location.unwrap_or_default();
    let revision = to_json(&location, "ferry.common.v1.RevisionLocation")?;
    print(
        args.global.output,
        &json!({
            "applicationName": args.application_name,
            "revision": revision,
            "sha256": response.sha256,
            "size": response.size,
        }),
    )?;
    let mut hint = format!(
        "ferry create-deployment --application-name {} --revision {}",
        shell_quote(&args.application_name),
        shell_quote(&serde_json::to_string(&revision)?)
    );
    if args.global.endpoint != DEFAULT_ENDPOINT {
        hint = format!("{hint} --endpoint {}", shell_quote(&args.global.endpoint));
    }
    eprintln!("To deploy with this revision, run:");
    eprintln!(
        "{hint} --deployment-group-name <deployment-group-name> \
         --deployment-config-name <deployment-config-name> --description <description>"
    );
    Ok(0)
}

/// Checks the directory before anything is packed: `Some(exit status)` when it is refused.
fn check(dir: &Path) -> anyhow::Result<Option<u8>> {
    let meta = fs::metadata(dir).with_context(|| format!("--source {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("--source {}: not a directory", dir.display());
    }
    let Some(appspec) = ferry_appspec::find_in_dir(dir) else {
        if dir.join("appspec.json").is_file() {
            bail!(
                "--source {}: CodeDeploy does not read appspec.json from a bundle; rename it \
                 appspec.yml (JSON is valid YAML)",
                dir.display()
            );
        }
        bail!(
            "--source {}: no {} at its root",
            dir.display(),
            APPSPEC_NAMES.join(" or ")
        );
    };
    let text = fs::read_to_string(&appspec)
        .with_context(|| format!("cannot read {}", appspec.display()))?;
    let mut report = ferry_appspec::validate_as(&text, Format::sniff(&text));
    if let Some(AppSpec::Server(spec)) = &report.spec {
        let mut found = ferry_appspec::validate_against_bundle(spec, dir);
        report.locate(&mut found);
        report.problems.extend(found);
        report.problems.sort_by_key(|p| p.line.unwrap_or(0));
    }
    let shown = appspec.display();
    for problem in &report.problems {
        match problem.line {
            Some(_) => eprintln!("{shown}:{problem}"),
            None => eprintln!("{shown}: {problem}"),
        }
    }
    if report.problems.iter().any(|p| p.is_error()) {
        eprintln!("ferry push: the AppSpec is not valid; nothing was uploaded");
        return Ok(Some(EXIT_INVALID));
    }
    Ok(None)
}

/// Packs `root` as a tgz into a temporary file: the file (rewound), its sha256 and size.
fn pack(root: &Path) -> anyhow::Result<(File, String, u64)> {
    let file = tempfile::tempfile().context("creating a temporary file")?;
    let hashing = Hashing {
        inner: io::BufWriter::new(file),
        hasher: Sha256::new(),
        size: 0,
    };
    let gzip = flate2::write::GzEncoder::new(hashing, flate2::Compression::default());
    let mut tar = tar::Builder::new(gzip);
    add_directory(&mut tar, root, Path::new(""))?;
    let hashing = tar.into_inner()?.finish()?;
    let digest = hex::encode(hashing.hasher.finalize());
    let mut file = hashing
        .inner
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    file.rewind()?;
    Ok((file, digest, hashing.size))
}

/// Adds the entries of `root/rel` in name order, directories before what they hold.
fn add_directory<W: Write>(
    tar: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
) -> anyhow::Result<()> {
    let dir = root.join(rel);
    let mut entries = fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("cannot read {}", dir.display()))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = rel.join(entry.file_name());
        let meta = fs::symlink_metadata(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut header = tar::Header::new_gnu();
        // No owners and one fixed time; then the exact permission bits.
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
        header.set_mode(meta.mode() & 0o7777);
        let kind = meta.file_type();
        if kind.is_dir() {
            tar.append_data(&mut header, &name, io::empty())?;
            add_directory(tar, root, &name)?;
        } else if kind.is_file() {
            let file =
                File::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
            tar.append_data(&mut header, &name, file.take(meta.len()))
                .with_context(|| format!("cannot pack {}", path.display()))?;
        } else if kind.is_symlink() {
            let target =
                fs::read_link(&path).with_context(|| format!("cannot read {}", path.display()))?;
            tar.append_link(&mut header, &name, &target)?;
        } else {
            bail!(
                "{} is not a file, directory or symlink (a bundle cannot hold it)",
                path.display()
            );
        }
    }
    Ok(())
}

/// Counts and hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@=+,".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_reproducible_and_keeps_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("scripts")).unwrap();
        fs::write(dir.path().join("appspec.yml"), "version: 0.0\nos: linux\n").unwrap();
        fs::write(dir.path().join("scripts/run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(
            dir.path().join("scripts/run.sh"),
            fs::Permissions::from_mode(0o750),
        )
        .unwrap();
        let (mut first, digest, size) = pack(dir.path()).unwrap();
        let (_, again, _) = pack(dir.path()).unwrap();
        assert_eq!(digest, again);
        let mut bytes = Vec::new();
        first.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert_eq!(hex::encode(Sha256::digest(&bytes)), digest);
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let entries: Vec<(String, u32)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(entries[0].0, "appspec.yml");
        assert_eq!(entries[1].0, "scripts");
        assert_eq!(entries[2], ("scripts/run.sh".to_owned(), 0o750));
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(shell_quote("shop"), "shop");
        assert_eq!(shell_quote(r#"{"a":1}"#), r#"'{"a":1}'"#);
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
