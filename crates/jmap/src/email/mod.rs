//! Email (RFC 8621 4) over the store's IMAP model. An Email is a message's
//! content in the account: the same bytes in two mailboxes (after an IMAP
//! COPY, or a JMAP `mailboxIds` with two entries) are one Email in both,
//! as RFC 8621 1.3.1 wants, and an IMAP MOVE keeps the id. So the id is
//! the content's SHA-256, which the store already keys content by.

pub mod changes;
mod create;
pub mod get;
pub mod import;
pub mod query;
pub mod set;
pub mod snippet;
pub mod thread;
pub(crate) mod view;

use crate::Context;
use crate::error::MethodError;
use estafeta_core::model::{Flags, MailboxId, SystemFlags};
use estafeta_store::{BlobId, Mailbox};
use serde_json::{Map, Value};
use std::collections::HashMap;

pub fn email_id(blob: &BlobId) -> String {
    format!("e{}", blob.as_str())
}

pub(crate) fn parse_email_id(id: &str) -> Option<BlobId> {
    BlobId::parse(id.strip_prefix('e')?)
}

/// The whole message as a blob (RFC 8620 6).
pub fn blob_id(blob: &BlobId) -> String {
    format!("b{}", blob.as_str())
}

/// RFC 8621 3 leaves it to the server which Emails form a Thread: here
/// those whose content shares a conversation number (the store's
/// `thread::thread_root`: the first Message-ID of References, else
/// In-Reply-To, else the message's own). Content stored before the number
/// was kept (0) is a Thread of its own, named by its content. Either way
/// an Email's thread never changes (RFC 8621 3: threadId is immutable).
pub(crate) fn thread_id(email: &Email) -> String {
    thread_id_of(&email.blob, email.thread)
}

pub(crate) fn thread_id_of(blob: &BlobId, thread: i64) -> String {
    match thread {
        0 => format!("t{}", blob.as_str()),
        number => format!("t{number:016x}"),
    }
}

/// Every property Email/get can show of `raw`, with every body property
/// and a header field in each form: what a fuzzer or a tool needs to
/// drive the whole of the message-to-JMAP path with any bytes.
pub fn describe_message(raw: &[u8]) -> Value {
    let arguments = serde_json::json!({
        "properties": [
            "messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject",
            "sentAt", "headers", "hasAttachment", "preview", "bodyStructure", "bodyValues", "textBody",
            "htmlBody", "attachments", "header:Subject:asText", "header:X-Any:asAddresses:all",
            "header:X-Any:asGroupedAddresses", "header:X-Any:asMessageIds", "header:X-Any:asDate",
            "header:X-Any:asURLs", "header:List-Unsubscribe:asURLs",
        ],
        "bodyProperties": view::BODY_PROPERTIES.iter().copied().chain(["header:Content-Type:asText"]).collect::<Vec<_>>(),
        "fetchAllBodyValues": true,
        "maxBodyValueBytes": 64,
    });
    let shape = get::Shape::parse(arguments.as_object().expect("an object")).expect("known arguments");
    let email = Email {
        blob: BlobId::of(raw),
        size: raw.len() as u64,
        received_at: 0,
        copies: Vec::new(),
        thread: estafeta_store::thread::thread_root(raw),
    };
    shape.describe(&email, Some(raw))
}

/// One IMAP message holding the Email's content.
#[derive(Debug, Clone)]
pub(crate) struct Copy {
    pub mailbox: MailboxId,
    pub uid: u32,
    pub flags: Flags,
}

#[derive(Debug, Clone)]
pub(crate) struct Email {
    pub blob: BlobId,
    pub size: u64,
    /// The earliest INTERNALDATE of its copies.
    pub received_at: i64,
    pub copies: Vec<Copy>,
    /// Its content's conversation number (see `thread_id`).
    pub thread: i64,
}

impl Email {
    pub fn id(&self) -> String {
        email_id(&self.blob)
    }

    pub fn in_mailbox(&self, mailbox: MailboxId) -> bool {
        self.copies.iter().any(|c| c.mailbox == mailbox)
    }

    /// Keywords are one set per Email in JMAP and one per message in IMAP;
    /// an Email has a keyword when any of its messages has it, and a JMAP
    /// change writes the new set to every one of them.
    pub fn keywords(&self) -> Vec<String> {
        let mut all: Vec<String> = self.copies.iter().flat_map(|c| keywords(&c.flags)).collect();
        all.sort();
        all.dedup();
        all
    }

    pub fn has_keyword(&self, keyword: &str) -> bool {
        self.keywords().iter().any(|k| k == keyword)
    }

    pub fn mailbox_ids(&self) -> Map<String, Value> {
        self.copies
            .iter()
            .map(|c| (crate::mailbox::mailbox_id(c.mailbox), Value::Bool(true)))
            .collect()
    }
}

/// RFC 8621 4.1.1: IMAP's system flags are the `$` keywords of the same
/// name; `\Deleted` and `\Recent` have none (RFC 8621 4.1.1 leaves them to
/// IMAP). Keywords are case-insensitive, and JMAP sends them lower case.
pub(crate) fn keywords(flags: &Flags) -> Vec<String> {
    let mut out: Vec<String> = SYSTEM_KEYWORDS
        .iter()
        .filter(|(flag, _)| flags.system.contains(*flag))
        .map(|(_, keyword)| (*keyword).to_owned())
        .collect();
    out.extend(flags.keywords.iter().map(|k| k.to_ascii_lowercase()));
    out
}

const SYSTEM_KEYWORDS: [(SystemFlags, &str); 4] = [
    (SystemFlags::SEEN, "$seen"),
    (SystemFlags::FLAGGED, "$flagged"),
    (SystemFlags::ANSWERED, "$answered"),
    (SystemFlags::DRAFT, "$draft"),
];

/// The IMAP flags for a JMAP keyword set; `\Deleted` is IMAP's own and is
/// kept from `keep`.
pub(crate) fn flags_of(keywords: &[String], keep: &Flags) -> Flags {
    let mut system = if keep.system.contains(SystemFlags::DELETED) {
        SystemFlags::DELETED
    } else {
        SystemFlags::default()
    };
    let mut words = Vec::new();
    for keyword in keywords {
        match SYSTEM_KEYWORDS.iter().find(|(_, k)| k == keyword) {
            Some((flag, _)) => system = system.union(*flag),
            None => words.push(keyword.clone()),
        }
    }
    Flags::new(system, words)
}

/// RFC 8621 4.1.1: a keyword is 1 to 255 characters of IMAP's atom, with
/// none of `( ) { ] % * " \`.
pub(crate) fn valid_keyword(keyword: &str) -> bool {
    (1..=255).contains(&keyword.len())
        && keyword
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !b"(){]%*\"\\".contains(&b))
}

/// Every Email of the account at one moment.
pub(crate) struct Emails {
    pub list: Vec<Email>,
    index: HashMap<BlobId, usize>,
    pub mailboxes: Vec<Mailbox>,
    pub state: String,
}

impl Emails {
    pub async fn load(context: &Context<'_>) -> Result<Emails, MethodError> {
        let mailboxes = context.store.mailbox_list(context.account.id).await?;
        let mut messages = Vec::new();
        for mailbox in &mailboxes {
            messages.extend(context.store.messages(mailbox.id).await?);
        }
        let threads = context.store.account_thread_roots(context.account.id).await?;
        Ok(Emails::of(mailboxes, messages, threads.into_iter().collect()))
    }

    /// Only the Emails with these contents (and the state of all): what
    /// Email/get of some ids needs, without listing every mailbox.
    pub async fn holding(context: &Context<'_>, blobs: &[BlobId]) -> Result<Emails, MethodError> {
        let mailboxes = context.store.mailbox_list(context.account.id).await?;
        let messages = context.store.messages_holding(context.account.id, blobs).await?;
        let roots = context.store.thread_roots(blobs).await?;
        Ok(Emails::of(
            mailboxes,
            messages,
            blobs.iter().cloned().zip(roots).collect(),
        ))
    }

    fn of(
        mailboxes: Vec<Mailbox>,
        messages: Vec<estafeta_store::MessageMeta>,
        threads: HashMap<BlobId, i64>,
    ) -> Emails {
        let mut list: Vec<Email> = Vec::new();
        let mut index: HashMap<BlobId, usize> = HashMap::new();
        for message in messages {
            let copy = Copy {
                mailbox: message.mailbox,
                uid: message.uid,
                flags: message.flags,
            };
            match index.get(&message.blob) {
                Some(&at) => {
                    let email = &mut list[at];
                    email.received_at = email.received_at.min(message.internal_date);
                    email.copies.push(copy);
                }
                None => {
                    index.insert(message.blob.clone(), list.len());
                    list.push(Email {
                        thread: threads.get(&message.blob).copied().unwrap_or(0),
                        blob: message.blob,
                        size: message.size,
                        received_at: message.internal_date,
                        copies: vec![copy],
                    });
                }
            }
        }
        let state = state_of(&mailboxes);
        Emails {
            list,
            index,
            mailboxes,
            state,
        }
    }

    pub fn find(&self, id: &str) -> Option<&Email> {
        let blob = parse_email_id(id)?;
        self.index.get(&blob).map(|&at| &self.list[at])
    }

    /// Each Thread's Emails, oldest first (RFC 8621 3.1: `emailIds` "sorted
    /// by the receivedAt date of the Email, oldest first").
    pub fn threads(&self) -> HashMap<String, Vec<&Email>> {
        let mut threads: HashMap<String, Vec<&Email>> = HashMap::new();
        for email in &self.list {
            threads.entry(thread_id(email)).or_default().push(email);
        }
        for emails in threads.values_mut() {
            // Ties (the same second) in arrival order: a mailbox's UIDs.
            let arrival = |email: &Email| email.copies.iter().map(|c| (c.mailbox, c.uid)).min();
            emails.sort_by(|a, b| {
                (a.received_at, arrival(a))
                    .cmp(&(b.received_at, arrival(b)))
                    .then_with(|| a.blob.cmp(&b.blob))
            });
        }
        threads
    }
}

/// The Email state: each mailbox with its UIDNEXT and HIGHESTMODSEQ
/// (`changes::encode`). Every message change moves its mailbox's
/// HIGHESTMODSEQ (RFC 7162 3.1.1), so this changes whenever an Email does.
pub(crate) fn state_of(mailboxes: &[Mailbox]) -> String {
    let marks = mailboxes
        .iter()
        .map(|m| {
            let mark = changes::Mark {
                uid_next: m.uid_next,
                modseq: m.highest_modseq,
            };
            (m.id, mark)
        })
        .collect();
    changes::encode(&marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_ids_are_the_content_hash_and_nothing_else() {
        let blob = BlobId::of(b"hello");
        assert_eq!(parse_email_id(&email_id(&blob)), Some(blob.clone()));
        for bad in ["", "e", "eZZ", "m1", &blob_id(&blob), &format!("e{}0", blob.as_str())] {
            assert_eq!(parse_email_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn thread_ids_name_the_conversation_or_the_content() {
        // A content whose hash starts with "e" keeps it whole (CI once
        // failed when the prefix was trimmed as a run of letters).
        let blob = (0..)
            .map(|n: u32| BlobId::of(n.to_string().as_bytes()))
            .find(|blob| blob.as_str().starts_with("ee"))
            .unwrap();
        assert_eq!(thread_id_of(&blob, 0), format!("t{}", blob.as_str()));
        assert_eq!(thread_id_of(&blob, 0x1f), "t000000000000001f");
        assert_ne!(thread_id_of(&blob, 7), thread_id_of(&BlobId::of(b"other"), 8));
    }

    #[test]
    fn system_flags_are_dollar_keywords_both_ways() {
        let flags = Flags::new(
            SystemFlags::SEEN
                .union(SystemFlags::DELETED)
                .union(SystemFlags::FLAGGED),
            ["$Forwarded".to_owned(), "Work".to_owned()],
        );
        assert_eq!(keywords(&flags), ["$seen", "$flagged", "$forwarded", "work"]);
        let back = flags_of(&["$seen".into(), "$draft".into(), "work".into()], &flags);
        assert_eq!(
            back.system,
            SystemFlags::SEEN.union(SystemFlags::DRAFT).union(SystemFlags::DELETED)
        );
        assert_eq!(back.keywords, ["work"]);
    }

    #[test]
    fn keywords_are_atoms_without_the_imap_specials() {
        for good in ["$seen", "work", "$MDNSent", "a-b_c.d"] {
            assert!(valid_keyword(good), "{good}");
        }
        for bad in [
            "",
            "two words",
            "a(b",
            "a]b",
            "50%",
            "a*",
            "say\"",
            "back\\",
            "é",
            &"x".repeat(256),
        ] {
            assert!(!valid_keyword(bad), "{bad}");
        }
    }
}
