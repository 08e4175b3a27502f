//! THREAD (RFC 5256 5): ORDEREDSUBJECT and REFERENCES.

use super::search::charset;
use super::sort::{Item, items};
use crate::proto::response::{Code, Status};
use crate::proto::search::{SearchKey, ThreadAlgorithm};
use crate::session::{Flow, Session};
use estafeta_core::subject::{BaseSubject, base_subject};
use std::collections::HashMap;
use std::fmt::Write as _;

/// A thread tree: a message, or a dummy standing for one the mailbox does
/// not hold, and the messages under it.
struct Node {
    item: Option<usize>,
    children: Vec<Node>,
}

impl Node {
    fn message(item: usize) -> Node {
        Node {
            item: Some(item),
            children: Vec::new(),
        }
    }

    fn is_dummy(&self) -> bool {
        self.item.is_none()
    }
}

fn write_thread(out: &mut String, node: &Node, items: &[Item], uid: bool) {
    if let Some(i) = node.item {
        let _ = write!(out, "{}", items[i].number(uid));
        match node.children.as_slice() {
            [] => return,
            // One reply continues the thread on the same level.
            [only] => {
                out.push(' ');
                return write_thread(out, only, items, uid);
            }
            _ => out.push(' '),
        }
    }
    for child in &node.children {
        out.push('(');
        write_thread(out, child, items, uid);
        out.push(')');
    }
}

/// RFC 5256 5 step 6: siblings by sent date, ties by mailbox order; a
/// dummy by its first child.
fn sort_key(node: &Node, items: &[Item]) -> (i64, usize) {
    match node.item {
        Some(i) => (items[i].sent(), items[i].position),
        None => node
            .children
            .first()
            .map_or((i64::MAX, usize::MAX), |child| sort_key(child, items)),
    }
}

/// Children before their parents' siblings: a dummy's key is its first
/// child after that child's set is sorted.
fn sort_siblings(nodes: &mut [Node], items: &[Item]) {
    for node in nodes.iter_mut() {
        sort_siblings(&mut node.children, items);
    }
    nodes.sort_by_key(|node| sort_key(node, items));
}

/// The Message-IDs (`<...>`) in a field, in order.
fn message_ids(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    text.split('<')
        .skip(1)
        .filter_map(|part| part.split_once('>').map(|(id, _)| id.trim().to_owned()))
        .filter(|id| !id.is_empty())
        .collect()
}

/// Step 1's containers: one per Message-ID seen, holding its message when
/// the mailbox has it.
#[derive(Default)]
struct Containers {
    item: Vec<Option<usize>>,
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
}

impl Containers {
    fn add(&mut self, item: Option<usize>) -> usize {
        self.item.push(item);
        self.parent.push(None);
        self.children.push(Vec::new());
        self.item.len() - 1
    }

    /// Whether `ancestor` is `node` or above it.
    fn is_ancestor(&self, ancestor: usize, node: usize) -> bool {
        let mut at = Some(node);
        while let Some(n) = at {
            if n == ancestor {
                return true;
            }
            at = self.parent[n];
        }
        false
    }

    fn unlink(&mut self, child: usize) {
        if let Some(parent) = self.parent[child].take() {
            self.children[parent].retain(|&c| c != child);
        }
    }

    /// Makes `child` a child of `parent`, unless that closes a loop.
    fn link(&mut self, parent: usize, child: usize) {
        if self.is_ancestor(child, parent) {
            return;
        }
        self.unlink(child);
        self.parent[child] = Some(parent);
        self.children[parent].push(child);
    }

    fn tree(&self, at: usize) -> Node {
        Node {
            item: self.item[at],
            children: self.children[at].iter().map(|&c| self.tree(c)).collect(),
        }
    }
}

/// Step 4: dummies without children go; a dummy's children take its place,
/// except at the top where a dummy keeps two or more together.
fn prune(nodes: Vec<Node>, top: bool) -> Vec<Node> {
    let mut kept = Vec::with_capacity(nodes.len());
    for mut node in nodes {
        node.children = prune(std::mem::take(&mut node.children), false);
        if !node.is_dummy() || (top && node.children.len() > 1) {
            kept.push(node);
        } else {
            kept.extend(node.children);
        }
    }
    kept
}

/// Step 5: top-level threads with the same base subject are gathered.
fn gather_by_subject(roots: Vec<Node>, items: &[Item]) -> Vec<Node> {
    let subject_of = |node: &Node| -> BaseSubject {
        let message = node.item.or_else(|| node.children.first().and_then(|c| c.item));
        base_subject(
            message
                .and_then(|i| items[i].parsed.envelope.subject.as_deref())
                .unwrap_or_default(),
        )
    };
    let subjects: Vec<BaseSubject> = roots.iter().map(subject_of).collect();
    let mut roots: Vec<Option<Node>> = roots.into_iter().map(Some).collect();
    let dummy = |roots: &[Option<Node>], at: usize| roots[at].as_ref().is_some_and(Node::is_dummy);
    // B: which top-level thread each subject gathers into.
    let mut table: HashMap<String, usize> = HashMap::new();
    for (at, subject) in subjects.iter().enumerate() {
        if subject.text.is_empty() {
            continue;
        }
        let key = subject.key();
        match table.get(&key) {
            None => {
                table.insert(key, at);
            }
            Some(&held) => {
                let replace = !dummy(&roots, held)
                    && (dummy(&roots, at) || (subjects[held].reply_or_forward && !subject.reply_or_forward));
                if replace {
                    table.insert(key, at);
                }
            }
        }
    }
    // C: merge each into the thread its subject chose.
    for (at, subject) in subjects.iter().enumerate() {
        if subject.text.is_empty() {
            continue;
        }
        let Some(&held) = table.get(&subject.key()) else {
            continue;
        };
        if held == at {
            continue;
        }
        let current = roots[at].take().expect("each top-level thread is moved once");
        let target = roots[held].take().expect("the table's thread stays at the top");
        roots[held] = Some(match (target.is_dummy(), current.is_dummy()) {
            (true, true) => Node {
                item: None,
                children: target.children.into_iter().chain(current.children).collect(),
            },
            (true, false) => {
                let mut target = target;
                target.children.push(current);
                target
            }
            (false, false) if subject.reply_or_forward && !subjects[held].reply_or_forward => {
                let mut target = target;
                target.children.push(current);
                target
            }
            _ => Node {
                item: None,
                children: vec![target, current],
            },
        });
    }
    roots.into_iter().flatten().collect()
}

/// RFC 5256 REFERENCES: threads from References (or In-Reply-To), with
/// dummies for messages referred to but not held, then gathered by base
/// subject.
fn references(items: &[Item], references: &[Vec<u8>]) -> Vec<Node> {
    let mut containers = Containers::default();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        // 1: a message without a Message-ID, or with one already taken,
        // is a container of its own.
        let own = item
            .parsed
            .envelope
            .message_id
            .as_deref()
            .and_then(|m| message_ids(m).into_iter().next());
        let container = match own.as_ref().and_then(|id| by_id.get(id).copied()) {
            Some(held) if containers.item[held].is_none() => {
                containers.item[held] = Some(i);
                held
            }
            Some(_) => containers.add(Some(i)),
            None => {
                let added = containers.add(Some(i));
                if let Some(id) = own {
                    by_id.insert(id, added);
                }
                added
            }
        };
        let mut chain = message_ids(&references[i]);
        if chain.is_empty() {
            chain = item
                .parsed
                .envelope
                .in_reply_to
                .as_deref()
                .map(message_ids)
                .unwrap_or_default()
                .into_iter()
                .take(1)
                .collect();
        }
        // 1A: each reference the parent of the next, where not linked yet.
        let mut previous: Option<usize> = None;
        for id in chain {
            let referred = *by_id.entry(id).or_insert_with(|| containers.add(None));
            if let Some(parent) = previous
                && containers.parent[referred].is_none()
            {
                containers.link(parent, referred);
            }
            previous = Some(referred);
        }
        // 1B: the last reference is the message's parent, whatever it had.
        match previous {
            Some(parent) if parent != container => containers.link(parent, container),
            Some(_) => {}
            None => containers.unlink(container),
        }
    }
    let roots: Vec<Node> = (0..containers.item.len())
        .filter(|&c| containers.parent[c].is_none())
        .map(|c| containers.tree(c))
        .collect();
    gather_by_subject(prune(roots, true), items)
}

/// RFC 5256 ORDEREDSUBJECT: one thread per base subject, its messages by
/// sent date; the first is the parent of the rest.
fn ordered_subject(items: &[Item]) -> Vec<Node> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (items[i].subject_key(), items[i].sent(), items[i].position));
    let mut threads: Vec<Node> = Vec::new();
    let mut last_subject: Option<String> = None;
    for i in order {
        let subject = items[i].subject_key();
        match threads.last_mut() {
            Some(thread) if last_subject.as_ref() == Some(&subject) => thread.children.push(Node::message(i)),
            _ => threads.push(Node::message(i)),
        }
        last_subject = Some(subject);
    }
    threads
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
    // ORDEREDSUBJECT's children are already in date order; sorting again
    // orders its threads by their first message, as RFC 5256 asks.
    sort_siblings(&mut roots, &items);
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
