//! `[deliverability]`: bounce handling, suppression and sending guardrails.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What submission to a suppressed address does.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SuppressedAction {
    /// `550 5.7.1` at RCPT: the sender's client says so at once.
    Reject,
    /// Taken, then failed with a DSN to the sender, nothing sent.
    Bounce,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Deliverability {
    /// Mail from our domains goes out with a return path per recipient,
    /// `bounces+TOKEN@domain`, so a late bounce names what bounced.
    pub verp: bool,
    /// The key signing VERP tokens; several nodes must share it. Empty:
    /// one is made once and kept in `<data_dir>/deliverability.key`.
    pub secret: String,
    pub suppressed: SuppressedAction,
    /// Where one-click unsubscribe links (RFC 8058) point: this server's
    /// http listener behind HTTPS. Empty: `https://<hostname>/unsubscribe`.
    pub unsubscribe_url: String,
    /// Temporary failures of one address within `soft_bounce_window`
    /// that suppress it (for `soft_bounce_expiry`).
    pub soft_bounces: u32,
    #[serde(with = "crate::duration::serde_text")]
    pub soft_bounce_window: Duration,
    #[serde(with = "crate::duration::serde_text")]
    pub soft_bounce_expiry: Duration,
    /// Rates are measured over this window...
    #[serde(with = "crate::duration::serde_text")]
    pub rate_window: Duration,
    /// ...once a tenant has sent this many in it.
    pub min_volume: u64,
    /// Hard bounces per message sent: a warning at the first, bulk
    /// sending paused at the second.
    pub bounce_warning: f64,
    pub bounce_limit: f64,
    /// Complaints per message delivered, likewise.
    pub complaint_warning: f64,
    pub complaint_limit: f64,
    /// How long sent-message records are kept for late bounces.
    #[serde(with = "crate::duration::serde_text")]
    pub delivery_log: Duration,
}

impl Default for Deliverability {
    fn default() -> Self {
        Deliverability {
            verp: true,
            secret: String::new(),
            suppressed: SuppressedAction::Reject,
            unsubscribe_url: String::new(),
            soft_bounces: 3,
            soft_bounce_window: Duration::from_secs(7 * 86_400),
            soft_bounce_expiry: Duration::from_secs(30 * 86_400),
            rate_window: Duration::from_secs(86_400),
            min_volume: 100,
            // Receivers start blocking at about 3% bounces and 0.3% complaints.
            bounce_warning: 0.02,
            bounce_limit: 0.03,
            complaint_warning: 0.001,
            complaint_limit: 0.003,
            delivery_log: Duration::from_secs(30 * 86_400),
        }
    }
}
