//! The orchestrator's side of agent sessions against real agents: an in-process registry checks
//! credentials, a real `ferry-agent` session runs the commands, and results land in the
//! orchestrator's database once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use ferry_agent::config::{AgentConfig, Identity};
use ferry_agent::lifecycle::Host;
use ferry_agent::session::Agent;
use ferry_orchestrator::agents::commands::{Commands, FINISHED};
use ferry_orchestrator::agents::session::{AgentSessions, SessionSettings};
use ferry_orchestrator::deployments::drivers::Drivers;
use ferry_orchestrator::events::EventLog;
use ferry_orchestrator::store;
use ferry_proto::agent::v1::agent_service_client::AgentServiceClient;
use ferry_proto::agent::v1::agent_service_server::AgentServiceServer;
use ferry_proto::agent::v1::{Command, Hello, SessionRequest, session_request};
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_proto::registry::v1::{
    DeregisterOnPremisesInstanceRequest, RegisterOnPremisesInstanceRequest,
};
use ferry_registry::{Registry, RegistryConfig};
use ferry_runtime::config::ServerConfig;
use ferry_runtime::server::GrpcServer;
use ferry_runtime::telemetry::TraceContextInterceptor;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;

const WAIT: Duration = Duration::from_secs(20);

struct Cluster {
    _dir: tempfile::TempDir,
    registry: RegistryServiceClient<tonic::transport::Channel>,
    sessions: AgentSessions,
    endpoint: String,
    stop: CancellationToken,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let stop = CancellationToken::new();
    let config = RegistryConfig {
        data_dir: dir.path().join("registry"),
        ..RegistryConfig::default()
    };
    let registry = Registry::open(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry_addr = format!("http://{}", listener.local_addr().unwrap());
    let builder = registry.register(GrpcServer::builder(&ServerConfig::default()));
    let stopped = stop.clone();
    tokio::spawn(async move { builder.serve(listener, stopped.cancelled_owned()).await });
    let registry_channel = tonic::transport::Endpoint::from_shared(registry_addr)
        .unwrap()
        .connect_lazy();
    let registry_client = RegistryServiceClient::new(registry_channel.clone());

    let url = store::database_url(None, &dir.path().join("orchestrator")).unwrap();
    let pools = store::connect(&url).await.unwrap();
    let commands = Commands::new(pools.clone());
    let settings = SessionSettings {
        heartbeat_interval: Duration::from_secs(1),
        heartbeat_timeout: Duration::from_secs(5),
    };
    let traced = RegistryServiceClient::new(InterceptedService::new(
        registry_channel,
        TraceContextInterceptor,
    ));
    let sessions = AgentSessions::new(
        commands,
        EventLog::new(pools),
        Drivers::default(),
        traced,
        settings,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let service = AgentServiceServer::new(sessions.clone());
    let stopped = stop.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                stopped.cancelled_owned(),
            )
            .await
    });
    Cluster {
        _dir: dir,
        registry: registry_client,
        sessions,
        endpoint,
        stop,
    }
}

async fn register(cluster: &Cluster, name: &str) -> String {
    cluster
        .registry
        .clone()
        .register_on_premises_instance(RegisterOnPremisesInstanceRequest {
            instance_name: name.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .instance_credential
}

/// A real agent whose deployment root already holds d-1's unpacked revision, as after its
/// DownloadBundle: BeforeInstall runs `hello.sh`.
fn start_agent(
    cluster: &Cluster,
    name: &str,
    credential: &str,
) -> (tempfile::TempDir, CancellationToken) {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("root/g-1/d-1/deployment-archive");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::write(
        archive.join("appspec.yml"),
        "version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: hello.sh\n",
    )
    .unwrap();
    std::fs::write(
        archive.join("hello.sh"),
        "#!/bin/sh\necho \"hello from $LIFECYCLE_EVENT\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        archive.join("hello.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let mut config = AgentConfig {
        orchestrator_endpoint: cluster.endpoint.clone(),
        deployment_root: dir.path().join("root"),
        log_dir: dir.path().join("logs"),
        ..AgentConfig::default()
    };
    config.reconnect.initial_backoff_ms = 20;
    config.reconnect.max_backoff_ms = 200;
    let host = Host::from_config(&config, None);
    let identity = Identity {
        instance_name: name.to_owned(),
        credential: credential.to_owned(),
    };
    let agent = Arc::new(Agent::new(config, identity, host).unwrap());
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move { agent.run(stopped).await });
    (dir, stop)
}

fn command(id: &str) -> Command {
    Command {
        command_id: id.to_owned(),
        deployment_id: "d-1".into(),
        deployment_group_id: "g-1".into(),
        deployment_group_name: "web".into(),
        application_name: "shop".into(),
        lifecycle_event: "BeforeInstall".into(),
        attempt: 1,
        ..Default::default()
    }
}

async fn finished(commands: &Commands, id: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while commands.state(id).await.unwrap().as_deref() != Some(FINISHED) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn commands_reach_a_real_agent_and_results_are_stored_and_acknowledged() {
    let cluster = cluster().await;
    let credential = register(&cluster, "web-1").await;
    let commands = &cluster.sessions.commands;
    // Stored before the agent is there: pushed when it connects.
    commands
        .enqueue("web-1", "web-1", &command("c-1"))
        .await
        .unwrap();
    let (agent_dir, stop) = start_agent(&cluster, "web-1", &credential);
    finished(commands, "c-1").await;
    let result = commands.result("c-1").await.unwrap().unwrap();
    assert_eq!(result.status, "Succeeded", "{result:?}");
    assert_eq!(result.diagnostics.error_code, "Success");
    assert!(
        result
            .diagnostics
            .log_tail
            .contains("hello from BeforeInstall"),
        "{result:?}"
    );

    // Stored while it is connected: pushed at once.
    commands
        .enqueue("web-1", "web-1", &command("c-2"))
        .await
        .unwrap();
    cluster.sessions.notify("web-1");
    finished(commands, "c-2").await;

    // The agent was told the results are stored, so it stops carrying them.
    let record = agent_dir.path().join("root/ferry/commands/c-1.json");
    let deadline = tokio::time::Instant::now() + WAIT;
    while !std::fs::read_to_string(&record)
        .unwrap()
        .contains("\"acknowledged\": true")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "result never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cluster.sessions.presence.is_connected("web-1"));
    stop.cancel();
}

async fn hello_status(cluster: &Cluster, name: &str, credential: &str) -> tonic::Code {
    let mut client = AgentServiceClient::connect(cluster.endpoint.clone())
        .await
        .unwrap();
    let hello = SessionRequest {
        message: Some(session_request::Message::Hello(Hello {
            instance_name: name.to_owned(),
            instance_credential: credential.to_owned(),
            ..Default::default()
        })),
    };
    match client.session(futures_once(hello)).await {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

fn futures_once(message: SessionRequest) -> impl tokio_stream::Stream<Item = SessionRequest> {
    tokio_stream::iter([message]).chain(tokio_stream::pending())
}

use tokio_stream::StreamExt as _;

#[tokio::test]
async fn wrong_credentials_and_deregistered_instances_are_refused() {
    let cluster = cluster().await;
    let credential = register(&cluster, "web-2").await;
    assert_eq!(
        hello_status(&cluster, "web-2", "ferry_ic_wrong").await,
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        hello_status(&cluster, "nobody-here", &credential).await,
        tonic::Code::Unauthenticated
    );
    assert_eq!(
        hello_status(&cluster, "web-2", &credential).await,
        tonic::Code::Ok
    );
    cluster
        .registry
        .clone()
        .deregister_on_premises_instance(DeregisterOnPremisesInstanceRequest {
            instance_name: "web-2".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        hello_status(&cluster, "web-2", &credential).await,
        tonic::Code::Unauthenticated
    );
}

#[tokio::test]
async fn a_result_is_applied_once() {
    let cluster = cluster().await;
    let commands = &cluster.sessions.commands;
    commands
        .enqueue("web-3", "web-3", &command("c-9"))
        .await
        .unwrap();
    let result = ferry_proto::agent::v1::CommandResult {
        command_id: "c-9".into(),
        status: ferry_proto::common::v1::LifecycleEventStatus::Failed as i32,
        diagnostics: Some(ferry_proto::common::v1::Diagnostics {
            message: "first".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    use ferry_orchestrator::agents::commands::Recorded;
    assert_eq!(
        commands.record_result("web-3", &result).await.unwrap(),
        Recorded::New
    );
    let mut again = result.clone();
    again.diagnostics.as_mut().unwrap().message = "second".into();
    assert_eq!(
        commands.record_result("web-3", &again).await.unwrap(),
        Recorded::Duplicate
    );
    assert_eq!(
        commands.record_result("web-4", &result).await.unwrap(),
        Recorded::Unknown
    );
    assert_eq!(
        commands
            .result("c-9")
            .await
            .unwrap()
            .unwrap()
            .diagnostics
            .message,
        "first"
    );
}
