//! The tower stack in front of every ferry service, built in one place: [`stack`].

mod load_shed;
mod timeout;
mod trace;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tower::ServiceBuilder;
use tower::layer::util::{Identity, Stack};
use tower::limit::ConcurrencyLimitLayer;

use crate::config::ServerConfig;

pub use load_shed::{LoadShed, LoadShedLayer};
pub use timeout::{Timeout, TimeoutLayer};
pub use trace::{Trace, TraceLayer};

/// The layers, outermost first, as `Server::layer` takes them.
pub type ServerStack = Stack<
    TimeoutLayer,
    Stack<ConcurrencyLimitLayer, Stack<LoadShedLayer, Stack<TraceLayer, Identity>>>,
>;

/// Builds the stack. `streaming` holds the paths (`/pkg.Service/Method`) of streaming methods,
/// which the request timeout leaves alone.
///
/// A request passes, in order:
/// 1. [`TraceLayer`]: outermost, so every request gets its span, even one refused below, and
///    that span is parented on the caller's `traceparent` before anything else logs.
/// 2. [`LoadShedLayer`]: just outside the limit, so when the limit has no permit left the
///    request is answered UNAVAILABLE at once (clients retry elsewhere or back off) instead of
///    waiting in an invisible queue. When `load_shed` is off it passes through and requests
///    wait for a permit.
/// 3. `ConcurrencyLimitLayer`: applied once here and cloned per connection and request, so all
///    clones share one semaphore and the limit is server-wide, not per connection. A permit is
///    held until the response head is sent: a stream open for hours does not hold one.
/// 4. [`TimeoutLayer`]: innermost, so it measures the handler only (time spent waiting for a
///    permit is bounded by load shedding or by the client's own deadline) and answers
///    DEADLINE_EXCEEDED. It covers obtaining the response head of unary calls only.
///
/// Every layer answers with a gRPC status in a normal response, never an error, so a client
/// sees UNAVAILABLE or DEADLINE_EXCEEDED rather than a reset stream or an HTTP 500.
pub fn stack(
    config: &ServerConfig,
    streaming: Arc<HashSet<String>>,
) -> ServiceBuilder<ServerStack> {
    ServiceBuilder::new()
        .layer(TraceLayer)
        .layer(LoadShedLayer::new(config.load_shed))
        .layer(ConcurrencyLimitLayer::new(config.concurrency_limit))
        .layer(TimeoutLayer::new(
            Duration::from_secs(config.request_timeout_secs),
            streaming,
        ))
}
