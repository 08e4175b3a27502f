//! CLOSE, UNSELECT (RFC 3691), EXPUNGE and UID EXPUNGE (RFC 4315).

use super::resolve;
use crate::proto::response::{Code, Status};
use crate::proto::sequence::SequenceSet;
use crate::session::{Flow, Session, State};
use std::sync::Arc;

fn deselect(session: &mut Session) {
    session.selected = None;
    session.state = State::Authenticated;
}

/// RFC 9051 6.4.1: CLOSE expunges silently (unless read-only), then deselects.
pub async fn close(session: &mut Session, tag: &str) -> Flow {
    let selected = session.selected.as_ref().expect("selected state");
    if !selected.read_only {
        let mailbox = selected.mailbox.id;
        if let Err(error) = session.context.store.expunge(mailbox, None).await {
            return session.store_error(tag, &error);
        }
    }
    deselect(session);
    session.ok(tag, "CLOSE completed")
}

pub async fn unselect(session: &mut Session, tag: &str) -> Flow {
    deselect(session);
    session.ok(tag, "UNSELECT completed")
}

pub async fn expunge(session: &mut Session, tag: &str, uids: Option<SequenceSet>) -> Flow {
    let selected = session.selected.as_ref().expect("selected state");
    if selected.read_only {
        return session.no(tag, Some(Code::ReadOnly), "Mailbox is read-only");
    }
    let mailbox = selected.mailbox.id;
    let only: Option<Vec<u32>> = match &uids {
        None => None,
        Some(set) => match resolve(session, set, true) {
            Ok(positions) => {
                let selected = session.selected.as_ref().expect("selected state");
                Some(positions.iter().map(|&i| selected.messages[i].uid).collect())
            }
            Err(why) => return session.bad(tag, why),
        },
    };
    let store = Arc::clone(&session.context.store);
    let removed = match store.expunge(mailbox, only.as_deref()).await {
        Ok(removed) => removed,
        Err(error) => return session.store_error(tag, &error),
    };
    let enabled = session.enabled;
    let (selected, out) = (session.selected.as_mut().expect("selected state"), session.io.out());
    selected.remove(&removed, out, enabled);
    session.sync(true).await;
    let code = session
        .enabled
        .condstore
        .then(|| Code::HighestModseq(session.selected.as_ref().map_or(0, |s| s.known_modseq)));
    session.tagged(tag, Status::Ok, code, "EXPUNGE completed")
}
