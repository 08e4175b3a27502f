//! Connection limits: per client IP and in all. A permit is held for the
//! life of a connection and gives its slot back when dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooManyFromIp,
    TooManyInAll,
}

impl Refusal {
    pub fn label(self) -> &'static str {
        match self {
            Refusal::TooManyFromIp => "per_ip",
            Refusal::TooManyInAll => "total",
        }
    }
}

#[derive(Default)]
struct Counts {
    total: u32,
    per_ip: HashMap<IpAddr, u32>,
}

pub struct ConnectionLimiter {
    per_ip: u32,
    total: u32,
    counts: Mutex<Counts>,
}

pub struct ConnectionPermit {
    limiter: Arc<ConnectionLimiter>,
    ip: IpAddr,
}

impl ConnectionLimiter {
    pub fn new(per_ip: u32, total: u32) -> Arc<ConnectionLimiter> {
        Arc::new(ConnectionLimiter {
            per_ip,
            total,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Takes a slot for a connection from `ip`, if one is free. IPv6 clients
    /// are counted per address; a /64 grouping can come with abuse data.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.total >= self.total {
            return Err(Refusal::TooManyInAll);
        }
        let from_ip = counts.per_ip.entry(ip).or_insert(0);
        if *from_ip >= self.per_ip {
            return Err(Refusal::TooManyFromIp);
        }
        *from_ip += 1;
        counts.total += 1;
        Ok(ConnectionPermit {
            limiter: Arc::clone(self),
            ip,
        })
    }

    pub fn open(&self) -> u32 {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut counts = self.limiter.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.total -= 1;
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_and_total_limits() {
        let limiter = ConnectionLimiter::new(2, 3);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let first = limiter.acquire(a).unwrap();
        let _second = limiter.acquire(a).unwrap();
        assert_eq!(limiter.acquire(a).err(), Some(Refusal::TooManyFromIp));
        let _third = limiter.acquire(b).unwrap();
        assert_eq!(limiter.acquire(b).err(), Some(Refusal::TooManyInAll));
        drop(first);
        assert_eq!(limiter.open(), 2);
        assert!(limiter.acquire(a).is_ok(), "slot given back on drop");
    }
}
