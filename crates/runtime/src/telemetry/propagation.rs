//! W3C trace context on outgoing calls: the client half of propagation.
//!
//! The server half is [`crate::server::layers::TraceLayer`]; both use the global text-map
//! propagator that [`super::install_propagator`] sets.

use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// A channel whose every call carries the caller's trace context.
pub type TracedChannel = InterceptedService<Channel, TraceContextInterceptor>;

/// Injects the current span's context (`traceparent`, `tracestate`) into each request.
///
/// Use it with any generated client: `FooClient::with_interceptor(channel, TraceContextInterceptor)`,
/// or get a [`TracedChannel`] from [`connect`] and call `FooClient::new(channel)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextInterceptor;

impl Interceptor for TraceContextInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let context = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut HeaderInjector(request.metadata_mut()));
        });
        Ok(request)
    }
}

/// An [`Endpoint`] for `host:port` or `http://host:port`, with the transport settings ferry
/// uses everywhere: TCP_NODELAY, and HTTP/2 keepalive pings even while idle, so a dead peer
/// under a long-lived stream (the agent session) is noticed in seconds.
pub fn endpoint(address: &str) -> Result<Endpoint, tonic::transport::Error> {
    let uri = if address.contains("://") {
        address.to_owned()
    } else {
        format!("http://{address}")
    };
    Ok(Endpoint::from_shared(uri)?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true))
}

/// Connects to `address` (`host:port` or `http://host:port`) and returns a channel that
/// propagates trace context; pass it to any generated client's `new`.
pub async fn connect(address: &str) -> Result<TracedChannel, tonic::transport::Error> {
    let channel = endpoint(address)?.connect().await?;
    Ok(InterceptedService::new(channel, TraceContextInterceptor))
}

/// The trace context of the current span as text (`traceparent` and, when set,
/// `tracestate`), to store with work that outlives the request: a deployment, a command sent
/// to an agent. Empty when no trace is being recorded.
pub fn current_trace_context() -> String {
    let context = tracing::Span::current().context();
    let mut fields = std::collections::HashMap::new();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut fields);
    });
    let mut text = fields.remove("traceparent").unwrap_or_default();
    if let Some(state) = fields.remove("tracestate").filter(|s| !s.is_empty()) {
        text.push(';');
        text.push_str(&state);
    }
    text
}

/// Makes `span` a child of a context [`current_trace_context`] stored; nothing when `stored`
/// is empty or not a trace context.
pub fn set_parent_from(span: &tracing::Span, stored: &str) {
    if stored.is_empty() {
        return;
    }
    let (parent, state) = stored.split_once(';').unwrap_or((stored, ""));
    let mut fields = std::collections::HashMap::new();
    fields.insert("traceparent".to_owned(), parent.to_owned());
    if !state.is_empty() {
        fields.insert("tracestate".to_owned(), state.to_owned());
    }
    let context =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&fields));
    let _ = span.set_parent(context);
}

/// Reads propagation fields from HTTP headers (the server side).
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes propagation fields into gRPC metadata (the client side).
pub struct HeaderInjector<'a>(pub &'a mut MetadataMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The propagator only writes well-formed ASCII keys and values; anything else is
        // dropped rather than failing the call.
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}
