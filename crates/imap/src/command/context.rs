//! CONTEXT=SEARCH (RFC 5267 4): searches kept up to date. A SEARCH with
//! RETURN (UPDATE) leaves its result in the session; whenever the mailbox
//! changes the search runs again and the difference goes out as ESEARCH
//! ADDTO and REMOVEFROM, until CANCELUPDATE or the mailbox is closed.
//! Positions are always 0: a SEARCH result is in mailbox order (4.3.3).

use super::search::run;
use crate::proto::response;
use crate::proto::search::SearchKey;
use crate::proto::sequence::{SequenceSet, compact};
use crate::session::selected::Selected;
use crate::session::{Flow, Session};
use estafeta_store::MessageMeta;

/// One search the client asked to keep up to date.
pub struct LiveSearch {
    /// The tag of the searching command: the ESEARCH correlator.
    pub tag: String,
    /// UID SEARCH: updates name UIDs, else message numbers (4.3.2).
    pub uid: bool,
    /// The search program, its message numbers and `$` turned into the
    /// UIDs they meant when the command came (RFC 5267 4.3, errata to
    /// RFC 3501: they are evaluated once).
    pub key: SearchKey,
    pub decode: fn(&[u8]) -> String,
    /// What the client holds as the result: UIDs, ascending.
    pub uids: Vec<u32>,
}

/// A cheap summary of the view: when it has not moved, no search result
/// can have either.
pub fn fingerprint(view: &[MessageMeta]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for message in view {
        for part in [
            u64::from(message.uid),
            message.modseq,
            u64::from(message.flags.system.0),
            message.flags.keywords.len() as u64,
        ] {
            hash = (hash ^ part).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// `key` as it will be evaluated later: message numbers and `$` become
/// the UIDs they name now.
pub fn freeze(key: &SearchKey, selected: &Selected, saved: &[u32]) -> SearchKey {
    let uids_of = |numbers: Vec<u32>| match SequenceSet::parse(&compact(&numbers)) {
        Ok(set) => SearchKey::Uid(set),
        // No message at all: a key nothing matches.
        Err(_) => SearchKey::Not(Box::new(SearchKey::All)),
    };
    match key {
        SearchKey::Sequence(SequenceSet::SavedResult) | SearchKey::Uid(SequenceSet::SavedResult) => {
            uids_of(saved.to_vec())
        }
        SearchKey::Sequence(set) => {
            let count = selected.exists();
            let uids = selected
                .messages
                .iter()
                .enumerate()
                .filter(|(i, _)| set.contains(*i as u32 + 1, count))
                .map(|(_, m)| m.uid)
                .collect();
            uids_of(uids)
        }
        SearchKey::Not(inner) => SearchKey::Not(Box::new(freeze(inner, selected, saved))),
        SearchKey::Or(a, b) => SearchKey::Or(
            Box::new(freeze(a, selected, saved)),
            Box::new(freeze(b, selected, saved)),
        ),
        SearchKey::And(keys) => SearchKey::And(keys.iter().map(|k| freeze(k, selected, saved)).collect()),
        other => other.clone(),
    }
}

fn esearch(tag: &str, uid: bool, item: &str, numbers: &[u32]) -> String {
    let uid = if uid { " UID" } else { "" };
    format!("ESEARCH (TAG \"{tag}\"){uid} {item} (0 {})", compact(numbers))
}

/// REMOVEFROM for messages about to be reported expunged: sent before
/// the EXPUNGE responses, while their numbers still hold (4.3.4).
pub fn expunging(selected: &mut Selected, uids: &[u32], out: &mut Vec<u8>) {
    for at in 0..selected.live.len() {
        let live = &selected.live[at];
        let mut gone: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| live.uids.binary_search(u).is_ok())
            .collect();
        if gone.is_empty() {
            continue;
        }
        gone.sort_unstable();
        let numbers: Vec<u32> = if live.uid {
            gone.clone()
        } else {
            gone.iter()
                .filter_map(|&u| selected.position(u))
                .map(|p| p as u32 + 1)
                .collect()
        };
        response::untagged(out, &esearch(&live.tag, live.uid, "REMOVEFROM", &numbers));
        selected.live[at].uids.retain(|u| gone.binary_search(u).is_err());
    }
}

/// Runs every live search again if the view moved, and writes what each
/// gained (ADDTO) and lost (REMOVEFROM), in the view's current numbers.
pub async fn notify(session: &mut Session) {
    let Some(selected) = session.selected.as_mut() else {
        return;
    };
    if selected.live.is_empty() {
        return;
    }
    let print = fingerprint(&selected.messages);
    if print == selected.live_seen {
        return;
    }
    selected.live_seen = print;
    let mut searches = std::mem::take(&mut selected.live);
    for live in &mut searches {
        let found = match run(session, &live.key, live.decode).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, tag = %live.tag, "could not update a search context");
                continue;
            }
        };
        let Some(selected) = session.selected.as_ref() else {
            return;
        };
        let now: Vec<u32> = found.iter().map(|&i| selected.messages[i].uid).collect();
        let number = |uid: u32| -> Option<u32> {
            if live.uid {
                Some(uid)
            } else {
                selected.position(uid).map(|p| p as u32 + 1)
            }
        };
        let removed: Vec<u32> = live
            .uids
            .iter()
            .filter(|u| now.binary_search(u).is_err())
            .filter_map(|&u| number(u))
            .collect();
        let added: Vec<u32> = now
            .iter()
            .filter(|u| live.uids.binary_search(u).is_err())
            .filter_map(|&u| number(u))
            .collect();
        let out = session.io.out();
        if !removed.is_empty() {
            response::untagged(out, &esearch(&live.tag, live.uid, "REMOVEFROM", &removed));
        }
        if !added.is_empty() {
            response::untagged(out, &esearch(&live.tag, live.uid, "ADDTO", &added));
        }
        live.uids = now;
    }
    if let Some(selected) = session.selected.as_mut() {
        selected.live = searches;
    }
}

/// CANCELUPDATE (RFC 5267 4.3.5): those searches are updated no more.
pub fn cancel_update(session: &mut Session, tag: &str, tags: &[String]) -> Flow {
    if let Some(selected) = session.selected.as_mut() {
        selected.live.retain(|live| !tags.contains(&live.tag));
    }
    session.ok(tag, "No further updates")
}
