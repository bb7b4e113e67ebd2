//! Local HTTP servers that answer as GitHub's and Bitbucket Cloud's documented endpoints:
//!
//! - GitHub (mounted under `/api/v3`, as GitHub Enterprise serves it):
//!   `GET /repos/{owner}/{repo}/tarball/{ref}` checks the headers GitHub asks for, answers 401
//!   for a wrong token, 404 for an unknown ref, 403 with `x-ratelimit-remaining: 0` for the
//!   repository `acme/limited`, 502 for `acme/broken`, and otherwise 302 to a second listener
//!   (the "codeload" host) that serves the tgz and records the `Authorization` it was sent.
//! - Bitbucket: `GET /{workspace}/{repo}/get/{commit}.tar.gz` behind HTTP basic auth.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;

/// A server on a free port of 127.0.0.1, stopped when dropped.
pub struct Served {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    pub async fn start(router: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        Self { addr, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Archives by "owner/repo" and commit.
pub type Archives = HashMap<(String, String), Vec<u8>>;

/// What the servers saw, for the tests to check.
#[derive(Default)]
pub struct Seen {
    /// The `Authorization` of each API request.
    pub api_auth: Vec<Option<String>>,
    /// The `Authorization` of each download from the codeload host.
    pub download_auth: Vec<Option<String>>,
}

struct GitHubState {
    token: String,
    archives: Archives,
    codeload: String,
    seen: Arc<Mutex<Seen>>,
}

/// A fake GitHub: the API and its codeload host, on two listeners.
pub struct GitHub {
    pub api: Served,
    /// Serves the downloads until the fake is dropped.
    _codeload: Served,
    pub seen: Arc<Mutex<Seen>>,
}

impl GitHub {
    pub async fn start(token: &str, archives: Archives) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let codeload = Served::start(
            Router::new()
                .route("/{owner}/{repo}/legacy.tar.gz/{ref}", get(codeload))
                .with_state((Arc::new(archives.clone()), seen.clone())),
        )
        .await;
        let state = Arc::new(GitHubState {
            token: token.to_owned(),
            archives,
            codeload: codeload.url(),
            seen: seen.clone(),
        });
        let api = Served::start(
            Router::new()
                .route("/api/v3/repos/{owner}/{repo}/tarball/{ref}", get(tarball))
                .with_state(state),
        )
        .await;
        Self {
            api,
            _codeload: codeload,
            seen,
        }
    }

    /// The API root, as configured for GitHub Enterprise.
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.api.url())
    }
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body =
        format!(r#"{{"message":"{message}","documentation_url":"https://docs.github.com/rest"}}"#);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn tarball(
    State(s): State<Arc<GitHubState>>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let auth = text(&headers, header::AUTHORIZATION);
    s.seen.lock().expect("seen").api_auth.push(auth.clone());
    // What GitHub's REST documentation asks of every caller.
    let asked = [
        (header::ACCEPT, "application/vnd.github+json"),
        (header::USER_AGENT, "ferry"),
        (
            header::HeaderName::from_static("x-github-api-version"),
            "2022-11-28",
        ),
    ];
    for (name, value) in asked {
        if text(&headers, name.clone()).as_deref() != Some(value) {
            return json_error(StatusCode::BAD_REQUEST, &format!("{name} must be {value}"));
        }
    }
    match auth {
        Some(auth) if auth != format!("Bearer {}", s.token) => {
            return json_error(StatusCode::UNAUTHORIZED, "Bad credentials");
        }
        // Private repositories are hidden from anonymous callers.
        None => return json_error(StatusCode::NOT_FOUND, "Not Found"),
        Some(_) => {}
    }
    let repository = format!("{owner}/{repo}");
    match repository.as_str() {
        "acme/limited" => {
            let headers = [
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1893456000"),
            ];
            let body = json_error(StatusCode::FORBIDDEN, "API rate limit exceeded");
            return (headers, body).into_response();
        }
        "acme/broken" => return json_error(StatusCode::BAD_GATEWAY, "Server Error"),
        _ => {}
    }
    if !s.archives.contains_key(&(repository, reference.clone())) {
        return json_error(StatusCode::NOT_FOUND, "Not Found");
    }
    let location = format!("{}/{owner}/{repo}/legacy.tar.gz/{reference}", s.codeload);
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn codeload(
    State((archives, seen)): State<(Arc<Archives>, Arc<Mutex<Seen>>)>,
    Path((owner, repo, reference)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let auth = text(&headers, header::AUTHORIZATION);
    seen.lock().expect("seen").download_auth.push(auth);
    match archives.get(&(format!("{owner}/{repo}"), reference.clone())) {
        Some(bytes) => tgz_response(bytes.clone(), &reference),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn tgz_response(bytes: Vec<u8>, tag: &str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "application/x-gzip".to_owned()),
        (header::ETAG, format!("\"{tag}\"")),
    ];
    (headers, bytes).into_response()
}

struct BitbucketState {
    authorization: String,
    archives: Archives,
}

/// A fake Bitbucket Cloud that wants `username:password` on every download.
pub async fn bitbucket(username: &str, password: &str, archives: Archives) -> Served {
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let state = Arc::new(BitbucketState {
        authorization: format!("Basic {credentials}"),
        archives,
    });
    Served::start(
        Router::new()
            .route("/{workspace}/{repo}/get/{file}", get(bitbucket_get))
            .with_state(state),
    )
    .await
}

async fn bitbucket_get(
    State(s): State<Arc<BitbucketState>>,
    Path((workspace, repo, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if text(&headers, header::AUTHORIZATION).as_deref() != Some(s.authorization.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"Bitbucket.org HTTP\"",
            )],
        )
            .into_response();
    }
    let Some(commit) = file.strip_suffix(".tar.gz") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match s
        .archives
        .get(&(format!("{workspace}/{repo}"), commit.to_owned()))
    {
        Some(bytes) => tgz_response(bytes.clone(), commit),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Files under `root`, as a dumb-HTTP git server serves a bare repository (after
/// `git update-server-info`): no smart protocol, so no fetch of a commit by its id.
pub async fn static_files(root: std::path::PathBuf) -> Served {
    Served::start(
        Router::new()
            .route("/{*path}", get(static_file))
            .with_state(Arc::new(root)),
    )
    .await
}

async fn static_file(
    State(root): State<Arc<std::path::PathBuf>>,
    Path(path): Path<String>,
) -> Response {
    if path.split('/').any(|part| part == "..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(root.join(&path)).await {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A listener that accepts connections and never answers, for time-outs.
pub async fn silent() -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    Served { addr, task }
}
