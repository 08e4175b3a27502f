//! The domain model shared by the store and the protocols.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($name:ident) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub i64);
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(TenantId);
id_type!(DomainId);
id_type!(AccountId);
id_type!(MailboxId);
id_type!(QueueId);

/// The hierarchy delimiter of mailbox names (RFC 9051 5.1): `Work/2026`.
pub const MAILBOX_DELIMITER: char = '/';

/// What a mailbox is for. The first six map to RFC 6154 special-use
/// attributes (INBOX is special by name, RFC 9051 5.1); the tabs are where
/// the filter files mail that is not Primary (Primary is INBOX itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MailboxRole {
    Inbox,
    Sent,
    Drafts,
    Trash,
    Archive,
    Junk,
    Promotions,
    Social,
    Updates,
}

impl MailboxRole {
    /// The mailboxes every new account gets, in this order.
    pub const DEFAULTS: [MailboxRole; 9] = [
        MailboxRole::Inbox,
        MailboxRole::Sent,
        MailboxRole::Drafts,
        MailboxRole::Trash,
        MailboxRole::Archive,
        MailboxRole::Junk,
        MailboxRole::Promotions,
        MailboxRole::Social,
        MailboxRole::Updates,
    ];

    pub fn default_name(self) -> &'static str {
        match self {
            MailboxRole::Inbox => "INBOX",
            MailboxRole::Sent => "Sent",
            MailboxRole::Drafts => "Drafts",
            MailboxRole::Trash => "Trash",
            MailboxRole::Archive => "Archive",
            MailboxRole::Junk => "Junk",
            MailboxRole::Promotions => "Promotions",
            MailboxRole::Social => "Social",
            MailboxRole::Updates => "Updates",
        }
    }

    /// RFC 6154 2 attribute, where one exists.
    pub fn special_use(self) -> Option<&'static str> {
        match self {
            MailboxRole::Sent => Some("\\Sent"),
            MailboxRole::Drafts => Some("\\Drafts"),
            MailboxRole::Trash => Some("\\Trash"),
            MailboxRole::Archive => Some("\\Archive"),
            MailboxRole::Junk => Some("\\Junk"),
            _ => None,
        }
    }

    /// Stable text form kept in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxRole::Inbox => "inbox",
            MailboxRole::Sent => "sent",
            MailboxRole::Drafts => "drafts",
            MailboxRole::Trash => "trash",
            MailboxRole::Archive => "archive",
            MailboxRole::Junk => "junk",
            MailboxRole::Promotions => "promotions",
            MailboxRole::Social => "social",
            MailboxRole::Updates => "updates",
        }
    }

    pub fn from_str_opt(text: &str) -> Option<MailboxRole> {
        MailboxRole::DEFAULTS.into_iter().find(|role| role.as_str() == text)
    }
}

/// IMAP system flags (RFC 9051 2.3.2) as bits; keywords are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct SystemFlags(pub u8);

impl SystemFlags {
    pub const SEEN: SystemFlags = SystemFlags(1);
    pub const ANSWERED: SystemFlags = SystemFlags(2);
    pub const FLAGGED: SystemFlags = SystemFlags(4);
    pub const DELETED: SystemFlags = SystemFlags(8);
    pub const DRAFT: SystemFlags = SystemFlags(16);

    pub fn contains(self, other: SystemFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn union(self, other: SystemFlags) -> SystemFlags {
        SystemFlags(self.0 | other.0)
    }
    pub fn difference(self, other: SystemFlags) -> SystemFlags {
        SystemFlags(self.0 & !other.0)
    }
}

/// A message's flags: system flags plus keywords (sorted, unique).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Flags {
    pub system: SystemFlags,
    pub keywords: Vec<String>,
}

impl Flags {
    pub fn new(system: SystemFlags, keywords: impl IntoIterator<Item = String>) -> Flags {
        let mut keywords: Vec<String> = keywords.into_iter().collect();
        keywords.sort();
        keywords.dedup();
        Flags { system, keywords }
    }

    pub fn seen() -> Flags {
        Flags::new(SystemFlags::SEEN, [])
    }
}
