//! Email/changes (RFC 8621 4.3, RFC 8620 5.2) from what the store keeps
//! for IMAP's QRESYNC: each mailbox's messages changed after a MODSEQ and
//! those that left it, now with their content. The state names every
//! mailbox's UIDNEXT and HIGHESTMODSEQ, so an old state says which of
//! today's messages were there then.

use super::{Emails, email_id};
use crate::Context;
use crate::error::MethodError;
use estafeta_core::model::MailboxId;
use estafeta_store::BlobId;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};

/// A mailbox as a state remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    pub uid_next: u32,
    pub modseq: u64,
}

/// The state string of `marks`, in mailbox order.
pub(crate) fn encode(marks: &BTreeMap<MailboxId, Mark>) -> String {
    let pairs: Vec<String> = marks
        .iter()
        .map(|(mailbox, mark)| format!("{}-{}-{}", mailbox.0, mark.uid_next, mark.modseq))
        .collect();
    format!("e{}", pairs.join("."))
}

pub(crate) fn decode(state: &str) -> Option<BTreeMap<MailboxId, Mark>> {
    let body = state.strip_prefix('e')?;
    if body.is_empty() {
        return Some(BTreeMap::new());
    }
    body.split('.')
        .map(|pair| {
            let mut numbers = pair.split('-');
            let mailbox = MailboxId(numbers.next()?.parse().ok()?);
            let uid_next = numbers.next()?.parse().ok()?;
            let modseq = numbers.next()?.parse().ok()?;
            numbers.next().is_none().then_some((mailbox, Mark { uid_next, modseq }))
        })
        .collect()
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Found {
    created: Vec<BlobId>,
    updated: Vec<BlobId>,
    destroyed: Vec<BlobId>,
}

impl Found {
    fn len(&self) -> usize {
        self.created.len() + self.updated.len() + self.destroyed.len()
    }
}

/// One mailbox's changes since the old state, in MODSEQ order.
struct Touched {
    mailbox: MailboxId,
    before: Mark,
    now: Mark,
    /// (MODSEQ, content) of each message changed, added or gone.
    events: Vec<(u64, BlobId)>,
}

pub async fn changes(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let Some(Value::String(since)) = arguments.get("sinceState") else {
        return Err(MethodError::invalid_arguments("sinceState is required"));
    };
    let max_changes = match arguments.get("maxChanges") {
        None | Some(Value::Null) => usize::MAX,
        Some(max) => max
            .as_u64()
            .filter(|m| *m > 0)
            .ok_or_else(|| MethodError::invalid_arguments("maxChanges must be a positive integer"))?
            as usize,
    };
    let cannot = || MethodError::new("cannotCalculateChanges");
    let old = decode(since).ok_or_else(cannot)?;
    let emails = Emails::load(context).await?;
    let now: BTreeMap<MailboxId, Mark> = emails
        .mailboxes
        .iter()
        .map(|m| {
            (
                m.id,
                Mark {
                    uid_next: m.uid_next,
                    modseq: m.highest_modseq,
                },
            )
        })
        .collect();
    // What a removed mailbox held is gone with it.
    if old.keys().any(|mailbox| !now.contains_key(mailbox)) {
        return Err(cannot());
    }
    // A message was in its mailbox at the old state when its UID is below
    // the UIDNEXT the state names (RFC 9051 2.3.1.1: UIDs only grow).
    let was_there = |mailbox: MailboxId, uid: u32| old.get(&mailbox).is_some_and(|mark| uid < mark.uid_next);

    let mut touched = Vec::new();
    let mut existed: HashSet<BlobId> = HashSet::new();
    for (&mailbox, &mark) in &now {
        let before = old.get(&mailbox).copied().unwrap_or(Mark { uid_next: 1, modseq: 0 });
        if before == mark {
            continue;
        }
        let mut events = Vec::new();
        for message in context.store.changes_since(mailbox, before.modseq).await?.changed {
            events.push((message.modseq, message.blob));
        }
        for vanished in context.store.vanished_since(mailbox, before.modseq).await? {
            // Expunged before the store kept contents: unknown.
            let blob = vanished.blob.ok_or_else(cannot)?;
            if was_there(mailbox, vanished.uid) {
                existed.insert(blob.clone());
            }
            events.push((vanished.modseq, blob));
        }
        events.sort();
        touched.push(Touched {
            mailbox,
            before,
            now: mark,
            events,
        });
    }
    for email in &emails.list {
        if email.copies.iter().any(|c| was_there(c.mailbox, c.uid)) {
            existed.insert(email.blob.clone());
        }
    }

    // In MODSEQ order, mailbox by mailbox, so that when `maxChanges` stops
    // the walk early the state reached is a real one: the mailboxes done
    // at their new marks, the one under way at the last MODSEQ taken
    // whole. Its old UIDNEXT stays, so what came after shows as created.
    let mut found = Found::default();
    let mut listed: HashSet<BlobId> = HashSet::new();
    let mut reached = old.clone();
    let mut more = false;
    'walk: for mailbox in &touched {
        for group in mailbox.events.chunk_by(|a, b| a.0 == b.0) {
            let mut fresh: Vec<&BlobId> = group
                .iter()
                .map(|(_, blob)| blob)
                .filter(|b| !listed.contains(*b))
                .collect();
            fresh.sort();
            fresh.dedup();
            if found.len() + fresh.len() > max_changes {
                if found.len() == 0 {
                    // One MODSEQ alone changed more than the client takes.
                    return Err(cannot());
                }
                more = true;
                break 'walk;
            }
            for blob in fresh {
                let list = match (emails.find(&email_id(blob)).is_some(), existed.contains(blob)) {
                    (true, true) => &mut found.updated,
                    (true, false) => &mut found.created,
                    (false, true) => &mut found.destroyed,
                    // Came and went between the two states.
                    (false, false) => continue,
                };
                list.push(blob.clone());
                listed.insert(blob.clone());
            }
            let part_way = Mark {
                uid_next: mailbox.before.uid_next,
                modseq: group[0].0,
            };
            reached.insert(mailbox.mailbox, part_way);
        }
        reached.insert(mailbox.mailbox, mailbox.now);
    }
    let ids = |list: &[BlobId]| list.iter().map(email_id).collect::<Vec<_>>();
    Ok(json!({
        "accountId": account_id,
        "oldState": since,
        "newState": if more { encode(&reached) } else { emails.state.clone() },
        "hasMoreChanges": more,
        "created": ids(&found.created),
        "updated": ids(&found.updated),
        "destroyed": ids(&found.destroyed),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_say_each_mailbox_and_read_back() {
        let mut marks = BTreeMap::new();
        marks.insert(
            MailboxId(3),
            Mark {
                uid_next: 10,
                modseq: 42,
            },
        );
        marks.insert(MailboxId(1), Mark { uid_next: 1, modseq: 1 });
        let state = encode(&marks);
        assert_eq!(state, "e1-1-1.3-10-42");
        assert_eq!(decode(&state), Some(marks));
        assert_eq!(decode("e"), Some(BTreeMap::new()));
        for bad in ["", "x1-1-1", "e1-1", "e1-1-1-1", "e1-1-x", "e1-1-1.", "e-1-1-1"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
