//! The blob store: bundles kept once, content-addressed by sha256 at `sha256/<2 hex>/<digest>`,
//! on the local file system (default) or in S3, through object_store.
//!
//! A write goes to a temporary object (`tmp/<uuid>`) while its bytes are hashed, and is
//! published under its digest only once it is complete (and matches the digest the caller
//! expected, when one was given). A reader therefore never sees a partial blob.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use futures::stream::{BoxStream, StreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, StaticCredentialProvider, WriteMultipart,
};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use ferry_runtime::error::{ApiError, Exception};

use crate::config::{BlobsConfig, BlobsKind};
use crate::fetch::{DEFAULT_S3_REGION, S3Config};

/// Bytes per message a download sends (and per read from a local blob).
pub const CHUNK: usize = 256 * 1024;
/// Leading bytes kept while writing, to detect the bundle type.
pub const SNIFF_LEN: usize = 512;

/// Where blobs live. Cheap to clone.
#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// The directory of a local store: reads go straight to the file.
    local: Option<PathBuf>,
}

/// A complete, hashed write not yet published under its digest.
pub struct Staged {
    tmp: Path,
    pub digest: String,
    pub size: u64,
    /// The first bytes, for [`ferry_bundle::BundleType::detect`].
    pub head: Vec<u8>,
}

fn storage(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("blob store: {err}"))
}

impl BlobStore {
    /// Opens the configured store; a local directory is created if needed.
    pub fn open(config: &BlobsConfig, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        match config.kind {
            BlobsKind::Local => {
                let root = config.local_path(data_dir);
                std::fs::create_dir_all(&root)?;
                let root = std::fs::canonicalize(&root)?;
                let store = LocalFileSystem::new_with_prefix(&root)?.with_automatic_cleanup(true);
                Ok(Self {
                    store: Arc::new(store),
                    prefix: String::new(),
                    local: Some(root),
                })
            }
            BlobsKind::S3 => {
                let bucket = config.bucket.as_deref().unwrap_or_default();
                let store = s3_store(&config.s3, bucket)?;
                let prefix = config.prefix.trim_end_matches('/').to_owned();
                Ok(Self {
                    store: Arc::new(store),
                    prefix,
                    local: None,
                })
            }
        }
    }

    fn key(&self, rest: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rest)
        } else {
            Path::from(format!("{}/{rest}", self.prefix))
        }
    }

    /// `sha256/<first 2 hex>/<digest>`.
    fn blob_path(&self, digest: &str) -> Path {
        self.key(&format!("sha256/{}/{digest}", &digest[..2]))
    }

    fn local_file(&self, digest: &str) -> Option<PathBuf> {
        self.local
            .as_ref()
            .map(|root| root.join("sha256").join(&digest[..2]).join(digest))
    }

    /// Writes a stream to a temporary object, hashing it; refuses more than `max` bytes.
    pub async fn stage<S, E>(&self, stream: S, max: u64) -> Result<Staged, ApiError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<ApiError>,
    {
        let tmp = self.key(&format!("tmp/{}", uuid::Uuid::new_v4().simple()));
        let upload = self.store.put_multipart(&tmp).await.map_err(storage)?;
        let mut writer = WriteMultipart::new(upload);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut head = Vec::with_capacity(SNIFF_LEN);
        let mut stream = std::pin::pin!(stream);
        while let Some(next) = stream.next().await {
            let chunk = match next {
                Ok(chunk) => chunk,
                Err(err) => {
                    let _ = writer.abort().await;
                    return Err(err.into());
                }
            };
            size += chunk.len() as u64;
            if size > max {
                let _ = writer.abort().await;
                return Err(ApiError::new(
                    Exception::InvalidRevision,
                    format!("the bundle is larger than the limit of {max} bytes"),
                ));
            }
            if head.len() < SNIFF_LEN {
                let take = (SNIFF_LEN - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            hasher.update(&chunk);
            if let Err(err) = writer.wait_for_capacity(4).await {
                return Err(storage(err));
            }
            writer.put(chunk);
        }
        writer.finish().await.map_err(storage)?;
        Ok(Staged {
            tmp,
            digest: hex::encode(hasher.finalize()),
            size,
            head,
        })
    }

    /// Publishes a staged write under its digest, after checking it against `expected` (a
    /// mismatch leaves nothing stored). Publishing bytes that are already there is a no-op.
    pub async fn publish(&self, staged: &Staged, expected: Option<&str>) -> Result<(), ApiError> {
        if let Some(expected) = expected
            && !expected.eq_ignore_ascii_case(&staged.digest)
        {
            self.discard(staged).await;
            return Err(ApiError::new(
                Exception::InvalidRevision,
                format!(
                    "the bundle's sha256 is {}, not the expected {expected}",
                    staged.digest
                ),
            ));
        }
        let path = self.blob_path(&staged.digest);
        if self.store.head(&path).await.is_ok() {
            self.discard(staged).await;
            return Ok(());
        }
        self.store.rename(&staged.tmp, &path).await.map_err(storage)
    }

    /// Removes a staged write.
    pub async fn discard(&self, staged: &Staged) {
        if let Err(err) = self.store.delete(&staged.tmp).await {
            tracing::warn!(error = %err, path = %staged.tmp, "cannot remove a temporary blob");
        }
    }

    /// Stages and publishes in one step.
    pub async fn put_stream<S, E>(
        &self,
        stream: S,
        expected: Option<&str>,
        max: u64,
    ) -> Result<Staged, ApiError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<ApiError>,
    {
        let staged = self.stage(stream, max).await?;
        self.publish(&staged, expected).await?;
        Ok(staged)
    }

    /// Stores bytes held in memory (inline AppSpec content).
    pub async fn put_bytes(&self, bytes: Bytes) -> Result<Staged, ApiError> {
        let stream = futures::stream::iter([Ok::<_, ApiError>(bytes)]);
        self.put_stream(stream, None, u64::MAX).await
    }

    /// The size of a stored blob, `None` when there is none.
    pub async fn exists(&self, digest: &str) -> Result<Option<u64>, ApiError> {
        match self.store.head(&self.blob_path(digest)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(storage(err)),
        }
    }

    /// The blob's bytes from `offset` on, in chunks of at most [`CHUNK`] bytes.
    pub async fn get_range(
        &self,
        digest: &str,
        offset: u64,
    ) -> Result<BoxStream<'static, Result<Bytes, ApiError>>, ApiError> {
        if let Some(file) = self.local_file(digest) {
            let mut file = std::fs::File::open(&file).map_err(storage)?;
            file.seek(SeekFrom::Start(offset)).map_err(storage)?;
            return Ok(pump(file, CHUNK));
        }
        let options = GetOptions {
            range: Some(GetRange::Offset(offset)),
            ..GetOptions::default()
        };
        let result = self
            .store
            .get_opts(&self.blob_path(digest), options)
            .await
            .map_err(storage)?;
        Ok(rechunk(
            result.into_stream().map(|r| r.map_err(storage)).boxed(),
            CHUNK,
        ))
    }

    /// A blocking reader of the whole blob, for extraction (call it, and read, in
    /// `spawn_blocking`'s thread... the reader itself is created here on the async side).
    pub async fn reader(&self, digest: &str) -> Result<Box<dyn Read + Send>, ApiError> {
        if let Some(file) = self.local_file(digest) {
            return Ok(Box::new(std::fs::File::open(file).map_err(storage)?));
        }
        let mut stream = self.get_range(digest, 0).await?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                let item = item.map_err(|e| io::Error::other(e.to_string()));
                if tx.send(item).await.is_err() {
                    break;
                }
            }
        });
        Ok(Box::new(ChannelReader {
            rx,
            current: Bytes::new(),
        }))
    }
}

/// Reads a file on a blocking thread into a bounded channel of `chunk`-sized pieces, so a slow
/// receiver holds back the reads (and a gone one stops them).
fn pump(mut file: std::fs::File, chunk: usize) -> BoxStream<'static, Result<Bytes, ApiError>> {
    let (tx, rx) = mpsc::channel::<Result<Bytes, ApiError>>(4);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut buf = BytesMut::zeroed(chunk);
            let mut filled = 0;
            while filled < chunk {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.blocking_send(Err(storage(e)));
                        return;
                    }
                }
            }
            if filled == 0 {
                return;
            }
            buf.truncate(filled);
            if tx.blocking_send(Ok(buf.freeze())).is_err() || filled < chunk {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
}

/// Regroups a stream of arbitrary pieces into pieces of `size` bytes (the last may be shorter).
fn rechunk<E: Send + 'static>(
    stream: BoxStream<'static, Result<Bytes, E>>,
    size: usize,
) -> BoxStream<'static, Result<Bytes, E>> {
    futures::stream::unfold(
        (stream, BytesMut::new(), false),
        move |(mut stream, mut buf, done)| async move {
            if done {
                return None;
            }
            while buf.len() < size {
                match stream.next().await {
                    Some(Ok(bytes)) => buf.extend_from_slice(&bytes),
                    Some(Err(e)) => return Some((Err(e), (stream, buf, true))),
                    None if buf.is_empty() => return None,
                    None => {
                        let out = buf.split().freeze();
                        return Some((Ok(out), (stream, buf, true)));
                    }
                }
            }
            let out = buf.split_to(size).freeze();
            Some((Ok(out), (stream, buf, false)))
        },
    )
    .boxed()
}

/// A blocking `Read` over chunks sent from the async side.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// An S3 store for the blob bucket, configured like the S3 fetcher.
fn s3_store(c: &S3Config, bucket: &str) -> anyhow::Result<object_store::aws::AmazonS3> {
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_virtual_hosted_style_request(!c.path_style);
    if let Some(endpoint) = &c.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if c.region != DEFAULT_S3_REGION
        || builder
            .get_config_value(&AmazonS3ConfigKey::Region)
            .is_none()
    {
        builder = builder.with_region(&c.region);
    }
    if c.allow_http {
        builder = builder.with_allow_http(true);
    }
    if let (Some(key_id), Some(secret_key)) = (&c.access_key_id, &c.secret_access_key) {
        let credential = AwsCredential {
            key_id: key_id.clone(),
            secret_key: secret_key.clone(),
            token: None,
        };
        builder = builder.with_credentials(Arc::new(StaticCredentialProvider::new(credential)));
    }
    Ok(builder.build()?)
}
