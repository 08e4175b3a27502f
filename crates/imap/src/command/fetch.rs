//! FETCH and UID FETCH (RFC 9051 6.4.5, BINARY RFC 3516, CONDSTORE and
//! QRESYNC modifiers RFC 7162 3.1.4, 3.2.6). Structure and envelope come
//! from the shared parse cache; content is read only for items that need
//! it.

use super::{parallel, resolve};
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
        session.enable_condstore();
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
    let listed = Arc::clone(&session.selected.as_ref().expect("selected state").messages);
    for chunk in parallel::batches(&positions, |i| listed[i].size) {
        let selected = session.selected.as_ref().expect("selected state");
        let metas: Vec<MessageMeta> = chunk.iter().map(|&i| selected.messages[i].clone()).collect();
        let loaded = match load(session, &metas, parse, content).await {
            Ok(loaded) => loaded,
            Err(error) => return session.store_error(tag, &error),
        };
        for ((&i, meta), (parsed, bytes)) in chunk.iter().zip(&metas).zip(loaded) {
            if parse && parsed.is_none() {
                // Expunged by another session and already gone: nothing to
                // show (RFC 9051 7.5.1 allows leaving it out).
                continue;
            }
            let recent = session.selected.as_ref().is_some_and(|s| s.is_recent(meta.uid));
            let line = render::fetch_response(
                i + 1,
                meta,
                recent,
                &attributes,
                parsed.as_deref(),
                bytes.as_deref(),
                utf8,
            );
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

/// A message's parsed form and content, each when wanted and there.
type Loaded = (Option<Arc<Parsed>>, Option<Vec<u8>>);

/// For each message: its parsed form (when `parse`) from the cache or by
/// reading and parsing it, and its content (when `content`, or read
/// anyway). Reads go to the store in one batch; parsing is spread over
/// the cores. A message whose content is gone (expunged elsewhere) gets
/// `(None, None)`; any other read failure is an error.
async fn load(session: &Session, metas: &[MessageMeta], parse: bool, content: bool) -> Result<Vec<Loaded>, StoreError> {
    let cache = &session.context.cache;
    let mut out: Vec<Loaded> = metas
        .iter()
        .map(|m| (if parse { cache.get(&m.blob) } else { None }, None))
        .collect();
    let wanted: Vec<usize> = (0..metas.len())
        .filter(|&k| content || (parse && out[k].0.is_none()))
        .collect();
    if wanted.is_empty() {
        return Ok(out);
    }
    let blobs: Vec<_> = wanted.iter().map(|&k| metas[k].blob.clone()).collect();
    let contents = session.context.store.message_contents(&blobs).await;
    let mut to_parse = Vec::new();
    for (&k, result) in wanted.iter().zip(contents) {
        match result {
            Ok(bytes) if parse && out[k].0.is_none() => to_parse.push((k, bytes)),
            Ok(bytes) => out[k].1 = Some(bytes),
            Err(StoreError::BlobMissing(_)) => {
                out[k].0 = None;
            }
            Err(error) => return Err(error),
        }
    }
    let parsed = parallel::map(
        to_parse,
        Arc::new(|(k, bytes): (usize, Vec<u8>)| {
            let parsed = Parsed::new(&bytes);
            (k, bytes, parsed)
        }),
    )
    .await;
    for (k, bytes, parsed) in parsed {
        out[k].0 = Some(cache.insert(metas[k].blob.clone(), parsed));
        if content {
            out[k].1 = Some(bytes);
        }
    }
    Ok(out)
}
