//! IP pools: named sets of source addresses outbound mail leaves from. A
//! tenant is given one pool; a dedicated pool serves one tenant (its own
//! reputation), a shared pool several (one reputation for all of them).
//! Tenants without a pool send from the default tenant's, or from
//! whatever address the system picks when that has none.

use estafeta_core::model::TenantId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpPool {
    pub id: i64,
    pub name: String,
    pub dedicated: bool,
    pub created_at: i64,
    pub addresses: Vec<PoolAddress>,
    /// The tenants sending from it, by id and name.
    pub tenants: Vec<(TenantId, String)>,
}

impl IpPool {
    /// Addresses mail may leave from now: not on a blocklist.
    pub fn usable(&self) -> impl Iterator<Item = &PoolAddress> {
        self.addresses.iter().filter(|a| a.listed.is_none())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolAddress {
    /// The IP address, in its canonical text form.
    pub address: String,
    /// What the connection says in EHLO: the name its PTR record gives
    /// (receivers check that they match, FCrDNS).
    pub ehlo: String,
    /// Its share of the pool's mail, relative to the others.
    pub weight: u32,
    /// When its warm-up began; `None` for an address already warm.
    pub warmup_start: Option<i64>,
    /// The blocklist it was found on (zone and answer); `None` while clean.
    pub listed: Option<String>,
    pub listed_at: Option<i64>,
}

/// A new address for a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPoolAddress {
    pub address: String,
    pub ehlo: String,
    pub weight: u32,
    /// Starts its warm-up now; else it is taken as warm.
    pub warmup: bool,
}
