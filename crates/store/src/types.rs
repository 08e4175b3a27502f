//! The typed records the store hands out and takes in.

use crate::blob::BlobId;
use estafeta_core::model::{AccountId, DomainId, Flags, MailboxId, MailboxRole, QueueId, TenantId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: DomainId,
    pub name: String,
    pub created_at: i64,
    pub tenant: TenantId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    /// Normalised `local@domain`.
    pub address: String,
    pub password_hash: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub address: String,
    /// An address: one of our accounts, or a remote one to forward to.
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub id: MailboxId,
    pub account: AccountId,
    pub name: String,
    pub role: Option<MailboxRole>,
    /// RFC 9051 2.3.1.1: never reused for a different mailbox of this name.
    pub uid_validity: u32,
    pub uid_next: u32,
    /// RFC 7162 3.1.1: the largest MODSEQ of the mailbox so far.
    pub highest_modseq: u64,
    pub subscribed: bool,
}

/// One message in one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub mailbox: MailboxId,
    pub uid: u32,
    pub modseq: u64,
    pub blob: BlobId,
    pub size: u64,
    /// Seconds since the epoch (RFC 9051 2.3.3).
    pub internal_date: i64,
    /// The zone INTERNALDATE is written in, minutes east of UTC: the one
    /// APPEND gave, 0 for delivered mail.
    pub date_zone: i16,
    pub flags: Flags,
}

/// Where one delivery puts a copy, and with which flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTarget {
    pub mailbox: MailboxId,
    pub flags: Flags,
}

/// A message a client stores itself (IMAP APPEND), with its flags and date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub data: Vec<u8>,
    /// Seconds since the epoch.
    pub internal_date: i64,
    /// Minutes east of UTC, as the client wrote the date.
    pub date_zone: i16,
    pub flags: Flags,
}

/// What a delivery allocated in one mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub mailbox: MailboxId,
    pub uid: u32,
    pub modseq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOperation {
    Add,
    Remove,
    Replace,
}

/// A flag change that was applied, with the message's new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    pub uid: u32,
    pub modseq: u64,
    pub flags: Flags,
}

/// What a COPY or MOVE did (RFC 4315 COPYUID): `source[i]` became `target[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub uid_validity: u32,
    pub source: Vec<u32>,
    pub target: Vec<u32>,
}

/// Changes of a mailbox since a MODSEQ (RFC 7162 CHANGEDSINCE, VANISHED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesSince {
    /// Messages added or whose flags changed, in UID order.
    pub changed: Vec<MessageMeta>,
    /// UIDs expunged since then, ascending.
    pub vanished: Vec<u32>,
    pub highest_modseq: u64,
}

/// A message that left a mailbox: its UID there and its content, unknown
/// for those expunged before schema 10 (SQLite) or 11 (PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vanished {
    pub uid: u32,
    /// The MODSEQ of its leaving.
    pub modseq: u64,
    pub blob: Option<BlobId>,
}

/// RFC 3461 per-recipient DSN parameters, kept for the outbound queue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueRecipient {
    pub address: String,
    /// ORCPT: `addr-type;xtext` as received.
    pub orcpt: Option<String>,
    /// NOTIFY: `NEVER` or a comma list of SUCCESS, FAILURE, DELAY.
    pub notify: Option<String>,
}

/// Everything one SMTP transaction leaves behind, written by
/// `Store::accept` in one database transaction: either all of it is there
/// when the client gets its 250, or none of it, so a 4xx and the client's
/// retry never make a second copy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acceptance {
    pub internal_date: i64,
    /// Copies for local mailboxes; each its own content (its own
    /// Return-Path and verdict headers) and targets.
    pub local: Vec<LocalCopy>,
    /// The copy for the outbound queue, when some recipients are remote.
    pub queued: Option<QueuedCopy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCopy {
    pub message: Composed,
    pub targets: Vec<DeliveryTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedCopy {
    pub message: Composed,
    pub entry: NewQueuedMessage,
}

/// One stored copy of a received message: the fields written for this
/// copy (Return-Path, the filter's verdict, trace fields) before the
/// content every copy shares. The copies of one transaction hold one
/// buffer between them, and the blob store writes the two parts one after
/// the other, so a large message is not copied once per copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub head: Vec<u8>,
    pub body: std::sync::Arc<Vec<u8>>,
}

impl Composed {
    pub fn new(head: Vec<u8>, body: std::sync::Arc<Vec<u8>>) -> Composed {
        Composed { head, body }
    }

    pub fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn parts(&self) -> [&[u8]; 2] {
        [&self.head, &self.body]
    }

    /// The copy as one buffer, for a backend that sends it whole.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut whole = Vec::with_capacity(self.len());
        whole.extend_from_slice(&self.head);
        whole.extend_from_slice(&self.body);
        whole
    }
}

/// A message handed to the outbound queue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewQueuedMessage {
    /// Envelope sender; empty for the null reverse-path.
    pub sender: String,
    pub recipients: Vec<QueueRecipient>,
    /// RFC 3461 ENVID and RET (`FULL` or `HDRS`).
    pub envid: Option<String>,
    pub ret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: QueueId,
    pub blob: BlobId,
    pub size: u64,
    pub sender: String,
    pub recipients: Vec<QueuedRecipient>,
    pub envid: Option<String>,
    pub ret: Option<String>,
    pub created_at: i64,
    pub next_attempt: i64,
    /// Delivery runs so far (for the retry schedule).
    pub attempts: u32,
    /// A delay DSN has gone to the sender.
    pub warned: bool,
    /// The node delivering it now, and until when its claim holds.
    pub claimed_by: Option<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecipient {
    pub recipient: QueueRecipient,
    pub status: RecipientStatus,
    pub attempts: u32,
    pub last_reply: Option<String>,
}

/// Where one recipient of a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientStatus {
    Pending,
    Delivered,
    Failed,
}

impl RecipientStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientStatus::Pending => "pending",
            RecipientStatus::Delivered => "delivered",
            RecipientStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> RecipientStatus {
        match text {
            "delivered" => RecipientStatus::Delivered,
            "failed" => RecipientStatus::Failed,
            _ => RecipientStatus::Pending,
        }
    }
}

/// What one delivery attempt did for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientOutcome {
    pub address: String,
    /// Pending: a temporary failure, tried again later.
    pub status: RecipientStatus,
    /// The remote reply or our own reason, for DSNs and `queue show`.
    pub reply: String,
}

/// What `verify` found; empty lists mean a consistent store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub messages_checked: u64,
    pub blobs_checked: u64,
    /// Blobs referenced by rows but whose content is gone (data loss).
    pub missing_blobs: Vec<String>,
    /// Blobs whose content no longer hashes to their name (corruption).
    pub corrupt_blobs: Vec<String>,
    /// Blob rows whose reference count disagrees with the references.
    pub refcount_mismatches: Vec<String>,
    /// Mailboxes whose UIDNEXT or HIGHESTMODSEQ lags their messages.
    pub counter_errors: Vec<String>,
    /// Blob contents (files, or rows of the embedded backend) that no blob
    /// row refers to (left by a crash; safe to remove).
    pub orphan_files: Vec<String>,
    /// Calendar and contact resources whose entity tag is not their
    /// content's, or whose change number is ahead of their collection's
    /// (either would hide a change from a syncing client).
    pub dav_errors: Vec<String>,
    /// How many of the problems above `repair` fixed.
    pub repaired: u64,
}

impl VerifyReport {
    /// True when nothing is lost or inconsistent; orphans alone are harmless.
    pub fn is_healthy(&self) -> bool {
        self.missing_blobs.is_empty()
            && self.corrupt_blobs.is_empty()
            && self.refcount_mismatches.is_empty()
            && self.counter_errors.is_empty()
            && self.dav_errors.is_empty()
    }
}
