//! LIST (RFC 9051 6.3.9, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819,
//! SPECIAL-USE RFC 6154, CHILDREN RFC 3348), LSUB and NAMESPACE (RFC 2342).

use super::status::status_values;
use crate::proto::command::ListOptions;
use crate::proto::response;
use crate::session::{Flow, Session, names};
use estafeta_core::model::MAILBOX_DELIMITER;
use estafeta_store::Mailbox;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every name the account has, with the levels above them that do not
/// exist themselves (shown as `\Noselect`, RFC 9051 6.3.9).
fn tree(mailboxes: &[Mailbox]) -> BTreeMap<String, Option<&Mailbox>> {
    let mut all = BTreeMap::new();
    for mailbox in mailboxes {
        for parent in names::parents(&mailbox.name) {
            all.entry(parent.to_owned()).or_insert(None);
        }
        all.insert(mailbox.name.clone(), Some(mailbox));
    }
    all
}

fn has_children(all: &BTreeMap<String, Option<&Mailbox>>, name: &str) -> bool {
    descendants(all, name).next().is_some()
}

/// The names below `name`, at any depth.
fn descendants<'a, 'm>(
    all: &'a BTreeMap<String, Option<&'m Mailbox>>,
    name: &str,
) -> impl Iterator<Item = (&'a String, &'a Option<&'m Mailbox>)> {
    let prefix = format!("{name}{MAILBOX_DELIMITER}");
    all.range(prefix.clone()..)
        .take_while(move |(n, _)| n.starts_with(&prefix))
}

/// `reference` and `pattern` joined (RFC 9051 6.3.9: the reference is a
/// prefix, like a current directory).
fn join(reference: &str, pattern: &str) -> String {
    if reference.is_empty() {
        return pattern.to_owned();
    }
    match (
        reference.ends_with(MAILBOX_DELIMITER),
        pattern.starts_with(MAILBOX_DELIMITER),
    ) {
        (true, true) => format!("{reference}{}", &pattern[1..]),
        _ => format!("{reference}{pattern}"),
    }
}

/// A LIST or LSUB pattern joined to its reference. Reference and pattern
/// are list-mailbox syntax, any atom character allowed (RFC 3501 9), so
/// one that is not valid modified UTF-7 is no error: it is matched as the
/// client wrote it against the names as that client reads them.
enum Pattern {
    Stored(String),
    Wire(String),
}

impl Pattern {
    fn new(reference: &[u8], pattern: &[u8], utf8: bool) -> Pattern {
        match (names::decode(reference, utf8), names::decode(pattern, utf8)) {
            (Ok(reference), Ok(pattern)) => Pattern::Stored(join(&reference, &pattern)),
            _ => Pattern::Wire(join(
                &String::from_utf8_lossy(reference),
                &String::from_utf8_lossy(pattern),
            )),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Pattern::Stored(p) if p.is_empty())
    }

    fn matches(&self, name: &str, utf8: bool) -> bool {
        match self {
            Pattern::Stored(pattern) => names::matches(pattern, name),
            Pattern::Wire(pattern) => names::matches(pattern, &String::from_utf8_lossy(&names::encode(name, utf8))),
        }
    }
}

pub async fn list(
    session: &mut Session,
    tag: &str,
    reference: Vec<u8>,
    patterns: Vec<Vec<u8>>,
    options: ListOptions,
) -> Flow {
    let utf8 = session.utf8();
    let decoded: Vec<Pattern> = patterns.iter().map(|p| Pattern::new(&reference, p, utf8)).collect();
    // RFC 9051 6.3.9: an empty pattern asks for the delimiter.
    if decoded.len() == 1 && decoded[0].is_empty() && !options.subscribed {
        response::list(session.io.out(), "LIST", &["\\Noselect"], MAILBOX_DELIMITER, b"", utf8);
        return session.ok(tag, "LIST completed");
    }
    let account = session.account.as_ref().expect("authenticated").id;
    let store = Arc::clone(&session.context.store);
    let mailboxes = match store.mailbox_list(account).await {
        Ok(mailboxes) => mailboxes,
        Err(error) => return session.store_error(tag, &error),
    };
    let all = tree(&mailboxes);
    let show_subscribed = options.subscribed || options.return_subscribed;
    for (name, mailbox) in &all {
        if !decoded.iter().any(|pattern| pattern.matches(name, utf8)) {
            continue;
        }
        let subscribed = mailbox.is_some_and(|m| m.subscribed);
        // RFC 5258 3.5: with RECURSIVEMATCH, a name whose subscribed
        // descendants are not themselves being returned comes back with
        // CHILDINFO, subscribed or not.
        let childinfo = options.subscribed
            && options.recursive_match
            && descendants(&all, name).any(|(child, m)| {
                m.is_some_and(|m| m.subscribed) && !decoded.iter().any(|pattern| pattern.matches(child, utf8))
            });
        if options.subscribed && !subscribed && !childinfo {
            continue;
        }
        let special = mailbox.and_then(|m| m.role).and_then(|role| role.special_use());
        if options.special_use && special.is_none() {
            continue;
        }
        let mut attributes: Vec<&str> = Vec::new();
        if mailbox.is_none() {
            attributes.push(if options.subscribed {
                "\\NonExistent"
            } else {
                "\\Noselect"
            });
        }
        attributes.push(if has_children(&all, name) {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        });
        if show_subscribed && subscribed {
            attributes.push("\\Subscribed");
        }
        if let Some(special) = special {
            attributes.push(special);
        }
        let encoded = names::encode(name, utf8);
        let extended = if childinfo {
            "(\"CHILDINFO\" (\"SUBSCRIBED\"))"
        } else {
            ""
        };
        response::list_extended(
            session.io.out(),
            "LIST",
            &attributes,
            MAILBOX_DELIMITER,
            &encoded,
            utf8,
            extended,
        );
        if let Some(mailbox) = mailbox
            && !options.return_status.is_empty()
        {
            match status_values(session, mailbox, &options.return_status).await {
                Ok(values) => response::status_data(session.io.out(), &encoded, &values, utf8),
                Err(error) => return session.store_error(tag, &error),
            }
        }
    }
    session.ok(tag, "LIST completed")
}

/// RFC 3501 6.3.9 LSUB (deprecated in IMAP4rev2, kept for old clients).
pub async fn lsub(session: &mut Session, tag: &str, reference: Vec<u8>, pattern: Vec<u8>) -> Flow {
    let utf8 = session.utf8();
    let pattern = Pattern::new(&reference, &pattern, utf8);
    let account = session.account.as_ref().expect("authenticated").id;
    let store = Arc::clone(&session.context.store);
    let mailboxes = match store.mailbox_list(account).await {
        Ok(mailboxes) => mailboxes,
        Err(error) => return session.store_error(tag, &error),
    };
    let mut subscribed: Vec<&Mailbox> = mailboxes.iter().filter(|m| m.subscribed).collect();
    subscribed.sort_by(|a, b| a.name.cmp(&b.name));
    for mailbox in subscribed {
        if pattern.matches(&mailbox.name, utf8) {
            let encoded = names::encode(&mailbox.name, utf8);
            response::list(session.io.out(), "LSUB", &[], MAILBOX_DELIMITER, &encoded, utf8);
        }
    }
    session.ok(tag, "LSUB completed")
}

/// One personal namespace, no prefix; no other users' or shared ones.
pub async fn namespace(session: &mut Session, tag: &str) -> Flow {
    response::untagged(
        session.io.out(),
        &format!("NAMESPACE ((\"\" \"{MAILBOX_DELIMITER}\")) NIL NIL"),
    );
    session.ok(tag, "NAMESPACE completed")
}
