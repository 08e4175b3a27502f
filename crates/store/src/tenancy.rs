//! Tenants and their suppression lists. A tenant owns domains (and so
//! their accounts); each suppression entry belongs to one tenant, for all
//! its mail or for one of its sender domains, so one tenant's bounces and
//! complaints never stop another's mail.

use estafeta_core::model::TenantId;

/// Every domain belongs to a tenant; this one unless told otherwise.
pub const DEFAULT_TENANT: TenantId = TenantId(1);
pub const DEFAULT_TENANT_NAME: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: i64,
    /// Why its bulk sending is paused; `None` while it sends.
    pub paused: Option<String>,
}

/// One recipient of one message sent, for bounces to refer back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Given by the store; 0 in a new record.
    pub id: i64,
    pub queue_id: i64,
    pub queued_at: i64,
    pub recipient: String,
    pub sender: String,
    pub tenant: TenantId,
    pub sender_domain: String,
    pub sent_at: i64,
    /// The message's Message-ID (without angle brackets), for bounces
    /// that quote nothing else of ours.
    pub message_id: String,
}

/// What the sending counters count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatKind {
    Sent,
    Delivered,
    Deferred,
    HardBounce,
    SoftBounce,
    Complaint,
    Unsubscribe,
}

impl StatKind {
    pub const ALL: [StatKind; 7] = [
        StatKind::Sent,
        StatKind::Delivered,
        StatKind::Deferred,
        StatKind::HardBounce,
        StatKind::SoftBounce,
        StatKind::Complaint,
        StatKind::Unsubscribe,
    ];

    pub fn code(self) -> &'static str {
        match self {
            StatKind::Sent => "sent",
            StatKind::Delivered => "delivered",
            StatKind::Deferred => "deferred",
            StatKind::HardBounce => "hard_bounce",
            StatKind::SoftBounce => "soft_bounce",
            StatKind::Complaint => "complaint",
            StatKind::Unsubscribe => "unsubscribe",
        }
    }

    pub fn parse(code: &str) -> Option<StatKind> {
        StatKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Counts over a window.
pub type Stats = std::collections::BTreeMap<StatKind, u64>;

/// Counters from (kind code, sum) rows; unknown kinds (a newer node's)
/// are left out.
pub(crate) fn stats_from_rows(rows: impl IntoIterator<Item = (String, i64)>) -> Stats {
    rows.into_iter()
        .filter_map(|(kind, count)| Some((StatKind::parse(&kind)?, count.max(0) as u64)))
        .collect()
}

/// Counters go in hour buckets; windows are whole hours.
pub const STATS_BUCKET: i64 = 3600;

/// Why an address is on a suppression list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuppressionReason {
    /// A permanent failure that names the address (unknown user, no such
    /// domain, null MX).
    HardBounce,
    /// Temporary failures, too many in a row.
    SoftBounce,
    /// The recipient reported the mail as spam (ARF, RFC 5965).
    Complaint,
    /// The recipient unsubscribed (RFC 8058 one-click, or by hand).
    Unsubscribe,
    /// Added by the operator.
    Manual,
}

impl SuppressionReason {
    pub const ALL: [SuppressionReason; 5] = [
        SuppressionReason::HardBounce,
        SuppressionReason::SoftBounce,
        SuppressionReason::Complaint,
        SuppressionReason::Unsubscribe,
        SuppressionReason::Manual,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SuppressionReason::HardBounce => "hard-bounce",
            SuppressionReason::SoftBounce => "soft-bounce",
            SuppressionReason::Complaint => "complaint",
            SuppressionReason::Unsubscribe => "unsubscribe",
            SuppressionReason::Manual => "manual",
        }
    }

    pub fn parse(code: &str) -> Option<SuppressionReason> {
        SuppressionReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub tenant: TenantId,
    /// The recipient, lowercased.
    pub address: String,
    /// The sender domain it holds for; empty: all the tenant's mail.
    pub sender_domain: String,
    pub reason: SuppressionReason,
    /// What happened: the bounce's status and text, the report's source.
    pub detail: String,
    pub created_at: i64,
    /// When it lapses; `None`: never.
    pub expires_at: Option<i64>,
}

/// The form addresses are kept and looked up in: lowercased whole, since
/// receivers treat local parts without regard to case in practice and a
/// suppression should not be dodged by a capital letter.
pub fn suppression_key(address: &str) -> String {
    address.trim().to_lowercase()
}
