//! A revision's location, checked once at the edge: what each type needs, its canonical
//! identity (the `revision_key` a revision is registered under) and its stored JSON form.

use ferry_proto::codedeploy::CodeDeployName;
use ferry_proto::common::v1::{
    self as common, BundleType, RevisionLocation, RevisionLocationType as Type,
};
use sha2::{Digest, Sha256};

use ferry_runtime::error::{ApiError, Exception};

use crate::fetch::Origin;

use ferry_proto::revision_json::{self as json, bundle_name};

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Exception::InvalidRevision, message)
}

fn required(what: &str) -> ApiError {
    ApiError::new(
        Exception::RevisionRequired,
        format!("a revision of type {what} needs its location"),
    )
}

/// Hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// True for a lowercase or uppercase hex sha256.
pub fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A checked, normalised revision location.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    wire: RevisionLocation,
    kind: Type,
    origin: Option<Origin>,
}

impl Location {
    /// Checks a location as CodeDeploy would, and normalises it: only the member of its type is
    /// kept, S3 ETags lose their quotes, commit ids and digests are lower case, and inline
    /// content gets its sha256.
    pub fn parse(location: Option<&RevisionLocation>) -> Result<Self, ApiError> {
        let loc = location.ok_or_else(|| {
            ApiError::new(Exception::RevisionRequired, "the revision is required")
        })?;
        // Type, and the fetchable kinds' names, repositories and commits.
        let origin = Origin::from_location(loc)?;
        let kind = Type::try_from(loc.revision_type)
            .map_err(|_| invalid(format!("unknown revision type {}", loc.revision_type)))?;
        let mut wire = RevisionLocation {
            revision_type: loc.revision_type,
            ..Default::default()
        };
        match kind {
            Type::S3 => {
                let s3 = loc.s3_location.clone().ok_or_else(|| required("S3"))?;
                match BundleType::try_from(s3.bundle_type) {
                    Ok(BundleType::Unspecified) => {
                        return Err(invalid(
                            "an s3 revision needs its bundle type: tar, tgz, zip, YAML or JSON",
                        ));
                    }
                    Ok(_) => {}
                    Err(_) => {
                        return Err(invalid(format!("unknown bundle type {}", s3.bundle_type)));
                    }
                }
                wire.s3_location = Some(common::S3Location {
                    e_tag: s3.e_tag.trim_matches('"').to_owned(),
                    ..s3
                });
            }
            Type::GitHub => {
                let mut gh = loc
                    .git_hub_location
                    .clone()
                    .ok_or_else(|| required("GitHub"))?;
                gh.commit_id.make_ascii_lowercase();
                wire.git_hub_location = Some(gh);
            }
            Type::Bitbucket => {
                let mut bb = loc.bitbucket_location.clone();
                let bb = bb.as_mut().ok_or_else(|| required("Bitbucket"))?;
                bb.commit_id.make_ascii_lowercase();
                wire.bitbucket_location = Some(bb.clone());
            }
            Type::Git => {
                let mut git = loc.git_location.clone().ok_or_else(|| required("Git"))?;
                git.commit_id.make_ascii_lowercase();
                wire.git_location = Some(git);
            }
            Type::String | Type::AppSpecContent => {
                let raw = if kind == Type::String {
                    &loc.string
                } else {
                    &loc.app_spec_content
                };
                let name = kind.codedeploy_name().unwrap_or_default();
                let raw = raw.as_ref().ok_or_else(|| required(name))?;
                if raw.content.trim().is_empty() {
                    return Err(invalid(format!(
                        "a revision of type {name} needs its content"
                    )));
                }
                let actual = sha256_hex(raw.content.as_bytes());
                if !raw.sha256.is_empty() && !raw.sha256.eq_ignore_ascii_case(&actual) {
                    return Err(invalid(format!(
                        "the sha256 of the content is {actual}, not {}",
                        raw.sha256
                    )));
                }
                let raw = Some(common::RawString {
                    content: raw.content.clone(),
                    sha256: actual,
                });
                if kind == Type::String {
                    wire.string = raw;
                } else {
                    wire.app_spec_content = raw;
                }
            }
            Type::Uploaded => {
                let up = loc
                    .uploaded_location
                    .as_ref()
                    .ok_or_else(|| required("Uploaded"))?;
                if !is_digest(&up.digest) {
                    return Err(invalid(format!(
                        "uploaded digest {:?} is not a hex sha256",
                        up.digest
                    )));
                }
                if BundleType::try_from(up.bundle_type).is_err() {
                    return Err(invalid(format!("unknown bundle type {}", up.bundle_type)));
                }
                wire.uploaded_location = Some(common::UploadedLocation {
                    digest: up.digest.to_ascii_lowercase(),
                    bundle_type: up.bundle_type,
                });
            }
            Type::Unspecified => {
                return Err(ApiError::new(
                    Exception::RevisionRequired,
                    "the revision type is required",
                ));
            }
        }
        Ok(Self { wire, kind, origin })
    }

    /// An uploaded bundle's location.
    pub fn uploaded(digest: &str, bundle_type: BundleType) -> Self {
        Self {
            wire: RevisionLocation {
                revision_type: Type::Uploaded as i32,
                uploaded_location: Some(common::UploadedLocation {
                    digest: digest.to_owned(),
                    bundle_type: bundle_type as i32,
                }),
                ..Default::default()
            },
            kind: Type::Uploaded,
            origin: None,
        }
    }

    pub fn kind(&self) -> Type {
        self.kind
    }

    pub fn wire(&self) -> &RevisionLocation {
        &self.wire
    }

    /// Where ferry fetches it from; `None` for inline content and uploads.
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// The canonical identity: the type and the fields that name the bytes (for S3 what
    /// CodeDeploy keys a revision by: bucket, key, bundle type, version and ETag), hashed.
    pub fn key(&self) -> String {
        let w = &self.wire;
        let name = self.kind.codedeploy_name().unwrap_or_default();
        let parts: Vec<String> = match self.kind {
            Type::S3 => {
                let s3 = w.s3_location.clone().unwrap_or_default();
                let bundle = bundle_name(s3.bundle_type);
                vec![s3.bucket, s3.key, bundle.into(), s3.version, s3.e_tag]
            }
            Type::GitHub => {
                let gh = w.git_hub_location.clone().unwrap_or_default();
                vec![gh.repository.to_ascii_lowercase(), gh.commit_id]
            }
            Type::Bitbucket => {
                let bb = w.bitbucket_location.clone().unwrap_or_default();
                vec![bb.repository.to_ascii_lowercase(), bb.commit_id]
            }
            Type::Git => {
                let git = w.git_location.clone().unwrap_or_default();
                vec![git.url, git.commit_id]
            }
            Type::String | Type::AppSpecContent => {
                vec![self.content_sha256().unwrap_or_default().into()]
            }
            Type::Uploaded => vec![self.uploaded_digest().unwrap_or_default().into()],
            Type::Unspecified => vec![],
        };
        let mut hasher = Sha256::new();
        hasher.update(name.as_bytes());
        for part in parts {
            hasher.update(b"\0");
            hasher.update(part.as_bytes());
        }
        hex::encode(hasher.finalize())
    }

    /// True when the location always names the same bytes: a commit, an S3 object pinned by
    /// version or ETag, inline content, an upload. Only these are fetched once and remembered.
    pub fn immutable(&self) -> bool {
        match &self.wire.s3_location {
            Some(s3) if self.kind == Type::S3 => !s3.version.is_empty() || !s3.e_tag.is_empty(),
            _ => true,
        }
    }

    /// The bundle type the location declares, if any.
    pub fn bundle_type(&self) -> Option<BundleType> {
        let value = match self.kind {
            Type::S3 => self.wire.s3_location.as_ref()?.bundle_type,
            Type::Uploaded => self.wire.uploaded_location.as_ref()?.bundle_type,
            _ => return None,
        };
        BundleType::try_from(value)
            .ok()
            .filter(|t| *t != BundleType::Unspecified)
    }

    /// Sets an upload's bundle type, when the location left it out.
    pub fn set_uploaded_bundle_type(&mut self, bundle_type: BundleType) {
        if let Some(up) = &mut self.wire.uploaded_location {
            up.bundle_type = bundle_type as i32;
        }
    }

    /// String and AppSpecContent: the AppSpec itself.
    pub fn content(&self) -> Option<&str> {
        self.wire
            .string
            .as_ref()
            .or(self.wire.app_spec_content.as_ref())
            .map(|r| r.content.as_str())
    }

    fn content_sha256(&self) -> Option<&str> {
        self.wire
            .string
            .as_ref()
            .or(self.wire.app_spec_content.as_ref())
            .map(|r| r.sha256.as_str())
    }

    pub fn uploaded_digest(&self) -> Option<&str> {
        self.wire
            .uploaded_location
            .as_ref()
            .map(|u| u.digest.as_str())
    }

    /// Bucket and key of an S3 revision.
    pub fn s3(&self) -> Option<(&str, &str)> {
        self.wire
            .s3_location
            .as_ref()
            .map(|s| (s.bucket.as_str(), s.key.as_str()))
    }

    /// CodeDeploy's name of the type.
    pub fn type_name(&self) -> &'static str {
        self.kind.codedeploy_name().unwrap_or_default()
    }

    /// The stored form: CodeDeploy's RevisionLocation as JSON.
    pub fn to_json(&self) -> String {
        json::to_json(&self.wire)
    }

    /// A stored location back on the wire.
    pub fn from_json(json: &str) -> Result<RevisionLocation, ApiError> {
        json::from_json(json).map_err(ApiError::internal)
    }
}

#[cfg(test)]
#[path = "location_tests.rs"]
mod tests;
