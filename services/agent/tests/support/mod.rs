//! Shared by the agent's integration tests: a scripted orchestrator (the test plays the
//! server's side of each session, message by message) on the same port as a real in-process
//! revisions service, and bundles built from real files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ferry_agent::config::{AgentConfig, Identity};
use ferry_agent::lifecycle::Host;
use ferry_agent::session::Agent;
use ferry_proto::agent::v1::agent_service_server::{AgentService, AgentServiceServer};
use ferry_proto::agent::v1::{
    Command, Heartbeat, Revision, SessionRequest, SessionResponse, Welcome, session_request,
    session_response,
};
use ferry_proto::common::v1 as common;
use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{UploadBundleHeader, UploadBundleRequest};
use ferry_revisions::{Revisions, RevisionsConfig};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

pub const WAIT: Duration = Duration::from_secs(20);

/// The server's half of one agent session.
pub struct ServerSide {
    pub requests: Streaming<SessionRequest>,
    pub responses: mpsc::UnboundedSender<Result<SessionResponse, Status>>,
}

struct Scripted {
    sessions: mpsc::UnboundedSender<ServerSide>,
    /// Whether the server side sends heartbeats (a hung server does not).
    heartbeats: bool,
}

#[tonic::async_trait]
impl AgentService for Scripted {
    type SessionStream = UnboundedReceiverStream<Result<SessionResponse, Status>>;

    async fn session(
        &self,
        request: Request<Streaming<SessionRequest>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let (responses, receiver) = mpsc::unbounded_channel();
        // The server's heartbeats, as the orchestrator sends them, for as long as the test
        // holds this session (a weak sender does not keep the stream open).
        let weak = responses.downgrade();
        let heartbeats = self.heartbeats;
        tokio::spawn(async move {
            if !heartbeats {
                return;
            }
            let mut sequence = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let Some(sender) = weak.upgrade() else { return };
                sequence += 1;
                let beat = SessionResponse {
                    message: Some(session_response::Message::Heartbeat(Heartbeat {
                        sequence,
                        sent_at: None,
                    })),
                };
                if sender.send(Ok(beat)).is_err() {
                    return;
                }
            }
        });
        let _ = self.sessions.send(ServerSide {
            requests: request.into_inner(),
            responses,
        });
        Ok(Response::new(UnboundedReceiverStream::new(receiver)))
    }
}

/// The scripted orchestrator and a real revisions service, on one ephemeral port.
pub struct Server {
    pub endpoint: String,
    sessions: mpsc::UnboundedReceiver<ServerSide>,
    _data: tempfile::TempDir,
    stop: CancellationToken,
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(true).await
    }

    /// A server that accepts sessions but never sends a heartbeat, as a hung one would.
    pub async fn start_silent() -> Self {
        Self::start_with(false).await
    }

    async fn start_with(heartbeats: bool) -> Self {
        let data = tempfile::tempdir().unwrap();
        let config = RevisionsConfig {
            data_dir: data.path().to_owned(),
            registry_endpoint: "http://127.0.0.1:9".into(),
            ..RevisionsConfig::default()
        };
        let revisions = Revisions::open(&config).await.unwrap();
        let (sessions_tx, sessions) = mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(AgentServiceServer::new(Scripted {
                    sessions: sessions_tx,
                    heartbeats,
                }))
                .add_service(revisions.service())
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    stopped.cancelled_owned(),
                )
                .await
                .unwrap();
        });
        Self {
            endpoint,
            sessions,
            _data: data,
            stop,
        }
    }

    /// The next session an agent opens.
    pub async fn accept(&mut self) -> ServerSide {
        tokio::time::timeout(WAIT, self.sessions.recv())
            .await
            .expect("an agent connects in time")
            .expect("server running")
    }

    /// Stores `bundle` as a blob and describes it as a command's revision.
    pub async fn upload(&self, bundle: &[u8]) -> Revision {
        let mut client = RevisionServiceClient::connect(self.endpoint.clone())
            .await
            .unwrap();
        let mut messages = vec![UploadBundleRequest {
            part: Some(Part::Header(UploadBundleHeader::default())),
        }];
        for chunk in bundle.chunks(1 << 20) {
            messages.push(UploadBundleRequest {
                part: Some(Part::Chunk(chunk.to_vec())),
            });
        }
        let response = client
            .upload_bundle(futures::stream::iter(messages))
            .await
            .unwrap()
            .into_inner();
        Revision {
            sha256: response.sha256,
            size: bundle.len() as u64,
            bundle_type: common::BundleType::Tar as i32,
            ..Default::default()
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl ServerSide {
    /// The next message that is not a heartbeat.
    pub async fn next(&mut self) -> session_request::Message {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.requests.message())
                .await
                .expect("the agent sends in time")
                .expect("stream healthy")
                .expect("stream open");
            match message.message {
                Some(session_request::Message::Heartbeat(_)) | None => continue,
                Some(message) => return message,
            }
        }
    }

    pub fn send(&self, message: session_response::Message) {
        self.responses
            .send(Ok(SessionResponse {
                message: Some(message),
            }))
            .unwrap();
    }

    /// Reads the Hello and answers with a Welcome.
    pub async fn handshake(&mut self) -> ferry_proto::agent::v1::Hello {
        self.handshake_with(1, 5).await
    }

    /// Reads the Hello and answers with a Welcome with these heartbeat settings.
    pub async fn handshake_with(
        &mut self,
        interval_seconds: u32,
        timeout_seconds: u32,
    ) -> ferry_proto::agent::v1::Hello {
        let session_request::Message::Hello(hello) = self.next().await else {
            panic!("the agent starts with a hello");
        };
        self.send(session_response::Message::Welcome(Welcome {
            session_id: uuid_like(),
            heartbeat_interval_seconds: interval_seconds,
            heartbeat_timeout_seconds: timeout_seconds,
        }));
        hello
    }

    /// Skips output until the result of `command_id` arrives.
    pub async fn result_of(&mut self, command_id: &str) -> ferry_proto::agent::v1::CommandResult {
        loop {
            if let session_request::Message::Result(result) = self.next().await
                && result.command_id == command_id
            {
                return result;
            }
        }
    }
}

fn uuid_like() -> String {
    format!("s-{}", std::process::id())
}

/// An agent of this test, with its own deployment and install roots.
pub struct TestAgent {
    pub dir: tempfile::TempDir,
    pub stop: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

impl TestAgent {
    pub fn config(dir: &Path, endpoint: &str) -> AgentConfig {
        let mut config = AgentConfig {
            orchestrator_endpoint: endpoint.to_owned(),
            deployment_root: dir.join("deployment-root"),
            install_root: Some(dir.join("install-root")),
            log_dir: dir.join("logs"),
            ..AgentConfig::default()
        };
        config.reconnect.initial_backoff_ms = 20;
        config.reconnect.max_backoff_ms = 200;
        config
    }

    pub fn start_in(dir: tempfile::TempDir, endpoint: &str) -> Self {
        // The agent's logs in the test's output when it fails.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("ferry_agent=debug")
            .try_init();
        let config = Self::config(dir.path(), endpoint);
        std::fs::create_dir_all(dir.path().join("install-root")).unwrap();
        let downloader =
            ferry_agent::download::Downloader::new(endpoint.to_owned(), config.tls.clone());
        let host = Host::from_config(&config, Some(downloader));
        let identity = Identity {
            instance_name: "host-1".into(),
            credential: "ferry_ic_test".into(),
        };
        let agent = Arc::new(Agent::new(config, identity, host).unwrap());
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move { agent.run(stopped).await });
        Self { dir, stop, task }
    }

    pub fn start(endpoint: &str) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), endpoint)
    }

    pub fn install_root(&self) -> PathBuf {
        self.dir.path().join("install-root")
    }

    pub async fn shutdown(self) -> tempfile::TempDir {
        self.stop.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the agent stops in time")
            .unwrap();
        self.dir
    }
}

/// A tar of `files` (path, content, mode).
pub fn tar(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, content, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, content.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

/// A command for one event of deployment `deployment_id` in group `g-1`.
pub fn command(id: &str, deployment_id: &str, event: &str, revision: &Revision) -> Command {
    Command {
        command_id: id.to_owned(),
        deployment_id: deployment_id.to_owned(),
        deployment_group_id: "g-1".into(),
        deployment_group_name: "web".into(),
        application_name: "shop".into(),
        lifecycle_event: event.to_owned(),
        attempt: 1,
        revision: Some(revision.clone()),
        ..Default::default()
    }
}

/// Polls `condition` until it holds or the deadline passes.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
