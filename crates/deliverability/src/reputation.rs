//! A sender's standing from its own numbers: 100 is a clean record; each
//! of the bounce rate and the complaint rate takes up to half of it as it
//! nears its limit, so a sender at either limit scores at most 50 and one
//! past both scores 0. A source address has no complaints of its own
//! (they come back about recipients, not connections); its deferral rate
//! takes their half, against `throttle_deferrals`, and a blocklist
//! listing makes it 0.

use estafeta_core::config::Deliverability;
use estafeta_store::{StatKind, Stats};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    pub sent: u64,
    pub delivered: u64,
    pub deferred: u64,
    pub hard_bounces: u64,
    pub soft_bounces: u64,
    pub complaints: u64,
    pub unsubscribes: u64,
    pub bounce_rate: f64,
    pub complaint_rate: f64,
    /// Deferrals per attempt (deferred, or sent with a final answer).
    pub deferral_rate: f64,
    pub score: u8,
}

fn part(rate: f64, limit: f64) -> f64 {
    if limit <= 0.0 {
        0.0
    } else {
        (rate / limit).min(1.0) * 50.0
    }
}

/// The standing of a pool address.
pub fn source_standing(stats: &Stats, rules: &Deliverability, listed: bool) -> Standing {
    let mut standing = standing(stats, rules);
    let score = if listed {
        0.0
    } else {
        100.0 - part(standing.bounce_rate, rules.bounce_limit) - part(standing.deferral_rate, rules.throttle_deferrals)
    };
    standing.score = score.round().clamp(0.0, 100.0) as u8;
    standing
}

pub fn standing(stats: &Stats, rules: &Deliverability) -> Standing {
    let get = |kind| stats.get(&kind).copied().unwrap_or(0);
    let (sent, delivered) = (get(StatKind::Sent), get(StatKind::Delivered));
    let bounce_rate = get(StatKind::HardBounce) as f64 / sent.max(1) as f64;
    let complaint_rate = get(StatKind::Complaint) as f64 / delivered.max(1) as f64;
    let deferred = get(StatKind::Deferred);
    let deferral_rate = deferred as f64 / (sent + deferred).max(1) as f64;
    let score = 100.0 - part(bounce_rate, rules.bounce_limit) - part(complaint_rate, rules.complaint_limit);
    Standing {
        sent,
        delivered,
        deferred,
        hard_bounces: get(StatKind::HardBounce),
        soft_bounces: get(StatKind::SoftBounce),
        complaints: get(StatKind::Complaint),
        unsubscribes: get(StatKind::Unsubscribe),
        bounce_rate,
        complaint_rate,
        deferral_rate,
        score: score.round().clamp(0.0, 100.0) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_fall_as_rates_near_their_limits() {
        let rules = Deliverability::default();
        let stats = |sent, hard, delivered, complaints| {
            Stats::from([
                (StatKind::Sent, sent),
                (StatKind::HardBounce, hard),
                (StatKind::Delivered, delivered),
                (StatKind::Complaint, complaints),
            ])
        };
        assert_eq!(standing(&Stats::new(), &rules).score, 100);
        assert_eq!(standing(&stats(1000, 0, 1000, 0), &rules).score, 100);
        // 1.5% bounces: half way to 3%.
        assert_eq!(standing(&stats(1000, 15, 985, 0), &rules).score, 75);
        assert_eq!(standing(&stats(1000, 30, 970, 0), &rules).score, 50);
        assert_eq!(standing(&stats(1000, 100, 900, 50), &rules).score, 0);
        let s = standing(&stats(200, 4, 196, 1), &rules);
        assert_eq!((s.bounce_rate, s.sent), (0.02, 200));
    }

    #[test]
    fn source_addresses_score_on_bounces_and_deferrals_and_listing() {
        let rules = Deliverability::default();
        let stats = |sent, hard, deferred| {
            Stats::from([
                (StatKind::Sent, sent),
                (StatKind::HardBounce, hard),
                (StatKind::Deferred, deferred),
            ])
        };
        assert_eq!(source_standing(&stats(1000, 0, 0), &rules, false).score, 100);
        // 1.5% bounces, and deferrals at half of throttle_deferrals (25%).
        let s = source_standing(&stats(1000, 15, 143), &rules, false);
        assert!((s.deferral_rate - 0.125).abs() < 0.001, "{}", s.deferral_rate);
        assert_eq!(s.score, 50);
        assert_eq!(source_standing(&stats(1000, 0, 0), &rules, true).score, 0);
    }
}
