//! Estafeta's networking, shared by every protocol: listeners, TLS (implicit
//! and STARTTLS), connection limits and idle timeouts. A protocol crate
//! implements [`Handler`] and receives a ready [`Connection`].

mod connection;
pub mod dns;
pub mod dnssec;
mod limits;
pub mod line_io;
mod listener;
pub mod tls;

pub use connection::Connection;
pub use limits::{ConnectionLimiter, ConnectionPermit, Refusal};
pub use line_io::{Line, LineIo};
pub use listener::{Handler, Listener, ListenerContext, NetError};
pub use tls::{TlsError, TlsSetup};
pub use tokio_util::sync::CancellationToken;
pub use tokio_util::task::TaskTracker;
