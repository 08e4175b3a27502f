//! Accept loops: one per listener, each connection in its own task, all
//! tracked so shutdown can wait for sessions in flight.

use crate::connection::Connection;
use crate::limits::{ConnectionLimiter, Refusal};
use async_trait::async_trait;
use estafeta_core::config::Service;
use estafeta_core::metrics::{Gauge, Metrics};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What a protocol does with a connection.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, connection: Connection);

    /// A connection over the limits: say so in the protocol's words (e.g.
    /// SMTP `421 4.7.0`) and close. The default just closes.
    async fn refuse(&self, connection: Connection, why: Refusal) {
        let _ = (connection, why);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot listen for {service} on {addr}: {source}")]
    Bind {
        service: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What every listener of one server shares.
#[derive(Clone)]
pub struct ListenerContext {
    pub limiter: Arc<ConnectionLimiter>,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    pub idle_timeout: Duration,
    pub tls: Option<TlsAcceptor>,
}

pub struct Listener {
    service: Service,
    socket: TcpListener,
    addr: SocketAddr,
}

impl Listener {
    pub async fn bind(service: Service, addr: SocketAddr) -> Result<Listener, NetError> {
        let bind_error = |source| NetError::Bind {
            service: service.name(),
            addr,
            source,
        };
        let socket = TcpListener::bind(addr).await.map_err(bind_error)?;
        let addr = socket.local_addr().map_err(bind_error)?;
        Ok(Listener { service, socket, addr })
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// For services with their own server loop (HTTP via axum).
    pub fn into_tokio(self) -> TcpListener {
        self.socket
    }

    /// Runs the accept loop until `context.shutdown` is cancelled.
    pub fn spawn(self, handler: Arc<dyn Handler>, context: ListenerContext) {
        let tracker = context.tracker.clone();
        tracker.spawn(self.accept_loop(handler, context));
    }

    async fn accept_loop(self, handler: Arc<dyn Handler>, context: ListenerContext) {
        let name = self.service.name();
        let accepted = context.metrics.counter(
            "estafeta_connections_total",
            "Connections accepted, per listener.",
            &[("listener", name)],
        );
        let open = context.metrics.gauge(
            "estafeta_connections_open",
            "Connections open now, per listener.",
            &[("listener", name)],
        );
        loop {
            let (stream, peer) = tokio::select! {
                _ = context.shutdown.cancelled() => break,
                result = self.socket.accept() => match result {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Out of descriptors and the like: back off, don't spin.
                        tracing::warn!(listener = name, %error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            accepted.inc();
            let peer = canonical(peer);
            let permit = context.limiter.acquire(peer.ip());
            // Implicit-TLS listeners need it at once; the others for STARTTLS.
            let tls = if self.service == Service::Http {
                None
            } else {
                context.tls.clone()
            };
            let mut connection = Connection::new(
                stream,
                self.service,
                peer,
                self.addr,
                tls,
                context.idle_timeout,
                context.shutdown.child_token(),
            );
            let handler = Arc::clone(&handler);
            let implicit = self.service.implicit_tls();
            match permit {
                Err(why) => {
                    let labels = [("listener", name), ("reason", why.label())];
                    context
                        .metrics
                        .counter(
                            "estafeta_connections_refused_total",
                            "Connections refused by limits.",
                            &labels,
                        )
                        .inc();
                    tracing::info!(listener = name, %peer, reason = why.label(), "connection refused");
                    context.tracker.spawn(async move {
                        if implicit && connection.accept_implicit_tls().await.is_err() {
                            return;
                        }
                        let _ = tokio::time::timeout(Duration::from_secs(10), handler.refuse(connection, why)).await;
                    });
                }
                Ok(permit) => {
                    connection.hold(permit);
                    let open = OpenGuard::new(open.clone());
                    context.tracker.spawn(async move {
                        let _open = open;
                        if implicit && let Err(error) = connection.accept_implicit_tls().await {
                            tracing::debug!(listener = name, %peer, %error, "TLS handshake failed");
                            return;
                        }
                        handler.handle(connection).await;
                    });
                }
            }
        }
        tracing::debug!(listener = name, "stopped accepting");
    }
}

/// Counts a connection as open for as long as it lives.
struct OpenGuard(Gauge);

impl OpenGuard {
    fn new(gauge: Gauge) -> OpenGuard {
        gauge.inc();
        OpenGuard(gauge)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// An IPv4 client on a dual-stack socket shows as `::ffff:a.b.c.d`; limits
/// and logs should see the IPv4 address.
fn canonical(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())),
            None => peer,
        },
        v4 => v4,
    }
}
