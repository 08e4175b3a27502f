//! SEARCH and UID SEARCH (RFC 9051 6.4.4) with ESEARCH (RFC 4731),
//! SEARCHRES (RFC 5182) and CONDSTORE's MODSEQ (RFC 7162 3.1.5). Keys
//! that need the message (headers, text, sent date) are evaluated only
//! when the cheap keys around them leave the answer open.

use super::parallel;
use crate::message::mime;
use crate::message::text::{Needle, Searchable, parse_date};
use crate::proto::response::{Code, Status};
use crate::proto::search::{SearchKey, SearchReturn};
use crate::proto::sequence::SequenceSet;
use crate::session::{Flow, Session};
use estafeta_core::model::SystemFlags;
use estafeta_store::MessageMeta;
use mail_parser::decoders::charsets::map::charset_decoder;
use std::fmt::Write as _;
use std::sync::Arc;

/// What a key is evaluated against: the message, its numbers, and its
/// content once loaded.
pub struct Candidate<'a> {
    pub seq: u32,
    pub meta: &'a MessageMeta,
    pub content: Option<&'a Content<'a>>,
}

pub struct Content<'a> {
    pub searchable: Searchable<'a>,
    /// Date: as (seconds, days).
    pub sent: Option<(i64, i64)>,
}

impl<'a> Content<'a> {
    pub fn new(bytes: &'a [u8]) -> Content<'a> {
        let header = &bytes[..mime::header_end(bytes)];
        Content {
            searchable: Searchable::new(bytes),
            sent: mime::header_value(header, "date").and_then(|d| parse_date(&d)),
        }
    }
}

/// The session facts keys refer to.
pub struct Scope<'a> {
    pub count: u32,
    pub largest_uid: u32,
    pub saved: &'a [u32],
    /// The messages \Recent in this session, ascending (RFC 3501 2.3.2).
    pub recent: &'a [u32],
    /// Turns a search string into UTF-8 from the command's CHARSET.
    pub decode: fn(&[u8]) -> String,
}

fn utf8(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn needle(scope: &Scope, bytes: &[u8]) -> Needle {
    Needle::new((scope.decode)(bytes).as_bytes())
}

/// `Some(answer)`, or `None` when the answer needs the content.
pub fn eval(key: &SearchKey, message: &Candidate, scope: &Scope) -> Option<bool> {
    let flags = &message.meta.flags;
    let has = |flag: SystemFlags| flags.system.contains(flag);
    // RFC 3501 6.4.4: the internal date's day "disregarding time and
    // timezone", that is, the day as the date is written in its own zone.
    let internal_day = (message.meta.internal_date + i64::from(message.meta.date_zone) * 60).div_euclid(86_400);
    let header = |name: &str, value: &[u8]| -> Option<bool> {
        let content = message.content?;
        let needle = needle(scope, value);
        Some(content.searchable.header(name).iter().any(|v| needle.found_in(v)))
    };
    let sent = |test: &dyn Fn(i64) -> bool| -> Option<bool> {
        let content = message.content?;
        Some(content.sent.is_some_and(|(_, days)| test(days)))
    };
    Some(match key {
        SearchKey::All => true,
        // RFC 3501 6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT.
        SearchKey::Recent => scope.recent.binary_search(&message.meta.uid).is_ok(),
        SearchKey::New => scope.recent.binary_search(&message.meta.uid).is_ok() && !has(SystemFlags::SEEN),
        SearchKey::Old => scope.recent.binary_search(&message.meta.uid).is_err(),
        SearchKey::Answered => has(SystemFlags::ANSWERED),
        SearchKey::Deleted => has(SystemFlags::DELETED),
        SearchKey::Draft => has(SystemFlags::DRAFT),
        SearchKey::Flagged => has(SystemFlags::FLAGGED),
        SearchKey::Seen => has(SystemFlags::SEEN),
        SearchKey::Unanswered => !has(SystemFlags::ANSWERED),
        SearchKey::Undeleted => !has(SystemFlags::DELETED),
        SearchKey::Undraft => !has(SystemFlags::DRAFT),
        SearchKey::Unflagged => !has(SystemFlags::FLAGGED),
        SearchKey::Unseen => !has(SystemFlags::SEEN),
        SearchKey::Keyword(k) => flags.keywords.iter().any(|f| f.eq_ignore_ascii_case(k)),
        SearchKey::Unkeyword(k) => !flags.keywords.iter().any(|f| f.eq_ignore_ascii_case(k)),
        SearchKey::Larger(n) => message.meta.size > *n,
        SearchKey::Smaller(n) => message.meta.size < *n,
        SearchKey::Before(d) => internal_day < *d,
        SearchKey::On(d) => internal_day == *d,
        SearchKey::Since(d) => internal_day >= *d,
        SearchKey::Modseq(n) => message.meta.modseq >= *n,
        SearchKey::Uid(SequenceSet::SavedResult) | SearchKey::Sequence(SequenceSet::SavedResult) => {
            scope.saved.contains(&message.meta.uid)
        }
        SearchKey::Uid(set) => set.contains(message.meta.uid, scope.largest_uid),
        SearchKey::Sequence(set) => set.contains(message.seq, scope.count),
        SearchKey::Bcc(v) => return header("bcc", v),
        SearchKey::Cc(v) => return header("cc", v),
        SearchKey::From(v) => return header("from", v),
        SearchKey::To(v) => return header("to", v),
        SearchKey::Subject(v) => return header("subject", v),
        SearchKey::Header(name, v) => {
            let content = message.content?;
            let values = content.searchable.header(name);
            // RFC 9051 6.4.4: an empty string matches every message with the field.
            let needle = needle(scope, v);
            !values.is_empty() && (needle.is_empty() || values.iter().any(|value| needle.found_in(value)))
        }
        SearchKey::Body(v) => message.content?.searchable.body_contains(&needle(scope, v)),
        SearchKey::Text(v) => message.content?.searchable.text_contains(&needle(scope, v)),
        SearchKey::SentBefore(d) => return sent(&|days| days < *d),
        SearchKey::SentOn(d) => return sent(&|days| days == *d),
        SearchKey::SentSince(d) => return sent(&|days| days >= *d),
        SearchKey::Not(inner) => !eval(inner, message, scope)?,
        SearchKey::Or(a, b) => match (eval(a, message, scope), eval(b, message, scope)) {
            (Some(true), _) | (_, Some(true)) => true,
            (Some(false), Some(false)) => false,
            _ => return None,
        },
        SearchKey::And(keys) => {
            let mut open = false;
            for key in keys {
                match eval(key, message, scope) {
                    Some(false) => return Some(false),
                    Some(true) => {}
                    None => open = true,
                }
            }
            if open {
                return None;
            }
            true
        }
    })
}

fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::Modseq(_) => true,
        SearchKey::Not(inner) => uses_modseq(inner),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(keys) => keys.iter().any(uses_modseq),
        _ => false,
    }
}

/// The charset's decoder, or `None` if we do not know it (RFC 9051
/// 6.4.4: NO [BADCHARSET]).
pub fn charset(name: Option<&str>) -> Option<fn(&[u8]) -> String> {
    match name {
        None => Some(utf8),
        Some(name) if name.eq_ignore_ascii_case("UTF-8") || name.eq_ignore_ascii_case("US-ASCII") => Some(utf8),
        Some(name) => charset_decoder(name.as_bytes()),
    }
}

/// Positions (0-based) of the selected messages matching `key`. Keys
/// that need no content are answered at once; the rest read their
/// messages in batches and are evaluated across the cores.
pub async fn run(
    session: &mut Session,
    key: &SearchKey,
    decode: fn(&[u8]) -> String,
) -> Result<Vec<usize>, estafeta_store::StoreError> {
    let store = Arc::clone(&session.context.store);
    let selected = session.selected.as_ref().expect("selected state");
    let messages = Arc::clone(&selected.messages);
    let saved = Arc::new(session.saved_search.clone());
    let recent: Arc<Vec<u32>> = Arc::new(selected.recent().to_vec());
    let (count, largest_uid) = (selected.exists(), messages.last().map_or(0, |m| m.uid));
    let scope = Scope {
        count,
        largest_uid,
        saved: &saved,
        recent: &recent,
        decode,
    };
    let mut found = Vec::new();
    let mut open = Vec::new();
    for (i, meta) in messages.iter().enumerate() {
        let candidate = Candidate {
            seq: i as u32 + 1,
            meta,
            content: None,
        };
        match eval(key, &candidate, &scope) {
            Some(true) => found.push(i),
            Some(false) => {}
            None => open.push(i),
        }
    }
    let key = Arc::new(key.clone());
    for chunk in parallel::batches(&open, |i| messages[i].size) {
        let blobs: Vec<_> = chunk.iter().map(|&i| messages[i].blob.clone()).collect();
        let contents = store.message_contents(&blobs).await;
        let mut work = Vec::with_capacity(chunk.len());
        for (&i, content) in chunk.iter().zip(contents) {
            match content {
                Ok(bytes) => work.push((i, bytes)),
                // Expunged meanwhile: it matches nothing.
                Err(estafeta_store::StoreError::BlobMissing(_)) => {}
                Err(error) => return Err(error),
            }
        }
        let (key, messages, saved, recent) = (
            Arc::clone(&key),
            Arc::clone(&messages),
            Arc::clone(&saved),
            Arc::clone(&recent),
        );
        let matched = parallel::map(
            work,
            Arc::new(move |(i, bytes): (usize, Vec<u8>)| {
                let scope = Scope {
                    count,
                    largest_uid,
                    saved: &saved,
                    recent: &recent,
                    decode,
                };
                let content = Content::new(&bytes);
                let candidate = Candidate {
                    seq: i as u32 + 1,
                    meta: &messages[i],
                    content: Some(&content),
                };
                (i, eval(&key, &candidate, &scope).unwrap_or(false))
            }),
        )
        .await;
        found.extend(matched.into_iter().filter(|(_, hit)| *hit).map(|(i, _)| i));
    }
    found.sort_unstable();
    Ok(found)
}

pub async fn search(
    session: &mut Session,
    tag: &str,
    uid: bool,
    charset_name: Option<String>,
    key: SearchKey,
    returns: Option<SearchReturn>,
) -> Flow {
    let Some(decode) = charset(charset_name.as_deref()) else {
        return session.no(
            tag,
            Some(Code::BadCharset(vec!["UTF-8".into(), "US-ASCII".into()])),
            "Unknown charset",
        );
    };
    let update = returns.as_ref().is_some_and(|r| r.update);
    let selected = session.selected.as_ref().expect("selected state");
    // RFC 5267 4.3: a second updating search under a tag still in use is
    // refused.
    if update && selected.live.iter().any(|live| live.tag == tag) {
        return session.bad(tag, "Tag reuse: a search under this tag is still updated");
    }
    let frozen = update.then(|| super::context::freeze(&key, selected, &session.saved_search));
    // Sequence sets inside the key are checked like any other.
    let found = match run(session, &key, decode).await {
        Ok(found) => found,
        Err(error) => return session.store_error(tag, &error),
    };
    let modseq_key = uses_modseq(&key);
    if modseq_key {
        session.enable_condstore();
    }
    let selected = session.selected.as_ref().expect("selected state");
    let numbers: Vec<u32> = found
        .iter()
        .map(|&i| if uid { selected.messages[i].uid } else { i as u32 + 1 })
        .collect();
    let uids: Vec<u32> = found.iter().map(|&i| selected.messages[i].uid).collect();
    if let Some(key) = frozen {
        let live = super::context::LiveSearch {
            tag: tag.to_owned(),
            uid,
            key,
            decode,
            uids: uids.clone(),
        };
        let selected = session.selected.as_mut().expect("selected state");
        selected.live_seen = super::context::fingerprint(&selected.messages);
        selected.live.push(live);
    }
    let selected = session.selected.as_ref().expect("selected state");
    let highest = found.iter().map(|&i| selected.messages[i].modseq).max();
    let modseq_of = |at: Option<&usize>| at.map(|&i| selected.messages[i].modseq);
    let (first_modseq, last_modseq) = (modseq_of(found.first()), modseq_of(found.last()));
    let returns = match returns {
        Some(returns) => Some(returns),
        // IMAP4rev2 answers a plain SEARCH with ESEARCH (RFC 9051 6.4.4).
        None if session.enabled.rev2 => Some(SearchReturn {
            all: true,
            ..SearchReturn::default()
        }),
        None => None,
    };
    let mut line = String::new();
    match returns {
        None => {
            line.push_str("* SEARCH");
            for n in &numbers {
                let _ = write!(line, " {n}");
            }
            if let (true, Some(highest)) = (modseq_key, highest) {
                let _ = write!(line, " (MODSEQ {highest})");
            }
            line.push_str("\r\n");
        }
        Some(returns) => {
            if returns.save {
                session.saved_search = uids;
            }
            // RFC 5182 2.1: SAVE alone answers nothing (an empty RETURN
            // list was read as ALL).
            if returns.answers() {
                let _ = write!(line, "* ESEARCH (TAG \"{tag}\")");
                if uid {
                    line.push_str(" UID");
                }
                esearch_results(&mut line, &returns, &numbers);
                // RFC 4731 3.2: a lone MIN or MAX reports its own message's
                // MODSEQ, MIN and MAX the higher of the two, anything else
                // the highest of all found.
                let reported = match (returns.min, returns.max, returns.all || returns.count) {
                    (true, false, false) => first_modseq,
                    (false, true, false) => last_modseq,
                    (true, true, false) => first_modseq.max(last_modseq),
                    _ => highest,
                };
                if let (true, Some(reported)) = (modseq_key, reported) {
                    let _ = write!(line, " MODSEQ {reported}");
                }
                line.push_str("\r\n");
            }
        }
    }
    session.io.out().extend_from_slice(line.as_bytes());
    session.sync(uid).await;
    session.tagged(tag, Status::Ok, None, "SEARCH completed")
}

/// The result items of an ESEARCH response (RFC 4731 3.1; RFC 9394 for
/// PARTIAL) for `numbers` in result order. For SORT (RFC 5267 3) that is
/// the sort order: MIN and MAX are its first and last, and ALL keeps the
/// order, writing only ascending runs as ranges (`3,1:2,4`), as a run
/// `n:m` read from left to right is still in that order.
pub(super) fn esearch_results(line: &mut String, returns: &SearchReturn, numbers: &[u32]) {
    let set = crate::proto::sequence::compact;
    if returns.min
        && let Some(min) = numbers.first()
    {
        let _ = write!(line, " MIN {min}");
    }
    if returns.max
        && let Some(max) = numbers.last()
    {
        let _ = write!(line, " MAX {max}");
    }
    if returns.count {
        let _ = write!(line, " COUNT {}", numbers.len());
    }
    if returns.all && !numbers.is_empty() {
        let _ = write!(line, " ALL {}", set(numbers));
    }
    if let Some(range) = returns.partial {
        // RFC 9394 3.1: PARTIAL is always returned, NIL when the range
        // holds no result.
        let within = &numbers[range.positions(numbers.len())];
        let found = if within.is_empty() {
            "NIL".to_owned()
        } else {
            set(within)
        };
        let _ = write!(line, " PARTIAL ({range} {found})");
    }
}
