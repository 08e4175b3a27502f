//! Estafeta's SMTP server: MX (port 25) and submission (587 STARTTLS, 465
//! implicit TLS), delivering into the store and handing remote mail to the
//! outbound queue, whose delivery (`outbound`) is here too.

mod authcheck;
mod command;
mod delivery;
pub(crate) mod filtering;
pub mod outbound;
mod policy;
pub mod proto;
mod session;
pub mod submit;

pub use session::spool::clear as clear_spool;

use async_trait::async_trait;
use estafeta_core::auth::LoginLimiter;
use estafeta_core::config::{Config, Service};
use estafeta_core::metrics::Metrics;
use estafeta_net::dns::Resolver;
use estafeta_net::{Connection, Handler, Refusal};
use estafeta_store::Store;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// What every SMTP session shares.
pub struct SmtpContext {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub logins: Arc<LoginLimiter>,
    pub metrics: Arc<Metrics>,
    /// The one resolver; `None` turns sender verification off.
    pub resolver: Option<Resolver>,
    /// Told when mail is queued, so delivery starts at once.
    pub queue_wake: Arc<tokio::sync::Notify>,
    /// Scores and files inbound mail; `None` files everything in INBOX.
    pub filter: Option<Arc<estafeta_filter::Filter>>,
    /// Bounces, suppression and sending limits; `None` sends without them.
    pub ledger: Option<Arc<estafeta_deliverability::ledger::Ledger>>,
}

/// The MX port and the submission ports differ in who may do what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Mail from other servers, for our users only; no AUTH.
    Mx,
    /// Our users sending; AUTH (over TLS) before anything else.
    Submission,
}

pub struct SmtpService {
    context: Arc<SmtpContext>,
    mode: Mode,
}

impl SmtpService {
    pub fn new(context: Arc<SmtpContext>, service: Service) -> Arc<SmtpService> {
        let mode = match service {
            Service::Submission | Service::Submissions => Mode::Submission,
            _ => Mode::Mx,
        };
        Arc::new(SmtpService { context, mode })
    }
}

#[async_trait]
impl Handler for SmtpService {
    async fn handle(&self, connection: Connection) {
        session::Session::new(connection, Arc::clone(&self.context), self.mode)
            .run()
            .await;
    }

    async fn refuse(&self, mut connection: Connection, why: Refusal) {
        // RFC 5321 3.8: 421 tells the client to try again later.
        let text = match why {
            Refusal::TooManyFromIp => "Too many connections from your address",
            Refusal::TooManyInAll => "Too busy",
        };
        let line = format!("421 4.7.0 {} {text}, try again later\r\n", self.context.config.hostname);
        let _ = connection.write_all(line.as_bytes()).await;
        let _ = connection.shutdown().await;
    }
}
