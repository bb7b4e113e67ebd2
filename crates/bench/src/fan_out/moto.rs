//! The S3 origin: a moto server started for the scenario, and the upload of the bundle to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::AsyncReadExt;

use super::{BUFFER, MOTO_START};

/// A moto S3 server on a free loopback port, killed when dropped.
pub(super) struct Moto {
    pub(super) address: SocketAddr,
    child: Child,
}

impl Moto {
    /// `$FERRY_VENV/bin/moto_server`, else the repository's `.venv` (scripts/install-tools.sh).
    pub(super) async fn start() -> anyhow::Result<Self> {
        let venv = std::env::var_os("FERRY_VENV").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
            PathBuf::from,
        );
        let server = venv.join("bin/moto_server");
        anyhow::ensure!(
            server.exists(),
            "{} is missing: run scripts/install-tools.sh (or set FERRY_VENV)",
            server.display()
        );
        let address = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            listener.local_addr()?
        };
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &address.port().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", server.display()))?;
        let mut moto = Self { address, child };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + MOTO_START;
        while http.get(moto.endpoint()).send().await.is_err() {
            if let Some(status) = moto.child.try_wait()? {
                anyhow::bail!("moto_server exited with {status}");
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "moto did not answer within {MOTO_START:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(moto)
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Creates `bucket` and puts the file at `path` at `key`, as plain path-style requests
    /// (moto does not check signatures), streamed from the file.
    pub(super) async fn put(
        &self,
        bucket: &str,
        key: &str,
        path: &Path,
        size: u64,
    ) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let url = format!("{}/{bucket}", self.endpoint());
        let created = http.put(&url).send().await?;
        anyhow::ensure!(
            created.status().is_success(),
            "moto: create bucket: {}",
            created.status()
        );
        let file = tokio::fs::File::open(path).await?;
        let chunks = futures::stream::unfold(file, |mut file| async move {
            let mut buf = vec![0; BUFFER];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(buf), file))
                }
                Err(error) => Some((Err(error), file)),
            }
        });
        let put = http
            .put(format!("{url}/{key}"))
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await?;
        anyhow::ensure!(
            put.status().is_success(),
            "moto: put object: {}",
            put.status()
        );
        Ok(())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
