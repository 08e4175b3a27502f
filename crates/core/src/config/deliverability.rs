//! `[deliverability]`: bounce handling, suppression and sending guardrails.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// A new pool address's daily cap of mail to each receiving provider,
    /// day by day from when it joined; past the last day, none.
    pub warmup: Vec<u32>,
    /// IP blocklists (RFC 5782) each pool address is looked up in; a
    /// listed address leaves its pool until it is clean again.
    pub blocklists: Vec<String>,
    /// Domain blocklists each sending domain is looked up in.
    pub domain_blocklists: Vec<String>,
    #[serde(with = "crate::duration::serde_text")]
    pub blocklist_interval: Duration,
    /// A provider deferring this share of its last `throttle_sample`
    /// replies gets our mail more slowly (the gap between connections
    /// doubles, up to `throttle_max`); as many successes in a row halve it.
    pub throttle_deferrals: f64,
    pub throttle_sample: u32,
    #[serde(with = "crate::duration::serde_text")]
    pub throttle_max: Duration,
    /// Receiving providers by the endings of their MX host names; other
    /// hosts count as the provider of their registered domain.
    pub providers: BTreeMap<String, Vec<String>>,
}

impl Deliverability {
    /// The first setting that cannot work, with why.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        if !(self.throttle_deferrals > 0.0 && self.throttle_deferrals <= 1.0) {
            return Some(("deliverability.throttle_deferrals", "must be above 0 and at most 1"));
        }
        if self.throttle_sample == 0 {
            return Some(("deliverability.throttle_sample", "must be at least 1"));
        }
        if self.warmup.contains(&0) {
            return Some(("deliverability.warmup", "a day's cap must be at least 1"));
        }
        if self.blocklist_interval < Duration::from_secs(1) {
            return Some(("deliverability.blocklist_interval", "must be at least 1s"));
        }
        for (key, zones) in [
            ("deliverability.blocklists", &self.blocklists),
            ("deliverability.domain_blocklists", &self.domain_blocklists),
        ] {
            if zones.iter().any(|zone| zone.trim_matches('.').is_empty()) {
                return Some((key, "each zone must be a domain name"));
            }
        }
        for (key, value) in [
            ("deliverability.bounce_limit", self.bounce_limit),
            ("deliverability.complaint_limit", self.complaint_limit),
        ] {
            if !(value > 0.0 && value <= 1.0) {
                return Some((key, "must be above 0 and at most 1"));
            }
        }
        None
    }
}

/// The big mailbox providers, which count warm-up and deferrals per
/// sending address across all the domains they host.
fn known_providers() -> BTreeMap<String, Vec<String>> {
    [
        ("gmail", &["google.com", "googlemail.com"][..]),
        ("microsoft", &["outlook.com", "hotmail.com"][..]),
        ("yahoo", &["yahoodns.net", "yahoo.com"][..]),
        ("apple", &["icloud.com", "me.com"][..]),
        ("comcast", &["comcast.net"][..]),
    ]
    .into_iter()
    .map(|(name, ends)| (name.to_owned(), ends.iter().map(|e| (*e).to_owned()).collect()))
    .collect()
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
            warmup: vec![
                50, 100, 200, 400, 700, 1_000, 1_500, 2_000, 3_000, 4_500, 6_000, 8_000, 11_000, 15_000, 20_000,
                30_000, 40_000, 60_000, 80_000, 100_000,
            ],
            blocklists: vec!["zen.spamhaus.org".into(), "bl.spamcop.net".into()],
            domain_blocklists: vec!["dbl.spamhaus.org".into()],
            blocklist_interval: Duration::from_secs(3600),
            throttle_deferrals: 0.25,
            throttle_sample: 20,
            throttle_max: Duration::from_secs(600),
            providers: known_providers(),
        }
    }
}
