//! Traces leave a real `ferry-registry` process over OTLP/gRPC and join the caller's trace:
//! the test is the collector (the OTLP TraceService on a local port) and the caller (a
//! CreateApplication carrying a W3C `traceparent`).

// Test code: a failed unwrap is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use ferry_proto::registry::v1::CreateApplicationRequest;
use ferry_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ferry_tests::{Service, binary};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

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

#[tokio::test]
async fn spans_are_exported_over_otlp_as_children_of_the_callers_trace() {
    let (exports_tx, mut exports) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(exports_tx)))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(binary("ferry-registry"));
    command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env(
            "FERRY_TELEMETRY__OTLP_ENDPOINT",
            format!("http://{collector}"),
        );
    let mut registry = Service::start(command);
    let addr = registry.wait_for_address();

    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = RegistryServiceClient::new(channel);
    let mut request = tonic::Request::new(CreateApplicationRequest {
        application_name: "traced".into(),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01")
            .parse()
            .unwrap(),
    );
    client.create_application(request).await.unwrap();

    // Stopping flushes the batch exporter, so the spans arrive without waiting on its timer.
    assert!(registry.terminate(Duration::from_secs(15)).await.success());
    let mut joined = None;
    while let Ok(Some(export)) = tokio::time::timeout(Duration::from_secs(10), exports.recv()).await
    {
        for resource_spans in export.resource_spans {
            let service_name = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.clone());
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                if hex(&span.trace_id) == TRACE_ID && hex(&span.parent_span_id) == PARENT_SPAN_ID {
                    joined = Some((span.name, service_name.clone()));
                }
            }
        }
        if joined.is_some() {
            break;
        }
    }
    let (span, service) =
        joined.expect("a span of the caller's trace, parented on the caller's span");
    assert!(!span.is_empty());
    assert_eq!(service, Some(Value::StringValue("ferry-registry".into())));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
