//! Connections to the orchestrator and the revisions service, with the agent's TLS settings.

use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::config::TlsConfig;

/// An endpoint for `uri` with ferry's transport settings (keepalive pings so a dead peer under
/// the long-lived session is noticed), and TLS from `tls` for `https://` URIs.
pub fn endpoint(uri: &str, tls: &TlsConfig) -> anyhow::Result<Endpoint> {
    let mut endpoint = ferry_runtime::telemetry::endpoint(uri)?;
    if uri.starts_with("https://") {
        let mut config = ClientTlsConfig::new();
        config = match &tls.ca_file {
            Some(path) => config.ca_certificate(Certificate::from_pem(read(path, "tls.ca_file")?)),
            None => config.with_native_roots(),
        };
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            config = config.identity(Identity::from_pem(
                read(cert, "tls.cert_file")?,
                read(key, "tls.key_file")?,
            ));
        }
        if let Some(name) = &tls.domain_name {
            config = config.domain_name(name.clone());
        }
        endpoint = endpoint.tls_config(config)?;
    }
    Ok(endpoint)
}

/// A channel for bulk downloads: its own HTTP/2 connection (so a bundle never queues the
/// session's heartbeats behind flow control) with wide windows, which measured 1.5–2× faster
/// than the defaults for large bundles.
pub fn download_channel(uri: &str, tls: &TlsConfig) -> anyhow::Result<Channel> {
    Ok(endpoint(uri, tls)?
        .initial_stream_window_size(8 << 20)
        .initial_connection_window_size(16 << 20)
        .timeout(Duration::from_secs(24 * 3600))
        .connect_lazy())
}

fn read(path: &std::path::Path, key: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("{key} {}: {e}", path.display()))
}
