//! STORE and UID STORE (RFC 9051 6.4.6) with CONDSTORE's UNCHANGEDSINCE
//! and MODIFIED (RFC 7162 3.1.3).

use super::{resolve, to_flags};
use crate::proto::command::{Flag, StoreMode};
use crate::proto::response::{Code, Status};
use crate::proto::sequence::SequenceSet;
use crate::session::selected::flags_list;
use crate::session::{Flow, Session};
use estafeta_store::FlagOperation;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

#[allow(clippy::too_many_arguments)]
pub async fn store(
    session: &mut Session,
    tag: &str,
    set: SequenceSet,
    uid: bool,
    mode: StoreMode,
    silent: bool,
    flags: Vec<Flag>,
    unchanged_since: Option<u64>,
) -> Flow {
    let positions = match resolve(session, &set, uid) {
        Ok(positions) => positions,
        Err(why) => return session.bad(tag, why),
    };
    let selected = session.selected.as_ref().expect("selected state");
    if selected.read_only {
        return session.no(tag, Some(Code::ReadOnly), "Mailbox is read-only");
    }
    if unchanged_since.is_some() {
        session.enable_condstore();
    }
    let selected = session.selected.as_ref().expect("selected state");
    let mailbox = selected.mailbox.id;
    let uids: Vec<u32> = positions
        .iter()
        .map(|&i| selected.messages[i].uid)
        .filter(|&uid| !selected.is_expunged(uid))
        .collect();
    let operation = match mode {
        StoreMode::Replace => FlagOperation::Replace,
        StoreMode::Add => FlagOperation::Add,
        StoreMode::Remove => FlagOperation::Remove,
    };
    let store = Arc::clone(&session.context.store);
    let changes = match store
        .store_flags(mailbox, &uids, operation, &to_flags(&flags), unchanged_since)
        .await
    {
        Ok(changes) => changes,
        Err(error) => return session.store_error(tag, &error),
    };
    let changed: HashSet<u32> = changes.iter().map(|c| c.uid).collect();
    let condstore = session.enabled.condstore;
    let selected = session.selected.as_mut().expect("selected state");
    let mut modified = Vec::new();
    if let Some(since) = unchanged_since {
        for &uid in &uids {
            let current = selected.position(uid).map_or(0, |i| selected.messages[i].modseq);
            if !changed.contains(&uid) && current > since {
                modified.push(uid);
            }
        }
    }
    for change in changes {
        selected.apply_flags(change.uid, change.flags, change.modseq);
    }
    let qresync = session.enabled.qresync;
    let mut lines = String::new();
    for &message_uid in &uids {
        if modified.contains(&message_uid) {
            continue;
        }
        // .SILENT still reports the new MODSEQ of what changed (RFC 7162 3.1.3).
        if silent && !(condstore && changed.contains(&message_uid)) {
            continue;
        }
        let Some(i) = selected.position(message_uid) else {
            continue;
        };
        let message = &selected.messages[i];
        let mut items = Vec::new();
        if uid || qresync {
            items.push(format!("UID {}", message.uid));
        }
        if !silent {
            items.push(format!(
                "FLAGS {}",
                flags_list(&message.flags, selected.is_recent(message.uid))
            ));
        }
        if condstore {
            items.push(format!("MODSEQ ({})", message.modseq));
        }
        let _ = writeln!(lines, "* {} FETCH ({})\r", i + 1, items.join(" "));
    }
    session.io.out().extend_from_slice(lines.as_bytes());
    session.sync(uid).await;
    if !modified.is_empty() {
        return session.tagged(
            tag,
            Status::Ok,
            Some(Code::Modified(modified)),
            "Conditional STORE failed",
        );
    }
    session.ok(tag, "STORE completed")
}
