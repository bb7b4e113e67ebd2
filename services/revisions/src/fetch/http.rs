//! GitHub and Bitbucket Cloud: both serve a commit as a tgz over HTTPS, so both are one `GET`
//! through the shared client, following redirects to the host that serves the bytes.
//!
//! - GitHub: "Download a repository archive (tar)", `GET /repos/{owner}/{repo}/tarball/{ref}`,
//!   answers 302 to `codeload.github.com`; the archive's single top folder is
//!   `owner-repo-<short sha>/`.
//! - Bitbucket Cloud: `GET /{workspace}/{repo}/get/{commit}.tar.gz`, HTTP basic authentication
//!   for private repositories; a single top folder too.
//!
//! reqwest drops `Authorization` when a redirect leaves the host (or port, or scheme), so the
//! token never reaches the download host; the tests prove it with a second listener.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{RequestBuilder, StatusCode, redirect};

use super::Fetched;
use super::config::{BitbucketConfig, GitHubConfig};
use super::error::{FetchError, OriginKind};

/// GitHub asks every REST caller to name itself and the API version it was written for.
pub const USER_AGENT: &str = "ferry";
pub const GITHUB_API_VERSION: &str = "2022-11-28";

/// The one HTTP client of a `Fetchers`. No overall time-out, since archives can be large;
/// a connection that stops sending for a minute is given up.
pub(super) fn client() -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(redirect::Policy::limited(10))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| FetchError::Config(format!("http client: {}", chain(&e))))
}

pub(super) async fn github(
    client: &reqwest::Client,
    config: &GitHubConfig,
    repository: &str,
    commit: &str,
) -> Result<Fetched, FetchError> {
    let url = format!(
        "{}/repos/{repository}/tarball/{commit}",
        config.api_url.trim_end_matches('/')
    );
    let mut request = client
        .get(url)
        .header(ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", GITHUB_API_VERSION);
    if let Some(token) = &config.token {
        request = request.bearer_auth(token);
    }
    let mut what = format!("github repository {repository} at commit {commit}");
    if config.token.is_none() {
        // GitHub answers 404, not 401, for a private repository to an anonymous caller.
        what.push_str(" (or it is private and ferry has no github token)");
    }
    send(request, OriginKind::GitHub, what).await
}

pub(super) async fn bitbucket(
    client: &reqwest::Client,
    config: &BitbucketConfig,
    repository: &str,
    commit: &str,
) -> Result<Fetched, FetchError> {
    let url = format!(
        "{}/{repository}/get/{commit}.tar.gz",
        config.base_url.trim_end_matches('/')
    );
    let mut request = client.get(url);
    if let Some(username) = &config.username {
        request = request.basic_auth(username, config.app_password.as_ref());
    }
    let what = format!("bitbucket repository {repository} at commit {commit}");
    send(request, OriginKind::Bitbucket, what).await
}

async fn send(
    request: RequestBuilder,
    origin: OriginKind,
    what: String,
) -> Result<Fetched, FetchError> {
    let response = request.send().await.map_err(|e| FetchError::Origin {
        origin,
        message: format!("requesting {what}: {}", chain(&e)),
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(status_error(status, response.headers(), origin, what));
    }
    // A login page served with 200 instead of an archive (an expired session, a proxy).
    let html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        return Err(FetchError::Origin {
            origin,
            message: format!("answered an html page instead of the archive of {what}"),
        });
    }
    let size = response.content_length();
    let e_tag = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start_matches("W/").trim_matches('"').to_owned());
    let body = response
        .bytes_stream()
        .map_err(move |e| FetchError::Origin {
            origin,
            message: format!("reading {what}: {}", chain(&e)),
        })
        .boxed();
    Ok(Fetched { body, size, e_tag })
}

fn status_error(
    status: StatusCode,
    headers: &HeaderMap,
    origin: OriginKind,
    what: String,
) -> FetchError {
    // GitHub's primary rate limit is a 403 with x-ratelimit-remaining: 0, its secondary
    // limits a 403 or 429 with retry-after.
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (header("x-ratelimit-remaining") == Some("0") || header("retry-after").is_some()));
    if limited {
        let after = header("retry-after")
            .map(|s| format!("; retry after {s} s"))
            .or_else(|| header("x-ratelimit-reset").map(|s| format!("; the limit resets at {s}")))
            .unwrap_or_default();
        return FetchError::Throttled {
            origin,
            message: format!("{status} for {what}{after}"),
        };
    }
    match status {
        StatusCode::NOT_FOUND | StatusCode::GONE => FetchError::NotFound { what },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => FetchError::Unauthorized {
            origin,
            what,
            message: match origin {
                OriginKind::GitHub => format!("{status}: the github token is not valid for it"),
                _ => format!("{status}: check the {origin} credentials"),
            },
        },
        _ => FetchError::Origin {
            origin,
            message: format!("answered {status} for {what}"),
        },
    }
}

/// An error with its causes: reqwest's own text hides why a connection failed.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
