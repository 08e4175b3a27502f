//! Estafeta's POP3 server (RFC 1939) with CAPA and response codes (RFC
//! 2449, RFC 3206), STLS (RFC 2595), SASL (RFC 5034) and UTF8 (RFC 6856).
//!
//! `proto` is the wire format, fuzzed on its own; `maildrop` is the view of
//! an account's mail a session works on; `session` is the per-connection
//! state machine and `command` holds one module per command group.

mod command;
pub mod maildrop;
pub mod proto;
mod session;

use async_trait::async_trait;
use estafeta_core::auth::LoginLimiter;
use estafeta_core::config::Config;
use estafeta_core::metrics::Metrics;
use estafeta_core::model::AccountId;
use estafeta_net::{Connection, Handler, Refusal};
use estafeta_store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::io::AsyncWriteExt;

/// What every POP3 session shares.
pub struct Pop3Context {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub logins: Arc<LoginLimiter>,
    pub metrics: Arc<Metrics>,
    /// When each account last logged in, for LOGIN-DELAY (RFC 2449 6.8).
    last_login: Mutex<HashMap<AccountId, Instant>>,
    /// Names this process among the holders of maildrop locks.
    node: u64,
    sessions: AtomicU64,
}

impl Pop3Context {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, logins: Arc<LoginLimiter>, metrics: Arc<Metrics>) -> Self {
        Pop3Context {
            config,
            store,
            logins,
            metrics,
            last_login: Mutex::new(HashMap::new()),
            node: rand::random(),
            sessions: AtomicU64::new(0),
        }
    }

    /// A maildrop lock holder name no other session on any node uses.
    fn holder(&self) -> String {
        format!("{:016x}-{}", self.node, self.sessions.fetch_add(1, Ordering::Relaxed))
    }

    /// Records a login of `account` now, unless the last one was less than
    /// LOGIN-DELAY ago: then the seconds left to wait.
    fn login_delay(&self, account: AccountId) -> Result<(), u64> {
        let delay = self.config.pop3.login_delay;
        let now = Instant::now();
        let mut last = self.last_login.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if delay > 0
            && let Some(previous) = last.get(&account)
        {
            let since = now.duration_since(*previous).as_secs();
            if since < delay {
                return Err(delay - since);
            }
        }
        if last.len() > 100_000 {
            last.retain(|_, at| now.duration_since(*at).as_secs() < delay);
        }
        last.insert(account, now);
        Ok(())
    }
}

pub struct Pop3Service {
    context: Arc<Pop3Context>,
}

impl Pop3Service {
    pub fn new(context: Arc<Pop3Context>) -> Arc<Pop3Service> {
        Arc::new(Pop3Service { context })
    }
}

#[async_trait]
impl Handler for Pop3Service {
    async fn handle(&self, connection: Connection) {
        session::Session::new(connection, Arc::clone(&self.context)).run().await;
    }

    async fn refuse(&self, mut connection: Connection, why: Refusal) {
        // RFC 2449 8: [SYS/TEMP] says "try again later" to the client.
        let text = match why {
            Refusal::TooManyFromIp => "Too many connections from your address",
            Refusal::TooManyInAll => "Too busy",
        };
        let line = format!("-ERR [SYS/TEMP] {text}, try again later\r\n");
        let _ = connection.write_all(line.as_bytes()).await;
        let _ = connection.shutdown().await;
    }
}
