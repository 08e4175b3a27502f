//! The TRANSACTION state (RFC 1939 5 and 7): STAT, LIST, UIDL, RETR, TOP,
//! DELE and RSET on the maildrop read at login.

use crate::maildrop::{Entry, Missing};
use crate::proto::{self, Code, multiline};
use crate::session::{Flow, Session, State, Transaction};
use std::sync::Arc;

fn transaction(session: &mut Session) -> &mut Transaction {
    match &mut session.state {
        State::Transaction(transaction) => transaction,
        State::Authorization { .. } => unreachable!("checked by command::execute"),
    }
}

fn missing(session: &mut Session, number: u32, why: Missing) -> Flow {
    match why {
        Missing::NoSuchMessage => session.err(None, &format!("No message {number}")),
        Missing::Deleted => session.err(None, &format!("Message {number} is already deleted")),
    }
}

pub fn stat(session: &mut Session) -> Flow {
    let (count, octets) = transaction(session).maildrop.stat();
    session.ok(&format!("{count} {octets}"))
}

/// LIST and UIDL share their shape: one message, or all not deleted.
fn listing(session: &mut Session, number: Option<u32>, show: fn(&Entry) -> String) -> Flow {
    let maildrop = &transaction(session).maildrop;
    match number {
        Some(number) => match maildrop.get(number) {
            Ok(entry) => {
                let text = format!("{number} {}", show(entry));
                session.ok(&text)
            }
            Err(why) => missing(session, number, why),
        },
        None => {
            let mut body = Vec::new();
            for (number, entry) in maildrop.live() {
                body.extend_from_slice(format!("{number} {}\r\n", show(entry)).as_bytes());
            }
            session.ok("Listing follows");
            session.io.out().extend_from_slice(&body);
            proto::end(session.io.out());
            Flow::Continue
        }
    }
}

pub fn list(session: &mut Session, number: Option<u32>) -> Flow {
    listing(session, number, |entry| entry.size.to_string())
}

pub fn uidl(session: &mut Session, number: Option<u32>) -> Flow {
    listing(session, number, Entry::unique_id)
}

/// RETR, or TOP with `lines` (RFC 1939 7).
pub async fn retr(session: &mut Session, number: u32, lines: Option<u64>) -> Flow {
    let (blob, size) = match transaction(session).maildrop.get(number) {
        Ok(entry) => (entry.blob.clone(), entry.size),
        Err(why) => return missing(session, number, why),
    };
    let store = Arc::clone(&session.context.store);
    let content = match store.message_content(&blob).await {
        Ok(content) => content,
        Err(error) => {
            tracing::warn!(%error, number, "pop3 could not read a message");
            return session.err(
                Some(Code::SysTemp),
                &format!("Message {number} cannot be read now (removed elsewhere?)"),
            );
        }
    };
    if lines.is_none() {
        if let Ok(entry) = transaction(session).maildrop.get_mut(number) {
            entry.retrieved = true;
        }
        session.ok(&format!("{size} octets"));
    } else {
        session.ok("Top of message follows");
    }
    multiline::write_message(session.io.out(), &content, lines);
    Flow::Continue
}

pub fn dele(session: &mut Session, number: u32) -> Flow {
    match transaction(session).maildrop.get_mut(number) {
        Ok(entry) => {
            entry.deleted = true;
            session.ok(&format!("Message {number} deleted"))
        }
        Err(why) => missing(session, number, why),
    }
}

pub fn rset(session: &mut Session) -> Flow {
    let maildrop = &mut transaction(session).maildrop;
    maildrop.reset();
    let (count, octets) = maildrop.stat();
    session.ok(&format!("Maildrop has {count} messages ({octets} octets)"))
}
