//! SORT and THREAD (RFC 5256): ORDEREDSUBJECT and REFERENCES.

use super::search::{charset, run};
use crate::message::Parsed;
use crate::message::envelope::EnvelopeAddress;
use crate::proto::response::{Code, Status};
use crate::proto::search::{SearchKey, SortCriterion, SortKey, ThreadAlgorithm};
use crate::session::{Flow, Session};
use estafeta_store::{MessageMeta, StoreError};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// RFC 5256 2.1 base subject: encoded words decoded, `Re:`/`Fwd:` and
/// `[tag]` prefixes and a `(fwd)` trailer removed, case folded.
pub fn base_subject(raw: &[u8]) -> String {
    let header = [b"Subject: ".as_slice(), raw, b"\r\n\r\n"].concat();
    let decoded = mail_parser::MessageParser::default()
        .parse_headers(&header)
        .and_then(|m| m.subject().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned());
    let mut subject: String = decoded.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    loop {
        let before = subject.clone();
        while let Some(rest) = subject.strip_suffix("(fwd)") {
            subject = rest.trim_end().to_owned();
        }
        let trimmed = subject.trim_start();
        let mut rest = trimmed;
        // subj-blob: [anything]
        while let Some(after) = rest
            .strip_prefix('[')
            .and_then(|r| r.split_once(']').map(|(_, a)| a.trim_start()))
        {
            if after.is_empty() {
                break;
            }
            rest = after;
        }
        for prefix in ["re", "fwd", "fw"] {
            if let Some(after) = rest.strip_prefix(prefix) {
                let after = after.trim_start();
                let after = match after.strip_prefix('[') {
                    Some(blob) => blob.split_once(']').map_or(after, |(_, a)| a),
                    None => after,
                };
                if let Some(after) = after.strip_prefix(':') {
                    rest = after.trim_start();
                    break;
                }
            }
        }
        subject = rest.to_owned();
        if let Some(inner) = subject.strip_prefix("[fwd:").and_then(|s| s.strip_suffix(']')) {
            subject = inner.trim().to_owned();
        }
        if subject == before {
            return subject;
        }
    }
}

struct Item {
    position: usize,
    meta: MessageMeta,
    parsed: Arc<Parsed>,
}

async fn items(session: &mut Session, key: &SearchKey, decode: fn(&[u8]) -> String) -> Result<Vec<Item>, StoreError> {
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

fn first_mailbox(list: &[EnvelopeAddress]) -> String {
    list.iter()
        .find_map(|a| match a {
            EnvelopeAddress::Mailbox { mailbox, .. } => Some(mailbox.to_lowercase()),
            _ => None,
        })
        .unwrap_or_default()
}

/// RFC 5256 SORT DATE: the sent date, or the internal date without one.
fn date(item: &Item) -> i64 {
    item.parsed.sent.map_or(item.meta.internal_date, |(secs, _)| secs)
}

fn compare(a: &Item, b: &Item, key: SortKey) -> Ordering {
    match key {
        SortKey::Arrival => a.meta.internal_date.cmp(&b.meta.internal_date),
        SortKey::Date => date(a).cmp(&date(b)),
        SortKey::Size => a.meta.size.cmp(&b.meta.size),
        SortKey::From => first_mailbox(&a.parsed.envelope.from).cmp(&first_mailbox(&b.parsed.envelope.from)),
        SortKey::To => first_mailbox(&a.parsed.envelope.to).cmp(&first_mailbox(&b.parsed.envelope.to)),
        SortKey::Cc => first_mailbox(&a.parsed.envelope.cc).cmp(&first_mailbox(&b.parsed.envelope.cc)),
        SortKey::Subject => subject_of(a).cmp(&subject_of(b)),
    }
}

fn subject_of(item: &Item) -> String {
    base_subject(item.parsed.envelope.subject.as_deref().unwrap_or_default())
}

fn number(item: &Item, uid: bool) -> u32 {
    if uid { item.meta.uid } else { item.position as u32 + 1 }
}

pub async fn sort(
    session: &mut Session,
    tag: &str,
    uid: bool,
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
    // Stable: ties keep sequence order (RFC 5256 3).
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
    let mut line = String::from("* SORT");
    for item in &items {
        let _ = write!(line, " {}", number(item, uid));
    }
    line.push_str("\r\n");
    session.io.out().extend_from_slice(line.as_bytes());
    session.sync(uid).await;
    session.tagged(tag, Status::Ok, None, "SORT completed")
}

/// A thread tree: a message (or none, for a missing parent) and replies.
struct Node {
    item: Option<usize>,
    children: Vec<Node>,
}

fn write_thread(out: &mut String, node: &Node, items: &[Item], uid: bool) {
    match node.item {
        Some(i) => {
            let _ = write!(out, "{}", number(&items[i], uid));
            match node.children.len() {
                0 => {}
                1 => {
                    out.push(' ');
                    write_thread(out, &node.children[0], items, uid);
                }
                _ => {
                    out.push(' ');
                    for child in &node.children {
                        out.push('(');
                        write_thread(out, child, items, uid);
                        out.push(')');
                    }
                }
            }
        }
        None => {
            for child in &node.children {
                out.push('(');
                write_thread(out, child, items, uid);
                out.push(')');
            }
        }
    }
}

fn earliest(node: &Node, items: &[Item]) -> i64 {
    node.item
        .map(|i| date(&items[i]))
        .into_iter()
        .chain(node.children.iter().map(|c| earliest(c, items)))
        .min()
        .unwrap_or(i64::MAX)
}

fn message_ids(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    text.split('<')
        .skip(1)
        .filter_map(|part| part.split_once('>').map(|(id, _)| id.trim().to_owned()))
        .filter(|id| !id.is_empty())
        .collect()
}

/// RFC 5256 REFERENCES: parents from References/In-Reply-To.
fn references(items: &[Item], bytes_headers: &[Vec<u8>]) -> Vec<Node> {
    let ids: Vec<Option<String>> = items
        .iter()
        .map(|item| {
            item.parsed
                .envelope
                .message_id
                .as_deref()
                .and_then(|m| message_ids(m).into_iter().next())
        })
        .collect();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(id) = id {
            by_id.entry(id.as_str()).or_insert(i);
        }
    }
    // parent[i]: the nearest referenced message we have.
    let mut parent: Vec<Option<usize>> = vec![None; items.len()];
    for (i, refs) in bytes_headers.iter().enumerate() {
        let mut chain = message_ids(refs);
        if chain.is_empty()
            && let Some(reply_to) = items[i].parsed.envelope.in_reply_to.as_deref()
        {
            chain = message_ids(reply_to);
        }
        parent[i] = chain
            .iter()
            .rev()
            .filter_map(|id| by_id.get(id.as_str()).copied())
            .find(|&p| p != i);
    }
    // Break cycles: follow parents; a loop back to i cuts i loose.
    for i in 0..items.len() {
        let mut seen = 0;
        let mut at = parent[i];
        while let Some(p) = at {
            if p == i || seen > items.len() {
                parent[i] = None;
                break;
            }
            seen += 1;
            at = parent[p];
        }
    }
    fn build(i: usize, children: &HashMap<usize, Vec<usize>>, items: &[Item]) -> Node {
        let mut nodes: Vec<Node> = children
            .get(&i)
            .map(|c| c.iter().map(|&c| build(c, children, items)).collect())
            .unwrap_or_default();
        nodes.sort_by_key(|n| earliest(n, items));
        Node {
            item: Some(i),
            children: nodes,
        }
    }
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, p) in parent.iter().enumerate() {
        match p {
            Some(p) => children.entry(*p).or_default().push(i),
            None => roots.push(i),
        }
    }
    roots.into_iter().map(|i| build(i, &children, items)).collect()
}

/// RFC 5256 ORDEREDSUBJECT: by base subject, then date; flat threads.
fn ordered_subject(items: &[Item]) -> Vec<Node> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (subject_of(&items[i]), date(&items[i]), items[i].position));
    for i in order {
        let subject = subject_of(&items[i]);
        let at = *index.entry(subject.clone()).or_insert_with(|| {
            groups.push((subject, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(i);
    }
    groups
        .into_iter()
        .map(|(_, members)| {
            let mut iter = members.into_iter();
            let first = iter.next().expect("groups are never empty");
            Node {
                item: Some(first),
                children: iter
                    .map(|i| Node {
                        item: Some(i),
                        children: Vec::new(),
                    })
                    .collect(),
            }
        })
        .collect()
}

pub async fn thread(
    session: &mut Session,
    tag: &str,
    uid: bool,
    algorithm: ThreadAlgorithm,
    charset_name: String,
    key: SearchKey,
) -> Flow {
    let Some(decode) = charset(Some(&charset_name)) else {
        return session.no(tag, Some(Code::BadCharset(vec!["UTF-8".into()])), "Unknown charset");
    };
    let items = match items(session, &key, decode).await {
        Ok(items) => items,
        Err(error) => return session.store_error(tag, &error),
    };
    let mut roots = match algorithm {
        ThreadAlgorithm::OrderedSubject => ordered_subject(&items),
        ThreadAlgorithm::References => {
            let mut headers = Vec::with_capacity(items.len());
            for item in &items {
                let refs = match session.context.store.message_content(&item.meta.blob).await {
                    Ok(bytes) => {
                        let header = &bytes[item.parsed.root.header.clone()];
                        crate::message::mime::header_value(header, "references").unwrap_or_default()
                    }
                    Err(error) => return session.store_error(tag, &error),
                };
                headers.push(refs);
            }
            references(&items, &headers)
        }
    };
    roots.sort_by_key(|n| earliest(n, &items));
    let mut line = String::from("* THREAD");
    if !roots.is_empty() {
        line.push(' ');
    }
    for root in &roots {
        line.push('(');
        write_thread(&mut line, root, &items, uid);
        line.push(')');
    }
    line.push_str("\r\n");
    session.io.out().extend_from_slice(line.as_bytes());
    session.sync(uid).await;
    session.tagged(tag, Status::Ok, None, "THREAD completed")
}

#[cfg(test)]
mod tests {
    use super::base_subject;

    #[test]
    fn base_subjects() {
        assert_eq!(base_subject(b"Re: Fwd: [list] Hello  World (fwd)"), "hello world");
        assert_eq!(base_subject(b"RE[2]: x"), "x");
        assert_eq!(base_subject(b"[Fwd: topic]"), "topic");
        assert_eq!(base_subject(b"=?utf-8?q?Re=3A_caf=C3=A9?="), "café");
    }
}
