//! The revisions service's test suite, run against every back end: each test below is one
//! async fn taking a [`support::Backend`], and `backend_tests!` turns it into a SQLite test and
//! a PostgreSQL test. Each test gets a fresh database, the registry and the revisions service
//! served over real gRPC on ephemeral ports, so status codes and ErrorInfo reasons are checked
//! as clients see them.

// The test bodies are plain async fns that `backend_tests!` wraps, so clippy's
// allow-unwrap-in-tests does not see them as tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod bundles;
mod list;
mod register;
mod resolve;
mod s3_blobs;
