//! COPY and MOVE (RFC 9051 6.4.7, RFC 6851) with COPYUID (RFC 4315), and
//! the learning hook: a message moved into Junk is spam to the user, one
//! moved out of it is not, one moved between tabs belongs where it went.

use super::mailbox::mailbox_name;
use super::resolve;
use crate::Lesson;
use crate::proto::command::MailboxName;
use crate::proto::response::{self, Code, Status};
use crate::proto::sequence::SequenceSet;
use crate::session::{Flow, Session};
use estafeta_core::model::MailboxRole;
use estafeta_store::BlobId;
use std::sync::Arc;

pub async fn copy(
    session: &mut Session,
    tag: &str,
    set: SequenceSet,
    target: MailboxName,
    uid: bool,
    remove: bool,
) -> Flow {
    let verb = if remove { "MOVE" } else { "COPY" };
    let positions = match resolve(session, &set, uid) {
        Ok(positions) => positions,
        Err(why) => return session.bad(tag, why),
    };
    let target = match mailbox_name(session, tag, &target) {
        Ok(name) => name,
        Err(flow) => return flow,
    };
    let account = session.account.as_ref().expect("authenticated").id;
    let store = Arc::clone(&session.context.store);
    let target = match store.mailbox_get(account, &target).await {
        Ok(Some(mailbox)) => mailbox,
        Ok(None) => return super::mailbox::no_such_destination(session, tag, &target),
        Err(error) => return session.store_error(tag, &error),
    };
    let selected = session.selected.as_ref().expect("selected state");
    if remove && selected.read_only {
        return session.no(tag, Some(Code::ReadOnly), "Mailbox is read-only");
    }
    let source = selected.mailbox.clone();
    let (uids, blobs): (Vec<u32>, Vec<BlobId>) = positions
        .iter()
        .map(|&i| &selected.messages[i])
        .filter(|m| !selected.is_expunged(m.uid))
        .map(|m| (m.uid, m.blob.clone()))
        .unzip();
    if uids.is_empty() {
        return session.ok(tag, &format!("{verb} completed (nothing to do)"));
    }
    // A COPY adds to the account's usage; a MOVE within it does not.
    if !remove {
        let selected = session.selected.as_ref().expect("selected state");
        let size: u64 = positions.iter().map(|&i| selected.messages[i].size).sum();
        match super::status::over_quota(session, size).await {
            Ok(false) => {}
            Ok(true) => return session.no(tag, Some(Code::OverQuota), "Quota exceeded"),
            Err(error) => return session.store_error(tag, &error),
        }
    }
    let copied = match store.copy_messages(source.id, &uids, target.id, remove).await {
        Ok(copied) => copied,
        Err(error) => return session.store_error(tag, &error),
    };
    learn(session, source.role, target.role, remove, account, &blobs).await;
    let code = (!copied.source.is_empty()).then(|| Code::CopyUid {
        uid_validity: copied.uid_validity,
        source: copied.source.clone(),
        target: copied.target.clone(),
    });
    if !remove {
        session.sync(true).await;
        return session.tagged(tag, Status::Ok, code, "COPY completed");
    }
    // RFC 6851 4.3: COPYUID comes untagged, before the expunges.
    if let Some(code) = &code {
        response::status(session.io.out(), None, Status::Ok, Some(code), "Moved");
    }
    let enabled = session.enabled;
    let (selected, out) = (session.selected.as_mut().expect("selected state"), session.io.out());
    selected.remove(&copied.source, out, enabled);
    session.sync(true).await;
    session.ok(tag, "MOVE completed")
}

/// A user sorting mail teaches the filter; a MOVE of thousands (a
/// clean-up) teaches no more than its first few hundred.
const MAX_LESSONS: usize = 500;

async fn learn(
    session: &Session,
    from: Option<MailboxRole>,
    to: Option<MailboxRole>,
    moved: bool,
    account: estafeta_core::model::AccountId,
    blobs: &[BlobId],
) {
    let Some(lesson) = Lesson::of_move(from, to) else {
        return;
    };
    // A copy leaves the message where it was: it says nothing about tabs.
    if matches!(lesson, Lesson::Tab { .. }) && !moved {
        return;
    }
    let blobs = &blobs[..blobs.len().min(MAX_LESSONS)];
    session.context.learning.learn(account, blobs, lesson).await;
}
