//! The request timeout for unary calls, answering DEADLINE_EXCEEDED.
//!
//! tonic's own `Server::timeout` answers CANCELLED ("Timeout expired") and applies to every
//! method. Here the clock covers only obtaining the response head, and methods listed as
//! streaming are exempt entirely: a client-streaming upload legitimately keeps the handler
//! waiting for its input, and an agent's bidi session lives for hours. Streams are kept
//! honest by HTTP/2 keepalive and their own heartbeats instead.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tower::{Layer, Service};

/// Bounds the time to the response head of non-streaming methods.
#[derive(Debug, Clone)]
pub struct TimeoutLayer {
    timeout: Duration,
    streaming: Arc<HashSet<String>>,
}

impl TimeoutLayer {
    /// `streaming` holds the exempt method paths, `/pkg.Service/Method`.
    pub fn new(timeout: Duration, streaming: Arc<HashSet<String>>) -> Self {
        Self { timeout, streaming }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            inner,
            timeout: self.timeout,
            streaming: self.streaming.clone(),
        }
    }
}

/// The service [`TimeoutLayer`] makes.
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    timeout: Duration,
    streaming: Arc<HashSet<String>>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Timeout<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let exempt = self.streaming.contains(request.uri().path());
        let future = self.inner.call(request);
        if exempt {
            return Box::pin(future);
        }
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, future).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(timeout_secs = timeout.as_secs(), "request timed out");
                    let message = format!("request timed out after {}s", timeout.as_secs());
                    Ok(tonic::Status::deadline_exceeded(message).into_http())
                }
            }
        })
    }
}
