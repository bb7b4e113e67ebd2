//! The baseline: a bare tonic server of `AgentService` with nothing but the stream plumbing.
//! Each session reads the Hello, answers a Welcome and is then held idle (its requests are
//! drained and dropped); a line `broadcast` on the child's stdin sends one Command to every
//! held stream.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ferry_proto::agent::v1::agent_service_server::{AgentService, AgentServiceServer};
use ferry_proto::agent::v1::{
    Command, Revision, SessionRequest, SessionResponse, Welcome, session_request, session_response,
};
use ferry_proto::common::v1::RevisionLocation;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::agent::{Fleet, Signal};
use super::child::{self, Server};
use crate::system::{self, Process};

type Outbound = mpsc::Sender<Result<SessionResponse, Status>>;

#[derive(Clone, Default)]
struct Bare {
    streams: Arc<Mutex<Vec<Outbound>>>,
}

#[tonic::async_trait]
impl AgentService for Bare {
    type SessionStream = ReceiverStream<Result<SessionResponse, Status>>;

    async fn session(
        &self,
        request: Request<Streaming<SessionRequest>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let mut inbound = request.into_inner();
        let Some(SessionRequest {
            message: Some(session_request::Message::Hello(_)),
        }) = inbound.message().await?
        else {
            return Err(Status::invalid_argument("a session starts with a hello"));
        };
        let (out, receiver) = mpsc::channel(32);
        let welcome = Welcome {
            session_id: "bare".into(),
            heartbeat_interval_seconds: 5,
            heartbeat_timeout_seconds: 15,
        };
        let _ = out.try_send(Ok(SessionResponse {
            message: Some(session_response::Message::Welcome(welcome)),
        }));
        self.streams
            .lock()
            .map_err(|_| Status::internal("poisoned"))?
            .push(out);
        tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// A command like the orchestrator's first of a deployment.
fn command() -> SessionResponse {
    SessionResponse {
        message: Some(session_response::Message::Command(Command {
            command_id: "00000000-0000-0000-0000-000000000000".into(),
            deployment_id: "d-BARE00000".into(),
            deployment_group_id: "00000000-0000-0000-0000-000000000000".into(),
            deployment_group_name: "bench".into(),
            application_name: "bench".into(),
            lifecycle_event: "ApplicationStop".into(),
            attempt: 1,
            revision: Some(Revision {
                sha256: "0".repeat(64),
                size: 1024,
                location: Some(RevisionLocation::default()),
                ..Default::default()
            }),
            app_spec_file_name: "appspec.yml".into(),
            ..Default::default()
        })),
    }
}

/// In the child: serves until stdin closes; `broadcast` sends [`command`] to every stream
/// and answers `sent <streams>`.
pub async fn serve_child() -> anyhow::Result<()> {
    let listener = ferry_runtime::server::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let bare = Bare::default();
    let streams = bare.streams.clone();
    let stop = tokio_util::sync::CancellationToken::new();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AgentServiceServer::new(bare))
            .serve_with_incoming_shutdown(incoming, stop.clone().cancelled_owned()),
    );
    child::announce(address);
    let mut commands = child::commands();
    while let Ok(Some(line)) = commands.next_line().await {
        if line.trim() == "broadcast" {
            let message = command();
            let held: Vec<Outbound> = streams
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .clone();
            let mut sent = 0;
            for out in &held {
                if out.send(Ok(message.clone())).await.is_ok() {
                    sent += 1;
                }
            }
            println!("sent {sent}");
        }
    }
    stop.cancel();
    streams
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clear();
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    Ok(())
}

/// What the baseline measured for `n` idle streams.
pub struct Figures {
    pub connect: Duration,
    pub rss_idle_kib: u64,
    pub rss_connected_kib: u64,
    /// Trigger written to the child's stdin → each client received the command.
    pub broadcast: Vec<Duration>,
    pub refused: usize,
}

impl Figures {
    pub fn per_stream_kib(&self, n: usize) -> f64 {
        self.rss_connected_kib.saturating_sub(self.rss_idle_kib) as f64 / n as f64
    }
}

/// Starts the bare server, connects `n` clients, reads its memory, broadcasts once.
pub async fn measure(n: usize, wait: Duration) -> anyhow::Result<Figures> {
    let mut server = Server::start("bare").await?;
    let result = measure_on(&mut server, n, wait).await;
    server.stop().await;
    result
}

async fn measure_on(server: &mut Server, n: usize, wait: Duration) -> anyhow::Result<Figures> {
    let rss_idle_kib = system::settled_rss(Process::Pid(server.pid)).await;
    let instances = (0..n)
        .map(|i| (format!("bare-{i:05}"), String::new()))
        .collect();
    let connecting = Instant::now();
    let mut fleet = Fleet::start(&server.endpoint, instances)?;
    let connected = fleet.wait_for(Signal::Welcomed, n, wait).await;
    let connect = connecting.elapsed();
    let figures = match connected {
        Ok(()) => {
            let rss_connected_kib = system::settled_rss(Process::Pid(server.pid)).await;
            let triggered = Instant::now();
            server.send("broadcast").await?;
            let received = fleet.wait_for(Signal::FirstCommand, n, wait).await;
            let answer = server.line(wait).await;
            received
                .and(answer.map(|_| ()))
                .map(|()| (rss_connected_kib, triggered))
        }
        Err(error) => Err(error),
    };
    let traces = fleet.stop().await?;
    let (rss_connected_kib, triggered) = figures.context("the bare tonic server")?;
    let broadcast = traces
        .iter()
        .filter_map(|t| t.arrivals.first())
        .map(|(_, at)| at.saturating_duration_since(triggered))
        .collect::<Vec<_>>();
    anyhow::ensure!(
        broadcast.len() == n,
        "{} of {n} clients got the broadcast",
        broadcast.len()
    );
    Ok(Figures {
        connect,
        rss_idle_kib,
        rss_connected_kib,
        broadcast,
        refused: traces.iter().map(|t| t.refused).sum(),
    })
}
