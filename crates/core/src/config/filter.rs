//! `[filter]`: how inbound mail is scored and filed (Junk or a tab).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    /// Off: every message goes to INBOX unscored.
    pub enabled: bool,
    /// At or above this score a message is filed in Junk.
    pub junk_score: f64,
    /// At or above this score a message is refused at DATA (`550 5.7.1`);
    /// absent (the default): nothing is refused for its score alone.
    pub reject_score: Option<f64>,
    /// Sort mail that is not spam into Promotions, Social and Updates;
    /// off: all of it goes to INBOX.
    pub tabs: bool,
    /// Per-account overrides, keyed by address.
    pub accounts: BTreeMap<String, AccountFilter>,
    /// The classifiers say nothing until each class has this many
    /// messages learned (a model of a handful of messages is noise).
    pub min_learned: u32,
    /// The same for the tab classifier, in at least two tabs (a wrong tab
    /// costs less than a wrong spam verdict, so it may speak sooner).
    pub tab_min_learned: u32,
    /// How much a user's own judgement counts against one message the
    /// whole server learned.
    pub account_weight: u32,
    /// Blocklists of the client's IP address (DNSBL, RFC 5782).
    pub dnsbl: Vec<DnsList>,
    /// Blocklists of the domains linked from the message (URI DNSBL).
    pub uribl: Vec<DnsList>,
    /// All blocklist lookups of one message together wait no longer.
    #[serde(with = "crate::duration::serde_text")]
    pub dns_timeout: Duration,
    /// Sender domains of social networks and communities (Social tab),
    /// on top of the built-in list.
    pub social_domains: Vec<String>,
    pub greylist: Greylist,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            enabled: true,
            junk_score: 5.0,
            reject_score: None,
            tabs: true,
            accounts: BTreeMap::new(),
            min_learned: 50,
            tab_min_learned: 10,
            account_weight: 5,
            dnsbl: vec![DnsList {
                zone: "zen.spamhaus.org".into(),
                weight: 4.0,
                codes: Vec::new(),
            }],
            uribl: vec![DnsList {
                zone: "dbl.spamhaus.org".into(),
                weight: 3.0,
                codes: Vec::new(),
            }],
            dns_timeout: Duration::from_secs(3),
            social_domains: Vec::new(),
            greylist: Greylist::default(),
        }
    }
}

impl Filter {
    /// The Junk threshold of `address` (normalised `local@domain`).
    pub fn junk_score_of(&self, address: &str) -> f64 {
        self.accounts
            .get(address)
            .and_then(|account| account.junk_score)
            .unwrap_or(self.junk_score)
    }

    /// The first value serde cannot refuse but we must: (key, why).
    pub(crate) fn problem(&self) -> Option<(String, &'static str)> {
        if !self.junk_score.is_finite() {
            return Some(("filter.junk_score".into(), "must be a number"));
        }
        if let Some(reject) = self.reject_score
            && !(reject.is_finite() && reject >= self.junk_score)
        {
            return Some(("filter.reject_score".into(), "must be at least filter.junk_score"));
        }
        if self.account_weight == 0 {
            return Some(("filter.account_weight".into(), "must be at least 1"));
        }
        for (key, lists) in [("filter.dnsbl", &self.dnsbl), ("filter.uribl", &self.uribl)] {
            if lists
                .iter()
                .any(|list| list.zone.trim_matches('.').is_empty() || !list.weight.is_finite())
            {
                return Some((key.into(), "each list needs a zone and a numeric weight"));
            }
        }
        if self.greylist.enabled && self.greylist.retry_window <= self.greylist.delay {
            return Some(("filter.greylist.retry_window".into(), "must be longer than the delay"));
        }
        None
    }

    /// Whether `address` gets tabs.
    pub fn tabs_of(&self, address: &str) -> bool {
        self.accounts
            .get(address)
            .and_then(|account| account.tabs)
            .unwrap_or(self.tabs)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AccountFilter {
    pub junk_score: Option<f64>,
    pub tabs: Option<bool>,
}

/// One DNS blocklist.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsList {
    pub zone: String,
    /// Added to the score when listed.
    pub weight: f64,
    /// Only these answers count (e.g. `127.0.0.2`); empty: any in
    /// 127.0.0.0/8 but 127.255.255.0/24, which lists use for errors.
    #[serde(default)]
    pub codes: Vec<Ipv4Addr>,
}

/// RFC 6647 greylisting: off by default (it delays first mail from every
/// new sender).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Greylist {
    pub enabled: bool,
    /// How long a first attempt waits before a retry passes.
    #[serde(with = "crate::duration::serde_text")]
    pub delay: Duration,
    /// How long after the first attempt a retry still counts.
    #[serde(with = "crate::duration::serde_text")]
    pub retry_window: Duration,
    /// How long a sender that passed keeps passing (since last seen).
    #[serde(with = "crate::duration::serde_text")]
    pub lifetime: Duration,
}

impl Default for Greylist {
    fn default() -> Self {
        // RFC 6647 5: 1-5 minutes of delay; a day for the retry is what
        // common MTAs' retry schedules reach; 36 days covers a monthly sender.
        Greylist {
            enabled: false,
            delay: Duration::from_secs(300),
            retry_window: Duration::from_secs(86_400),
            lifetime: Duration::from_secs(36 * 86_400),
        }
    }
}
