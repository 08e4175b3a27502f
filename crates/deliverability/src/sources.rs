//! Where outbound mail leaves from: an address of the sending tenant's IP
//! pool (the default tenant's when it has none), picked by weight among
//! those not on a blocklist, within the address's warm-up cap for the
//! receiving provider. Receivers judge a sender by its IP address, so a
//! new one must build its volume up slowly with each of them.

use estafeta_core::config::Config;
use estafeta_core::model::TenantId;
use estafeta_core::time::now;
use estafeta_store::{DEFAULT_TENANT, IpPool, PoolAddress, Store};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pools are read again after this long, so `estafeta pool` changes and
/// other nodes' blocklist findings reach every node quickly.
const FRESH: Duration = Duration::from_secs(5);

/// An address mail leaves from, and the name it gives in EHLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub address: IpAddr,
    pub ehlo: String,
    pub pool: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// From this address, for this many recipients (fewer than asked
    /// when its warm-up cap for the provider runs out).
    From(Source, u32),
    /// No address of the pool may send there now; why.
    Nowhere(String),
}

pub struct Sources {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    cache: Mutex<Option<(Instant, Arc<Vec<IpPool>>)>>,
}

impl Sources {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>) -> Sources {
        Sources {
            config,
            store,
            cache: Mutex::new(None),
        }
    }

    /// Reads the pools again at the next use (after a change made here).
    pub fn forget(&self) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    async fn pools(&self) -> Arc<Vec<IpPool>> {
        let cached = self.cache.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((at, pools)) = &cached
            && at.elapsed() < FRESH
        {
            return Arc::clone(pools);
        }
        match self.store.pool_list().await {
            Ok(pools) => {
                let pools = Arc::new(pools);
                *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), Arc::clone(&pools)));
                pools
            }
            Err(error) => {
                tracing::warn!(%error, "could not read the IP pools; using what was read before");
                cached.map(|(_, pools)| pools).unwrap_or_default()
            }
        }
    }

    /// The pool a tenant's mail leaves from: its own, else the default
    /// tenant's (mail of no tenant, like bounces, goes that way too).
    /// `None`: no pool, the system picks the address.
    pub async fn pool_of(&self, tenant: Option<TenantId>) -> Option<IpPool> {
        let pools = self.pools().await;
        let serving = |tenant: TenantId| pools.iter().find(|p| p.tenants.iter().any(|(id, _)| *id == tenant));
        tenant.and_then(serving).or_else(|| serving(DEFAULT_TENANT)).cloned()
    }

    /// An address of `pool` in the family of the destination (IPv4 or
    /// not) that may send `want` recipients' mail to `provider` now, or
    /// as many as its cap leaves. Tried in a random order weighted by
    /// each address's weight; weight 0 takes no new mail.
    pub async fn pick(&self, pool: &IpPool, ipv4: bool, provider: &str, want: u32) -> Pick {
        let candidates: Vec<&PoolAddress> = pool
            .usable()
            .filter(|a| a.weight > 0)
            .filter(|a| a.address.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv4() == ipv4))
            .collect();
        if candidates.is_empty() {
            let family = if ipv4 { "IPv4" } else { "IPv6" };
            return Pick::Nowhere(format!("pool {} has no usable {family} address", pool.name));
        }
        for address in weighted_order(candidates, rand::random::<f64>) {
            let granted = self.reserve(address, provider, want).await;
            if granted > 0
                && let Ok(ip) = address.address.parse()
            {
                let source = Source {
                    address: ip,
                    ehlo: address.ehlo.clone(),
                    pool: pool.name.clone(),
                };
                return Pick::From(source, granted);
            }
        }
        Pick::Nowhere(format!(
            "every address of pool {} has sent its warm-up share to {provider} today",
            pool.name
        ))
    }

    /// How many of `want` the address may send to `provider` today (a
    /// kept connection's address is asked again for each message).
    pub async fn reserve(&self, address: &PoolAddress, provider: &str, want: u32) -> u32 {
        let now = now();
        let Some(cap) = warmup_cap(&self.config.deliverability.warmup, address.warmup_start, now) else {
            return want;
        };
        match self
            .store
            .warmup_take(&address.address, provider, now.div_euclid(86_400), want, cap)
            .await
        {
            Ok(granted) => granted,
            Err(error) => {
                // A new address sending past its cap hurts it for weeks;
                // waiting for the store costs minutes.
                tracing::warn!(%error, address = %address.address, "warm-up counts unreadable; not sending from it now");
                0
            }
        }
    }

    /// The receiving provider behind a mail host, for warm-up caps and
    /// throttling: a known one by the host name's ending, else the
    /// host's registered domain.
    pub fn provider_of(&self, host: &str) -> String {
        provider_of(host, &self.config.deliverability.providers)
    }
}

pub fn provider_of(host: &str, providers: &BTreeMap<String, Vec<String>>) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    for (name, endings) in providers {
        for ending in endings {
            let ending = ending.trim_matches('.').to_ascii_lowercase();
            if host == ending || host.ends_with(&format!(".{ending}")) {
                return name.clone();
            }
        }
    }
    estafeta_filter::dnsbl::registered_domain(&host).unwrap_or(host)
}

/// The day's cap of an address that began warming up at `start`: the
/// schedule's entry for its day, none once the schedule is over.
pub fn warmup_cap(schedule: &[u32], start: Option<i64>, now: i64) -> Option<u32> {
    let day = (now - start?).max(0) / 86_400;
    schedule.get(usize::try_from(day).ok()?).copied()
}

/// A random order in which each address comes first as often as its
/// weight says (Efraimidis and Spirakis: each draws u^(1/weight), the
/// largest first).
fn weighted_order(addresses: Vec<&PoolAddress>, mut random: impl FnMut() -> f64) -> Vec<&PoolAddress> {
    let mut keyed: Vec<(f64, &PoolAddress)> = addresses
        .into_iter()
        .map(|a| (random().powf(1.0 / f64::from(a.weight.max(1))), a))
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    keyed.into_iter().map(|(_, a)| a).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(ip: &str, weight: u32) -> PoolAddress {
        PoolAddress {
            address: ip.into(),
            ehlo: format!("mta-{ip}.example"),
            weight,
            warmup_start: None,
            listed: None,
            listed_at: None,
        }
    }

    #[test]
    fn providers_are_known_by_mx_endings_or_by_registered_domain() {
        let providers = Config::default().deliverability.providers;
        assert_eq!(provider_of("gmail-smtp-in.l.google.com.", &providers), "gmail");
        assert_eq!(provider_of("alt1.aspmx.l.GOOGLE.com", &providers), "gmail");
        assert_eq!(
            provider_of("example-com.mail.protection.outlook.com", &providers),
            "microsoft"
        );
        assert_eq!(provider_of("mta7.am0.yahoodns.net", &providers), "yahoo");
        assert_eq!(provider_of("mx1.mail.example.co.uk", &providers), "example.co.uk");
        assert_eq!(provider_of("mx.d7.test", &providers), "d7.test");
        // Not a suffix match on a label boundary: another provider.
        assert_eq!(provider_of("mx.notgoogle.com", &providers), "notgoogle.com");
    }

    #[test]
    fn warmup_caps_follow_the_schedule_then_stop() {
        let schedule = [50, 100, 200];
        let start = 1_000_000;
        assert_eq!(warmup_cap(&schedule, Some(start), start), Some(50));
        assert_eq!(warmup_cap(&schedule, Some(start), start + 86_399), Some(50));
        assert_eq!(warmup_cap(&schedule, Some(start), start + 86_400), Some(100));
        assert_eq!(warmup_cap(&schedule, Some(start), start + 2 * 86_400 + 5), Some(200));
        assert_eq!(warmup_cap(&schedule, Some(start), start + 3 * 86_400), None);
        assert_eq!(warmup_cap(&schedule, None, start), None, "a warm address has no cap");
    }

    #[test]
    fn weighted_order_follows_weights() {
        let (a, b) = (address("192.0.2.1", 3), address("192.0.2.2", 1));
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut first_a = 0;
        for _ in 0..4000 {
            let order = weighted_order(vec![&a, &b], &mut random);
            assert_eq!(order.len(), 2);
            if order[0].address == a.address {
                first_a += 1;
            }
        }
        // Weight 3 against 1: first three times in four.
        assert!((2800..3200).contains(&first_a), "{first_a} of 4000");
    }
}
