//! The failed-login limiter every protocol shares. Failures are counted
//! per client source (an IPv4 address, an IPv6 /64) and per account:
//! - a source that fails too often is locked out, of every account: so
//!   failures against an account lock it for that source, and an attacker
//!   elsewhere cannot lock its owner out;
//! - an account under attack from many sources (a botnet) is locked, after
//!   many more failures, for every source except those it has logged in
//!   from before: the owner's known-good path stays open.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on tracked keys, so a flood of distinct IPs cannot grow memory
/// without limit; the stalest entries go first.
const MAX_KEYS: usize = 100_000;
/// An account is locked for unknown sources after this many times the
/// per-source limit of failures from everywhere.
const ACCOUNT_WIDE_FACTOR: usize = 10;
/// Sources remembered per account as known-good (its last logins).
const KNOWN_SOURCES: usize = 8;
/// Accounts whose known-good sources are remembered.
const MAX_KNOWN_ACCOUNTS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub retry_after: Duration,
}

/// Where a login comes from, as far as limiting goes: an IPv4 address, or
/// the /64 an IPv6 address is in (one host, or one customer of an ISP,
/// usually holds a whole /64, RFC 6177).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source(IpAddr);

impl Source {
    pub fn of(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(v4) => Source(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    Source(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Source(Source),
    Account(String),
}

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// Per account, the sources it last logged in from.
    known: HashMap<String, VecDeque<Source>>,
}

pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    lockout: Duration,
    state: Mutex<State>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> LoginLimiter {
        LoginLimiter {
            max_failures: max_failures.max(1) as usize,
            window,
            lockout,
            state: Mutex::new(State::default()),
        }
    }

    /// (failures that lock, the window they count in, the lockout).
    pub fn limits(&self) -> (u32, Duration, Duration) {
        (self.max_failures as u32, self.window, self.lockout)
    }

    pub fn from_config(config: &crate::config::Auth) -> LoginLimiter {
        LoginLimiter::new(config.max_failures, config.failure_window, config.lockout)
    }

    /// Call before checking a password: a locked source or account is
    /// refused without even looking at the password.
    pub fn check(&self, ip: IpAddr, account: &str) -> Result<(), Lockout> {
        self.check_at(ip, account, Instant::now())
    }

    /// Call after a wrong password (or an unknown user).
    pub fn record_failure(&self, ip: IpAddr, account: &str) {
        self.record_failure_at(ip, account, Instant::now())
    }

    /// A successful login remembers the source as the account's own. No
    /// count is cleared: one known password must not reset a sweep from
    /// that source, nor the owner's login an attack from elsewhere.
    pub fn record_success(&self, ip: IpAddr, account: &str) {
        let (source, account) = (Source::of(ip), normalized(account));
        let mut state = self.lock();
        if state.known.len() >= MAX_KNOWN_ACCOUNTS && !state.known.contains_key(&account) {
            state.known.clear();
        }
        let known = state.known.entry(account).or_default();
        known.retain(|s| *s != source);
        known.push_back(source);
        if known.len() > KNOWN_SOURCES {
            known.pop_front();
        }
    }

    fn check_at(&self, ip: IpAddr, account: &str, now: Instant) -> Result<(), Lockout> {
        let (source, account) = (Source::of(ip), normalized(account));
        let state = self.lock();
        let known = state.known.get(&account).is_some_and(|k| k.contains(&source));
        let mut keys = vec![Key::Source(source)];
        if !known {
            keys.push(Key::Account(account));
        }
        let longest = keys
            .iter()
            .filter_map(|key| state.entries.get(key)?.locked_until)
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
        let (source, account) = (Source::of(ip), normalized(account));
        let mut state = self.lock();
        if state.entries.len() >= MAX_KEYS {
            self.evict_stale(&mut state.entries, now);
        }
        let keys = [
            (Key::Source(source), self.max_failures),
            (Key::Account(account), self.max_failures * ACCOUNT_WIDE_FACTOR),
        ];
        for (key, max) in keys {
            let entry = state.entries.entry(key).or_default();
            while entry
                .failures
                .front()
                .is_some_and(|at| now.duration_since(*at) > self.window)
            {
                entry.failures.pop_front();
            }
            entry.failures.push_back(now);
            if entry.failures.len() >= max {
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn normalized(account: &str) -> String {
    account.trim().to_lowercase()
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
    fn an_attacker_cannot_lock_the_owner_out() {
        let limiter = limiter();
        let start = Instant::now();
        for _ in 0..10 {
            limiter.record_failure_at(ip(66), "Victim@Example.com", start);
        }
        assert!(limiter.check_at(ip(66), "victim@example.com", start).is_err());
        assert!(
            limiter.check_at(ip(7), "victim@example.com", start).is_ok(),
            "the owner, elsewhere, still gets in"
        );
    }

    #[test]
    fn a_botnet_locks_the_account_for_all_but_its_known_sources() {
        let limiter = limiter();
        let start = Instant::now();
        limiter.record_success(ip(7), "victim@example.com");
        for n in 0..100u32 {
            let attacker = IpAddr::from([10, 0, (n / 200) as u8, (n % 200) as u8]);
            limiter.record_failure_at(attacker, "victim@example.com", start);
        }
        assert!(limiter.check_at(ip(200), "victim@example.com", start).is_err());
        assert!(
            limiter.check_at(ip(7), "victim@example.com", start).is_ok(),
            "known-good"
        );
        assert!(limiter.check_at(ip(200), "someone@example.com", start).is_ok());
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        let limiter = limiter();
        let start = Instant::now();
        for n in 0..10u16 {
            let address = std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, n, n, n, n + 1);
            limiter.record_failure_at(IpAddr::V6(address), &format!("u{n}@x"), start);
        }
        let same_64 = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64 = "2001:db8:1:3::9".parse().unwrap();
        assert!(limiter.check_at(same_64, "z@x", start).is_err());
        assert!(limiter.check_at(other_64, "z@x", start).is_ok());
        let mapped: IpAddr = "::ffff:127.0.0.5".parse().unwrap();
        assert_eq!(Source::of(mapped), Source::of(ip(5)), "v4-mapped is the v4 address");
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
    fn success_does_not_clear_the_sources_count() {
        let limiter = LoginLimiter::new(2, 5 * MIN, 5 * MIN);
        let start = Instant::now();
        limiter.record_failure_at(ip(1), "a@x", start);
        limiter.record_success(ip(1), "a@x");
        limiter.record_failure_at(ip(1), "b@x", start);
        assert!(limiter.check_at(ip(1), "c@x", start).is_err(), "IP count survives");
        assert!(limiter.check_at(ip(2), "a@x", start).is_ok());
    }
}
