//! DownloadBundle over loopback gRPC against a raw TCP copy of the same bytes, in one run.
//!
//! `cargo bench -p ferry-revisions --bench download` stores a 256 MiB random bundle (`--quick`:
//! 16 MiB; `--size-mib N` for any size) in a revisions server that runs in a child process (this
//! binary re-executed with `--serve DIR`), then times, best of three:
//!
//! - gRPC: DownloadBundle, the client reassembling into a sink and computing the sha256;
//! - gRPC without the client's sha256, to separate transport from hashing;
//! - raw TCP: a tokio listener in the same child writing the blob file, a client reading
//!   into a sink;
//! - sha256 alone over the same number of bytes.
//!
//! Each side's peak RSS (VmHWM, reset through /proc/<pid>/clear_refs before each phase) is
//! reported for the client (this process) and the server (the child).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_proto::revision::v1::revision_service_client::RevisionServiceClient;
use ferry_proto::revision::v1::upload_bundle_request::Part;
use ferry_proto::revision::v1::{DownloadBundleRequest, UploadBundleHeader, UploadBundleRequest};
use ferry_revisions::{Revisions, RevisionsConfig};
use futures::StreamExt;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

const MIB: usize = 1 << 20;
const RUNS: usize = 3;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        runtime.block_on(serve(std::path::PathBuf::from(&args[i + 1])));
        return;
    }
    let mib = match args.iter().position(|a| a == "--size-mib") {
        Some(i) => args[i + 1].parse().expect("--size-mib N"),
        None if args.iter().any(|a| a == "--quick") => 16,
        None => 256,
    };
    runtime.block_on(bench(mib));
}

// ---- the server side (child process) ----

/// Serves DownloadBundle and a raw TCP copy of blob files, prints both ports, and answers
/// `reset` / `hwm` / `quit` on stdin.
async fn serve(dir: std::path::PathBuf) {
    let config = RevisionsConfig {
        data_dir: dir.clone(),
        // Not asked: the bundle is uploaded without an application.
        registry_endpoint: "http://127.0.0.1:9".into(),
        ..RevisionsConfig::default()
    };
    let revisions = Revisions::open(&config).await.expect("revisions opens");
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let raw = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!(
        "{} {}",
        grpc.local_addr().unwrap().port(),
        raw.local_addr().unwrap().port()
    );
    let (quit_tx, quit_rx) = tokio::sync::oneshot::channel::<()>();
    let builder = revisions.register(ferry_runtime::server::GrpcServer::builder(&config.server));
    tokio::spawn(async move {
        builder
            .serve(grpc, async {
                let _ = quit_rx.await;
            })
            .await
            .expect("server runs");
    });
    let blobs = dir.join("blobs");
    tokio::spawn(async move {
        loop {
            let (socket, _) = raw.accept().await.unwrap();
            let blobs = blobs.clone();
            tokio::spawn(async move {
                let mut socket = tokio::io::BufReader::new(socket);
                let mut digest = String::new();
                socket.read_line(&mut digest).await.unwrap();
                let digest = digest.trim();
                let path = blobs.join("sha256").join(&digest[..2]).join(digest);
                let file = tokio::fs::File::open(path).await.unwrap();
                let mut file = tokio::io::BufReader::with_capacity(256 * 1024, file);
                let mut socket = socket.into_inner();
                tokio::io::copy_buf(&mut file, &mut socket).await.unwrap();
                socket.shutdown().await.unwrap();
            });
        }
    });
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match line.as_str() {
            "reset" => {
                reset_peak();
                println!("ok");
            }
            "hwm" => println!("{}", peak_kib()),
            _ => break,
        }
    }
    let _ = quit_tx.send(());
}

// ---- peak memory ----

/// Resets VmHWM to the current RSS (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// VmHWM of this process, in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    grpc_port: u16,
    raw_port: u16,
}

impl Server {
    fn start(dir: &std::path::Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--serve")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let line = read_line(&mut stdout);
        let mut ports = line.split_whitespace().map(|p| p.parse().unwrap());
        let (grpc_port, raw_port) = (ports.next().unwrap(), ports.next().unwrap());
        Self {
            child,
            stdin,
            stdout,
            grpc_port,
            raw_port,
        }
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        read_line(&mut self.stdout)
    }

    fn stop(mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line.trim().to_owned()
}

// ---- the client side ----

/// Uploads `mib` MiB of random bytes, generated as they are sent (twice from one seed: first
/// for the expected digest), so the client never holds the bundle; returns the digest.
async fn upload(client: &mut RevisionServiceClient<Channel>, mib: usize) -> String {
    let chunks = move || {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        (0..mib).map(move |_| {
            let mut chunk = vec![0u8; MIB];
            rng.fill_bytes(&mut chunk);
            chunk
        })
    };
    let mut hasher = Sha256::new();
    chunks().for_each(|chunk| hasher.update(&chunk));
    let expected = hex::encode(hasher.finalize());
    let header = UploadBundleHeader {
        bundle_type: 2,
        expected_sha256: expected.clone(),
        ..Default::default()
    };
    let messages = std::iter::once(Part::Header(header))
        .chain(chunks().map(Part::Chunk))
        .map(|part| UploadBundleRequest { part: Some(part) });
    let done = client
        .upload_bundle(futures::stream::iter(messages))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.sha256, expected);
    done.sha256
}

async fn grpc_download(
    client: &mut RevisionServiceClient<Channel>,
    digest: &str,
    hash: bool,
) -> u64 {
    let mut stream = client
        .download_bundle(DownloadBundleRequest {
            sha256: digest.to_owned(),
            offset: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut last = String::new();
    while let Some(message) = stream.next().await {
        let message = message.unwrap();
        total += message.chunk.len() as u64;
        if hash {
            hasher.update(&message.chunk);
        }
        last = message.sha256;
    }
    if hash {
        assert_eq!(
            hex::encode(hasher.finalize()),
            last,
            "reassembled bytes match the digest"
        );
    }
    total
}

async fn raw_download(port: u16, digest: &str) -> u64 {
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    socket.set_nodelay(true).unwrap();
    socket
        .write_all(format!("{digest}\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = socket.read(&mut buf).await.unwrap();
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

/// The best of [`RUNS`] timings.
async fn best<F, Fut>(mut run: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let start = Instant::now();
        std::hint::black_box(run().await);
        best = best.min(start.elapsed());
    }
    best
}

struct Row {
    name: &'static str,
    time: Duration,
    client_kib: Option<u64>,
    server_kib: Option<u64>,
}

async fn bench(mib: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    let channel = Channel::from_shared(format!("http://127.0.0.1:{}", server.grpc_port))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = RevisionServiceClient::new(channel)
        .max_decoding_message_size(16 * MIB)
        .max_encoding_message_size(16 * MIB);
    let digest = upload(&mut client, mib).await;
    let bytes = (mib * MIB) as u64;
    // Warm the page cache and the connection.
    assert_eq!(grpc_download(&mut client, &digest, false).await, bytes);
    assert_eq!(raw_download(server.raw_port, &digest).await, bytes);

    // The same with a tuned client: HTTP/2 receive windows of 8/16 MiB instead of h2's 64 KiB,
    // and DATA frames of up to 1 MiB instead of 16 KiB.
    let wide = Channel::from_shared(format!("http://127.0.0.1:{}", server.grpc_port))
        .unwrap()
        .initial_stream_window_size(Some(8 * MIB as u32))
        .initial_connection_window_size(Some(16 * MIB as u32))
        .max_frame_size(Some(MIB as u32))
        .connect()
        .await
        .unwrap();
    let wide = RevisionServiceClient::new(wide).max_decoding_message_size(16 * MIB);
    assert_eq!(
        grpc_download(&mut wide.clone(), &digest, false).await,
        bytes
    );

    let mut rows = Vec::new();
    let cases = [
        ("gRPC DownloadBundle + sha256", true, &client),
        ("gRPC DownloadBundle, no sha256", false, &client),
        ("gRPC + sha256, tuned client", true, &wide),
        ("gRPC, no sha256, tuned client", false, &wide),
    ];
    for (name, hash, client) in cases {
        server.ask("reset");
        reset_peak();
        let time = best(|| {
            let mut client = client.clone();
            let digest = digest.clone();
            async move { grpc_download(&mut client, &digest, hash).await }
        })
        .await;
        let server_kib = server.ask("hwm").parse().ok();
        rows.push(Row {
            name,
            time,
            client_kib: Some(peak_kib()),
            server_kib,
        });
    }
    server.ask("reset");
    reset_peak();
    let port = server.raw_port;
    let time = best(|| raw_download(port, &digest)).await;
    let server_kib = server.ask("hwm").parse().ok();
    rows.push(Row {
        name: "raw TCP copy",
        time,
        client_kib: Some(peak_kib()),
        server_kib,
    });
    let buffer = vec![7u8; MIB];
    let time = best(|| {
        let buffer = &buffer;
        async move {
            let mut hasher = Sha256::new();
            for _ in 0..mib {
                hasher.update(buffer);
            }
            std::hint::black_box(hasher.finalize());
            bytes
        }
    })
    .await;
    rows.push(Row {
        name: "sha256 alone",
        time,
        client_kib: None,
        server_kib: None,
    });
    server.stop();

    let raw = rows
        .iter()
        .find(|r| r.name == "raw TCP copy")
        .map(|r| r.time)
        .unwrap();
    println!("\nDownloadBundle benchmark: {mib} MiB, loopback, best of {RUNS}");
    println!(
        "{:<34} {:>10} {:>10} {:>12} {:>16} {:>16}",
        "path", "seconds", "MiB/s", "time / raw", "client peak MiB", "server peak MiB"
    );
    let mem =
        |kib: Option<u64>| kib.map_or("-".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0));
    for row in &rows {
        let secs = row.time.as_secs_f64();
        println!(
            "{:<34} {:>10.3} {:>10.0} {:>12.2} {:>16} {:>16}",
            row.name,
            secs,
            mib as f64 / secs,
            secs / raw.as_secs_f64(),
            mem(row.client_kib),
            mem(row.server_kib)
        );
    }
}
