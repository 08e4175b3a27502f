//! Adaptive throttling per receiving provider: when a provider defers a
//! good share of what it is sent (the 421/450 "try again later" with
//! which Gmail, Microsoft and Yahoo slow a sender down), connections to it
//! are spaced out, the gap doubling at each spike; a run of successes
//! halves it again. Sending faster into deferrals only earns longer ones.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The gap a first spike sets.
const FIRST_GAP: Duration = Duration::from_secs(1);
/// Fewer replies than this say nothing yet.
const MIN_SAMPLE: usize = 5;

#[derive(Debug, Clone, Copy)]
pub struct ThrottleRules {
    /// The share of deferrals among the last `sample` replies that slows.
    pub deferrals: f64,
    pub sample: u32,
    pub max_gap: Duration,
}

#[derive(Default)]
struct Provider {
    /// The last replies, true for a deferral.
    recent: VecDeque<bool>,
    gap: Duration,
    /// When the next connection may start.
    next: Option<Instant>,
    successes: u32,
}

pub struct Throttle {
    rules: ThrottleRules,
    providers: Mutex<HashMap<String, Provider>>,
}

impl Throttle {
    pub fn new(rules: ThrottleRules) -> Throttle {
        Throttle {
            rules,
            providers: Mutex::new(HashMap::new()),
        }
    }

    /// Asks to connect to `provider` at `now`: `Ok(wait)` books the next
    /// turn (`wait` until it comes, at most `patience`); `Err(wait)` when
    /// the turn is further off than that, and nothing is booked.
    pub fn book(&self, provider: &str, now: Instant, patience: Duration) -> Result<Duration, Duration> {
        let mut providers = self.providers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = providers.get_mut(provider) else {
            return Ok(Duration::ZERO);
        };
        if state.gap.is_zero() {
            return Ok(Duration::ZERO);
        }
        let turn = state.next.map_or(now, |next| next.max(now));
        let wait = turn - now;
        if wait > patience {
            return Err(wait);
        }
        state.next = Some(turn + state.gap);
        Ok(wait)
    }

    /// Learns from one attempt's result at `provider`.
    pub fn observe(&self, provider: &str, deferred: bool) {
        let mut providers = self.providers.lock().unwrap_or_else(|e| e.into_inner());
        let state = providers.entry(provider.to_owned()).or_default();
        let sample = self.rules.sample.max(1) as usize;
        state.recent.push_back(deferred);
        while state.recent.len() > sample {
            state.recent.pop_front();
        }
        if deferred {
            state.successes = 0;
            let deferrals = state.recent.iter().filter(|d| **d).count();
            if state.recent.len() >= MIN_SAMPLE.min(sample)
                && deferrals as f64 >= self.rules.deferrals * state.recent.len() as f64
            {
                let doubled = (state.gap * 2).max(FIRST_GAP).min(self.rules.max_gap);
                if doubled != state.gap {
                    tracing::warn!(%provider, gap = ?doubled, deferrals, of = state.recent.len(),
                        "provider is deferring our mail; slowing down");
                }
                state.gap = doubled;
                // One spike doubles once: the next needs fresh evidence.
                state.recent.clear();
            }
        } else {
            state.successes += 1;
            if state.successes >= self.rules.sample && !state.gap.is_zero() {
                state.successes = 0;
                state.gap /= 2;
                if state.gap < FIRST_GAP {
                    state.gap = Duration::ZERO;
                    state.next = None;
                    tracing::info!(%provider, "provider accepts our mail again; full speed");
                }
            }
        }
        if state.gap.is_zero() && state.recent.iter().all(|d| !d) && state.recent.len() >= sample {
            // Nothing to remember about a provider that takes everything.
            providers.remove(provider);
        }
    }

    /// The gap between connections to `provider` now.
    pub fn gap(&self, provider: &str) -> Duration {
        let providers = self.providers.lock().unwrap_or_else(|e| e.into_inner());
        providers.get(provider).map_or(Duration::ZERO, |p| p.gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(ThrottleRules {
            deferrals: 0.25,
            sample: 20,
            max_gap: Duration::from_secs(8),
        })
    }

    #[test]
    fn a_deferral_spike_spaces_connections_out_and_successes_bring_speed_back() {
        let t = throttle();
        let now = Instant::now();
        for _ in 0..20 {
            t.observe("gmail", false);
        }
        assert_eq!(t.gap("gmail"), Duration::ZERO);
        // A few deferrals among many successes are normal.
        for _ in 0..3 {
            t.observe("gmail", true);
            for _ in 0..9 {
                t.observe("gmail", false);
            }
        }
        assert_eq!(t.gap("gmail"), Duration::ZERO);
        assert_eq!(t.book("gmail", now, Duration::ZERO), Ok(Duration::ZERO));
        // Then it defers most: one second between connections.
        for _ in 0..5 {
            t.observe("gmail", true);
        }
        assert_eq!(t.gap("gmail"), Duration::from_secs(1));
        assert_eq!(t.gap("yahoo"), Duration::ZERO, "other providers are not slowed");
        assert_eq!(t.book("gmail", now, Duration::from_secs(5)), Ok(Duration::ZERO));
        assert_eq!(t.book("gmail", now, Duration::from_secs(5)), Ok(Duration::from_secs(1)));
        assert_eq!(t.book("gmail", now, Duration::from_secs(5)), Ok(Duration::from_secs(2)));
        // Past the patience: not booked, told how long.
        assert_eq!(
            t.book("gmail", now, Duration::from_secs(1)),
            Err(Duration::from_secs(3))
        );
        assert_eq!(t.book("gmail", now, Duration::from_secs(5)), Ok(Duration::from_secs(3)));
        // More spikes double the gap up to the most allowed.
        for _ in 0..4 {
            for _ in 0..5 {
                t.observe("gmail", true);
            }
        }
        assert_eq!(t.gap("gmail"), Duration::from_secs(8));
        // A run of successes halves it each time, down to none.
        for expected in [4, 2, 1, 0] {
            for _ in 0..20 {
                t.observe("gmail", false);
            }
            assert_eq!(t.gap("gmail"), Duration::from_secs(expected));
        }
        assert_eq!(t.book("gmail", now, Duration::ZERO), Ok(Duration::ZERO));
    }
}
