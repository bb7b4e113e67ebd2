//! The counting TCP relay between ferry and the origin: the bytes read from S3, on the wire.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::BUFFER;

/// What the relay carried from the origin to its clients.
#[derive(Default)]
pub(super) struct RelayCounters {
    pub(super) bytes: AtomicU64,
    pub(super) connections: AtomicU64,
    /// When the first and the last byte from the origin passed.
    first_last: Mutex<Option<(Instant, Instant)>>,
}

impl RelayCounters {
    fn carried(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        let now = Instant::now();
        let mut first_last = self.first_last.lock().unwrap_or_else(|e| e.into_inner());
        let first = first_last.map_or(now, |(first, _)| first);
        *first_last = Some((first, now));
    }

    pub(super) fn span(&self) -> Duration {
        let first_last = self.first_last.lock().unwrap_or_else(|e| e.into_inner());
        first_last.map_or(Duration::ZERO, |(first, last)| last - first)
    }
}

/// A TCP relay on a loopback port to `origin`, counting the bytes from the origin.
pub(super) struct Relay {
    pub(super) address: SocketAddr,
    pub(super) counters: Arc<RelayCounters>,
    task: JoinHandle<()>,
}

impl Relay {
    pub(super) async fn start(origin: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let counters = Arc::new(RelayCounters::default());
        let counting = counters.clone();
        let task = tokio::spawn(async move {
            // Dropped with the accept loop when the relay is: every connection ends with it.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                counting.connections.fetch_add(1, Ordering::Relaxed);
                let counting = counting.clone();
                connections.spawn(async move {
                    if let Err(error) = relay(client, origin, &counting).await {
                        eprintln!("ferry-bench: relay: {error}");
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            address,
            counters,
            task,
        })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: TcpStream,
    origin: SocketAddr,
    counters: &RelayCounters,
) -> std::io::Result<()> {
    let upstream = TcpStream::connect(origin).await?;
    client.set_nodelay(true)?;
    upstream.set_nodelay(true)?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let up = async {
        tokio::io::copy(&mut client_read, &mut upstream_write).await?;
        upstream_write.shutdown().await
    };
    let down = async {
        let mut buf = vec![0; BUFFER];
        loop {
            let n = upstream_read.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            counters.carried(n);
            client_write.write_all(&buf[..n]).await?;
        }
        client_write.shutdown().await
    };
    let (up, down) = tokio::join!(up, down);
    up.and(down)
}
