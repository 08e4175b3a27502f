//! One POP3 connection: the AUTHORIZATION and TRANSACTION states of RFC
//! 1939 (UPDATE is what QUIT does on its way out). Commands are carried
//! out by the modules under `command`; this module reads lines, answers
//! pipelined batches in one write (RFC 2449 6.6) and makes sure a session
//! that ends any way but QUIT changes nothing and lets go of its lock.

use crate::Pop3Context;
use crate::command;
use crate::maildrop::Maildrop;
use crate::proto::{self, Code, MAX_LINE, ParseError};
use estafeta_net::{Connection, Line, LineIo};
use estafeta_store::Account;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

/// An authenticated session's hold on its maildrop.
pub struct Transaction {
    pub account: Account,
    pub maildrop: Maildrop,
    holder: String,
    renewed: Instant,
}

pub enum State {
    /// RFC 1939 4; `user` is the name a USER command gave.
    Authorization {
        user: Option<String>,
    },
    Transaction(Box<Transaction>),
}

pub struct Session {
    pub context: Arc<Pop3Context>,
    pub io: LineIo,
    pub state: State,
    /// RFC 6856 3: the client said UTF8.
    pub utf8: bool,
    /// Errors in a row: a client that only sends garbage is let go.
    errors: u32,
}

const MAX_ERRORS: u32 = 20;
/// Replies waiting past this size are sent even while commands are queued.
const FLUSH_AT: usize = 256 * 1024;

impl Session {
    pub fn new(connection: Connection, context: Arc<Pop3Context>) -> Session {
        let mut io = LineIo::new(connection);
        io.set_command_time(Some(context.config.limits.command_time));
        Session {
            context,
            io,
            state: State::Authorization { user: None },
            utf8: false,
            errors: 0,
        }
    }

    pub fn ok(&mut self, text: &str) -> Flow {
        self.errors = 0;
        proto::ok(self.io.out(), text);
        Flow::Continue
    }

    pub fn err(&mut self, code: Option<Code>, text: &str) -> Flow {
        self.errors += 1;
        proto::err(self.io.out(), code, text);
        Flow::Continue
    }

    pub fn tls_active(&self) -> bool {
        self.io.connection.is_tls()
    }

    /// Passwords only over TLS unless the operator allows otherwise (RFC
    /// 2595 2.2, and our security default).
    pub fn password_allowed(&self) -> bool {
        self.tls_active() || self.context.config.auth.allow_plaintext
    }

    /// How long a maildrop lock lasts unless renewed: past the idle limit,
    /// so a live session always renews in time, and short enough that a
    /// crashed node's lock does not shut the user out for long.
    pub fn lock_lease(&self) -> Duration {
        self.context.config.limits.pop3_idle_timeout + Duration::from_secs(60)
    }

    /// Enters the TRANSACTION state holding the maildrop's lock.
    pub fn enter_transaction(&mut self, account: Account, maildrop: Maildrop, holder: String) {
        // RFC 1939 3: a logged-in session's autologout timer is at least
        // 10 minutes.
        let idle = self.context.config.limits.pop3_idle_timeout;
        self.io.connection.set_idle_timeout(idle);
        self.state = State::Transaction(Box::new(Transaction {
            account,
            maildrop,
            holder,
            renewed: Instant::now(),
        }));
    }

    pub fn holder(&self) -> String {
        self.context.holder()
    }

    pub async fn run(mut self) {
        proto::ok(self.io.out(), "Estafeta POP3 server ready");
        let shutdown = self.io.connection.shutdown.clone();
        loop {
            let line = tokio::select! {
                line = self.io.read_line(MAX_LINE) => line,
                _ = shutdown.cancelled() => {
                    proto::err(self.io.out(), Some(Code::SysTemp), "Server shutting down; nothing was deleted");
                    break;
                }
            };
            let flow = match line {
                Ok(Line::Text(line)) => self.command(&line).await,
                Ok(Line::TooLong) => self.err(None, "Line too long"),
                Err(error) => {
                    if error.kind() == std::io::ErrorKind::TimedOut {
                        // RFC 1939 3: the autologout timer ends the session
                        // without entering UPDATE.
                        proto::err(
                            self.io.out(),
                            None,
                            "Autologout; idle for too long, nothing was deleted",
                        );
                    }
                    break;
                }
            };
            if flow == Flow::Close {
                break;
            }
            // A long pipelined run of RETRs must not pile every message up
            // in memory before the first is sent.
            if self.io.out().len() > FLUSH_AT && self.io.flush().await.is_err() {
                break;
            }
            if self.errors > MAX_ERRORS {
                proto::err(self.io.out(), None, "Too many errors; closing");
                break;
            }
        }
        let _ = self.io.flush().await;
        self.release().await;
    }

    async fn command(&mut self, line: &[u8]) -> Flow {
        let command = match proto::parse(line) {
            Ok(command) => command,
            Err(ParseError::Unknown) => return self.err(None, "Unknown command"),
            Err(ParseError::Syntax(why)) => return self.err(None, why),
        };
        if let Err(flow) = self.renew_lock().await {
            return flow;
        }
        command::execute(self, command).await
    }

    /// Keeps the maildrop lock alive while the session is; a session that
    /// lost it (its lease ran out, say while the node was frozen) must stop.
    async fn renew_lock(&mut self) -> Result<(), Flow> {
        let lease = self.lock_lease();
        let State::Transaction(transaction) = &mut self.state else {
            return Ok(());
        };
        if transaction.renewed.elapsed() < lease / 4 {
            return Ok(());
        }
        let renewed = self
            .context
            .store
            .maildrop_lock(transaction.account.id, &transaction.holder, lease)
            .await;
        match renewed {
            Ok(true) => {
                transaction.renewed = Instant::now();
                Ok(())
            }
            Ok(false) => {
                proto::err(
                    self.io.out(),
                    Some(Code::InUse),
                    "Maildrop lock lost; nothing was deleted",
                );
                Err(Flow::Close)
            }
            Err(error) => {
                tracing::warn!(%error, "could not renew a maildrop lock");
                Ok(())
            }
        }
    }

    /// Lets go of the maildrop lock, if held, and leaves TRANSACTION.
    pub async fn release(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Authorization { user: None });
        if let State::Transaction(transaction) = state
            && let Err(error) = self
                .context
                .store
                .maildrop_unlock(transaction.account.id, &transaction.holder)
                .await
        {
            tracing::warn!(%error, "could not release a maildrop lock; it will expire");
        }
    }
}
