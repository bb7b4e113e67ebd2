//! In-process tests on an ephemeral port. Nothing sleeps for a fixed time: conditions are
//! polled with a deadline, and slow handlers wait on a gate the test opens.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as Wire;
use tonic_health::pb::health_client::HealthClient;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::*;
use crate::telemetry;
use support::{DEADLINE, ECHO, FAST, SLOW, SLOW_STREAM, TestServer, call, eventually, health};

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_every_service() {
    use tonic_reflection::pb::{v1, v1alpha};
    let mut server = TestServer::start(ServerConfig::default(), None).await;
    let expected = [
        ECHO,
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ];

    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(server.channel().await);
    let mut responses = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .expect("v1 call")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("v1 answer")
        .expect("one response");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected v1 answer: {response:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    for name in expected {
        assert!(names.contains(&name), "v1 lists {names:?}, not {name}");
    }

    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(server.channel().await);
    let mut responses = client
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .expect("v1alpha call")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("v1alpha answer")
        .expect("one response");
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected v1alpha answer: {response:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    for name in expected {
        assert!(names.contains(&name), "v1alpha lists {names:?}, not {name}");
    }

    drop((client, responses));
    server.shutdown();
    server.stopped().await.expect("clean stop");
}

#[tokio::test]
async fn health_follows_readiness_and_shutdown() {
    let ready = Arc::new(AtomicBool::new(false));
    let mut server = TestServer::start(ServerConfig::default(), Some(ready.clone())).await;
    let channel = server.channel().await;

    assert_eq!(health(channel.clone(), "").await, Wire::NotServing as i32);
    assert_eq!(health(channel.clone(), ECHO).await, Wire::NotServing as i32);

    ready.store(true, Ordering::SeqCst);
    eventually("SERVING", || {
        let channel = channel.clone();
        async move { health(channel, "").await == Wire::Serving as i32 }
    })
    .await;
    assert_eq!(health(channel.clone(), ECHO).await, Wire::Serving as i32);

    // A watch opened before shutdown sees the switch: NOT_SERVING before the drain.
    let mut watch = HealthClient::new(channel.clone())
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch
        .message()
        .await
        .expect("watch answer")
        .expect("current status");
    assert_eq!(first.status, Wire::Serving as i32);
    server.shutdown();
    let next = tokio::time::timeout(DEADLINE, watch.message())
        .await
        .expect("status change in time")
        .expect("watch answer")
        .expect("a status");
    assert_eq!(next.status, Wire::NotServing as i32);

    // Once the last stream is gone the drain completes without waiting for the grace period.
    drop((watch, channel));
    server.stopped().await.expect("clean stop");
}

#[tokio::test]
async fn a_full_server_sheds_load_with_unavailable() {
    let config = ServerConfig {
        concurrency_limit: 1,
        ..ServerConfig::default()
    };
    let mut server = TestServer::start(config, None).await;
    let channel = server.channel().await;

    let slow = tokio::spawn(call(channel.clone(), SLOW));
    assert_eq!(server.entered.recv().await.as_deref(), Some(SLOW));
    let shed = call(channel.clone(), FAST)
        .await
        .expect_err("no permit left");
    assert_eq!(shed.code(), Code::Unavailable, "{shed:?}");

    server.gate.add_permits(1);
    slow.await
        .expect("slow task")
        .expect("slow call finishes once let through");
    call(channel.clone(), FAST)
        .await
        .expect("a permit is free again");

    drop(channel);
    server.shutdown();
    server.stopped().await.expect("clean stop");
}

#[tokio::test]
async fn unary_calls_time_out_but_streams_do_not() {
    let config = ServerConfig {
        request_timeout_secs: 1,
        ..ServerConfig::default()
    };
    let mut server = TestServer::start(config, None).await;
    let channel = server.channel().await;

    // The stream starts first: had it been subject to the timeout, it would have been answered
    // DEADLINE_EXCEEDED before the unary call below is.
    let stream = tokio::spawn(call(channel.clone(), SLOW_STREAM));
    assert_eq!(server.entered.recv().await.as_deref(), Some(SLOW_STREAM));
    let timed_out = call(channel.clone(), SLOW)
        .await
        .expect_err("unary call times out");
    assert_eq!(timed_out.code(), Code::DeadlineExceeded, "{timed_out:?}");

    server.gate.add_permits(2);
    stream
        .await
        .expect("stream task")
        .expect("the stream outlives the timeout");

    drop(channel);
    server.shutdown();
    server.stopped().await.expect("clean stop");
}

#[tokio::test]
async fn shutdown_waits_for_in_flight_requests_up_to_the_grace_period() {
    let config = ServerConfig {
        shutdown_grace_secs: 1,
        ..ServerConfig::default()
    };
    let mut server = TestServer::start(config, None).await;
    let channel = server.channel().await;

    let slow = tokio::spawn(call(channel.clone(), SLOW_STREAM));
    assert_eq!(server.entered.recv().await.as_deref(), Some(SLOW_STREAM));
    server.shutdown();
    // The handler never finishes; serve returns after the grace period anyway.
    let started = Instant::now();
    server
        .stopped()
        .await
        .expect("stops after the grace period");
    assert!(started.elapsed() >= Duration::from_millis(900));
    slow.abort();
}

#[tokio::test]
async fn trace_context_crosses_the_call() {
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use tracing::Instrument as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    telemetry::install_propagator();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    // Current-thread runtime: the server's tasks run on this thread and see this subscriber.
    let _default = tracing::subscriber::set_default(subscriber);

    let mut server = TestServer::start(ServerConfig::default(), None).await;
    let channel = server.channel().await;
    let client_span = tracing::info_span!("client");
    let client_trace = client_span.context().span().span_context().trace_id();
    call(channel.clone(), FAST)
        .instrument(client_span)
        .await
        .expect("call");

    let seen = server.seen.lock().await.clone();
    let seen = seen.iter().find(|s| s.path == FAST).expect("request seen");
    let traceparent = seen
        .traceparent
        .as_deref()
        .expect("traceparent header sent");
    assert!(
        traceparent.contains(&client_trace.to_string()),
        "{traceparent} vs {client_trace}"
    );
    assert_eq!(
        seen.trace_id, client_trace,
        "the server span joins the client's trace"
    );

    drop(channel);
    server.shutdown();
    server.stopped().await.expect("clean stop");
}
