//! One SMTP session: a small state machine over the command stream.
//! What each command does lives in `command/`; this holds the state and
//! the loop, and enforces what applies to every command.

mod io;
pub mod spool;

pub use io::{Line, SessionIo, SmtpIo};

use crate::proto::{MailParams, ParseError, Reply, ReversePath, parse_command};
use crate::{Mode, SmtpContext};
use estafeta_core::model::AccountId;
use std::sync::Arc;

pub struct Helo {
    pub name: String,
    /// EHLO (ESMTP) rather than HELO.
    pub extended: bool,
}

pub struct Authenticated {
    /// The account's normalised address.
    pub address: String,
}

/// Where one accepted recipient's copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Local(AccountId),
    /// An address elsewhere an authenticated user sends to (relaying).
    Remote(String),
    /// An address elsewhere one of our aliases forwards to: filtered like
    /// local mail, and sent on with an SRS envelope sender.
    Forward(String),
    /// The original sender an SRS address of ours names: a bounce of mail
    /// we forwarded, passed back.
    Returned(String),
    /// A VERP return path of ours: a bounce (or a reply) about a message
    /// we sent, for the deliverability ledger.
    Bounce(estafeta_store::DeliveryRecord),
}

pub struct Recipient {
    /// As the client gave it (canonical wire form).
    pub address: String,
    pub target: Target,
    pub params: crate::proto::RcptParams,
}

/// A mail transaction, from MAIL to the end of DATA or BDAT LAST.
pub struct Transaction {
    pub from: ReversePath,
    pub params: MailParams,
    pub recipients: Vec<Recipient>,
    /// Chunks so far when BDAT is in use (RFC 3030).
    pub chunks: Option<spool::Spool>,
}

pub enum Flow {
    Continue,
    Close,
}

pub struct Session {
    pub io: SessionIo,
    pub context: Arc<SmtpContext>,
    pub mode: Mode,
    pub helo: Option<Helo>,
    pub auth: Option<Authenticated>,
    pub transaction: Option<Transaction>,
    errors: u32,
}

impl Session {
    pub fn new(connection: estafeta_net::Connection, context: Arc<SmtpContext>, mode: Mode) -> Session {
        let mut io = SessionIo::new(connection);
        io.set_command_time(Some(context.config.limits.command_time));
        Session {
            io,
            context,
            mode,
            helo: None,
            auth: None,
            transaction: None,
            errors: 0,
        }
    }

    /// RFC 8314 / RFC 4954 4: passwords only over TLS, unless configured.
    pub fn password_allowed(&self) -> bool {
        self.io.connection.is_tls() || self.context.config.auth.allow_plaintext
    }

    pub fn hostname(&self) -> &str {
        &self.context.config.hostname
    }

    /// Queues a reply; too many errors end the session (421). Only
    /// permanent (5xx) replies count: a 452 for recipients past the limit
    /// is the client's cue to send them later, and counting those would cut
    /// off a legitimate sender before its DATA, every time it retried.
    pub fn reply(&mut self, reply: Reply) -> Flow {
        let error = reply.code >= 500;
        self.io.reply(&reply);
        if error {
            self.errors += 1;
            if self.errors >= self.context.config.smtp.max_errors {
                let text = format!("{} Too many errors, closing connection", self.hostname());
                self.io.reply(&Reply::new(421, "4.7.0", text));
                return Flow::Close;
            }
        }
        Flow::Continue
    }

    pub async fn run(mut self) {
        self.io
            .connection
            .set_idle_timeout(self.context.config.smtp.command_timeout);
        let greeting = format!("{} ESMTP Estafeta", self.hostname());
        self.io.reply(&Reply::plain(220, vec![greeting]));
        let shutdown = self.io.connection.shutdown.clone();
        loop {
            let idle = !self.io.has_buffered_input();
            let line = tokio::select! {
                line = self.io.read_command() => line,
                // RFC 5321 3.8: on shutdown, 421 at the next command boundary.
                _ = shutdown.cancelled(), if idle => {
                    let text = format!("{} Service shutting down", self.hostname());
                    self.io.reply(&Reply::new(421, "4.3.2", text));
                    break;
                }
            };
            let flow = match line {
                Ok(Line::Text(line)) => self.command(&line).await,
                Ok(Line::TooLong) => self.reply(Reply::new(500, "5.5.6", "Command line too long")),
                Err(error) => {
                    if error.kind() == std::io::ErrorKind::TimedOut {
                        let text = format!("{} Timeout, closing connection", self.hostname());
                        self.io.reply(&Reply::new(421, "4.4.2", text));
                        let _ = self.io.flush().await;
                    }
                    return;
                }
            };
            if let Flow::Close = flow {
                break;
            }
        }
        let _ = self.io.flush().await;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut self.io.connection).await;
    }

    async fn command(&mut self, line: &[u8]) -> Flow {
        match parse_command(line) {
            Ok(command) => crate::command::dispatch(self, command).await,
            Err(error) => {
                let reply = match error {
                    ParseError::Unknown => Reply::new(500, "5.5.1", "Command not recognized"),
                    ParseError::Syntax(why) => Reply::new(501, "5.5.4", format!("Syntax error: {why}")),
                    ParseError::BadSender(why) => Reply::new(501, "5.1.7", format!("Bad sender address: {why}")),
                    ParseError::BadRecipient(why) => Reply::new(501, "5.1.3", format!("Bad recipient address: {why}")),
                    ParseError::UnknownParameter(name) => {
                        Reply::new(555, "5.5.4", format!("Parameter {name} not recognized"))
                    }
                    ParseError::BadParameter(why) => Reply::new(501, "5.5.4", format!("Bad parameter: {why}")),
                    ParseError::TooLong => Reply::new(500, "5.5.6", "Command line too long"),
                    ParseError::BadBytes => Reply::new(500, "5.5.2", "Invalid characters in command"),
                };
                self.reply(reply)
            }
        }
    }
}
