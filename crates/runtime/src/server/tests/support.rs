//! A test gRPC service and server harness shared by the server tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::uri::PathAndQuery;
use prost::Message as _;
use prost_types::{
    DescriptorProto, FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto,
    ServiceDescriptorProto,
};
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::super::*;
use crate::telemetry::{self, TracedChannel};

pub(super) const ECHO: &str = "ferry.test.v1.Echo";
pub(super) const FAST: &str = "/ferry.test.v1.Echo/Fast";
pub(super) const SLOW: &str = "/ferry.test.v1.Echo/Slow";
pub(super) const SLOW_STREAM: &str = "/ferry.test.v1.Echo/SlowStream";
pub(super) const DEADLINE: Duration = Duration::from_secs(10);

/// What the echo handler saw of one request.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) path: String,
    pub(super) traceparent: Option<String>,
    pub(super) trace_id: opentelemetry::trace::TraceId,
}

/// A hand-written service: every method answers OK with no message; the slow ones first wait
/// for a permit on `gate` and announce themselves on `entered`.
#[derive(Clone)]
struct Echo {
    gate: Arc<Semaphore>,
    entered: mpsc::UnboundedSender<String>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl NamedService for Echo {
    const NAME: &'static str = ECHO;
}

impl tower::Service<http::Request<Body>> for Echo {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            use opentelemetry::trace::TraceContextExt as _;
            let path = request.uri().path().to_owned();
            let traceparent = request
                .headers()
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let trace_id = tracing::Span::current()
                .context()
                .span()
                .span_context()
                .trace_id();
            this.seen.lock().await.push(Seen {
                path: path.clone(),
                traceparent,
                trace_id,
            });
            if path != FAST {
                let _ = this.entered.send(path);
                let _permit = this.gate.acquire().await;
            }
            Ok(Status::new(Code::Ok, "").into_http())
        })
    }
}

/// The echo service's descriptor set: one unary and one server-streaming slow method.
fn echo_descriptor_set() -> &'static [u8] {
    let method = |name: &str, server_streaming| MethodDescriptorProto {
        name: Some(name.to_owned()),
        input_type: Some(".ferry.test.v1.Nothing".to_owned()),
        output_type: Some(".ferry.test.v1.Nothing".to_owned()),
        server_streaming: Some(server_streaming),
        ..Default::default()
    };
    let file = FileDescriptorProto {
        name: Some("ferry/test/v1/echo.proto".to_owned()),
        package: Some("ferry.test.v1".to_owned()),
        message_type: vec![DescriptorProto {
            name: Some("Nothing".to_owned()),
            ..Default::default()
        }],
        service: vec![ServiceDescriptorProto {
            name: Some("Echo".to_owned()),
            method: vec![
                method("Fast", false),
                method("Slow", false),
                method("SlowStream", true),
            ],
            ..Default::default()
        }],
        syntax: Some("proto3".to_owned()),
        ..Default::default()
    };
    let set = FileDescriptorSet { file: vec![file] };
    // Leaked once per test server: the builder wants the `&'static` a generated set has.
    Box::leak(set.encode_to_vec().into_boxed_slice())
}

pub(super) struct TestServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
    /// Each permit lets one slow handler answer.
    pub(super) gate: Arc<Semaphore>,
    /// The path of each slow handler as it starts waiting.
    pub(super) entered: mpsc::UnboundedReceiver<String>,
    pub(super) seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    pub(super) async fn start(config: ServerConfig, ready: Option<Arc<AtomicBool>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (entered_tx, entered) = mpsc::unbounded_channel();
        let echo = Echo {
            gate: Arc::new(Semaphore::new(0)),
            entered: entered_tx,
            seen: Arc::default(),
        };
        let (gate, seen) = (echo.gate.clone(), echo.seen.clone());
        let mut builder = GrpcServer::builder(&config)
            .add_service(echo)
            .add_file_descriptor_set(echo_descriptor_set());
        if let Some(ready) = ready {
            builder = builder.readiness_fn(move || {
                let ready = ready.load(Ordering::SeqCst);
                async move {
                    if ready {
                        Ok(())
                    } else {
                        Err("not ready".to_owned())
                    }
                }
            });
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(builder.serve(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            gate,
            entered,
            seen,
        }
    }

    pub(super) async fn channel(&self) -> TracedChannel {
        telemetry::connect(&self.addr.to_string())
            .await
            .expect("connect")
    }

    pub(super) fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub(super) async fn stopped(self) -> Result<(), ServeError> {
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("server stops in time")
            .expect("server task")
    }
}

/// Calls any method as server-streaming (the client cannot tell) and drains the stream.
pub(super) async fn call(channel: TracedChannel, path: &'static str) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let response = grpc
        .server_streaming(
            tonic::Request::new(()),
            PathAndQuery::from_static(path),
            codec,
        )
        .await?;
    let mut stream = response.into_inner();
    while stream.message().await?.is_some() {}
    Ok(())
}

pub(super) async fn health(channel: TracedChannel, service: &str) -> i32 {
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    HealthClient::new(channel)
        .check(request)
        .await
        .expect("health check")
        .into_inner()
        .status
}

/// Polls `probe` until it returns true, failing after [`DEADLINE`].
pub(super) async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !probe().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
