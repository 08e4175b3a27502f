//! What the filter learns and keeps: token counts of its classifiers (the
//! spam filter and the tab classifier, for the whole server and for each
//! account) and each account's correspondents (addresses the user wrote
//! to or rescued from Junk). Kept in the store so every node scores with
//! the same knowledge and an account's erasure takes it along.

use estafeta_core::model::AccountId;
use std::collections::HashMap;

/// Which classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Classifier {
    /// Spam (class 1) against ham (class 0).
    Spam,
    /// One class per tab.
    Tabs,
}

impl Classifier {
    pub(crate) fn code(self) -> i64 {
        match self {
            Classifier::Spam => 0,
            Classifier::Tabs => 1,
        }
    }
}

/// A classifier's knowledge for the server (`account: None`) or one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelScope {
    pub classifier: Classifier,
    pub account: Option<AccountId>,
}

impl ModelScope {
    /// Account ids start at 1, so 0 is the server's own.
    pub(crate) fn scope_code(self) -> i64 {
        self.account.map_or(0, |account| account.0)
    }
}

/// Counts for the tokens asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Messages learned in each class.
    pub totals: HashMap<u8, u64>,
    /// Messages of each class holding each token; tokens never seen are absent.
    pub tokens: HashMap<u64, HashMap<u8, u64>>,
}

/// Changes to learn in one write: built by adding messages, so a whole
/// training run (thousands of messages) becomes one transaction.
#[derive(Debug, Clone, Default)]
pub struct Training {
    pub(crate) totals: HashMap<u8, i64>,
    pub(crate) tokens: HashMap<(u64, u8), i64>,
}

impl Training {
    pub fn new() -> Training {
        Training::default()
    }

    /// Counts one message of `class` holding `tokens` (each once); `forget`
    /// takes a message learned before back out.
    pub fn add(&mut self, class: u8, tokens: &[u64], forget: bool) {
        let delta = if forget { -1 } else { 1 };
        *self.totals.entry(class).or_default() += delta;
        for token in tokens {
            *self.tokens.entry((*token, class)).or_default() += delta;
        }
    }

    /// Counts (or with `forget`, uncounts) one token alone, no message:
    /// a marker, such as which way a message was learned.
    pub fn add_token(&mut self, class: u8, token: u64, forget: bool) {
        *self.tokens.entry((token, class)).or_default() += if forget { -1 } else { 1 };
    }

    pub fn is_empty(&self) -> bool {
        self.totals.values().all(|d| *d == 0) && self.tokens.values().all(|d| *d == 0)
    }

    /// Non-zero token changes as (token, class, delta).
    pub(crate) fn token_deltas(&self) -> Vec<(i64, i64, i64)> {
        self.tokens
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .map(|((token, class), delta)| (*token as i64, i64::from(*class), *delta))
            .collect()
    }

    pub(crate) fn total_deltas(&self) -> Vec<(i64, i64)> {
        self.totals
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .map(|(class, delta)| (i64::from(*class), *delta))
            .collect()
    }
}

pub(crate) fn push_count(counts: &mut TokenCounts, token: i64, class: i64, count: i64) {
    if count > 0 {
        counts
            .tokens
            .entry(token as u64)
            .or_default()
            .insert(class as u8, count as u64);
    }
}

/// Greylisting's clock, in seconds (RFC 6647 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greylisting {
    /// How long a first attempt must wait before a retry passes.
    pub delay: i64,
    /// How long after the first attempt a retry still counts.
    pub retry_window: i64,
    /// How long a triplet that passed keeps passing since last seen.
    pub lifetime: i64,
}
