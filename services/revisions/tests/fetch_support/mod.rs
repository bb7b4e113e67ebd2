//! Real components for the fetch tests: a moto S3 server, local HTTP servers that answer as
//! GitHub and Bitbucket document, git repositories made with the git CLI, and tgz archives.

pub mod moto;
pub mod repo;
pub mod web;

use std::future::Future;
use std::io::Read;
use std::time::Duration;

use ferry_revisions::fetch::{FetchError, Fetched};
use futures::TryStreamExt;
use tokio::time::Instant;

/// Polls `check` until it gives a value, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The whole body of a fetch.
pub async fn read_all(fetched: Fetched) -> Result<Vec<u8>, FetchError> {
    let chunks: Vec<bytes::Bytes> = fetched.body.try_collect().await?;
    Ok(chunks.concat())
}

/// A tgz with the given files under one top folder, as GitHub and Bitbucket serve a commit.
pub fn tgz(top: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("{top}/{path}"), content.as_bytes())
            .expect("tar entry");
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .expect("tgz finishes")
}

/// The files of a tar (or, with `gzip`, a tgz): path and content.
pub fn entries(archive: &[u8], gzip: bool) -> Vec<(String, String)> {
    let reader: Box<dyn Read + '_> = if gzip {
        Box::new(flate2::read::GzDecoder::new(archive))
    } else {
        Box::new(archive)
    };
    let mut tar = tar::Archive::new(reader);
    let mut files = Vec::new();
    for entry in tar.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        if entry.header().entry_type().is_file() {
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let mut content = String::new();
            entry.read_to_string(&mut content).expect("utf-8 content");
            files.push((path, content));
        }
    }
    files.sort();
    files
}

/// A free TCP port on 127.0.0.1 (for servers that must be told their port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
