//! The server side of `ferry.agent.v1.AgentService/Session`: the instance proves who it is
//! through the registry (a deregistered instance is refused), its session is registered, results
//! it carries are stored and acknowledged, and its commands are pushed as soon as they exist.

use std::time::Duration;

use ferry_proto::agent::v1::agent_service_server::AgentService;
use ferry_proto::agent::v1::{CancelCommand, Command, HookOutput};
use ferry_proto::agent::v1::{
    Heartbeat, Hello, ResultAck, SessionRequest, SessionResponse, Welcome, session_request,
    session_response,
};
use ferry_proto::deploy::v1 as deploy;
use ferry_proto::registry::v1::AuthenticateOnPremisesInstanceRequest;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::commands::{CANCEL_SENT, CANCELLING, Commands, PENDING, Recorded, SENT};
use super::presence::{Mail, Presence, Registration};
use crate::deployments::Registry;
use crate::deployments::drivers::Drivers;
use crate::events::EventLog;

/// How long an agent has to send its Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct SessionSettings {
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(15),
        }
    }
}

#[derive(Clone)]
pub struct AgentSessions {
    pub commands: Commands,
    pub presence: Presence,
    events: EventLog,
    drivers: Drivers,
    registry: Registry,
    settings: SessionSettings,
}

type Outbound = mpsc::Sender<Result<SessionResponse, Status>>;

fn message(message: session_response::Message) -> Result<SessionResponse, Status> {
    Ok(SessionResponse {
        message: Some(message),
    })
}

fn internal(error: sea_orm::DbErr) -> Status {
    tracing::error!(%error, "agent session storage error");
    Status::internal("the orchestrator could not store the session's state")
}

impl AgentSessions {
    /// Sessions storing commands' results in `commands`, hook output in `events`, and waking
    /// the deployment's task in `drivers` when a result arrives.
    pub fn new(
        commands: Commands,
        events: EventLog,
        drivers: Drivers,
        registry: Registry,
        settings: SessionSettings,
    ) -> Self {
        Self {
            commands,
            presence: Presence::default(),
            events,
            drivers,
            registry,
            settings,
        }
    }

    /// Wakes the instance's session, if connected here, to push its new commands.
    pub fn notify(&self, instance_name: &str) {
        self.presence.notify(instance_name);
    }

    async fn authenticate(&self, hello: &Hello) -> Result<(), Status> {
        let request = AuthenticateOnPremisesInstanceRequest {
            instance_name: hello.instance_name.clone(),
            instance_credential: hello.instance_credential.clone(),
        };
        match self
            .registry
            .clone()
            .authenticate_on_premises_instance(request)
            .await
        {
            Ok(_) => Ok(()),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::InvalidArgument
                        | tonic::Code::NotFound
                        | tonic::Code::FailedPrecondition
                        | tonic::Code::Unauthenticated
                        | tonic::Code::PermissionDenied
                ) =>
            {
                Err(Status::unauthenticated(status.message().to_owned()))
            }
            Err(status) => {
                tracing::warn!(%status, "the registry could not check an agent's credential");
                Err(Status::unavailable(
                    "cannot check the instance's credential now",
                ))
            }
        }
    }

    /// Pushes the instance's commands in `states`, leaving out `skip`, and marks them sent;
    /// the ids of those it sent.
    async fn push(
        &self,
        instance: &str,
        states: &[&str],
        skip: &[String],
        out: &Outbound,
    ) -> Result<Vec<String>, Status> {
        let mut sent = Vec::new();
        for command in self
            .commands
            .in_states(instance, states)
            .await
            .map_err(internal)?
        {
            if !skip.contains(&command.command_id) {
                sent.push(command.command_id.clone());
                self.send_command(command, out).await?;
            }
        }
        Ok(sent)
    }

    /// Sends a pending command and notes that it went out.
    async fn send_command(&self, command: Command, out: &Outbound) -> Result<(), Status> {
        let id = command.command_id.clone();
        if out
            .send(message(session_response::Message::Command(command)))
            .await
            .is_err()
        {
            return Err(Status::cancelled("the agent went away"));
        }
        self.commands.mark_sent(&id).await.map_err(internal)
    }

    /// Tells the agent to stop the commands the orchestrator gave up on.
    async fn push_cancels(&self, instance: &str, out: &Outbound) -> Result<(), Status> {
        for command in self
            .commands
            .in_states(instance, &[CANCELLING])
            .await
            .map_err(internal)?
        {
            let cancel = CancelCommand {
                command_id: command.command_id.clone(),
                reason: "the orchestrator gave up on this lifecycle event".to_owned(),
            };
            if out
                .send(message(session_response::Message::Cancel(cancel)))
                .await
                .is_err()
            {
                return Err(Status::cancelled("the agent went away"));
            }
            super::commands::set_state_in(
                &self.commands.pools().write,
                &command.command_id,
                &[CANCELLING],
                CANCEL_SENT,
            )
            .await
            .map_err(internal)?;
        }
        Ok(())
    }

    /// Appends a batch of hook output to its deployment's event log, for watchers.
    async fn record_output(&self, instance: &str, output: HookOutput) -> Result<(), Status> {
        let Some(command) = self
            .commands
            .find(&output.command_id)
            .await
            .map_err(internal)?
            .filter(|c| c.instance_name == instance)
        else {
            tracing::debug!(instance, command_id = %output.command_id, "output of an unknown command");
            return Ok(());
        };
        let lines = output
            .lines
            .into_iter()
            .map(|line| deploy::OutputLine {
                stream: line.stream,
                text: line.text,
                time: line.time,
            })
            .collect();
        let event = deploy::watch_deployment_response::Event::HookOutput(deploy::HookOutput {
            target_id: command.target_id,
            lifecycle_event_name: command.lifecycle_event,
            script: output.script,
            lines,
            dropped: output.dropped,
        });
        self.events
            .append(&command.deployment_id, event)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn drive(
        self,
        hello: Hello,
        mut inbound: Streaming<SessionRequest>,
        out: Outbound,
        registration: Registration,
    ) -> Result<(), Status> {
        // Every database call below is boxed: an idle session's task is this future, and
        // holding the largest query's state inline would cost every connected agent ~8 KiB.
        let instance = hello.instance_name.clone();
        let welcome = Welcome {
            session_id: uuid::Uuid::new_v4().to_string(),
            heartbeat_interval_seconds: self.settings.heartbeat_interval.as_secs().max(1) as u32,
            heartbeat_timeout_seconds: self.settings.heartbeat_timeout.as_secs().max(2) as u32,
        };
        tracing::info!(instance = %instance, session_id = %welcome.session_id, "agent connected");
        if out
            .send(message(session_response::Message::Welcome(welcome)))
            .await
            .is_err()
        {
            return Ok(());
        }
        for result in &hello.unacknowledged_results {
            Box::pin(self.apply_result(&instance, result, &out)).await?;
        }
        // Commands sent on an earlier stream may never have arrived: send them again (the
        // agent answers a repeat from its record).
        let sent_at_start = Box::pin(self.push(
            &instance,
            &[PENDING, SENT],
            &hello.running_command_ids,
            &out,
        ))
        .await?;
        Box::pin(self.push_cancels(&instance, &out)).await?;

        let mut ticker = tokio::time::interval(self.settings.heartbeat_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = tokio::time::Instant::now();
        let mut sequence = 0u64;
        loop {
            tokio::select! {
                () = registration.mailbox.wake.notified() => {
                    if !registration.is_current() {
                        tracing::info!(instance = %instance, "a newer session of this instance took over");
                        return Ok(());
                    }
                    match registration.mailbox.take() {
                        Mail::Commands(commands) => {
                            for command in commands {
                                // The rows read at the start may already have sent it.
                                if !sent_at_start.contains(&command.command_id) {
                                    Box::pin(self.send_command(command, &out)).await?;
                                }
                            }
                        }
                        Mail::ReadRows => {
                            Box::pin(self.push(&instance, &[PENDING], &[], &out)).await?;
                            Box::pin(self.push_cancels(&instance, &out)).await?;
                        }
                    }
                }
                _ = ticker.tick() => {
                    if last_heard.elapsed() > self.settings.heartbeat_timeout {
                        tracing::warn!(instance = %instance, "agent silent past the heartbeat timeout");
                        return Ok(());
                    }
                    sequence += 1;
                    let beat = Heartbeat { sequence, sent_at: Some(std::time::SystemTime::now().into()) };
                    if out.send(message(session_response::Message::Heartbeat(beat))).await.is_err() {
                        return Ok(());
                    }
                }
                request = inbound.message() => {
                    last_heard = tokio::time::Instant::now();
                    let Some(request) = request? else { return Ok(()) };
                    match request.message {
                        Some(session_request::Message::Ack(ack)) => {
                            Box::pin(self.commands.acknowledge(&ack.command_id)).await.map_err(internal)?;
                        }
                        Some(session_request::Message::Result(result)) => {
                            Box::pin(self.apply_result(&instance, &result, &out)).await?;
                        }
                        Some(session_request::Message::Output(output)) => {
                            Box::pin(self.record_output(&instance, output)).await?;
                        }
                        Some(session_request::Message::Heartbeat(_))
                        | None => {}
                        Some(session_request::Message::Hello(_)) => {
                            return Err(Status::invalid_argument("hello is sent once, first"));
                        }
                    }
                }
            }
        }
    }

    async fn apply_result(
        &self,
        instance: &str,
        result: &ferry_proto::agent::v1::CommandResult,
        out: &Outbound,
    ) -> Result<(), Status> {
        let (recorded, deployment) = self
            .commands
            .record_result_of(instance, result)
            .await
            .map_err(internal)?;
        if recorded == Recorded::Unknown {
            tracing::warn!(instance, command_id = %result.command_id, "result of an unknown command");
        }
        if let Some(deployment) = deployment {
            self.drivers.wake(&deployment);
        }
        // Acknowledged whatever it was: the agent may forget it either way.
        let ack = ResultAck {
            command_id: result.command_id.clone(),
        };
        let _ = out
            .send(message(session_response::Message::ResultAck(ack)))
            .await;
        Ok(())
    }
}

#[tonic::async_trait]
impl AgentService for AgentSessions {
    type SessionStream = ReceiverStream<Result<SessionResponse, Status>>;

    async fn session(
        &self,
        request: Request<Streaming<SessionRequest>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello from the agent"))??;
        let Some(SessionRequest {
            message: Some(session_request::Message::Hello(hello)),
        }) = first
        else {
            return Err(Status::invalid_argument("a session starts with a hello"));
        };
        self.authenticate(&hello).await?;
        let registration = self.presence.register(&hello.instance_name);
        let (out, receiver) = mpsc::channel(256);
        let this = self.clone();
        tokio::spawn(async move {
            let errors = out.clone();
            let instance = hello.instance_name.clone();
            if let Err(status) = this.drive(hello, inbound, out, registration).await {
                tracing::warn!(instance = %instance, %status, "agent session ended");
                let _ = errors.send(Err(status)).await;
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}
