//! SELECT/EXAMINE (with CONDSTORE and QRESYNC, RFC 7162), CREATE, DELETE,
//! RENAME and SUBSCRIBE/UNSUBSCRIBE (RFC 9051 6.3).

use crate::proto::Flag;
use crate::proto::command::{MailboxName, QresyncParams};
use crate::proto::response::{self, Code, Status};
use crate::session::selected::{Selected, flags_list};
use crate::session::{Flow, Session, State, names};
use estafeta_core::model::{Flags, MAILBOX_DELIMITER, SystemFlags};
use estafeta_store::StoreError;
use std::collections::BTreeSet;

/// The stored name for a client's name, or a reply already written.
/// RFC 3501 5.1.3: a name that is not valid modified UTF-7 is still valid
/// syntax (astring), so it is refused with NO, not BAD; a BAD would also
/// count towards ending the session.
pub fn mailbox_name(session: &mut Session, tag: &str, name: &MailboxName) -> Result<String, Flow> {
    names::decode(&name.0, session.utf8()).map_err(|why| session.no(tag, None, why))
}

pub async fn select(
    session: &mut Session,
    tag: &str,
    name: MailboxName,
    read_only: bool,
    condstore: bool,
    qresync: Option<QresyncParams>,
) -> Flow {
    if qresync.is_some() && !session.enabled.qresync {
        return session.bad(tag, "ENABLE QRESYNC first (RFC 7162 3.2.5)");
    }
    // RFC 9051 6.3.2: a SELECT, even a failing one, closes the mailbox
    // first, without expunging; RFC 7162 3.2.11 [CLOSED] marks the point.
    if session.selected.take().is_some() {
        session.state = State::Authenticated;
        if session.enabled.condstore {
            response::status(
                session.io.out(),
                None,
                Status::Ok,
                Some(&Code::Closed),
                "Previous mailbox closed",
            );
        }
    }
    let name = match mailbox_name(session, tag, &name) {
        Ok(name) => name,
        Err(flow) => return flow,
    };
    let account = session.account.as_ref().expect("authenticated").id;
    let store = std::sync::Arc::clone(&session.context.store);
    let mailbox = match store.mailbox_get(account, &name).await {
        Ok(Some(mailbox)) => mailbox,
        Ok(None) => return session.no(tag, Some(Code::NonExistent), "No such mailbox"),
        Err(error) => return session.store_error(tag, &error),
    };
    let mut selected = match Selected::open(store.as_ref(), &session.context.snapshots, mailbox, read_only).await {
        Ok(selected) => selected,
        Err(error) => return session.store_error(tag, &error),
    };
    // RFC 3501 2.3.2: the first session to see a message sees it \Recent;
    // an IMAP4rev2 session takes no part (RFC 9051 dropped the flag).
    if !session.enabled.rev2
        && let Err(error) = selected.take_recent(store.as_ref()).await
    {
        return session.store_error(tag, &error);
    }
    if condstore {
        session.enable_condstore();
    }
    let utf8 = session.utf8();
    let rev2 = session.enabled.rev2;
    let out = session.io.out();
    response::untagged(out, &format!("{} EXISTS", selected.exists()));
    if !rev2 {
        response::untagged(out, &format!("{} RECENT", selected.recent().len()));
    }
    let mut keywords: BTreeSet<&str> = BTreeSet::new();
    for message in selected.messages.iter() {
        keywords.extend(message.flags.keywords.iter().map(String::as_str));
    }
    let all = Flags::new(SystemFlags(0x1f), keywords.iter().map(|k| (*k).to_owned()));
    response::untagged(out, &format!("FLAGS {}", flags_list(&all, false)));
    let permanent: Vec<Flag> = if read_only {
        Vec::new()
    } else {
        vec![Flag::Answered, Flag::Flagged, Flag::Deleted, Flag::Seen, Flag::Draft]
    };
    response::status(
        out,
        None,
        Status::Ok,
        Some(&Code::PermanentFlags(permanent, !read_only)),
        "Flags permitted",
    );
    response::status(
        out,
        None,
        Status::Ok,
        Some(&Code::UidValidity(selected.mailbox.uid_validity)),
        "UIDs valid",
    );
    response::status(
        out,
        None,
        Status::Ok,
        Some(&Code::UidNext(selected.mailbox.uid_next)),
        "Predicted next UID",
    );
    response::status(
        out,
        None,
        Status::Ok,
        Some(&Code::HighestModseq(selected.known_modseq)),
        "Highest",
    );
    if !rev2 {
        if let Some(first) = selected
            .messages
            .iter()
            .position(|m| !m.flags.system.contains(SystemFlags::SEEN))
        {
            response::status(
                out,
                None,
                Status::Ok,
                Some(&Code::Unseen(first as u32 + 1)),
                "First unseen",
            );
        }
    } else {
        let attributes: Vec<&str> = selected
            .mailbox
            .role
            .and_then(|role| role.special_use())
            .into_iter()
            .collect();
        response::list(
            out,
            "LIST",
            &attributes,
            MAILBOX_DELIMITER,
            &names::encode(&selected.mailbox.name, utf8),
            utf8,
        );
    }
    if let Some(qresync) = qresync {
        resync(session, &selected, &qresync).await;
    }
    let code = if read_only { Code::ReadOnly } else { Code::ReadWrite };
    session.selected = Some(selected);
    session.state = State::Selected;
    let done = if read_only {
        "EXAMINE completed"
    } else {
        "SELECT completed"
    };
    session.tagged(tag, Status::Ok, Some(code), done)
}

/// RFC 7162 3.2.5.2: what changed since the client's last MODSEQ, when
/// its UIDVALIDITY still holds.
async fn resync(session: &mut Session, selected: &Selected, params: &QresyncParams) {
    if params.uid_validity != selected.mailbox.uid_validity {
        return;
    }
    let Ok(changes) = session
        .context
        .store
        .changes_since(selected.mailbox.id, params.modseq)
        .await
    else {
        return;
    };
    let largest = selected.mailbox.uid_next.saturating_sub(1);
    let vanished: Vec<u32> = changes
        .vanished
        .into_iter()
        .filter(|&uid| params.known_uids.as_ref().is_none_or(|set| set.contains(uid, largest)))
        .collect();
    let out = session.io.out();
    response::vanished(out, true, &vanished);
    for message in changes.changed {
        if let Some(i) = selected.position(message.uid) {
            out.extend_from_slice(
                format!(
                    "* {} FETCH (UID {} FLAGS {} MODSEQ ({}))\r\n",
                    i + 1,
                    message.uid,
                    flags_list(&message.flags, selected.is_recent(message.uid)),
                    message.modseq
                )
                .as_bytes(),
            );
        }
    }
}

pub async fn create(session: &mut Session, tag: &str, name: MailboxName) -> Flow {
    let name = match mailbox_name(session, tag, &name).map(|n| names::validate_new(&n)) {
        Ok(Ok(name)) => name,
        Ok(Err(why)) => return session.no(tag, Some(Code::Cannot), why),
        Err(flow) => return flow,
    };
    let account = session.account.as_ref().expect("authenticated").id;
    let store = std::sync::Arc::clone(&session.context.store);
    // RFC 9051 6.3.4: creating `a/b/c` creates `a` and `a/b` if needed.
    for parent in names::parents(&name) {
        match store.mailbox_get(account, parent).await {
            Ok(Some(_)) => {}
            Ok(None) => match store.mailbox_create(account, parent).await {
                Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
                Err(error) => return session.store_error(tag, &error),
            },
            Err(error) => return session.store_error(tag, &error),
        }
    }
    match store.mailbox_create(account, &name).await {
        Ok(_) => session.ok(tag, "CREATE completed"),
        Err(error) => session.store_error(tag, &error),
    }
}

pub async fn delete(session: &mut Session, tag: &str, name: MailboxName) -> Flow {
    let name = match mailbox_name(session, tag, &name) {
        Ok(name) => name,
        Err(flow) => return flow,
    };
    let account = session.account.as_ref().expect("authenticated").id;
    let store = std::sync::Arc::clone(&session.context.store);
    let is_selected = session.selected.as_ref().is_some_and(|s| s.mailbox.name == name);
    match store.mailbox_delete(account, &name).await {
        Ok(()) => {
            if is_selected {
                session.selected = None;
                session.state = State::Authenticated;
            }
            session.ok(tag, "DELETE completed")
        }
        Err(error) => session.store_error(tag, &error),
    }
}

pub async fn rename(session: &mut Session, tag: &str, from: MailboxName, to: MailboxName) -> Flow {
    let from = match mailbox_name(session, tag, &from) {
        Ok(name) => name,
        Err(flow) => return flow,
    };
    let to = match mailbox_name(session, tag, &to).map(|n| names::validate_new(&n)) {
        Ok(Ok(name)) => name,
        Ok(Err(why)) => return session.no(tag, Some(Code::Cannot), why),
        Err(flow) => return flow,
    };
    let account = session.account.as_ref().expect("authenticated").id;
    let store = std::sync::Arc::clone(&session.context.store);
    for parent in names::parents(&to) {
        if let Ok(None) = store.mailbox_get(account, parent).await {
            let _ = store.mailbox_create(account, parent).await;
        }
    }
    match store.mailbox_rename(account, &from, &to).await {
        Ok(()) => {
            if let Some(selected) = session.selected.as_mut()
                && from != "INBOX"
                && (selected.mailbox.name == from || selected.mailbox.name.starts_with(&format!("{from}/")))
            {
                selected.mailbox.name = format!("{to}{}", &selected.mailbox.name[from.len()..]);
            }
            session.ok(tag, "RENAME completed")
        }
        Err(error) => session.store_error(tag, &error),
    }
}

pub async fn subscribe(session: &mut Session, tag: &str, name: MailboxName, subscribed: bool) -> Flow {
    let name = match mailbox_name(session, tag, &name) {
        Ok(name) => name,
        Err(flow) => return flow,
    };
    let account = session.account.as_ref().expect("authenticated").id;
    let store = std::sync::Arc::clone(&session.context.store);
    let done = if subscribed {
        "SUBSCRIBE completed"
    } else {
        "UNSUBSCRIBE completed"
    };
    match store.mailbox_subscribe(account, &name, subscribed).await {
        Ok(()) => session.ok(tag, done),
        // Unsubscribing a name that is gone is what the client wanted.
        Err(StoreError::NotFound(_)) if !subscribed => session.ok(tag, done),
        Err(error) => session.store_error(tag, &error),
    }
}

/// The NO for a destination (COPY, MOVE, APPEND) that does not exist.
/// RFC 9051 6.3.12, 6.4.7: [TRYCREATE] unless the server is certain the
/// mailbox could not be created; for a name CREATE refuses, it is.
pub fn no_such_destination(session: &mut Session, tag: &str, name: &str) -> Flow {
    match names::validate_new(name) {
        Ok(_) => session.no(tag, Some(Code::TryCreate), "No such mailbox"),
        Err(why) => session.no(tag, Some(Code::NonExistent), why),
    }
}
