//! IDLE (RFC 2177, RFC 9051 6.3.13): updates are pushed as the change bus
//! reports them, until the client says DONE.

use crate::proto::response::{self, Status};
use crate::session::{Flow, Session};
use estafeta_core::bus::Change;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// RFC 2177: clients re-issue IDLE at least every 29 minutes.
const IDLE_TIMEOUT: Duration = Duration::from_secs(31 * 60);

pub async fn idle(session: &mut Session, tag: &str) -> Flow {
    session.sync(true).await;
    response::continuation(session.io.out(), "idling");
    if session.io.flush().await.is_err() {
        return Flow::Close;
    }
    session.listen();
    let normal_timeout = session.idle_timeout();
    session.io.connection.set_idle_timeout(IDLE_TIMEOUT);
    let shutdown = session.io.connection.shutdown.clone();
    let flow = loop {
        match session.io.take_line() {
            Ok(Some(line)) => {
                break if line.eq_ignore_ascii_case(b"DONE") {
                    session.ok(tag, "IDLE terminated")
                } else {
                    session.bad(tag, "Expected DONE")
                };
            }
            Ok(None) => {}
            Err(_) => break Flow::Close,
        }
        let mailbox = session.selected.as_ref().map(|s| (s.mailbox.id, s.known_modseq));
        let changes = session.changes.as_mut().expect("listening");
        tokio::select! {
            read = session.io.read_some() => {
                if read.is_err() {
                    break Flow::Close;
                }
            }
            change = changes.recv() => {
                let relevant = match change {
                    Ok(Change::Mailbox { mailbox: id, highest_modseq, .. }) => {
                        mailbox.is_some_and(|(selected, known)| selected == id && highest_modseq > known)
                    }
                    Ok(Change::Resync) | Err(RecvError::Lagged(_)) => mailbox.is_some(),
                    Ok(_) => false,
                    Err(RecvError::Closed) => break Flow::Close,
                };
                if relevant {
                    if let Some(selected) = session.selected.as_mut() {
                        selected.dirty = true;
                    }
                    session.sync(true).await;
                    if session.io.flush().await.is_err() {
                        break Flow::Close;
                    }
                }
            }
            _ = shutdown.cancelled() => {
                response::status(session.io.out(), None, Status::Bye, None, "Server shutting down");
                break Flow::Close;
            }
        }
    };
    session.io.connection.set_idle_timeout(normal_timeout);
    flow
}
