//! SORT (RFC 5256 3), and the messages SORT and THREAD work on.

use super::search::{charset, run};
use crate::message::Parsed;
use crate::message::envelope::EnvelopeAddress;
use crate::proto::response::{Code, Status};
use crate::proto::search::{SearchKey, SearchReturn, SortCriterion, SortKey};
use crate::session::{Flow, Session};
use estafeta_core::subject::base_subject;
use estafeta_store::{MessageMeta, StoreError};
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::Arc;

/// One message matched by the search key.
pub(super) struct Item {
    /// Its place in the mailbox (sequence number - 1): RFC 5256's tie-break.
    pub position: usize,
    pub meta: MessageMeta,
    pub parsed: Arc<Parsed>,
}

impl Item {
    /// RFC 5256 3 "sent date": the Date field, or the internal date when
    /// it is missing or cannot be parsed.
    pub fn sent(&self) -> i64 {
        self.parsed.sent.map_or(self.meta.internal_date, |(secs, _)| secs)
    }

    pub fn number(&self, uid: bool) -> u32 {
        if uid { self.meta.uid } else { self.position as u32 + 1 }
    }

    pub fn subject_key(&self) -> String {
        base_subject(self.parsed.envelope.subject.as_deref().unwrap_or_default()).key()
    }
}

/// The messages `key` matches, in mailbox order.
pub(super) async fn items(
    session: &mut Session,
    key: &SearchKey,
    decode: fn(&[u8]) -> String,
) -> Result<Vec<Item>, StoreError> {
    let found = run(session, key, decode).await?;
    let mut items = Vec::with_capacity(found.len());
    for position in found {
        let meta = session.selected.as_ref().expect("selected state").messages[position].clone();
        let parsed = match session.context.cache.get(&meta.blob) {
            Some(parsed) => parsed,
            None => {
                let bytes = session.context.store.message_content(&meta.blob).await?;
                session.context.cache.insert(meta.blob.clone(), Parsed::new(&bytes))
            }
        };
        items.push(Item { position, meta, parsed });
    }
    Ok(items)
}

/// RFC 5256 3: FROM, TO and CC sort by the addr-mailbox of the first
/// address, in i;ascii-casemap; none sorts as the empty string.
fn first_mailbox(list: &[EnvelopeAddress]) -> String {
    list.iter()
        .find_map(|a| match a {
            EnvelopeAddress::Mailbox { mailbox, .. } => Some(mailbox.to_ascii_uppercase()),
            _ => None,
        })
        .unwrap_or_default()
}

/// RFC 5957 3: DISPLAYFROM and DISPLAYTO sort by what a client shows for
/// the first address: its display name (decoded), or its addr-spec when it
/// has none; no address sorts as the empty string. Compared case-folded,
/// as the i;unicode-casemap collation does.
fn first_display(list: &[EnvelopeAddress]) -> String {
    list.iter()
        .find_map(|a| match a {
            EnvelopeAddress::Mailbox {
                name, mailbox, host, ..
            } => Some(match name.as_deref().map(str::trim) {
                Some(name) if !name.is_empty() => name.to_lowercase(),
                _ => format!("{mailbox}@{host}").to_lowercase(),
            }),
            _ => None,
        })
        .unwrap_or_default()
}

fn compare(a: &Item, b: &Item, key: SortKey) -> Ordering {
    let (a_env, b_env) = (&a.parsed.envelope, &b.parsed.envelope);
    match key {
        SortKey::Arrival => a.meta.internal_date.cmp(&b.meta.internal_date),
        SortKey::Date => a.sent().cmp(&b.sent()),
        SortKey::Size => a.meta.size.cmp(&b.meta.size),
        SortKey::From => first_mailbox(&a_env.from).cmp(&first_mailbox(&b_env.from)),
        SortKey::To => first_mailbox(&a_env.to).cmp(&first_mailbox(&b_env.to)),
        SortKey::Cc => first_mailbox(&a_env.cc).cmp(&first_mailbox(&b_env.cc)),
        SortKey::Subject => a.subject_key().cmp(&b.subject_key()),
        SortKey::DisplayFrom => first_display(&a_env.from).cmp(&first_display(&b_env.from)),
        SortKey::DisplayTo => first_display(&a_env.to).cmp(&first_display(&b_env.to)),
    }
}

pub async fn sort(
    session: &mut Session,
    tag: &str,
    uid: bool,
    returns: Option<SearchReturn>,
    criteria: Vec<SortCriterion>,
    charset_name: String,
    key: SearchKey,
) -> Flow {
    let Some(decode) = charset(Some(&charset_name)) else {
        return session.no(tag, Some(Code::BadCharset(vec!["UTF-8".into()])), "Unknown charset");
    };
    let mut items = match items(session, &key, decode).await {
        Ok(items) => items,
        Err(error) => return session.store_error(tag, &error),
    };
    // Stable: what every criterion leaves tied keeps mailbox order
    // (RFC 5256 3).
    items.sort_by(|a, b| {
        for criterion in &criteria {
            let order = compare(a, b, criterion.key);
            let order = if criterion.reverse { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    });
    let mut line = String::new();
    match returns {
        None => {
            line.push_str("* SORT");
            for item in &items {
                let _ = write!(line, " {}", item.number(uid));
            }
            line.push_str("\r\n");
        }
        // ESORT (RFC 5267 3): the result as ESEARCH, in sort order.
        Some(returns) => {
            if returns.save {
                let mut uids: Vec<u32> = items.iter().map(|item| item.meta.uid).collect();
                uids.sort_unstable();
                session.saved_search = uids;
            }
            if returns.answers() {
                let numbers: Vec<u32> = items.iter().map(|item| item.number(uid)).collect();
                let _ = write!(line, "* ESEARCH (TAG \"{tag}\")");
                if uid {
                    line.push_str(" UID");
                }
                super::search::esearch_results(&mut line, &returns, &numbers);
                line.push_str("\r\n");
            }
            // RFC 5267 4.3.1: sorted results are not kept up to date (no
            // CONTEXT=SORT); the rest of the answer stands.
            if returns.update {
                let _ = write!(line, "* NO [NOUPDATE \"{tag}\"] Sorted results are not updated\r\n");
            }
        }
    }
    session.io.out().extend_from_slice(line.as_bytes());
    session.sync(uid).await;
    session.tagged(tag, Status::Ok, None, "SORT completed")
}
