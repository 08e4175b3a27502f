//! A client socket for protocol tests: plain TCP or TLS (implicit, or
//! after a STARTTLS-style upgrade), trusting the test server's certificate.

use crate::TestServer;
use estafeta_core::config::Service;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Connects to `service`; the implicit-TLS services get TLS at once.
    pub async fn connect(server: &TestServer, service: Service) -> Stream {
        let tcp = TcpStream::connect(server.addr(service)).await.unwrap();
        if matches!(service, Service::Submissions | Service::Imaps | Service::Pop3s) {
            Stream::tls(server, tcp).await
        } else {
            Stream::Plain(tcp)
        }
    }

    async fn tls(server: &TestServer, tcp: TcpStream) -> Stream {
        let tls = server
            .tls_connector()
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        Stream::Tls(Box::new(tls))
    }

    /// The TLS handshake on a plain connection (after STARTTLS / STLS).
    pub async fn upgrade(self, server: &TestServer) -> Stream {
        match self {
            Stream::Plain(tcp) => Stream::tls(server, tcp).await,
            Stream::Tls(_) => panic!("already TLS"),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, data),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
