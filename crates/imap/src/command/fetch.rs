//! FETCH and UID FETCH (RFC 9051 6.4.5, BINARY RFC 3516, CONDSTORE and
//! QRESYNC modifiers RFC 7162 3.1.4, 3.2.6). Structure and envelope come
//! from the shared parse cache; content is read only for items that need
//! it.

use super::resolve;
use crate::message::Parsed;
use crate::message::render;
use crate::message::section::BinaryError;
use crate::proto::fetch::{FetchAttribute, FetchModifiers};
use crate::proto::response::{self, Status};
use crate::proto::sequence::SequenceSet;
use crate::session::{Flow, Session};
use estafeta_core::model::{Flags, SystemFlags};
use estafeta_store::{FlagOperation, MessageMeta, StoreError};
use std::sync::Arc;

/// Responses are written out in pieces of about this size, so a FETCH of
/// a whole mailbox does not gather in memory.
const FLUSH_AT: usize = 256 * 1024;

fn needs_content(attribute: &FetchAttribute) -> bool {
    matches!(
        attribute,
        FetchAttribute::Rfc822
            | FetchAttribute::Rfc822Header
            | FetchAttribute::Rfc822Text
            | FetchAttribute::BodySection { .. }
            | FetchAttribute::Binary { .. }
            | FetchAttribute::BinarySize { .. }
    )
}

fn needs_parse(attribute: &FetchAttribute) -> bool {
    needs_content(attribute)
        || matches!(
            attribute,
            FetchAttribute::Envelope | FetchAttribute::Body | FetchAttribute::BodyStructure
        )
}

/// RFC 9051 6.4.5: these set \Seen (unless the mailbox is read-only).
fn sets_seen(attribute: &FetchAttribute) -> bool {
    matches!(
        attribute,
        FetchAttribute::Rfc822
            | FetchAttribute::Rfc822Text
            | FetchAttribute::BodySection { peek: false, .. }
            | FetchAttribute::Binary { peek: false, .. }
    )
}

pub async fn fetch(
    session: &mut Session,
    tag: &str,
    set: SequenceSet,
    uid: bool,
    mut attributes: Vec<FetchAttribute>,
    modifiers: FetchModifiers,
) -> Flow {
    let mut positions = match resolve(session, &set, uid) {
        Ok(positions) => positions,
        Err(why) => return session.bad(tag, why),
    };
    if modifiers.vanished && !(uid && session.enabled.qresync) {
        return session.bad(tag, "VANISHED needs UID FETCH and ENABLE QRESYNC (RFC 7162 3.2.6)");
    }
    if uid && !attributes.contains(&FetchAttribute::Uid) {
        attributes.insert(0, FetchAttribute::Uid);
    }
    if modifiers.changed_since.is_some() || attributes.contains(&FetchAttribute::Modseq) {
        session.enabled.condstore = true;
        if !attributes.contains(&FetchAttribute::Modseq) {
            attributes.push(FetchAttribute::Modseq);
        }
    }
    let store = Arc::clone(&session.context.store);
    if let Some(since) = modifiers.changed_since {
        let selected = session.selected.as_ref().expect("selected state");
        if modifiers.vanished {
            let largest = selected.mailbox.uid_next.saturating_sub(1);
            match store.changes_since(selected.mailbox.id, since).await {
                Ok(changes) => {
                    let gone: Vec<u32> = changes
                        .vanished
                        .into_iter()
                        .filter(|&u| set.contains(u, largest))
                        .collect();
                    response::vanished(session.io.out(), true, &gone);
                }
                Err(error) => return session.store_error(tag, &error),
            }
        }
        let selected = session.selected.as_ref().expect("selected state");
        positions.retain(|&i| selected.messages[i].modseq > since);
    }
    if let Err(error) = mark_seen(session, &positions, &mut attributes).await {
        return session.store_error(tag, &error);
    }
    let utf8 = session.utf8();
    let parse = attributes.iter().any(needs_parse);
    let content = attributes.iter().any(needs_content);
    for i in positions {
        let selected = session.selected.as_ref().expect("selected state");
        let meta = selected.messages[i].clone();
        let expunged = selected.is_expunged(meta.uid);
        let mut bytes = None;
        let parsed = if parse {
            match load(session, &meta, content, &mut bytes).await {
                Ok(parsed) => Some(parsed),
                // Expunged by another session and already gone: nothing to
                // show (RFC 9051 7.5.1 allows leaving it out).
                Err(_) if expunged => continue,
                Err(error) => return session.store_error(tag, &error),
            }
        } else {
            None
        };
        let line = render::fetch_response(i + 1, &meta, &attributes, parsed.as_deref(), bytes.as_deref(), utf8);
        match line {
            Ok(line) => session.io.out().extend_from_slice(&line),
            Err(BinaryError::UnknownEncoding) => {
                return session.no(tag, None, "[UNKNOWN-CTE] Cannot decode this part");
            }
            Err(BinaryError::NoSuchPart) => {}
        }
        if session.io.out().len() > FLUSH_AT && session.io.flush().await.is_err() {
            return Flow::Close;
        }
    }
    session.sync(uid).await;
    session.tagged(tag, Status::Ok, None, "FETCH completed")
}

/// Sets \Seen on messages a non-PEEK body fetch reads, and makes sure the
/// client hears of the change (RFC 9051 6.4.5).
async fn mark_seen(
    session: &mut Session,
    positions: &[usize],
    attributes: &mut Vec<FetchAttribute>,
) -> Result<(), StoreError> {
    let selected = session.selected.as_ref().expect("selected state");
    if selected.read_only || !attributes.iter().any(sets_seen) {
        return Ok(());
    }
    let unseen: Vec<u32> = positions
        .iter()
        .map(|&i| &selected.messages[i])
        .filter(|m| !m.flags.system.contains(SystemFlags::SEEN) && !selected.is_expunged(m.uid))
        .map(|m| m.uid)
        .collect();
    if unseen.is_empty() {
        return Ok(());
    }
    let mailbox = selected.mailbox.id;
    let seen = Flags::new(SystemFlags::SEEN, []);
    let changes = session
        .context
        .store
        .store_flags(mailbox, &unseen, FlagOperation::Add, &seen, None)
        .await?;
    let selected = session.selected.as_mut().expect("selected state");
    for change in changes {
        selected.apply_flags(change.uid, change.flags, change.modseq);
    }
    if !attributes.contains(&FetchAttribute::Flags) {
        attributes.push(FetchAttribute::Flags);
    }
    Ok(())
}

/// The parsed message, from the cache or by reading and parsing it;
/// `bytes` gets the content when `content` is wanted (or was read anyway).
async fn load(
    session: &Session,
    meta: &MessageMeta,
    content: bool,
    bytes: &mut Option<Vec<u8>>,
) -> Result<Arc<Parsed>, StoreError> {
    let cached = session.context.cache.get(&meta.blob);
    if let Some(parsed) = &cached
        && !content
    {
        return Ok(Arc::clone(parsed));
    }
    let data = session.context.store.message_content(&meta.blob).await?;
    let parsed = match cached {
        Some(parsed) => parsed,
        None => session.context.cache.insert(meta.blob.clone(), Parsed::new(&data)),
    };
    *bytes = Some(data);
    Ok(parsed)
}
