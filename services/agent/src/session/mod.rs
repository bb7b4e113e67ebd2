//! The agent's side of `ferry.agent.v1.AgentService/Session`.
//!
//! One stream at a time: Hello (identity, unacknowledged results, commands still running),
//! Welcome, then commands pushed by the server. Each command is recorded before it is
//! acknowledged and run in its own task; its output is streamed live and its result recorded
//! before it is sent, so a result is delivered once the server acknowledges it, however often
//! the stream breaks. Heartbeats go both ways; a silent server is left after the timeout and
//! the agent reconnects with jittered exponential backoff.

mod backoff;
mod convert;
mod link;
mod output;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ferry_proto::agent::v1::agent_service_client::AgentServiceClient;
use ferry_proto::agent::v1::{
    CancelCommand, Command, CommandAck, Heartbeat, Hello, SessionRequest, SessionResponse,
    session_request, session_response,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::{AgentConfig, Identity};
use crate::lifecycle::Host;
use crate::outcome::Failure;
use backoff::Backoff;
use link::Link;
use output::LiveOutput;
use store::{CommandStore, Known, StoredResult};

/// How long the server has to answer Hello with Welcome.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(15);
/// Outgoing messages queued per stream (output batches, acks, results, heartbeats).
const OUTBOUND_QUEUE: usize = 256;
/// How long running commands get to record their results when the agent stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct Agent {
    inner: Arc<Inner>,
}

struct Inner {
    host: Host,
    /// Shared with the blocking threads its fsynced writes run on.
    store: Arc<CommandStore>,
    identity: Identity,
    endpoint: String,
    config: AgentConfig,
    link: Link,
    running: Mutex<HashMap<String, Running>>,
    /// One event at a time per deployment group, as the group's revisions share a directory.
    group_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

struct Running {
    cancel: CancellationToken,
    reason: Arc<Mutex<Option<String>>>,
}

/// Why one stream ended.
enum Ended {
    Shutdown,
    /// The server said who we are is not good enough; retrying later may help (a
    /// registration in progress), but it is logged as an error.
    Refused(tonic::Status),
    Lost(String),
}

impl Agent {
    pub fn new(config: AgentConfig, identity: Identity, host: Host) -> std::io::Result<Self> {
        let store = Arc::new(CommandStore::open(host.root.commands_dir())?);
        Ok(Self {
            inner: Arc::new(Inner {
                host,
                store,
                identity,
                endpoint: config.orchestrator_endpoint.clone(),
                config,
                link: Link::default(),
                running: Mutex::new(HashMap::new()),
                group_locks: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Keeps a session open until `shutdown`, reconnecting as needed; then stops running
    /// commands and waits (briefly) for their results to be recorded.
    pub async fn run(&self, shutdown: CancellationToken) {
        let inner = &self.inner;
        let mut backoff = Backoff::new(
            Duration::from_millis(inner.config.reconnect.initial_backoff_ms),
            Duration::from_millis(inner.config.reconnect.max_backoff_ms),
        );
        loop {
            let ended = inner.clone().session(&shutdown, &mut backoff).await;
            inner.link.detach();
            match ended {
                Ended::Shutdown => break,
                Ended::Refused(status) => tracing::error!(
                    code = ?status.code(),
                    message = status.message(),
                    instance = %inner.identity.instance_name,
                    "the orchestrator refused this agent"
                ),
                Ended::Lost(reason) => tracing::warn!(%reason, "session ended"),
            }
            let delay = backoff.next_delay();
            tracing::info!(delay_ms = delay.as_millis() as u64, "reconnecting");
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shutdown.cancelled() => break,
            }
        }
        inner.stop_running("the agent is shutting down").await;
    }
}

impl Inner {
    fn running_ids(&self) -> Vec<String> {
        self.lock_running().keys().cloned().collect()
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn stop_running(&self, reason: &str) {
        for running in self.lock_running().values() {
            *running
                .reason
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason.to_owned());
            running.cancel.cancel();
        }
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while !self.lock_running().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn hello(&self) -> SessionRequest {
        let unacknowledged = self
            .store
            .unacknowledged()
            .iter()
            .map(|(id, result)| convert::result(id, result))
            .collect();
        SessionRequest {
            message: Some(session_request::Message::Hello(Hello {
                instance_name: self.identity.instance_name.clone(),
                instance_credential: self.identity.credential.clone(),
                agent_version: env!("CARGO_PKG_VERSION").to_owned(),
                unacknowledged_results: unacknowledged,
                running_command_ids: self.running_ids(),
                hostname: hostname(),
                os: std::env::consts::OS.to_owned(),
                arch: std::env::consts::ARCH.to_owned(),
            })),
        }
    }

    async fn session(
        self: Arc<Self>,
        shutdown: &CancellationToken,
        backoff: &mut Backoff,
    ) -> Ended {
        let connect = async {
            let channel = crate::channel::endpoint(&self.endpoint, &self.config.tls)
                .map_err(|e| Ok(format!("{e:#}")))?
                .connect()
                .await
                .map_err(|e| {
                    Ok(format!(
                        "cannot connect to {}: {}",
                        self.endpoint,
                        chain(&e)
                    ))
                })?;
            let (sender, receiver) = mpsc::channel(OUTBOUND_QUEUE);
            let hello = self.hello();
            let in_hello = reported_ids(&hello);
            sender
                .send(hello)
                .await
                .map_err(|_| Ok("stream closed".to_owned()))?;
            let mut client = AgentServiceClient::new(channel);
            let inbound = client
                .session(ReceiverStream::new(receiver))
                .await
                .map_err(Err)?
                .into_inner();
            Ok::<_, Result<String, tonic::Status>>((sender, inbound, in_hello))
        };
        let (sender, mut inbound, in_hello) = tokio::select! {
            result = connect => match result {
                Ok(pair) => pair,
                Err(Ok(reason)) => return Ended::Lost(reason),
                Err(Err(status)) => return refused_or_lost(status),
            },
            () = shutdown.cancelled() => return Ended::Shutdown,
        };

        let welcome = tokio::select! {
            message = tokio::time::timeout(WELCOME_TIMEOUT, inbound.message()) => message,
            () = shutdown.cancelled() => return Ended::Shutdown,
        };
        let welcome = match welcome {
            Err(_) => return Ended::Lost("no welcome from the server".to_owned()),
            Ok(Err(status)) => return refused_or_lost(status),
            Ok(Ok(None)) => return Ended::Lost("the server closed the stream".to_owned()),
            Ok(Ok(Some(SessionResponse {
                message: Some(session_response::Message::Welcome(welcome)),
            }))) => welcome,
            Ok(Ok(Some(_))) => {
                return Ended::Lost("the server did not start with a welcome".to_owned());
            }
        };
        backoff.reset();
        tracing::info!(session_id = %welcome.session_id, endpoint = %self.endpoint, "session open");
        self.link.attach(sender.clone());
        // A command that finished after the Hello was built but before this stream was
        // attached found no stream to send its result on: send it now. (One finishing at
        // this very moment may be sent twice; the server applies a result once by its id.)
        for (id, result) in self.store.unacknowledged() {
            if !in_hello.contains(&id) && sender.send(result_message(&id, &result)).await.is_err() {
                return Ended::Lost("stream closed".to_owned());
            }
        }

        let interval = Duration::from_secs(u64::from(welcome.heartbeat_interval_seconds.max(1)));
        let timeout = Duration::from_secs(u64::from(welcome.heartbeat_timeout_seconds.max(2)));
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heartbeat_sequence = 0u64;
        let mut last_heard = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ended::Shutdown,
                _ = ticker.tick() => {
                    if last_heard.elapsed() > timeout {
                        return Ended::Lost(format!("nothing from the server for {} s", timeout.as_secs()));
                    }
                    heartbeat_sequence += 1;
                    let beat = SessionRequest {
                        message: Some(session_request::Message::Heartbeat(Heartbeat {
                            sequence: heartbeat_sequence,
                            sent_at: Some(SystemTime::now().into()),
                        })),
                    };
                    if sender.send(beat).await.is_err() {
                        return Ended::Lost("stream closed".to_owned());
                    }
                }
                message = inbound.message() => {
                    last_heard = tokio::time::Instant::now();
                    let message = match message {
                        Ok(Some(SessionResponse { message: Some(message) })) => message,
                        Ok(Some(_)) => continue,
                        Ok(None) => return Ended::Lost("the server closed the stream".to_owned()),
                        Err(status) => return refused_or_lost(status),
                    };
                    self.clone().handle(message, &sender).await;
                }
            }
        }
    }

    async fn handle(
        self: Arc<Self>,
        message: session_response::Message,
        sender: &mpsc::Sender<SessionRequest>,
    ) {
        match message {
            session_response::Message::Command(command) => self.accept(command, sender).await,
            session_response::Message::Cancel(CancelCommand { command_id, reason }) => {
                if let Some(running) = self.lock_running().get(&command_id) {
                    tracing::info!(%command_id, %reason, "cancelling command");
                    *running
                        .reason
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(format!("cancelled by the server: {reason}"));
                    running.cancel.cancel();
                }
            }
            session_response::Message::ResultAck(ack) => {
                let id = ack.command_id.clone();
                if let Err(error) = self.on_disk(move |store| store.acknowledge(&id)).await {
                    tracing::warn!(command_id = %ack.command_id, %error, "cannot record the acknowledgement");
                }
            }
            session_response::Message::Heartbeat(_) | session_response::Message::Welcome(_) => {}
        }
    }

    async fn accept(self: Arc<Self>, command: Command, sender: &mpsc::Sender<SessionRequest>) {
        let id = command.command_id.clone();
        if let Err(failure) = convert::command_id(&command) {
            tracing::warn!(%failure, "refusing a command");
            return;
        }
        let ack = |duplicate| SessionRequest {
            message: Some(session_request::Message::Ack(CommandAck {
                command_id: id.clone(),
                duplicate,
            })),
        };
        match self.store.known(&id) {
            Known::Running => {
                let _ = sender.send(ack(true)).await;
                return;
            }
            Known::Finished(result) => {
                tracing::info!(command_id = %id, "repeated command; answering from its recorded result");
                let _ = sender.send(ack(true)).await;
                let _ = sender.send(result_message(&id, &result)).await;
                return;
            }
            Known::New => {}
        }
        let start_time = SystemTime::now();
        let begun = id.clone();
        if let Err(error) = self.on_disk(move |store| store.begin(&begun)).await {
            // Without the record the command could run twice; do not start it.
            tracing::error!(command_id = %id, %error, "cannot record the command; not running it");
            return;
        }
        let _ = sender.send(ack(false)).await;
        let running = Running {
            cancel: CancellationToken::new(),
            reason: Arc::new(Mutex::new(None)),
        };
        let (cancel, reason) = (running.cancel.clone(), running.reason.clone());
        self.lock_running().insert(id.clone(), running);
        // The command's work joins the deployment's trace.
        let span = tracing::info_span!(
            "lifecycle_event",
            command_id = %id,
            deployment_id = %command.deployment_id,
            event = %command.lifecycle_event,
        );
        ferry_runtime::telemetry::set_parent_from(&span, &command.trace_context);
        tokio::spawn(
            async move {
                let result = self.execute(&command, &cancel, &reason, start_time).await;
                let (finished, stored) = (id.clone(), result.clone());
                if let Err(error) = self
                    .on_disk(move |store| store.finish(&finished, stored))
                    .await
                {
                    tracing::error!(command_id = %id, %error, "cannot record the result");
                }
                self.lock_running().remove(&id);
                // Not sent now (no stream): the next Hello carries it.
                self.link.send(result_message(&id, &result)).await;
            }
            .instrument(span),
        );
    }

    /// A write to the command store, on a blocking thread: each is a file and a directory
    /// fsync, which must not stall the runtime's workers (heartbeats, output, other commands).
    async fn on_disk(
        &self,
        write: impl FnOnce(&CommandStore) -> std::io::Result<()> + Send + 'static,
    ) -> std::io::Result<()> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || write(&store))
            .await
            .unwrap_or_else(|joined| Err(std::io::Error::other(joined)))
    }

    async fn execute(
        &self,
        command: &Command,
        cancel: &CancellationToken,
        reason: &Mutex<Option<String>>,
        start_time: SystemTime,
    ) -> StoredResult {
        let checked = match convert::command(command) {
            Ok(checked) => checked,
            Err(failure) => {
                return StoredResult {
                    failure: Some(failure),
                    log_tail: String::new(),
                    start_time,
                    end_time: SystemTime::now(),
                };
            }
        };
        let lock = self.group_lock(&checked.deployment.deployment_group_id);
        let _guard = lock.lock().await;
        tracing::info!(
            command_id = %command.command_id,
            deployment_id = %checked.deployment.deployment_id,
            event = %checked.event,
            attempt = command.attempt,
            "running lifecycle event"
        );
        let deadline_guard = checked.deadline.map(|deadline| {
            let cancel = cancel.clone();
            let wait = deadline
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                cancel.cancel();
            })
        });
        let live = LiveOutput::new(&command.command_id);
        let pump = tokio::spawn(live.clone().pump(self.link.clone()));
        let outcome = self
            .host
            .run_event(&checked.deployment, &checked.event, &live, cancel)
            .await;
        live.close();
        let _ = pump.await;
        if let Some(guard) = deadline_guard {
            guard.abort();
        }
        let mut failure = outcome.result.err();
        if cancel.is_cancelled()
            && let Some(failure) = failure.as_mut()
        {
            let why = reason
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
                .unwrap_or_else(|| "the event's deadline passed".to_owned());
            failure.message = format!("{} ({why})", failure.message);
        }
        StoredResult {
            failure,
            log_tail: outcome.log_tail,
            start_time,
            end_time: SystemTime::now(),
        }
    }

    fn group_lock(&self, group_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.group_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(group_id.to_owned())
            .or_default()
            .clone()
    }
}

fn result_message(command_id: &str, result: &StoredResult) -> SessionRequest {
    SessionRequest {
        message: Some(session_request::Message::Result(convert::result(
            command_id, result,
        ))),
    }
}

/// An error with its causes: tonic's transport errors say only "transport error" at the top.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The command ids whose results a Hello carries.
fn reported_ids(hello: &SessionRequest) -> std::collections::HashSet<String> {
    match &hello.message {
        Some(session_request::Message::Hello(hello)) => hello
            .unacknowledged_results
            .iter()
            .map(|r| r.command_id.clone())
            .collect(),
        _ => Default::default(),
    }
}

fn refused_or_lost(status: tonic::Status) -> Ended {
    match status.code() {
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied | tonic::Code::NotFound => {
            Ended::Refused(status)
        }
        _ => Ended::Lost(format!("{}: {}", status.code(), status.message())),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_default()
}

/// Used by tests and `ferry-agent local` to report a failure the same way.
pub fn failed(failure: Failure) -> StoredResult {
    let now = SystemTime::now();
    StoredResult {
        failure: Some(failure),
        log_tail: String::new(),
        start_time: now,
        end_time: now,
    }
}
