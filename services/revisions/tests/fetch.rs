//! `ferry_revisions::fetch` against real components: a moto S3 server, local servers that
//! answer as GitHub's and Bitbucket's documented endpoints, and git repositories made with
//! the git CLI. One test binary (cases in tests/fetch/), so the helpers are built once.

#[path = "fetch_support/mod.rs"]
mod support;

#[path = "fetch/git.rs"]
mod git;
#[path = "fetch/github.rs"]
mod github;
#[path = "fetch/origin.rs"]
mod origin;
#[path = "fetch/s3.rs"]
mod s3;
