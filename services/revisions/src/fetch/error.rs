//! What can go wrong at an origin, and the CodeDeploy exception each failure is answered with.
//!
//! The line between "the caller's mistake" and "ours" decides the mapping:
//! - the revision is not there, its ETag differs, or the origin refuses the credentials for
//!   it: the caller named something ferry cannot deploy, so a CodeDeploy exception says what;
//! - the origin is rate limiting ferry: `ThrottlingException`, which clients already retry;
//! - S3, GitHub and Bitbucket endpoints are the operator's configuration, so when they fail
//!   (5xx, connection refused, a time-out) the caller did nothing wrong: an internal error,
//!   logged with its cause. CodeDeploy has no "dependency unavailable" exception to borrow;
//! - a git remote is the caller's own URL, so a remote that cannot be reached is an
//!   `InvalidRevisionException` naming it, while git failing on ferry's side is internal.

use std::time::Duration;

use ferry_runtime::error::{ApiError, Exception};

/// The kind of origin a failure comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginKind {
    S3,
    GitHub,
    Bitbucket,
    Git,
}

impl std::fmt::Display for OriginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OriginKind::S3 => "s3",
            OriginKind::GitHub => "github",
            OriginKind::Bitbucket => "bitbucket",
            OriginKind::Git => "git remote",
        })
    }
}

#[derive(thiserror::Error, Debug)]
pub enum FetchError {
    /// The origin has no such object, repository or commit (or hides a private one).
    #[error("{what} does not exist")]
    NotFound { what: String },
    /// The S3 object's ETag is not the one the revision names.
    #[error("the etag of {what} is {}, not {expected}", actual.as_deref().unwrap_or("another"))]
    ETagMismatch {
        what: String,
        expected: String,
        /// `None` when the object changed again before ferry could ask.
        actual: Option<String>,
    },
    /// The origin refused ferry's credentials (or their absence) for this revision.
    #[error("{origin} refused access to {what}: {message}")]
    Unauthorized {
        origin: OriginKind,
        what: String,
        message: String,
    },
    /// The origin is rate limiting ferry.
    #[error("{origin} is rate limiting ferry: {message}")]
    Throttled { origin: OriginKind, message: String },
    /// The origin failed or could not be reached (5xx, connection refused, an unexpected
    /// answer, a body cut short).
    #[error("{origin} failed: {message}")]
    Origin { origin: OriginKind, message: String },
    /// The revision is not one ferry can fetch (a refused git transport, a malformed name).
    #[error("{0}")]
    InvalidRevision(String),
    /// A local I/O failure (spawning git, a temporary directory).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// git failed on ferry's side: not the remote's answer, which is one of the above.
    #[error("git {stage} failed: {message}")]
    Git {
        stage: &'static str,
        message: String,
    },
    #[error("{what} took longer than {after:?}")]
    TimedOut { what: String, after: Duration },
    /// The fetchers' configuration cannot work (found by `Fetchers::new`).
    #[error("fetch configuration: {0}")]
    Config(String),
}

impl FetchError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

impl From<FetchError> for ApiError {
    fn from(err: FetchError) -> Self {
        let message = err.to_string();
        match err {
            FetchError::NotFound { .. } => ApiError::new(Exception::RevisionDoesNotExist, message),
            FetchError::ETagMismatch { .. } | FetchError::InvalidRevision(_) => {
                ApiError::new(Exception::InvalidRevision, message)
            }
            // CodeDeploy's GitHub exception: the token ferry presents is not good for this
            // repository. Elsewhere the revision is one ferry may not read.
            FetchError::Unauthorized {
                origin: OriginKind::GitHub,
                ..
            } => ApiError::new(Exception::InvalidGitHubAccountToken, message),
            FetchError::Unauthorized { .. } => ApiError::new(Exception::InvalidRevision, message),
            FetchError::Throttled { .. } => ApiError::new(Exception::Throttling, message),
            FetchError::Origin {
                origin: OriginKind::Git,
                ..
            } => ApiError::new(Exception::InvalidRevision, message),
            FetchError::Origin { .. }
            | FetchError::Io { .. }
            | FetchError::Git { .. }
            | FetchError::TimedOut { .. }
            | FetchError::Config(_) => ApiError::internal(message),
        }
    }
}
