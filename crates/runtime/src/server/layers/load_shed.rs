//! Load shedding that answers UNAVAILABLE instead of an error.
//!
//! tower's `LoadShed` fails with an `Overloaded` error, which tonic turns into
//! RESOURCE_EXHAUSTED ("too many active requests for the connection"). A server that is full
//! right now is UNAVAILABLE in gRPC terms: retryable, and clients with retry policies do so.

use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use tower::{Layer, Service};

/// Refuses a request at once when the inner service is not ready (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct LoadShedLayer {
    enabled: bool,
}

impl LoadShedLayer {
    /// `enabled = false` passes every request through (it then waits for readiness).
    pub fn new(enabled: bool) -> Self {
        Self { enabled }
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShed {
            inner,
            enabled: self.enabled,
            overloaded: false,
        }
    }
}

/// The service [`LoadShedLayer`] makes.
#[derive(Debug)]
pub struct LoadShed<S> {
    inner: S,
    enabled: bool,
    /// Set by `poll_ready` when the inner service was not ready; the next `call` is refused.
    overloaded: bool,
}

impl<S: Clone> Clone for LoadShed<S> {
    fn clone(&self) -> Self {
        // Readiness belongs to one instance; a clone starts fresh.
        Self {
            inner: self.inner.clone(),
            enabled: self.enabled,
            overloaded: false,
        }
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for LoadShed<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<S::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if !self.enabled {
            return self.inner.poll_ready(cx);
        }
        match self.inner.poll_ready(cx) {
            Poll::Pending => {
                self.overloaded = true;
                Poll::Ready(Ok(()))
            }
            ready => {
                self.overloaded = false;
                ready
            }
        }
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        if self.overloaded {
            self.overloaded = false;
            tracing::debug!(path = request.uri().path(), "overloaded; request shed");
            let status = tonic::Status::unavailable("server is overloaded, retry later");
            return Either::Left(ready(Ok(status.into_http())));
        }
        Either::Right(self.inner.call(request))
    }
}
