//! DownloadBundle: the revision's bytes onto the host, verified, then unpacked safely.
//!
//! The bundle streams from the revisions service into a file next to the archive directory,
//! hashed as it is written; an interrupted stream resumes from the bytes already on disk (the
//! hash state carries over), up to a few times. Only a bundle whose size and sha256 match the
//! command's is unpacked, with ferry-bundle's checks (no entry escapes the directory). Memory
//! stays at one chunk plus the HTTP/2 window, whatever the bundle's size.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ferry_bundle::{BundleType, Limits};
use ferry_proto::common::v1::RevisionLocation;
use ferry_proto::revision::v1::DownloadBundleRequest;
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_runtime::telemetry::{TraceContextInterceptor, TracedChannel};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::channel;
use crate::config::TlsConfig;
use crate::outcome::Failure;

/// How many times a broken download stream is resumed before the event fails.
const RESUMES: u32 = 3;

/// A revision as the server describes it in a command.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteRevision {
    /// Hex sha256 of the bundle.
    pub sha256: String,
    pub size: u64,
    pub bundle_type: Option<BundleType>,
    /// Empty: the endpoint the agent's session uses.
    pub download_endpoint: String,
    pub location: Option<RevisionLocation>,
}

/// Downloads bundles, one connection per revisions endpoint.
pub struct Downloader {
    default_endpoint: String,
    tls: TlsConfig,
    channels: Mutex<HashMap<String, Channel>>,
}

impl Downloader {
    pub fn new(default_endpoint: impl Into<String>, tls: TlsConfig) -> Self {
        Self {
            default_endpoint: default_endpoint.into(),
            tls,
            channels: Mutex::new(HashMap::new()),
        }
    }

    fn channel(&self, endpoint: &str) -> Result<Channel, Failure> {
        let uri = if endpoint.is_empty() {
            &self.default_endpoint
        } else {
            endpoint
        };
        let mut channels = self
            .channels
            .lock()
            .map_err(|_| Failure::unknown("download channels poisoned"))?;
        if let Some(channel) = channels.get(uri) {
            return Ok(channel.clone());
        }
        let channel = channel::download_channel(uri, &self.tls)
            .map_err(|e| Failure::unknown(format!("revisions endpoint {uri}: {e:#}")))?;
        channels.insert(uri.to_owned(), channel.clone());
        Ok(channel)
    }

    /// Streams the bundle into `file` and checks its size and digest against `revision`.
    pub async fn download(
        &self,
        revision: &RemoteRevision,
        file: &Path,
        cancel: &CancellationToken,
    ) -> Result<(), Failure> {
        check_digest(&revision.sha256)?;
        // The download joins the lifecycle event's trace (the deployment's).
        let mut client = RevisionServiceClient::with_interceptor(
            self.channel(&revision.download_endpoint)?,
            TraceContextInterceptor,
        )
        .max_decoding_message_size(16 << 20);
        let mut out = tokio::fs::File::create(file)
            .await
            .map_err(|e| io_failure("create", file, e))?;
        let mut hasher = Sha256::new();
        let mut offset = 0u64;
        let mut attempt = 0;
        loop {
            let result = tokio::select! {
                result = receive(&mut client, &revision.sha256, &mut offset, &mut hasher, &mut out, file) => result,
                () = cancel.cancelled() => return Err(Failure::unknown("download cancelled")),
            };
            match result {
                Ok(()) => break,
                Err(Receive::Fatal(failure)) => return Err(failure),
                Err(Receive::Broken(status)) if attempt < RESUMES => {
                    attempt += 1;
                    tracing::warn!(%status, offset, attempt, "bundle download interrupted; resuming");
                }
                Err(Receive::Broken(status)) => {
                    return Err(Failure::unknown(format!(
                        "bundle download failed after {RESUMES} resumes: {}",
                        status.message()
                    )));
                }
            }
        }
        out.flush()
            .await
            .map_err(|e| io_failure("write", file, e))?;
        out.sync_all()
            .await
            .map_err(|e| io_failure("write", file, e))?;
        if offset != revision.size {
            return Err(Failure::unknown(format!(
                "bundle is {offset} bytes, the deployment says {}",
                revision.size
            )));
        }
        let digest = hex::encode(hasher.finalize());
        if digest != revision.sha256 {
            return Err(Failure::unknown(format!(
                "bundle sha256 is {digest}, the deployment says {}",
                revision.sha256
            )));
        }
        Ok(())
    }
}

enum Receive {
    /// The stream broke; resuming from `offset` may work.
    Broken(tonic::Status),
    Fatal(Failure),
}

async fn receive(
    client: &mut RevisionServiceClient<TracedChannel>,
    sha256: &str,
    offset: &mut u64,
    hasher: &mut Sha256,
    out: &mut tokio::fs::File,
    file: &Path,
) -> Result<(), Receive> {
    let request = DownloadBundleRequest {
        sha256: sha256.to_owned(),
        offset: *offset,
    };
    let mut stream = match client.download_bundle(request).await {
        Ok(response) => response.into_inner(),
        Err(status) if status.code() == tonic::Code::NotFound => {
            return Err(Receive::Fatal(Failure::unknown(format!(
                "the revisions service has no bundle {sha256}: {}",
                status.message()
            ))));
        }
        Err(status) => return Err(Receive::Broken(status)),
    };
    while let Some(message) = stream.next().await {
        let message = message.map_err(Receive::Broken)?;
        if message.chunk.is_empty() {
            continue;
        }
        if message.offset != *offset {
            return Err(Receive::Fatal(Failure::unknown(format!(
                "bundle stream jumped from byte {} to {}",
                offset, message.offset
            ))));
        }
        hasher.update(&message.chunk);
        out.write_all(&message.chunk)
            .await
            .map_err(|e| Receive::Fatal(io_failure("write", file, e)))?;
        *offset += message.chunk.len() as u64;
    }
    Ok(())
}

fn check_digest(sha256: &str) -> Result<(), Failure> {
    if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Failure::unknown(format!(
            "{sha256:?} is not a hex sha256 digest"
        )))
    }
}

/// Unpacks the bundle in `file` into `dest` (which must not exist or be empty), detecting the
/// format when `kind` is not given.
pub async fn unpack(file: &Path, kind: Option<BundleType>, dest: &Path) -> Result<(), Failure> {
    let file = file.to_owned();
    let dest = dest.to_owned();
    tokio::task::spawn_blocking(move || {
        let reader = std::io::BufReader::new(
            std::fs::File::open(&file).map_err(|e| io_failure("open", &file, e))?,
        );
        let (detected, reader) =
            ferry_bundle::sniff(reader).map_err(|e| io_failure("read", &file, e))?;
        let kind = kind.or(detected).ok_or_else(|| {
            Failure::unknown("the bundle is not a tar, tgz or zip archive".to_owned())
        })?;
        ferry_bundle::extract(reader, kind, &dest, &Limits::default())
            .map_err(|e| Failure::unknown(format!("cannot unpack the bundle: {e}")))?;
        Ok(())
    })
    .await
    .map_err(|e| Failure::unknown(format!("unpacking stopped: {e}")))?
}

/// `ferry-agent local`'s DownloadBundle: a directory is copied (symlinks kept as links), an
/// archive unpacked like a downloaded bundle.
pub async fn unpack_local(source: &Path, dest: &Path) -> Result<(), Failure> {
    let metadata = tokio::fs::metadata(source)
        .await
        .map_err(|e| io_failure("read", source, e))?;
    if !metadata.is_dir() {
        return unpack(source, None, dest).await;
    }
    let source = source.to_owned();
    let dest = dest.to_owned();
    tokio::task::spawn_blocking(move || copy_tree(&source, &dest))
        .await
        .map_err(|e| Failure::unknown(format!("copying stopped: {e}")))?
}

fn copy_tree(source: &Path, dest: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dest).map_err(|e| io_failure("create", dest, e))?;
    let entries = std::fs::read_dir(source).map_err(|e| io_failure("read", source, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_failure("read", source, e))?;
        let from = entry.path();
        let to: PathBuf = dest.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| io_failure("read", &from, e))?;
        if kind.is_dir() {
            copy_tree(&from, &to)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&from).map_err(|e| io_failure("read", &from, e))?;
            std::os::unix::fs::symlink(target, &to).map_err(|e| io_failure("create", &to, e))?;
        } else if kind.is_file() {
            std::fs::copy(&from, &to).map_err(|e| io_failure("copy", &from, e))?;
        }
    }
    Ok(())
}

fn io_failure(action: &str, path: &Path, error: std::io::Error) -> Failure {
    Failure::unknown(format!("cannot {action} {}: {error}", path.display()))
}
