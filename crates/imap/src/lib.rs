//! Estafeta's IMAP server (RFC 9051, with RFC 3501 compatibility).
//!
//! `proto` is the wire format (own, not imap-codec: imap-codec 1.0 is
//! IMAP4rev1-only and lacks UIDPLUS codes and a finished CONDSTORE/QRESYNC),
//! kept apart from session logic and fuzzed. `message` is what IMAP
//! computes from a stored message. `session` is the per-connection state
//! machine; `command` holds one module per command group.

mod command;
pub mod message;
pub mod proto;
mod session;

use async_trait::async_trait;
use estafeta_core::auth::LoginLimiter;
use estafeta_core::config::Config;
use estafeta_core::metrics::Metrics;
use estafeta_core::model::{AccountId, MailboxRole};
use estafeta_net::{Connection, Handler, Refusal};
use estafeta_store::{BlobId, Store};
use message::MessageCache;
pub use session::selected::Snapshots;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// What a user's move of messages between mailboxes teaches the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lesson {
    /// Moved or copied into Junk: the user says it is spam.
    Spam,
    /// Moved out of Junk (not into Trash): the user says it is not; `to`
    /// is the role of where it went, if any.
    Ham { to: Option<MailboxRole> },
    /// Moved from one tab (INBOX, Promotions, Social, Updates) to another.
    Tab { from: MailboxRole, to: MailboxRole },
}

impl Lesson {
    /// The inbox and its tabs.
    pub fn is_tab(role: MailboxRole) -> bool {
        matches!(
            role,
            MailboxRole::Inbox | MailboxRole::Promotions | MailboxRole::Social | MailboxRole::Updates
        )
    }

    /// What moving from a mailbox of role `from` to one of role `to` says.
    pub fn of_move(from: Option<MailboxRole>, to: Option<MailboxRole>) -> Option<Lesson> {
        let junk = |role: Option<MailboxRole>| role == Some(MailboxRole::Junk);
        match (from, to) {
            _ if !junk(from) && junk(to) => Some(Lesson::Spam),
            // Out of Junk into Trash is cleaning up, not a verdict.
            _ if junk(from) && !junk(to) && to != Some(MailboxRole::Trash) => Some(Lesson::Ham { to }),
            (Some(from), Some(to)) if from != to && Lesson::is_tab(from) && Lesson::is_tab(to) => {
                Some(Lesson::Tab { from, to })
            }
            _ => None,
        }
    }
}

/// Told when a user moves or copies mail in a way that teaches the
/// filter (into or out of Junk, between tabs).
#[async_trait]
pub trait Learning: Send + Sync {
    async fn learn(&self, account: AccountId, messages: &[BlobId], lesson: Lesson);
}

/// Learns nothing: the default until a filter is plugged in.
pub struct NoLearning;

#[async_trait]
impl Learning for NoLearning {
    async fn learn(&self, _: AccountId, _: &[BlobId], _: Lesson) {}
}

/// What every IMAP session shares.
pub struct ImapContext {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub logins: Arc<LoginLimiter>,
    pub metrics: Arc<Metrics>,
    pub cache: MessageCache,
    /// Message lists shared by sessions on the same mailbox.
    pub snapshots: Snapshots,
    pub learning: Arc<dyn Learning>,
}

impl ImapContext {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, logins: Arc<LoginLimiter>, metrics: Arc<Metrics>) -> Self {
        ImapContext {
            config,
            store,
            logins,
            metrics,
            cache: MessageCache::new(50_000),
            snapshots: Default::default(),
            learning: Arc::new(NoLearning),
        }
    }
}

pub struct ImapService {
    context: Arc<ImapContext>,
}

impl ImapService {
    pub fn new(context: Arc<ImapContext>) -> Arc<ImapService> {
        Arc::new(ImapService { context })
    }
}

#[async_trait]
impl Handler for ImapService {
    async fn handle(&self, connection: Connection) {
        session::Session::new(connection, Arc::clone(&self.context)).run().await;
    }

    async fn refuse(&self, mut connection: Connection, why: Refusal) {
        // RFC 9051 7.1.5: BYE instead of a greeting; [UNAVAILABLE] (RFC 5530).
        let text = match why {
            Refusal::TooManyFromIp => "Too many connections from your address",
            Refusal::TooManyInAll => "Too busy",
        };
        let line = format!("* BYE [UNAVAILABLE] {text}, try again later\r\n");
        let _ = connection.write_all(line.as_bytes()).await;
        let _ = connection.shutdown().await;
    }
}
