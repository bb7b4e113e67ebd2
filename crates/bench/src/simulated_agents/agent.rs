//! A simulated agent on a real `AgentService/Session` stream: Hello with its credential, then
//! for each command a CommandAck and at once a Succeeded CommandResult (no hooks run); it
//! answers every heartbeat. Each holds its own HTTP/2 connection, as real hosts do.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_proto::agent::v1::agent_service_client::AgentServiceClient;
use ferry_proto::agent::v1::{
    CommandAck, CommandResult, Heartbeat, Hello, SessionRequest, session_request, session_response,
};
use ferry_proto::common::v1::{Diagnostics, LifecycleErrorCode, LifecycleEventStatus};
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// What a simulated agent tells the bench as it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Its first session was welcomed.
    Welcomed,
    /// Its first command arrived.
    FirstCommand,
}

/// What one simulated agent saw.
#[derive(Default)]
pub struct Trace {
    /// Each new command's lifecycle event and arrival, in order.
    pub arrivals: Vec<(String, Instant)>,
    /// When each of those commands' result was handed to the stream.
    pub results: Vec<Instant>,
    pub duplicates: usize,
    /// Session attempts answered with an error (e.g. UNAVAILABLE when the server sheds load).
    pub refused: usize,
    pub first_refusal: Option<String>,
    /// Streams that ended after the Welcome.
    pub dropped: usize,
    pub cancels: usize,
}

fn request(message: session_request::Message) -> SessionRequest {
    SessionRequest {
        message: Some(message),
    }
}

/// One simulated agent: holds its session (reconnecting with backoff if it fails) until
/// `stop`. A session attempt holds a permit of `connecting` until it is welcomed or refused,
/// which bounds the sessions not yet authenticated.
pub async fn run(
    channel: Channel,
    name: String,
    credential: String,
    signals: mpsc::UnboundedSender<Signal>,
    connecting: Arc<Semaphore>,
    stop: CancellationToken,
) -> Trace {
    use session_request::Message as Out;
    use session_response::Message as In;
    let mut trace = Trace::default();
    let mut seen = HashSet::new();
    let mut unacknowledged: HashMap<String, CommandResult> = HashMap::new();
    let mut backoff = Duration::from_millis(50);
    let mut welcome_told = false;
    let mut first_told = false;
    while !stop.is_cancelled() {
        let permit = tokio::select! {
            permit = connecting.clone().acquire_owned() => permit.ok(),
            () = stop.cancelled() => break,
        };
        let (tx, rx) = mpsc::channel(32);
        let hello = Hello {
            instance_name: name.clone(),
            instance_credential: credential.clone(),
            agent_version: "bench".into(),
            unacknowledged_results: unacknowledged.values().cloned().collect(),
            ..Default::default()
        };
        if tx.send(request(Out::Hello(hello))).await.is_err() {
            break;
        }
        let mut client = AgentServiceClient::new(channel.clone());
        let opened = tokio::select! {
            opened = client.session(ReceiverStream::new(rx)) => opened,
            () = stop.cancelled() => break,
        };
        let mut inbound = match opened {
            Ok(response) => response.into_inner(),
            Err(status) => {
                drop(permit);
                trace.refused += 1;
                trace
                    .first_refusal
                    .get_or_insert_with(|| status.to_string());
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        let mut permit = permit;
        loop {
            let message = tokio::select! {
                message = inbound.message() => message,
                () = stop.cancelled() => return trace,
            };
            let Ok(Some(response)) = message else {
                trace.dropped += 1;
                break;
            };
            let sent = match response.message {
                Some(In::Welcome(_)) => {
                    permit.take();
                    backoff = Duration::from_millis(50);
                    if !welcome_told {
                        welcome_told = true;
                        let _ = signals.send(Signal::Welcomed);
                    }
                    Ok(())
                }
                Some(In::Command(command)) => {
                    let arrived = Instant::now();
                    let duplicate = !seen.insert(command.command_id.clone());
                    if duplicate {
                        trace.duplicates += 1;
                    } else {
                        trace
                            .arrivals
                            .push((command.lifecycle_event.clone(), arrived));
                        if !first_told {
                            first_told = true;
                            let _ = signals.send(Signal::FirstCommand);
                        }
                    }
                    let now = std::time::SystemTime::now();
                    let result = CommandResult {
                        command_id: command.command_id.clone(),
                        status: LifecycleEventStatus::Succeeded as i32,
                        diagnostics: Some(Diagnostics {
                            error_code: LifecycleErrorCode::Success as i32,
                            message: "Succeeded".into(),
                            ..Default::default()
                        }),
                        start_time: Some(now.into()),
                        end_time: Some(now.into()),
                    };
                    unacknowledged.insert(command.command_id.clone(), result.clone());
                    let ack = CommandAck {
                        command_id: command.command_id,
                        duplicate,
                    };
                    let sent = match tx.send(request(Out::Ack(ack))).await {
                        Ok(()) => tx.send(request(Out::Result(result))).await,
                        Err(e) => Err(e),
                    };
                    if !duplicate {
                        trace.results.push(Instant::now());
                    }
                    sent
                }
                Some(In::Heartbeat(beat)) => {
                    let beat = Heartbeat {
                        sequence: beat.sequence,
                        sent_at: Some(std::time::SystemTime::now().into()),
                    };
                    tx.send(request(Out::Heartbeat(beat))).await
                }
                Some(In::ResultAck(ack)) => {
                    unacknowledged.remove(&ack.command_id);
                    Ok(())
                }
                Some(In::Cancel(_)) => {
                    trace.cancels += 1;
                    Ok(())
                }
                None => Ok(()),
            };
            if sent.is_err() {
                trace.dropped += 1;
                break;
            }
        }
    }
    trace
}

/// Agents that were started and what they report.
pub struct Fleet {
    pub tasks: Vec<tokio::task::JoinHandle<Trace>>,
    pub signals: mpsc::UnboundedReceiver<Signal>,
    pub stop: CancellationToken,
}

/// Concurrent session attempts not yet welcomed: well under the orchestrator's concurrency
/// limit (1024, with load shedding), so connecting is not a storm of refusals, and under the
/// servers' listen backlog (`ferry_runtime::server::LISTEN_BACKLOG`).
const CONNECTING: usize = 500;

impl Fleet {
    /// Starts one agent per `(name, credential)`, each on its own HTTP/2 connection to
    /// `endpoint`.
    pub fn start(endpoint: &str, instances: Vec<(String, String)>) -> anyhow::Result<Self> {
        let endpoint = tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(10));
        let stop = CancellationToken::new();
        let connecting = Arc::new(Semaphore::new(CONNECTING));
        let (signals_tx, signals) = mpsc::unbounded_channel();
        let tasks = instances
            .into_iter()
            .map(|(name, credential)| {
                tokio::spawn(run(
                    endpoint.connect_lazy(),
                    name,
                    credential,
                    signals_tx.clone(),
                    connecting.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        Ok(Self {
            tasks,
            signals,
            stop,
        })
    }

    /// Waits until `count` agents have sent `signal` (other signals are dropped).
    pub async fn wait_for(
        &mut self,
        signal: Signal,
        count: usize,
        within: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = 0;
        while seen < count {
            match tokio::time::timeout_at(deadline, self.signals.recv()).await {
                Ok(Some(s)) if s == signal => seen += 1,
                Ok(Some(_)) => {}
                Ok(None) => anyhow::bail!("the agents ended"),
                Err(_) => anyhow::bail!(
                    "only {seen} of {count} agents reached {signal:?} within {within:?}"
                ),
            }
        }
        Ok(())
    }

    /// Stops every agent and returns what each saw.
    pub async fn stop(self) -> anyhow::Result<Vec<Trace>> {
        self.stop.cancel();
        let mut traces = Vec::with_capacity(self.tasks.len());
        for task in self.tasks {
            traces.push(task.await?);
        }
        Ok(traces)
    }
}
