//! One client connection: plain or TLS, upgradable with STARTTLS, and
//! closed when idle too long in either direction.

use crate::limits::ConnectionPermit;
use estafeta_core::config::Service;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while a STARTTLS handshake holds the socket.
    Upgrading,
}

pub struct Connection {
    stream: Stream,
    pub service: Service,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    tls: Option<TlsAcceptor>,
    idle_timeout: Duration,
    read_deadline: Pin<Box<Sleep>>,
    write_deadline: Pin<Box<Sleep>>,
    /// A fixed end for the command being read, which bytes arriving do not
    /// push back: a client dripping a byte at a time stays under the idle
    /// timer for ever, but not under this.
    command_deadline: Option<Pin<Box<Sleep>>>,
    /// Cancelled when the server begins to shut down: a session finishes the
    /// transaction in hand and then says goodbye.
    pub shutdown: CancellationToken,
    _permit: Option<ConnectionPermit>,
}

impl Connection {
    pub(crate) fn new(
        stream: TcpStream,
        service: Service,
        peer: SocketAddr,
        local: SocketAddr,
        tls: Option<TlsAcceptor>,
        idle_timeout: Duration,
        shutdown: CancellationToken,
    ) -> Connection {
        let _ = stream.set_nodelay(true);
        Connection {
            stream: Stream::Plain(stream),
            service,
            peer,
            local,
            tls,
            idle_timeout,
            read_deadline: Box::pin(tokio::time::sleep(idle_timeout)),
            write_deadline: Box::pin(tokio::time::sleep(idle_timeout)),
            command_deadline: None,
            shutdown,
            _permit: None,
        }
    }

    /// Keeps the connection's slot under the limits until it is dropped.
    pub(crate) fn hold(&mut self, permit: ConnectionPermit) {
        self._permit = Some(permit);
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Whether STARTTLS can be offered: TLS is set up and not yet in use.
    pub fn can_start_tls(&self) -> bool {
        self.tls.is_some() && !self.is_tls()
    }

    /// The idle limit for what follows, e.g. RFC 5321 4.5.3.2's longer
    /// DATA timeout, or IMAP IDLE's 30 minutes (RFC 2177).
    pub fn set_idle_timeout(&mut self, timeout: Duration) {
        self.idle_timeout = timeout;
        self.read_deadline.as_mut().reset(Instant::now() + timeout);
        self.write_deadline.as_mut().reset(Instant::now() + timeout);
    }

    /// Sets (or with `None` lifts) a fixed end for reading the command in
    /// progress; reads after it fail with `TimedOut`.
    pub fn set_command_deadline(&mut self, at: Option<Instant>) {
        self.command_deadline = at.map(|at| Box::pin(tokio::time::sleep_until(at)));
    }

    /// Whether a command deadline is set.
    pub fn has_command_deadline(&self) -> bool {
        self.command_deadline.is_some()
    }

    /// Upgrades to TLS (RFC 3207, RFC 9051 6.2.1, RFC 2595). The caller must
    /// drop anything it buffered from before the upgrade: data pipelined
    /// after STARTTLS is an injection attempt (CVE-2011-0411).
    pub async fn start_tls(&mut self) -> io::Result<()> {
        let acceptor = self
            .tls
            .clone()
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "TLS is not configured"))?;
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Upgrading) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "TLS is already active"));
        };
        let tls = tokio::time::timeout(self.idle_timeout, acceptor.accept(tcp))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        self.stream = Stream::Tls(Box::new(tls));
        self.set_idle_timeout(self.idle_timeout);
        Ok(())
    }

    /// TLS from the first byte (RFC 8314).
    pub(crate) async fn accept_implicit_tls(&mut self) -> io::Result<()> {
        self.start_tls().await
    }

    fn timed_out(direction: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connection idle too long ({direction})"),
        )
    }
}

fn upgrading() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection is being upgraded to TLS")
}

impl AsyncRead for Connection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(deadline) = this.command_deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "command not complete in time",
            )));
        }
        let result = match &mut this.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            Stream::Upgrading => return Poll::Ready(Err(upgrading())),
        };
        match result {
            Poll::Ready(outcome) => {
                let deadline = Instant::now() + this.idle_timeout;
                this.read_deadline.as_mut().reset(deadline);
                Poll::Ready(outcome)
            }
            Poll::Pending => {
                ready!(this.read_deadline.as_mut().poll(cx));
                Poll::Ready(Err(Connection::timed_out("read")))
            }
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = match &mut this.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, data),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, data),
            Stream::Upgrading => return Poll::Ready(Err(upgrading())),
        };
        match result {
            Poll::Ready(outcome) => {
                let deadline = Instant::now() + this.idle_timeout;
                this.write_deadline.as_mut().reset(deadline);
                Poll::Ready(outcome)
            }
            Poll::Pending => {
                ready!(this.write_deadline.as_mut().poll(cx));
                Poll::Ready(Err(Connection::timed_out("write")))
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            Stream::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}
