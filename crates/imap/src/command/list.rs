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

/// A name LIST may show: the mailbox when there is one, and whether the
/// name is subscribed (a subscription may outlive its mailbox or come
/// before it, RFC 9051 6.3.7).
#[derive(Clone, Copy)]
struct Entry<'m> {
    mailbox: Option<&'m Mailbox>,
    subscribed: bool,
}

/// Every name the account has, with the levels above them that do not
/// exist themselves (shown as `\Noselect`, RFC 9051 6.3.9), and the
/// subscribed names in `dangling` that are no mailbox.
fn tree<'m>(mailboxes: &'m [Mailbox], dangling: &[String]) -> BTreeMap<String, Entry<'m>> {
    let mut all = BTreeMap::new();
    let placeholder = Entry {
        mailbox: None,
        subscribed: false,
    };
    for name in mailboxes
        .iter()
        .map(|m| m.name.as_str())
        .chain(dangling.iter().map(String::as_str))
    {
        for parent in names::parents(name) {
            all.entry(parent.to_owned()).or_insert(placeholder);
        }
    }
    for name in dangling {
        all.insert(
            name.clone(),
            Entry {
                mailbox: None,
                subscribed: true,
            },
        );
    }
    for mailbox in mailboxes {
        all.insert(
            mailbox.name.clone(),
            Entry {
                mailbox: Some(mailbox),
                subscribed: mailbox.subscribed,
            },
        );
    }
    all
}

fn has_children(all: &BTreeMap<String, Entry>, name: &str) -> bool {
    descendants(all, name).next().is_some()
}

/// Whether `name` has a subscribed descendant that no pattern matches,
/// so that it is not being returned itself (RFC 5258 3.5 CHILDINFO, RFC
/// 3501 6.3.9's `\Noselect` in LSUB).
fn subscribed_below_unlisted(all: &BTreeMap<String, Entry>, name: &str, listed: impl Fn(&str) -> bool) -> bool {
    descendants(all, name).any(|(child, entry)| entry.subscribed && !listed(child))
}

/// The names below `name`, at any depth.
fn descendants<'a, 'm>(
    all: &'a BTreeMap<String, Entry<'m>>,
    name: &str,
) -> impl Iterator<Item = (&'a String, &'a Entry<'m>)> {
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
    // Subscribed names that are no mailbox matter only when subscriptions
    // are what is listed (RFC 5258 3: \NonExistent).
    let dangling = if options.subscribed {
        match store.dangling_subscriptions(account).await {
            Ok(names) => names,
            Err(error) => return session.store_error(tag, &error),
        }
    } else {
        Vec::new()
    };
    let all = tree(&mailboxes, &dangling);
    let show_subscribed = options.subscribed || options.return_subscribed;
    let listed = |name: &str| decoded.iter().any(|pattern| pattern.matches(name, utf8));
    for (name, entry) in &all {
        if !listed(name) {
            continue;
        }
        let (mailbox, subscribed) = (entry.mailbox, entry.subscribed);
        // RFC 5258 3.5: with RECURSIVEMATCH, a name whose subscribed
        // descendants are not themselves being returned comes back with
        // CHILDINFO, subscribed or not.
        let childinfo = options.subscribed && options.recursive_match && subscribed_below_unlisted(&all, name, listed);
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

/// RFC 3501 6.3.9 LSUB (deprecated in IMAP4rev2, kept for old clients):
/// the subscribed names, existing or not, and `\Noselect` for a level
/// above subscribed names the pattern does not reach ("%").
pub async fn lsub(session: &mut Session, tag: &str, reference: Vec<u8>, pattern: Vec<u8>) -> Flow {
    let utf8 = session.utf8();
    let pattern = Pattern::new(&reference, &pattern, utf8);
    let account = session.account.as_ref().expect("authenticated").id;
    let store = Arc::clone(&session.context.store);
    let mailboxes = match store.mailbox_list(account).await {
        Ok(mailboxes) => mailboxes,
        Err(error) => return session.store_error(tag, &error),
    };
    let dangling = match store.dangling_subscriptions(account).await {
        Ok(names) => names,
        Err(error) => return session.store_error(tag, &error),
    };
    let all = tree(&mailboxes, &dangling);
    let listed = |name: &str| pattern.matches(name, utf8);
    for (name, entry) in &all {
        if !listed(name) {
            continue;
        }
        let attributes: &[&str] = if entry.subscribed {
            &[]
        } else if subscribed_below_unlisted(&all, name, listed) {
            &["\\Noselect"]
        } else {
            continue;
        };
        let encoded = names::encode(name, utf8);
        response::list(session.io.out(), "LSUB", attributes, MAILBOX_DELIMITER, &encoded, utf8);
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
