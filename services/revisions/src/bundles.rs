//! UploadBundle (client stream: header, then bytes) and DownloadBundle (server stream from an
//! offset, the digest on the last message).

use bytes::Bytes;
use ferry_proto::common::v1::{BundleType, RevisionLocation};
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{self as pb, UploadBundleRequest};
use futures::stream::{BoxStream, Stream, StreamExt};

use ferry_runtime::error::{ApiError, Exception};

use crate::Revisions;
use crate::apps::check_name;
use crate::blob_rows;
use crate::inspect::detect;
use crate::location::{Location, is_digest};
use crate::revisions::MAX_DESCRIPTION;

fn invalid_input(message: impl Into<String>) -> ApiError {
    ApiError::new(Exception::InvalidInput, message)
}

fn invalid_revision(message: impl Into<String>) -> ApiError {
    ApiError::new(Exception::InvalidRevision, message)
}

/// A stream of upload messages as the client sent them.
pub type UploadStream = BoxStream<'static, Result<UploadBundleRequest, tonic::Status>>;

/// A download, message by message.
pub type DownloadStream = BoxStream<'static, Result<pb::DownloadBundleResponse, ApiError>>;

impl Revisions {
    pub async fn upload_bundle(
        &self,
        mut stream: UploadStream,
    ) -> Result<pb::UploadBundleResponse, ApiError> {
        let header = match stream.next().await {
            Some(Ok(UploadBundleRequest {
                part: Some(Part::Header(header)),
            })) => header,
            Some(Err(status)) => {
                return Err(invalid_input(format!(
                    "the upload failed: {}",
                    status.message()
                )));
            }
            _ => {
                return Err(invalid_input(
                    "the first message of an upload must be its header",
                ));
            }
        };
        let expected = (!header.expected_sha256.is_empty())
            .then(|| header.expected_sha256.to_ascii_lowercase());
        if let Some(expected) = &expected
            && !is_digest(expected)
        {
            return Err(invalid_revision(format!(
                "expected_sha256 {expected:?} is not a hex sha256"
            )));
        }
        let declared = match BundleType::try_from(header.bundle_type) {
            Ok(BundleType::Unspecified) => None,
            Ok(kind) => Some(kind),
            Err(_) => {
                return Err(invalid_revision(format!(
                    "unknown bundle type {}",
                    header.bundle_type
                )));
            }
        };
        let application =
            (!header.application_name.is_empty()).then_some(header.application_name.as_str());
        if let Some(application) = application {
            check_name(application)?;
            if header.description.chars().count() > MAX_DESCRIPTION {
                return Err(ApiError::new(
                    Exception::DescriptionTooLong,
                    format!("the description is longer than {MAX_DESCRIPTION} characters"),
                ));
            }
            self.inner.apps.check(application).await?;
        }

        let chunks = stream.map(|message| match message {
            Ok(UploadBundleRequest {
                part: Some(Part::Chunk(bytes)),
            }) => Ok(Bytes::from(bytes)),
            Ok(_) => Err(invalid_input(
                "only the first message of an upload may be a header",
            )),
            Err(status) => Err(invalid_input(format!(
                "the upload failed: {}",
                status.message()
            ))),
        });
        let blobs = &self.inner.blobs;
        let staged = blobs.stage(chunks, self.inner.max_bundle_bytes).await?;
        let bundle_type = match declared.or_else(|| detect(&staged.head)) {
            Some(kind) if staged.size > 0 => kind,
            _ => {
                blobs.discard(&staged).await;
                return Err(invalid_revision(if staged.size == 0 {
                    "the bundle is empty".to_owned()
                } else {
                    "the bundle type cannot be told from the bytes: set bundle_type".to_owned()
                }));
            }
        };
        blobs.publish(&staged, expected.as_deref()).await?;
        blob_rows::record(
            &self.inner.writer,
            &staged.digest,
            staged.size,
            Some(bundle_type),
        )
        .await?;
        let location = Location::uploaded(&staged.digest, bundle_type);
        if let Some(application) = application {
            self.upsert(application, &location, &header.description)
                .await?;
        }
        Ok(pb::UploadBundleResponse {
            location: Some(RevisionLocation::clone(location.wire())),
            sha256: staged.digest,
            size: staged.size,
        })
    }

    pub async fn download_bundle(
        &self,
        req: pb::DownloadBundleRequest,
    ) -> Result<DownloadStream, ApiError> {
        if !is_digest(&req.sha256) {
            return Err(invalid_input(format!(
                "sha256 {:?} is not a hex sha256",
                req.sha256
            )));
        }
        let digest = req.sha256.to_ascii_lowercase();
        let row = blob_rows::find(&self.inner.db, &digest)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    Exception::RevisionDoesNotExist,
                    format!("there is no bundle with sha256 {digest}"),
                )
            })?;
        let total = row.size;
        let offset = req.offset;
        if offset > total {
            return Err(invalid_input(format!(
                "offset {offset} is beyond the bundle's {total} bytes"
            )));
        }
        if offset == total {
            let only = pb::DownloadBundleResponse {
                chunk: Vec::new(),
                offset,
                total_size: total,
                sha256: digest,
            };
            return Ok(futures::stream::iter([Ok(only)]).boxed());
        }
        let body = self.inner.blobs.get_range(&digest, offset).await?;
        Ok(frames(body, digest, offset, total))
    }
}

/// Numbers the chunks: `total_size` on the first message, the digest on the last; a blob that
/// ends early is an error, never a silently short download.
fn frames(
    body: impl Stream<Item = Result<Bytes, ApiError>> + Send + 'static,
    digest: String,
    offset: u64,
    total: u64,
) -> DownloadStream {
    futures::stream::unfold(
        (body.boxed(), offset, true),
        move |(mut body, position, first)| {
            let digest = digest.clone();
            async move {
                if position >= total && !first {
                    return None;
                }
                let chunk = match body.next().await {
                    Some(Ok(chunk)) => chunk,
                    Some(Err(err)) => return Some((Err(err), (body, total, false))),
                    None => {
                        let err = ApiError::internal(format!(
                            "blob {digest} ends at {position} of {total} bytes"
                        ));
                        return Some((Err(err), (body, total, false)));
                    }
                };
                let end = position + chunk.len() as u64;
                let message = pb::DownloadBundleResponse {
                    chunk: Vec::from(chunk),
                    offset: position,
                    total_size: if first { total } else { 0 },
                    sha256: if end >= total { digest } else { String::new() },
                };
                Some((Ok(message), (body, end, false)))
            }
        },
    )
    .boxed()
}
