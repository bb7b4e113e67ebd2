//! One OpenTelemetry trace per deployment: registry, revisions, orchestrator and one agent run
//! as real processes exporting spans over OTLP/gRPC to the test, which is the collector. The
//! test calls CreateDeployment with a W3C `traceparent` of its own; the orchestrator's server
//! span, its registry and revisions calls, the deployment's task (`drive_deployment`) and the
//! agent's lifecycle events (`lifecycle_event`) must all arrive in that trace, each parented
//! where the work was started.

// Test code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_proto::common::v1::DeploymentStatus;
use ferry_proto::deploy::v1::CreateDeploymentRequest;
use ferry_proto::deploy::v1::deployment_service_client::DeploymentServiceClient;
use ferry_tests::deploy::{ALL_EVENTS, create_group, ended, register_instance, status, upload_tar};
use ferry_tests::processes::{
    self, DEPLOYMENT_SERVICE, REVISION_SERVICE, agent_command, server_command, write_agent_config,
    write_config,
};
use ferry_tests::{Service, channel, wait_serving};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::TcpListenerStream;

/// The test's own trace, and the span id of its "client" span that CreateDeployment joins.
const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN_ID: &str = "b7ad6b7169203331";

const APP: &str = "traced-shop";
const GROUP: &str = "web";
const INSTANCE: &str = "web-1";

const REGISTRY: &str = "ferry-registry";
const REVISIONS: &str = "ferry-revisions";
const ORCHESTRATOR: &str = "ferry-orchestrator";
const AGENT: &str = "ferry-agent";

const CREATE_DEPLOYMENT: &str = "ferry.deploy.v1.DeploymentService/CreateDeployment";
/// The calls CreateDeployment makes, by the service that serves them.
const UPSTREAM_CALLS: [(&str, &str); 4] = [
    (
        REGISTRY,
        "ferry.registry.v1.RegistryService/GetDeploymentGroup",
    ),
    (
        REGISTRY,
        "ferry.registry.v1.RegistryService/GetDeploymentConfig",
    ),
    (
        REVISIONS,
        "ferry.revision.v1.RevisionService/ResolveRevision",
    ),
    (
        REGISTRY,
        "ferry.registry.v1.RegistryService/ListDeploymentGroupInstances",
    ),
];

/// The OTLP TraceService: every export goes to the test.
struct Collector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// One exported span, flattened: who sent it and how it links.
#[derive(Debug, Clone)]
struct SpanRecord {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    start: u64,
    attributes: BTreeMap<String, String>,
}

impl SpanRecord {
    fn in_trace(&self) -> bool {
        self.trace_id == TRACE_ID
    }

    fn attribute(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }
}

impl std::fmt::Display for SpanRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?} trace={} span={} parent={}",
            self.service,
            self.name,
            self.trace_id,
            self.span_id,
            if self.parent_span_id.is_empty() {
                "-"
            } else {
                &self.parent_span_id
            },
        )?;
        for key in ["event", "command_id", "deployment_id"] {
            if let Some(value) = self.attributes.get(key) {
                write!(f, " {key}={value}")?;
            }
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                text(kv.value.as_ref().and_then(|v| v.value.as_ref())),
            )
        })
        .collect()
}

fn flatten(export: ExportTraceServiceRequest) -> Vec<SpanRecord> {
    let mut spans = Vec::new();
    for resource_spans in export.resource_spans {
        let resource = attributes(
            resource_spans
                .resource
                .as_ref()
                .map_or(&[][..], |r| &r.attributes),
        );
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
            spans.push(SpanRecord {
                service: service.clone(),
                name: span.name,
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: hex(&span.parent_span_id),
                start: span.start_time_unix_nano,
                attributes: attributes(&span.attributes),
            });
        }
    }
    spans
}

/// A server process listening on a free port with its own data directory, exporting spans to
/// `collector`. Without the test's `RUST_LOG`, which would replace the services' filter (and so
/// drop the info-level spans this test is about).
fn start_server(
    name: &str,
    dir: &Path,
    config: Option<PathBuf>,
    collector: SocketAddr,
) -> (Service, SocketAddr) {
    let mut command = server_command(name, config.as_deref(), "127.0.0.1:0", &dir.join(name));
    command.env_remove("RUST_LOG").env(
        "FERRY_TELEMETRY__OTLP_ENDPOINT",
        format!("http://{collector}"),
    );
    processes::start_server(command)
}

/// A tar bundle: app.txt to /srv/app and one BeforeInstall hook that echoes.
fn bundle() -> Vec<u8> {
    let appspec = [
        "version: 0.0",
        "os: linux",
        "files:",
        "  - source: app.txt",
        "    destination: /srv/app",
        "hooks:",
        "  BeforeInstall:",
        "    - location: scripts/hello.sh",
        "",
    ]
    .join("\n");
    let hook = "#!/bin/sh\necho \"hello from $LIFECYCLE_EVENT of $DEPLOYMENT_ID\"\n";
    let files = [
        ("appspec.yml", appspec.as_str(), 0o644),
        ("app.txt", "v1\n", 0o644),
        ("scripts/hello.sh", hook, 0o755),
    ];
    ferry_tests::bundle::tar(&files)
}

/// The application, an all-at-once group of on-premises instances tagged group=web, and
/// INSTANCE registered and tagged; returns the instance's credential.
async fn register(registry: SocketAddr) -> String {
    create_group(registry, APP, GROUP, "CodeDeployDefault.AllAtOnce", false).await;
    register_instance(registry, INSTANCE, GROUP).await
}

/// The agent of INSTANCE, exporting to `collector` by its configuration file (and without the
/// test's `RUST_LOG`).
fn start_agent(
    dir: &Path,
    orchestrator: SocketAddr,
    credential: &str,
    collector: SocketAddr,
) -> Service {
    let config = write_agent_config(
        &dir.join(INSTANCE),
        INSTANCE,
        orchestrator,
        credential,
        json!({ "telemetry": { "otlp_endpoint": format!("http://{collector}") } }),
    );
    let mut command = agent_command(&config);
    command.env_remove("RUST_LOG");
    Service::start(command)
}

/// Polls (up to 60 s) until the deployment has ended, and checks that it succeeded.
async fn succeeded(deployments: &mut DeploymentServiceClient<tonic::transport::Channel>, id: &str) {
    let info = ended(deployments, id, Duration::from_secs(60)).await;
    let status = status(&info);
    assert_eq!(
        status,
        DeploymentStatus::Succeeded,
        "the deployment ended {status:?}: {info:?}"
    );
}

/// Everything the test expects of the trace, as far as the spans collected so far show it.
fn complete(spans: &[SpanRecord]) -> bool {
    let traced: BTreeSet<&str> = spans
        .iter()
        .filter(|s| s.in_trace())
        .map(|s| s.service.as_str())
        .collect();
    let events = spans
        .iter()
        .filter(|s| s.in_trace() && s.service == AGENT && s.name == "lifecycle_event")
        .count();
    let driven = spans
        .iter()
        .any(|s| s.in_trace() && s.service == ORCHESTRATOR && s.name == "drive_deployment");
    let downloaded = spans
        .iter()
        .any(|s| s.in_trace() && s.service == REVISIONS && s.name == DOWNLOAD);
    let calls = UPSTREAM_CALLS.iter().all(|(service, name)| {
        spans
            .iter()
            .any(|s| s.in_trace() && s.service == *service && s.name == *name)
    });
    [REGISTRY, REVISIONS, ORCHESTRATOR, AGENT]
        .iter()
        .all(|s| traced.contains(s))
        && events >= ALL_EVENTS.len()
        && driven
        && downloaded
        && calls
}

/// The agent's bundle download, served by the revisions service.
const DOWNLOAD: &str = "ferry.revision.v1.RevisionService/DownloadBundle";

/// The spans of the test's trace, one a line in start order, for failure messages and the log.
fn describe(spans: &[SpanRecord]) -> String {
    let mut traced: Vec<&SpanRecord> = spans.iter().filter(|s| s.in_trace()).collect();
    traced.sort_by_key(|s| s.start);
    let mut out = format!(
        "{} spans collected, {} in trace {TRACE_ID}:\n",
        spans.len(),
        traced.len()
    );
    for span in traced {
        out.push_str(&format!("  {span}\n"));
    }
    out
}

#[tokio::test]
async fn a_deployment_is_one_trace_across_the_services_and_the_agent() {
    let started = Instant::now();
    let (exports_tx, mut exports) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(exports_tx)))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let dir = tempfile::tempdir().unwrap();
    let (mut registry, registry_addr) = start_server(REGISTRY, dir.path(), None, collector);
    let revisions_config = write_config(
        dir.path().join("revisions.yaml"),
        &json!({ "registry_endpoint": format!("http://{registry_addr}") }),
    );
    let (mut revisions, revisions_addr) =
        start_server(REVISIONS, dir.path(), Some(revisions_config), collector);
    let orchestrator_config = write_config(
        dir.path().join("orchestrator.yaml"),
        &json!({
            "registry_endpoint": format!("http://{registry_addr}"),
            "revisions_endpoint": format!("http://{revisions_addr}"),
        }),
    );
    let (mut orchestrator, orchestrator_addr) = start_server(
        ORCHESTRATOR,
        dir.path(),
        Some(orchestrator_config),
        collector,
    );
    wait_serving(channel(revisions_addr).await, REVISION_SERVICE).await;
    wait_serving(channel(orchestrator_addr).await, DEPLOYMENT_SERVICE).await;

    let credential = register(registry_addr).await;
    let mut agent = start_agent(dir.path(), orchestrator_addr, &credential, collector);
    let revision = upload_tar(revisions_addr, APP, bundle()).await;

    let mut deployments = DeploymentServiceClient::new(channel(orchestrator_addr).await);
    let mut request = tonic::Request::new(CreateDeploymentRequest {
        application_name: APP.into(),
        deployment_group_name: GROUP.into(),
        revision: Some(revision),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01")
            .parse()
            .unwrap(),
    );
    let id = deployments
        .create_deployment(request)
        .await
        .unwrap()
        .into_inner()
        .deployment_id;
    succeeded(&mut deployments, &id).await;
    eprintln!(
        "deployment {id} succeeded {:?} after the start",
        started.elapsed()
    );
    drop(deployments);

    // Stopping flushes each batch exporter, so the spans arrive without waiting on its timer.
    // The agent first: the orchestrator then has no stream open to drain.
    for (name, service) in [
        (AGENT, &mut agent),
        (ORCHESTRATOR, &mut orchestrator),
        (REVISIONS, &mut revisions),
        (REGISTRY, &mut registry),
    ] {
        let status = service.terminate(Duration::from_secs(20)).await;
        assert!(status.success(), "{name} exited with {status:?}");
    }
    eprintln!("all four stopped {:?} after the start", started.elapsed());

    let mut spans = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !complete(&spans) {
        match tokio::time::timeout_at(deadline, exports.recv()).await {
            Ok(Some(export)) => spans.extend(flatten(export)),
            Ok(None) | Err(_) => break,
        }
    }
    // Whatever else is already here (a service's last batch may trail the one that completed
    // the picture).
    while let Ok(export) = exports.try_recv() {
        spans.extend(flatten(export));
    }
    let trace = describe(&spans);
    eprintln!("{trace}");
    eprintln!("spans collected {:?} after the start", started.elapsed());

    let traced: Vec<&SpanRecord> = spans.iter().filter(|s| s.in_trace()).collect();
    for service in [REGISTRY, REVISIONS, ORCHESTRATOR, AGENT] {
        assert!(
            traced.iter().any(|s| s.service == service),
            "no span of {service} in the deployment's trace; {trace}"
        );
    }

    // One tree: every span of the trace hangs from the caller's span or from another of its
    // spans, whichever process sent it.
    let ids: BTreeSet<&str> = traced.iter().map(|s| s.span_id.as_str()).collect();
    for span in &traced {
        assert!(
            span.parent_span_id == CALLER_SPAN_ID || ids.contains(span.parent_span_id.as_str()),
            "{span} has a parent outside the trace; {trace}"
        );
    }

    // The orchestrator's CreateDeployment joined the caller's span.
    let creates: Vec<&&SpanRecord> = traced
        .iter()
        .filter(|s| s.service == ORCHESTRATOR && s.name == CREATE_DEPLOYMENT)
        .collect();
    assert_eq!(creates.len(), 1, "one CreateDeployment span; {trace}");
    let create = creates[0];
    assert_eq!(
        create.parent_span_id, CALLER_SPAN_ID,
        "CreateDeployment is not a child of the caller's span; {trace}"
    );

    // Its registry and revisions calls are children of it, served in the other processes.
    for (service, name) in UPSTREAM_CALLS {
        let call = traced
            .iter()
            .find(|s| s.service == service && s.name == name)
            .unwrap_or_else(|| panic!("no {name} span from {service} in the trace; {trace}"));
        assert_eq!(
            call.parent_span_id, create.span_id,
            "{name} ({service}) is not a child of CreateDeployment; {trace}"
        );
    }

    // The deployment's task joined the trace CreateDeployment stored.
    let drives: Vec<&&SpanRecord> = traced
        .iter()
        .filter(|s| s.service == ORCHESTRATOR && s.name == "drive_deployment")
        .collect();
    assert!(
        !drives.is_empty(),
        "no drive_deployment span in the trace; orchestrator spans outside it: {:?}",
        spans
            .iter()
            .filter(|s| s.service == ORCHESTRATOR && s.name == "drive_deployment")
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    for drive in &drives {
        assert_eq!(
            drive.parent_span_id, create.span_id,
            "drive_deployment is not a child of CreateDeployment; {trace}"
        );
        assert_eq!(drive.attribute("deployment_id"), id, "{drive}");
    }
    let drive_ids: BTreeSet<&str> = drives.iter().map(|s| s.span_id.as_str()).collect();

    // The agent ran each lifecycle event (one command each) in a span of the trace, parented
    // on the task's span that created the command.
    let mut events: Vec<&&SpanRecord> = traced
        .iter()
        .filter(|s| s.service == AGENT && s.name == "lifecycle_event")
        .collect();
    events.sort_by_key(|s| s.start);
    let names: Vec<&str> = events.iter().map(|s| s.attribute("event")).collect();
    assert_eq!(
        names,
        ALL_EVENTS,
        "the agent's lifecycle_event spans in the trace; every lifecycle_event span: {:?}",
        spans
            .iter()
            .filter(|s| s.service == AGENT && s.name == "lifecycle_event")
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    let commands: BTreeSet<&str> = events.iter().map(|s| s.attribute("command_id")).collect();
    assert_eq!(
        commands.len(),
        ALL_EVENTS.len(),
        "one command each; {trace}"
    );
    for event in &events {
        assert_eq!(event.attribute("deployment_id"), id, "{event}");
        assert!(
            drive_ids.contains(event.parent_span_id.as_str()),
            "{event} is not a child of the drive_deployment span ({drive_ids:?}); {trace}"
        );
    }
    // The agent's download joined the trace under its DownloadBundle event.
    let download_event = events
        .iter()
        .find(|s| s.attribute("event") == "DownloadBundle")
        .expect("a DownloadBundle span");
    let download = traced
        .iter()
        .find(|s| s.service == REVISIONS && s.name == DOWNLOAD)
        .unwrap_or_else(|| panic!("no DownloadBundle call in the trace; {trace}"));
    assert_eq!(
        download.parent_span_id, download_event.span_id,
        "the download is not a child of the agent's DownloadBundle span; {trace}"
    );
    eprintln!("done {:?} after the start", started.elapsed());
}
