//! Binding a server's listening socket.
//!
//! A fleet of agents reconnects all at once after an orchestrator restart. With the default
//! backlog of 128 (tokio's and std's), the kernel drops the SYNs that overflow the accept
//! queue and each such client waits a full 1 s retransmission before trying again. A deeper
//! queue absorbs the storm; the kernel still caps it at `net.core.somaxconn`.

use std::io;

use tokio::net::{TcpListener, TcpSocket};

/// Pending connections the kernel may queue before the server accepts them.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `address` (`HOST:PORT`; port 0 picks a free one), trying each address the host
/// resolves to, and listens with [`LISTEN_BACKLOG`].
pub async fn bind(address: &str) -> io::Result<TcpListener> {
    let mut last_error = None;
    for addr in tokio::net::lookup_host(address).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As std and tokio do: a restarted server can bind while old connections linger.
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{address} resolves to no address"),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_a_free_port_and_accepts() {
        let listener = bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert_ne!(addr.port(), 0);
        let (connected, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        connected.unwrap();
        accepted.unwrap();
    }

    #[tokio::test]
    async fn a_taken_port_is_an_error() {
        let taken = bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        assert_eq!(
            bind(&addr).await.unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
    }

    #[tokio::test]
    async fn a_name_without_addresses_is_an_error() {
        assert!(bind("no-such-host.invalid:1").await.is_err());
    }
}
