//! Where a revision's bytes live, read from a `RevisionLocation` and checked before anything
//! is fetched, so a malformed location is the caller's `InvalidRevisionException` and never
//! a request ferry sends.

use std::fmt;

use ferry_proto::common::v1::{RevisionLocation, RevisionLocationType};
use ferry_runtime::error::{ApiError, Exception};

use super::error::FetchError;

/// A revision at its origin.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// An object in an S3 bucket, at a version (else the latest) and, when named, only if its
    /// ETag is this one (without quotes).
    S3 {
        bucket: String,
        key: String,
        version: Option<String>,
        e_tag: Option<String>,
    },
    /// A GitHub repository (`owner/repo`) at a full commit id.
    GitHub { repository: String, commit: String },
    /// A Bitbucket Cloud repository (`workspace/repo`) at a full commit id.
    Bitbucket { repository: String, commit: String },
    /// Any git remote (`file://`, `http://`, `https://` or `ssh://`) at a full commit id.
    Git { url: String, commit: String },
}

/// The git URL schemes ferry runs git with. Others are refused: `ext::` runs a command,
/// `fd::` reads a descriptor, and scp-like `host:path` or plain paths are easily mistaken
/// (a path starting with `-` is an option to git).
pub const GIT_SCHEMES: [&str; 4] = ["file://", "http://", "https://", "ssh://"];

impl Origin {
    /// The origin of a location ferry fetches, `None` for the kinds the service keeps itself
    /// (an inline `String` or `AppSpecContent`, an `Uploaded` bundle).
    pub fn from_location(loc: &RevisionLocation) -> Result<Option<Origin>, ApiError> {
        let required = |what: &str| {
            ApiError::new(
                Exception::RevisionRequired,
                format!("a revision of type {what} needs its location"),
            )
        };
        let kind = RevisionLocationType::try_from(loc.revision_type)
            .map_err(|_| invalid(format!("unknown revision type {}", loc.revision_type)))?;
        let origin = match kind {
            RevisionLocationType::Unspecified => {
                return Err(ApiError::new(
                    Exception::RevisionRequired,
                    "the revision type is required",
                ));
            }
            RevisionLocationType::String
            | RevisionLocationType::AppSpecContent
            | RevisionLocationType::Uploaded => return Ok(None),
            RevisionLocationType::S3 => {
                let s3 = loc.s3_location.as_ref().ok_or_else(|| required("S3"))?;
                Origin::S3 {
                    bucket: s3.bucket.clone(),
                    key: s3.key.clone(),
                    version: non_empty(&s3.version),
                    e_tag: non_empty(s3.e_tag.trim_matches('"')),
                }
            }
            RevisionLocationType::GitHub => {
                let gh = loc.git_hub_location.as_ref();
                let gh = gh.ok_or_else(|| required("GitHub"))?;
                Origin::GitHub {
                    repository: gh.repository.clone(),
                    commit: gh.commit_id.to_ascii_lowercase(),
                }
            }
            RevisionLocationType::Bitbucket => {
                let bb = loc.bitbucket_location.as_ref();
                let bb = bb.ok_or_else(|| required("Bitbucket"))?;
                Origin::Bitbucket {
                    repository: bb.repository.clone(),
                    commit: bb.commit_id.to_ascii_lowercase(),
                }
            }
            RevisionLocationType::Git => {
                let git = loc.git_location.as_ref().ok_or_else(|| required("Git"))?;
                Origin::Git {
                    url: git.url.clone(),
                    commit: git.commit_id.to_ascii_lowercase(),
                }
            }
        };
        origin.validate().map_err(ApiError::from)?;
        Ok(Some(origin))
    }

    /// Checks the names before they become a URL or a git argument. `Fetchers::fetch` checks
    /// again, since an `Origin` can be built by hand.
    pub fn validate(&self) -> Result<(), FetchError> {
        let bad = |message: String| Err(FetchError::InvalidRevision(message));
        match self {
            Origin::S3 { bucket, key, .. } => {
                if bucket.is_empty() || key.is_empty() {
                    return bad("an s3 revision needs a bucket and a key".into());
                }
                // Legacy us-east-1 names allow upper case and `_`; none allow `/`.
                let name_ok = bucket.len() <= 255
                    && bucket
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                if !name_ok {
                    return bad(format!("{bucket:?} is not an s3 bucket name"));
                }
                // object_store normalises a key with empty segments or a leading `/` into
                // another key: refuse those rather than read the wrong object.
                match object_store::path::Path::parse(key) {
                    Ok(path) if path.as_ref() == key => Ok(()),
                    _ => bad(format!("ferry cannot read s3 keys like {key:?}")),
                }
            }
            Origin::GitHub { repository, commit } | Origin::Bitbucket { repository, commit } => {
                if !is_repository(repository) {
                    return bad(format!(
                        "repository {repository:?} is not of the form account/repository"
                    ));
                }
                commit_id(commit)
            }
            Origin::Git { url, commit } => {
                if !GIT_SCHEMES.iter().any(|s| url.starts_with(s)) || url.len() <= 7 {
                    return bad(format!(
                        "git url {:?} must start with file://, http://, https:// or ssh://",
                        redact_url(url)
                    ));
                }
                if url.chars().any(char::is_control) {
                    return bad("a git url cannot contain control characters".into());
                }
                commit_id(commit)
            }
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::S3 {
                bucket,
                key,
                version,
                ..
            } => {
                write!(f, "s3://{bucket}/{key}")?;
                match version {
                    Some(v) => write!(f, " (version {v})"),
                    None => Ok(()),
                }
            }
            Origin::GitHub { repository, commit } => write!(f, "github {repository}@{commit}"),
            Origin::Bitbucket { repository, commit } => {
                write!(f, "bitbucket {repository}@{commit}")
            }
            Origin::Git { url, commit } => write!(f, "{}@{commit}", redact_url(url)),
        }
    }
}

/// A URL without the credentials it may carry, for messages and logs.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    // A user name alone can be a token (`https://TOKEN@github.com/…`): hide all of it.
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// CodeDeploy deploys commits, never branches or tags, so a revision means the same bytes
/// forever: a full SHA-1 (or SHA-256) commit id.
fn commit_id(commit: &str) -> Result<(), FetchError> {
    let hex = commit.bytes().all(|b| b.is_ascii_hexdigit());
    if hex && (commit.len() == 40 || commit.len() == 64) {
        Ok(())
    } else {
        Err(FetchError::InvalidRevision(format!(
            "commit id {commit:?} is not a full 40-character commit sha"
        )))
    }
}

fn is_repository(repository: &str) -> bool {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    matches!(repository.split_once('/'), Some((a, r)) if part_ok(a) && part_ok(r))
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn invalid(message: String) -> ApiError {
    ApiError::new(Exception::InvalidRevision, message)
}
