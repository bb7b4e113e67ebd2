//! The baseline: a loopback copy of the bundle to N concurrent clients, each hashing it
//! (sha256) into a synced file of its own, and optionally unpacking it with ferry-bundle.

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::BUFFER;
use super::bundle::hex;

/// Streams the file at `bundle` to `clients` concurrent loopback TCP clients, each hashing
/// what it receives and writing it to a synced file of its own under `dir`, then checking the
/// digest against `sha256` and, when `unpack`, unpacking the file with ferry-bundle (unsynced,
/// as an agent does); returns the wall time from the first connect to the last client's end.
pub(super) async fn loopback_copy(
    bundle: &Path,
    clients: usize,
    dir: &Path,
    sha256: &str,
    unpack: bool,
) -> anyhow::Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let source = bundle.to_owned();
    let server = tokio::spawn(async move {
        let mut senders = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (mut socket, _) = listener.accept().await?;
            let source = source.clone();
            senders.spawn(async move {
                let file = tokio::fs::File::open(&source).await?;
                let mut file = tokio::io::BufReader::with_capacity(BUFFER, file);
                tokio::io::copy_buf(&mut file, &mut socket).await?;
                socket.shutdown().await
            });
        }
        while let Some(sent) = senders.join_next().await {
            sent??;
        }
        anyhow::Ok(())
    });
    let started = Instant::now();
    let mut receivers = tokio::task::JoinSet::new();
    for i in 0..clients {
        let path = dir.join(format!("copy-{i}"));
        let sha256 = sha256.to_owned();
        receivers.spawn(async move {
            let mut socket = TcpStream::connect(address).await?;
            let file = tokio::fs::File::create(&path).await?;
            let mut out = tokio::io::BufWriter::with_capacity(BUFFER, file);
            let mut hasher = Sha256::new();
            let mut buf = vec![0; BUFFER];
            loop {
                let n = socket.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).await?;
            }
            out.flush().await?;
            out.into_inner().sync_all().await?;
            let digest = hex(&hasher.finalize());
            anyhow::ensure!(
                digest == sha256,
                "a loopback client received sha256 {digest}, not {sha256}"
            );
            if unpack {
                // The agent's own unpacking (ferry-bundle), read as the agent reads it.
                tokio::task::spawn_blocking(move || {
                    let file = std::io::BufReader::new(std::fs::File::open(&path)?);
                    ferry_bundle::extract(
                        file,
                        ferry_bundle::BundleType::Tar,
                        &path.with_extension("d"),
                        &ferry_bundle::Limits::default(),
                    )?;
                    anyhow::Ok(())
                })
                .await??;
            }
            anyhow::Ok(())
        });
    }
    while let Some(received) = receivers.join_next().await {
        received??;
    }
    let elapsed = started.elapsed();
    server.await??;
    for i in 0..clients {
        let path = dir.join(format!("copy-{i}"));
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_dir_all(path.with_extension("d"));
    }
    Ok(elapsed)
}
