//! Fetchers: open a revision's bytes where they live — an S3 object, a GitHub or Bitbucket
//! commit, any git remote at a commit — as a stream, so a bundle of any size passes through
//! without being held in memory.
//!
//! [`Origin::from_location`] reads and checks a `RevisionLocation`; [`Fetchers::fetch`] opens
//! the origin and returns a [`Fetched`] body. GitHub and Bitbucket answer a tgz with a single
//! top folder, git a tar of the commit's tree; the bundle crate reads all of them. Failures are
//! [`FetchError`]s, which convert into CodeDeploy exceptions (see [`error`]).

mod config;
pub mod error;
mod git;
mod http;
mod origin;
mod s3;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::stream::BoxStream;

pub use config::{
    BitbucketConfig, DEFAULT_S3_REGION, FetchConfig, GitConfig, GitHubConfig, S3Config,
};
pub use error::{FetchError, OriginKind};
pub use http::{GITHUB_API_VERSION, USER_AGENT};
pub use origin::{GIT_SCHEMES, Origin};

/// A revision's bytes, as the origin sends them.
pub struct Fetched {
    /// Ends with an error, never silently, when the origin stops early.
    pub body: BoxStream<'static, Result<Bytes, FetchError>>,
    /// The length, when the origin said it.
    pub size: Option<u64>,
    /// The origin's ETag, without quotes (S3's is the one a revision names).
    pub e_tag: Option<String>,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("size", &self.size)
            .field("e_tag", &self.e_tag)
            .finish_non_exhaustive()
    }
}

/// Every fetcher, sharing one HTTP client and one S3 store per bucket. Cheap to clone.
#[derive(Clone)]
pub struct Fetchers {
    inner: Arc<Inner>,
}

struct Inner {
    config: FetchConfig,
    client: reqwest::Client,
    s3: s3::S3Fetcher,
    origin_reads: AtomicU64,
}

impl Fetchers {
    /// Checks the configuration and builds the clients; nothing is contacted yet.
    pub fn new(config: &FetchConfig) -> Result<Self, FetchError> {
        for (key, url) in [
            ("github.api_url", &config.github.api_url),
            ("bitbucket.base_url", &config.bitbucket.base_url),
        ] {
            if reqwest::Url::parse(url).is_err() {
                return Err(FetchError::Config(format!("{key}: {url:?} is not a URL")));
            }
        }
        if config.git.binary.is_empty() || config.git.timeout_secs == 0 {
            return Err(FetchError::Config(
                "git.binary must be set and git.timeout_secs above 0".into(),
            ));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                client: http::client()?,
                s3: s3::S3Fetcher::new(&config.s3)?,
                origin_reads: AtomicU64::new(0),
            }),
        })
    }

    /// Opens the revision at its origin. The origin is checked first, so a hand-built
    /// `Origin` is held to the same rules as one from [`Origin::from_location`].
    pub async fn fetch(&self, origin: &Origin) -> Result<Fetched, FetchError> {
        origin.validate()?;
        self.inner.origin_reads.fetch_add(1, Ordering::Relaxed);
        let config = &self.inner.config;
        let fetched = match origin {
            Origin::S3 {
                bucket,
                key,
                version,
                e_tag,
            } => {
                let object = s3::S3Object {
                    bucket,
                    key,
                    version: version.as_deref(),
                    e_tag: e_tag.as_deref().map(|t| t.trim_matches('"')),
                    what: origin.to_string(),
                };
                self.inner.s3.fetch(object).await
            }
            Origin::GitHub { repository, commit } => {
                http::github(&self.inner.client, &config.github, repository, commit).await
            }
            Origin::Bitbucket { repository, commit } => {
                http::bitbucket(&self.inner.client, &config.bitbucket, repository, commit).await
            }
            Origin::Git { url, commit } => git::fetch(&config.git, url, commit).await,
        };
        if let Err(err) = &fetched {
            tracing::debug!(%origin, error = %err, "fetch failed");
        }
        fetched
    }

    /// How many origin reads were started (for tests and metrics: "one origin read per
    /// revision"). A read refused before reaching the origin does not count.
    pub fn origin_reads(&self) -> u64 {
        self.inner.origin_reads.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Fetchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetchers")
            .field("config", &self.inner.config)
            .field("origin_reads", &self.origin_reads())
            .finish_non_exhaustive()
    }
}
