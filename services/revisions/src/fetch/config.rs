//! The fetchers' configuration: where S3, GitHub and Bitbucket are, which credentials ferry
//! presents there, and how ferry runs git. Secrets never appear in `Debug` output, because
//! configurations are logged at start-up.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The region when neither the configuration nor `AWS_REGION` names one.
pub const DEFAULT_S3_REGION: &str = "us-east-1";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    pub s3: S3Config,
    pub github: GitHubConfig,
    pub bitbucket: BitbucketConfig,
    pub git: GitConfig,
}

/// Amazon S3 or any S3-compatible store (MinIO, moto, …).
///
/// Whatever is unset here comes from the usual AWS environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, web identity and container credentials), as the AWS
/// tools do.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// `https://HOST[:PORT]` of an S3-compatible store; unset means AWS (or `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// Wins over `AWS_REGION` unless it is left at the default.
    pub region: String,
    /// `ENDPOINT/BUCKET/KEY` instead of `BUCKET.ENDPOINT/KEY`; most self-hosted stores need it.
    pub path_style: bool,
    /// Allows `http://` endpoints (tests, a store on the same host).
    pub allow_http: bool,
    /// With `secret_access_key`: static credentials, which win over the environment's.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: DEFAULT_S3_REGION.into(),
            path_style: false,
            allow_http: false,
            access_key_id: None,
            secret_access_key: None,
        }
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("allow_http", &self.allow_http)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .finish()
    }
}

/// GitHub or GitHub Enterprise Server.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitHubConfig {
    /// The REST API root: `https://api.github.com`, or `https://HOST/api/v3` for Enterprise.
    pub api_url: String,
    /// A personal access token or app installation token; public repositories need none, but
    /// anonymous callers get only 60 requests an hour.
    pub token: Option<String>,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.github.com".into(),
            token: None,
        }
    }
}

impl fmt::Debug for GitHubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubConfig")
            .field("api_url", &self.api_url)
            .field("token", &redacted(&self.token))
            .finish()
    }
}

/// Bitbucket Cloud.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BitbucketConfig {
    /// Where `WORKSPACE/REPO/get/COMMIT.tar.gz` is served.
    pub base_url: String,
    /// HTTP basic authentication for private repositories: a username with an app password
    /// (or an Atlassian account e-mail with an API token).
    pub username: Option<String>,
    pub app_password: Option<String>,
}

impl Default for BitbucketConfig {
    fn default() -> Self {
        Self {
            base_url: "https://bitbucket.org".into(),
            username: None,
            app_password: None,
        }
    }
}

impl fmt::Debug for BitbucketConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BitbucketConfig")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("app_password", &redacted(&self.app_password))
            .finish()
    }
}

/// How ferry runs git for `GitLocation` revisions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitConfig {
    /// The git program, found on `PATH` unless it is a path.
    pub binary: String,
    /// How long one revision's fetch and archive may take in all; git is killed after that.
    pub timeout_secs: u64,
}

impl Default for GitConfig {
    fn default() -> Self {
        Self {
            binary: "git".into(),
            timeout_secs: 600,
        }
    }
}

fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}
