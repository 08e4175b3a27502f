//! One IMAP connection: the state machine of RFC 9051 3 (not
//! authenticated, authenticated, selected, logout). Commands are carried
//! out by the modules under `command`; this module reads them, checks that
//! they are allowed in the current state and sends the untagged updates
//! the RFC allows before each tagged reply.

pub mod io;
pub mod names;
pub mod selected;

use crate::ImapContext;
use crate::command;
use crate::proto::response::{self, Code, Status};
use crate::proto::{Command, CommandBody, FrameError, Framer, Limits, ParseError, parse_command};
use estafeta_core::bus::Change;
use estafeta_store::{Account, StoreError};
use io::{ImapIo, Input};
use selected::Selected;
use std::sync::Arc;
use tokio::sync::broadcast;

/// What to do after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    NotAuthenticated,
    Authenticated,
    Selected,
}

/// Extensions the client turned on with ENABLE (RFC 5161) or by use.
#[derive(Debug, Default, Clone, Copy)]
pub struct Enabled {
    pub rev2: bool,
    /// UTF8=ACCEPT (RFC 6855), implied by IMAP4rev2: names and strings in UTF-8.
    pub utf8: bool,
    pub condstore: bool,
    pub qresync: bool,
}

pub struct Session {
    pub context: Arc<ImapContext>,
    pub io: ImapIo,
    pub framer: Framer,
    pub state: State,
    pub account: Option<Account>,
    pub enabled: Enabled,
    pub selected: Option<Selected>,
    pub changes: Option<broadcast::Receiver<Change>>,
    /// RFC 5182 SEARCHRES: UIDs of the last SEARCH ... RETURN (SAVE).
    pub saved_search: Vec<u32>,
    /// Commands answered BAD in a row: a client that only sends garbage
    /// is disconnected (RFC 9051 leaves this to the server).
    bad_commands: u32,
}

const MAX_BAD_COMMANDS: u32 = 20;

impl Session {
    pub fn new(connection: estafeta_net::Connection, context: Arc<ImapContext>) -> Session {
        Session {
            framer: new_framer(&context),
            context,
            io: ImapIo::new(connection),
            state: State::NotAuthenticated,
            account: None,
            enabled: Enabled::default(),
            selected: None,
            changes: None,
            saved_search: Vec::new(),
            bad_commands: 0,
        }
    }

    /// After STARTTLS: a half-read command from before does not count.
    pub fn reset_framer(&mut self) {
        self.framer = new_framer(&self.context);
    }

    /// RFC 9051 5.4: the autologout timer of a logged-in session is at
    /// least 30 minutes; before login it may be shorter.
    pub fn idle_timeout(&self) -> std::time::Duration {
        let limits = &self.context.config.limits;
        match self.state {
            State::NotAuthenticated => limits.idle_timeout,
            _ => limits.imap_idle_timeout,
        }
    }

    pub fn utf8(&self) -> bool {
        self.enabled.utf8
    }

    pub fn tls_active(&self) -> bool {
        self.io.connection.is_tls()
    }

    /// Whether passwords may be sent now (RFC 9051 11.1, and our
    /// security default: never in the clear unless the operator allows it).
    pub fn password_allowed(&self) -> bool {
        self.tls_active() || self.context.config.auth.allow_plaintext
    }

    pub fn capabilities(&self) -> Vec<String> {
        // RFC 7888 4: before login only LITERAL- (non-synchronising
        // literals up to 4096 octets) is offered; LITERAL+ after.
        let literal = match self.state {
            State::NotAuthenticated => "LITERAL-",
            _ => "LITERAL+",
        };
        let mut caps: Vec<String> = ["IMAP4rev1", "IMAP4rev2", "SASL-IR", literal, "ID", "ENABLE"]
            .map(str::to_owned)
            .to_vec();
        if self.state == State::NotAuthenticated {
            if self.io.connection.can_start_tls() {
                caps.push("STARTTLS".into());
            }
            if self.password_allowed() {
                caps.push("AUTH=PLAIN".into());
                caps.push("AUTH=LOGIN".into());
            } else {
                caps.push("LOGINDISABLED".into());
            }
            return caps;
        }
        caps.extend(
            [
                "IDLE",
                "UIDPLUS",
                "MOVE",
                "SPECIAL-USE",
                "NAMESPACE",
                "UNSELECT",
                "CHILDREN",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "ESEARCH",
                "SEARCHRES",
                "CONDSTORE",
                "QRESYNC",
                "STATUS=SIZE",
                "UTF8=ACCEPT",
                "BINARY",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "SORT",
                "ESORT",
                "CONTEXT=SEARCH",
                "SORT=DISPLAY",
                "CATENATE",
                "PARTIAL",
                "THREAD=REFERENCES",
                "THREAD=ORDEREDSUBJECT",
            ]
            .map(str::to_owned),
        );
        caps.push(format!("APPENDLIMIT={}", self.context.config.smtp.max_message_size));
        if !self.io.is_compressed() {
            caps.push("COMPRESS=DEFLATE".into());
        }
        caps
    }

    /// Notes that the client uses CONDSTORE. RFC 7162 3.1: the first
    /// CONDSTORE enabling command with a mailbox selected makes the server
    /// report that mailbox's HIGHESTMODSEQ.
    pub fn enable_condstore(&mut self) {
        if std::mem::replace(&mut self.enabled.condstore, true) {
            return;
        }
        if let Some(selected) = &self.selected {
            let code = Code::HighestModseq(selected.known_modseq);
            response::status(self.io.out(), None, Status::Ok, Some(&code), "Highest");
        }
    }

    pub fn tagged(&mut self, tag: &str, status: Status, code: Option<Code>, text: &str) -> Flow {
        response::status(self.io.out(), Some(tag), status, code.as_ref(), text);
        Flow::Continue
    }

    pub fn ok(&mut self, tag: &str, text: &str) -> Flow {
        self.tagged(tag, Status::Ok, None, text)
    }

    pub fn no(&mut self, tag: &str, code: Option<Code>, text: &str) -> Flow {
        self.tagged(tag, Status::No, code, text)
    }

    pub fn bad(&mut self, tag: &str, text: &str) -> Flow {
        self.tagged(tag, Status::Bad, None, text)
    }

    /// A store failure as the client should see it (RFC 5530 codes).
    pub fn store_error(&mut self, tag: &str, error: &StoreError) -> Flow {
        let code = match error {
            StoreError::NotFound(_) => Code::NonExistent,
            StoreError::AlreadyExists(_) => Code::AlreadyExists,
            StoreError::Invalid(_) => Code::Cannot,
            StoreError::InUse(_) | StoreError::Conflict(_) => Code::InUse,
            StoreError::BlobMissing(_) | StoreError::Io(_) | StoreError::Database(_) | StoreError::Closed => {
                tracing::error!(%error, "store failed during an IMAP command");
                return self.no(tag, Some(Code::ServerBug), "Internal error; try again later");
            }
        };
        let text = error.to_string();
        self.no(tag, Some(code), &text)
    }

    pub async fn run(mut self) {
        let caps = self.capabilities();
        response::status(
            self.io.out(),
            None,
            Status::Ok,
            Some(&Code::Capability(caps)),
            "Estafeta IMAP4rev2 server ready",
        );
        let shutdown = self.io.connection.shutdown.clone();
        loop {
            if self.io.flush().await.is_err() {
                return;
            }
            self.framer.set_limits(framer_limits(&self.context, self.state));
            self.io.connection.set_idle_timeout(self.idle_timeout());
            let time = self.context.config.limits.command_time;
            let literals_free = self.state != State::NotAuthenticated;
            let input = tokio::select! {
                input = self.io.next_command(&mut self.framer, time, literals_free) => input,
                _ = shutdown.cancelled() => {
                    self.bye("Server shutting down").await;
                    return;
                }
            };
            let flow = match input {
                Ok(Input::Command(bytes)) => self.command(&bytes).await,
                Ok(Input::Refused(error)) => self.refused(error),
                Err(error) => {
                    if error.kind() == std::io::ErrorKind::TimedOut {
                        self.bye("Autologout; idle for too long").await;
                    }
                    return;
                }
            };
            if flow == Flow::Close || self.bad_commands > MAX_BAD_COMMANDS {
                if self.bad_commands > MAX_BAD_COMMANDS {
                    self.bye("Too many invalid commands").await;
                }
                let _ = self.io.flush().await;
                return;
            }
        }
    }

    async fn bye(&mut self, text: &str) {
        response::status(self.io.out(), None, Status::Bye, None, text);
        let _ = self.io.flush().await;
    }

    fn refused(&mut self, error: FrameError) -> Flow {
        self.bad_commands += 1;
        let limit = framer_limits(&self.context, self.state).literal;
        let (tag, code, text) = match error {
            FrameError::TooLong { tag } => (tag, None, "Command line too long".to_owned()),
            // Before login a literal this big is no client's mistake, and
            // skipping it would still read it all: the connection ends.
            FrameError::LiteralTooBig { tag, size } if self.state == State::NotAuthenticated => {
                let text = format!("Literal of {size} octets before login; the limit is {limit}");
                if let Some(tag) = &tag {
                    self.tagged(tag, Status::Bad, Some(Code::TooBig), &text);
                }
                response::status(self.io.out(), None, Status::Bye, None, "Literal too big before login");
                return Flow::Close;
            }
            FrameError::LiteralTooBig { tag, size } => (
                tag,
                Some(Code::TooBig),
                format!("Literal of {size} octets is over the limit of {limit}"),
            ),
        };
        match tag {
            Some(tag) if code.is_some() => self.tagged(&tag, Status::No, code, &text),
            Some(tag) => self.bad(&tag, &text),
            None => {
                response::status(self.io.out(), None, Status::Bad, None, &text);
                Flow::Continue
            }
        }
    }

    async fn command(&mut self, bytes: &[u8]) -> Flow {
        let command = match parse_command(bytes) {
            Ok(command) => command,
            Err(ParseError::NoTag) => {
                self.bad_commands += 1;
                response::status(self.io.out(), None, Status::Bad, None, "Missing or invalid tag");
                return Flow::Continue;
            }
            Err(ParseError::Bad { tag, reason }) => {
                self.bad_commands += 1;
                return self.bad(&tag, &format!("Syntax error: {reason}"));
            }
        };
        if let Err(why) = allowed(&command.body, self.state) {
            self.bad_commands += 1;
            return self.bad(&command.tag, why);
        }
        // Before login a valid command does not wipe the count: a client
        // that slips a NOOP between its junk must not probe for ever.
        // After login the account is known, and a client's odd BAD is
        // forgiven by the commands that work.
        if self.state != State::NotAuthenticated {
            self.bad_commands = 0;
        }
        let Command { tag, body } = command;
        command::execute(self, &tag, body).await
    }

    /// Sends what changed in the selected mailbox since the last update.
    /// `allow_expunge` is false while answering FETCH, STORE and SEARCH by
    /// sequence number (RFC 9051 7.5.1): expunges then wait, so numbers
    /// the client holds stay valid.
    pub async fn sync(&mut self, allow_expunge: bool) {
        let Some(selected) = self.selected.as_mut() else {
            return;
        };
        if let Some(changes) = self.changes.as_mut() {
            loop {
                match changes.try_recv() {
                    Ok(Change::Mailbox {
                        mailbox,
                        highest_modseq,
                        ..
                    }) if mailbox == selected.mailbox.id && highest_modseq > selected.known_modseq => {
                        selected.dirty = true;
                    }
                    Ok(Change::Resync) | Err(broadcast::error::TryRecvError::Lagged(_)) => selected.dirty = true,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        let enabled = self.enabled;
        if let Err(error) = selected
            .refresh(
                self.context.store.as_ref(),
                &self.context.snapshots,
                self.io.out(),
                allow_expunge,
                enabled,
            )
            .await
        {
            tracing::warn!(%error, "could not refresh the selected mailbox");
        }
        command::context::notify(self).await;
    }

    /// The session's view of the account's mailboxes changed (bus); for
    /// IDLE and to start listening after login.
    pub fn listen(&mut self) {
        if self.changes.is_none() {
            self.changes = Some(self.context.store.changes().subscribe());
        }
    }
}

fn new_framer(context: &ImapContext) -> Framer {
    Framer::new(framer_limits(context, State::NotAuthenticated))
}

/// What a literal may be, by state. Before login nothing needs more than
/// a password, and LITERAL+ would otherwise let anyone make the server
/// take a message-sized literal without asking: RFC 7888 4 and 5 bound
/// non-synchronising literals to 4096 octets where abuse is a concern.
fn framer_limits(context: &ImapContext, state: State) -> Limits {
    if state == State::NotAuthenticated {
        return Limits {
            line: 8 * 1024,
            literal: PRE_AUTH_LITERAL,
            command: 16 * 1024,
        };
    }
    let size = context.config.smtp.max_message_size;
    Limits {
        literal: size,
        command: size.saturating_add(64 * 1024),
        ..Limits::default()
    }
}

/// The largest literal taken before login (RFC 7888 4, LITERAL-'s bound).
pub const PRE_AUTH_LITERAL: u64 = 4096;

/// RFC 9051 3 and 6: which commands each state takes.
fn allowed(body: &CommandBody, state: State) -> Result<(), &'static str> {
    use CommandBody::*;
    match body {
        Capability | Noop | Logout | Id(_) => Ok(()),
        StartTls | Login { .. } | Authenticate { .. } => match state {
            State::NotAuthenticated => Ok(()),
            _ => Err("Already authenticated"),
        },
        Close
        | Unselect
        | CancelUpdate(_)
        | Expunge { .. }
        | Copy { .. }
        | Move { .. }
        | Store { .. }
        | Fetch { .. }
        | Search { .. }
        | Sort { .. }
        | Thread { .. } => match state {
            State::Selected => Ok(()),
            State::Authenticated => Err("No mailbox selected"),
            State::NotAuthenticated => Err("Log in first"),
        },
        _ => match state {
            State::NotAuthenticated => Err("Log in first"),
            _ => Ok(()),
        },
    }
}
