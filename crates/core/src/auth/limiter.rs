//! The failed-login limiter every protocol shares: too many failures from one
//! client IP, or against one account, lock that IP or account for a while.
//! Keyed both ways so neither a botnet on one account nor one host sweeping
//! many accounts gets unlimited guesses.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on tracked keys, so a flood of distinct IPs cannot grow memory
/// without limit; the stalest entries go first.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub retry_after: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(IpAddr),
    Account(String),
}

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    lockout: Duration,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> LoginLimiter {
        LoginLimiter {
            max_failures: max_failures.max(1) as usize,
            window,
            lockout,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// (failures that lock, the window they count in, the lockout).
    pub fn limits(&self) -> (u32, Duration, Duration) {
        (self.max_failures as u32, self.window, self.lockout)
    }

    pub fn from_config(config: &crate::config::Auth) -> LoginLimiter {
        LoginLimiter::new(config.max_failures, config.failure_window, config.lockout)
    }

    /// Call before checking a password: a locked IP or account is refused
    /// without even looking at the password.
    pub fn check(&self, ip: IpAddr, account: &str) -> Result<(), Lockout> {
        self.check_at(ip, account, Instant::now())
    }

    /// Call after a wrong password (or an unknown user).
    pub fn record_failure(&self, ip: IpAddr, account: &str) {
        self.record_failure_at(ip, account, Instant::now())
    }

    /// A successful login clears the account's failures, not the IP's: one
    /// known password must not reset a sweep from that IP.
    pub fn record_success(&self, account: &str) {
        self.lock().remove(&account_key(account));
    }

    fn check_at(&self, ip: IpAddr, account: &str, now: Instant) -> Result<(), Lockout> {
        let entries = self.lock();
        let longest = [Key::Ip(ip), account_key(account)]
            .iter()
            .filter_map(|key| entries.get(key)?.locked_until)
            .filter(|until| *until > now)
            .max();
        match longest {
            Some(until) => Err(Lockout {
                retry_after: until - now,
            }),
            None => Ok(()),
        }
    }

    fn record_failure_at(&self, ip: IpAddr, account: &str, now: Instant) {
        let mut entries = self.lock();
        if entries.len() >= MAX_KEYS {
            self.evict_stale(&mut entries, now);
        }
        for key in [Key::Ip(ip), account_key(account)] {
            let entry = entries.entry(key).or_default();
            while entry
                .failures
                .front()
                .is_some_and(|at| now.duration_since(*at) > self.window)
            {
                entry.failures.pop_front();
            }
            entry.failures.push_back(now);
            if entry.failures.len() >= self.max_failures {
                entry.locked_until = Some(now + self.lockout);
                entry.failures.clear();
            }
        }
    }

    fn evict_stale(&self, entries: &mut HashMap<Key, Entry>, now: Instant) {
        let horizon = self.window.max(self.lockout);
        entries.retain(|_, entry| {
            let last = entry
                .failures
                .back()
                .copied()
                .into_iter()
                .chain(entry.locked_until)
                .max();
            last.is_some_and(|at| at + horizon > now)
        });
        // Still full: every entry is fresh; drop the oldest half.
        if entries.len() >= MAX_KEYS {
            let mut ages: Vec<_> = entries
                .iter()
                .map(|(key, entry)| (entry.failures.back().copied().or(entry.locked_until), key.clone()))
                .collect();
            ages.sort_by_key(|(at, _)| *at);
            for (_, key) in ages.into_iter().take(MAX_KEYS / 2) {
                entries.remove(&key);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn account_key(account: &str) -> Key {
    Key::Account(account.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(10, 5 * MIN, 5 * MIN)
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn ten_failures_lock_the_ip_for_five_minutes() {
        let limiter = limiter();
        let start = Instant::now();
        for n in 0..9 {
            limiter.record_failure_at(ip(1), &format!("user{n}@x"), start);
            assert!(limiter.check_at(ip(1), "other@x", start).is_ok());
        }
        limiter.record_failure_at(ip(1), "user9@x", start);
        let lockout = limiter.check_at(ip(1), "other@x", start).unwrap_err();
        assert_eq!(lockout.retry_after, 5 * MIN);
        // Other IPs are not affected.
        assert!(limiter.check_at(ip(2), "other@x", start).is_ok());
        // It lifts after five minutes.
        assert!(limiter.check_at(ip(1), "other@x", start + 5 * MIN).is_ok());
    }

    #[test]
    fn ten_failures_lock_the_account_from_every_ip() {
        let limiter = limiter();
        let start = Instant::now();
        for n in 0..10 {
            limiter.record_failure_at(ip(n), "Victim@Example.com", start);
        }
        assert!(limiter.check_at(ip(200), "victim@example.com", start).is_err());
        assert!(limiter.check_at(ip(200), "someone@example.com", start).is_ok());
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let limiter = limiter();
        let start = Instant::now();
        for n in 0..9 {
            limiter.record_failure_at(ip(1), "a@x", start + Duration::from_secs(n));
        }
        let later = start + 6 * MIN;
        limiter.record_failure_at(ip(1), "a@x", later);
        assert!(limiter.check_at(ip(1), "a@x", later).is_ok());
    }

    #[test]
    fn success_clears_account_but_not_ip() {
        let limiter = LoginLimiter::new(2, 5 * MIN, 5 * MIN);
        let start = Instant::now();
        limiter.record_failure_at(ip(1), "a@x", start);
        limiter.record_success("a@x");
        limiter.record_failure_at(ip(2), "a@x", start);
        assert!(limiter.check_at(ip(3), "a@x", start).is_ok(), "account count was reset");
        limiter.record_failure_at(ip(1), "b@x", start);
        assert!(limiter.check_at(ip(1), "c@x", start).is_err(), "IP count survives");
    }
}
