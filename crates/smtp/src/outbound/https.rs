//! One HTTP/1.1 exchange over TLS verified for the host's name, for the
//! MTA-STS policy fetch (RFC 8461 3.3) and TLS reports (RFC 8460 5.4):
//! resolve, connect, handshake, send one request, read the whole answer.

use estafeta_net::dns::Resolver;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why an exchange failed: the TLS handshake (the peer's certificate did
/// not verify, RFC 8460 4.3.2 sts-webpki-invalid), or anything else.
pub enum Failure {
    Tls(String),
    Other(String),
}

/// Sends `request` (head and body, as written) to `host:port` and returns
/// at most `max_response` bytes of the answer, all within `timeout`.
pub async fn exchange(
    resolver: &Resolver,
    tls: &Arc<rustls::ClientConfig>,
    host: &str,
    port: u16,
    request: &[u8],
    max_response: usize,
    timeout: Duration,
) -> Result<Vec<u8>, Failure> {
    let other = |error: String| Failure::Other(error);
    let addrs = estafeta_net::dns::addresses(resolver, host).await.map_err(other)?;
    let addr = *addrs.first().ok_or_else(|| other(format!("{host} has no address")))?;
    let work = async {
        let tcp = tokio::net::TcpStream::connect((addr, port))
            .await
            .map_err(|e| other(e.to_string()))?;
        let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| other(e.to_string()))?;
        let mut stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
            .connect(name, tcp)
            .await
            .map_err(|e| Failure::Tls(format!("TLS to {host}: {e}")))?;
        stream.write_all(request).await.map_err(|e| other(e.to_string()))?;
        let mut response = Vec::new();
        (&mut stream)
            .take(max_response as u64)
            .read_to_end(&mut response)
            .await
            .map_err(|e| other(e.to_string()))?;
        Ok(response)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| other(format!("{host}:{port} timed out")))?
}
