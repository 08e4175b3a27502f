//! Leases held in memory, for the embedded store: one server owns a data
//! dir (its lock file says so), so its own memory is the whole truth.

use estafeta_core::model::AccountId;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct MemoryLeases {
    held: Mutex<HashMap<AccountId, (String, Instant)>>,
}

impl MemoryLeases {
    /// Takes or renews the lease: true when it is now `holder`'s.
    pub fn acquire(&self, account: AccountId, holder: &str, lease: Duration) -> bool {
        let now = Instant::now();
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match held.get(&account) {
            Some((owner, until)) if owner != holder && *until > now => false,
            _ => {
                held.insert(account, (holder.to_owned(), now + lease));
                true
            }
        }
    }

    /// Gives the lease up, if `holder` has it.
    pub fn release(&self, account: AccountId, holder: &str) {
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if held.get(&account).is_some_and(|(owner, _)| owner == holder) {
            held.remove(&account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_until_release_or_expiry() {
        let leases = MemoryLeases::default();
        let account = AccountId(1);
        assert!(leases.acquire(account, "a", Duration::from_secs(60)));
        assert!(!leases.acquire(account, "b", Duration::from_secs(60)));
        assert!(leases.acquire(account, "a", Duration::from_secs(60)), "renewal");
        leases.release(account, "b");
        assert!(
            !leases.acquire(account, "b", Duration::from_secs(60)),
            "only the holder releases"
        );
        leases.release(account, "a");
        assert!(leases.acquire(account, "b", Duration::ZERO));
        assert!(
            leases.acquire(account, "a", Duration::from_secs(60)),
            "an expired lease is taken over"
        );
        assert!(
            leases.acquire(AccountId(2), "b", Duration::from_secs(60)),
            "per account"
        );
    }
}
