//! Before a group leaves: the receiving provider's throttle (spaced out
//! connections while it defers us) and the source address (the sender's
//! IP pool, within each address's warm-up cap for that provider). Mail
//! that may not leave now stays queued with a local 4xx, not counted
//! against the sender.

use super::Outbound;
use super::reply::Reply;
use estafeta_deliverability::sources::{Pick, Source};
use estafeta_store::IpPool;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long a delivery waits for its provider's turn before it gives its
/// slot up and comes back later.
const PATIENCE: Duration = Duration::from_secs(5);

/// Where a group leaves from and for how many of its recipients.
pub(super) struct Departure {
    pub source: Option<Source>,
    pub allowed: usize,
}

impl Outbound {
    /// Waits for `provider`'s turn; the reply to defer with when it is too
    /// far off.
    pub(super) async fn admit(&self, provider: &str) -> Result<(), Reply> {
        let booked = self.throttle.book(provider, Instant::now(), PATIENCE);
        if booked != Ok(Duration::ZERO) {
            self.context
                .metrics
                .counter(
                    "estafeta_outbound_throttled_total",
                    "Deliveries slowed down or put off because their provider is deferring our mail.",
                    &[("provider", provider)],
                )
                .inc();
        }
        match booked {
            Ok(wait) => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Err(wait) => Err(Reply::local(
                451,
                [4, 7, 0],
                format!(
                    "{provider} is deferring our mail; sending to it slowed down (next turn in {}s)",
                    wait.as_secs().max(1)
                ),
            )),
        }
    }

    /// A source for a new connection to an address of this family.
    pub(super) async fn depart(
        &self,
        pool: Option<&IpPool>,
        ipv4: bool,
        provider: &str,
        want: usize,
    ) -> Result<Departure, Reply> {
        let Some(pool) = pool else {
            return Ok(Departure {
                source: None,
                allowed: want,
            });
        };
        match self.sources.pick(pool, ipv4, provider, want as u32).await {
            Pick::From(source, granted) => Ok(Departure {
                source: Some(source),
                allowed: granted as usize,
            }),
            Pick::Nowhere(why) => {
                self.context
                    .metrics
                    .counter(
                        "estafeta_outbound_no_source_total",
                        "Deliveries put off because no pool address may send them now (warm-up, blocklists).",
                        &[("pool", pool.name.as_str()), ("provider", provider)],
                    )
                    .inc();
                Err(Reply::local(451, [4, 7, 0], why))
            }
        }
    }

    /// How many of `want` a kept connection from `source` may carry to
    /// `provider`; 0 when its address left the pool or used its share.
    pub(super) async fn reuse(
        &self,
        pool: Option<&IpPool>,
        source: Option<IpAddr>,
        provider: &str,
        want: usize,
    ) -> usize {
        let (Some(pool), Some(source)) = (pool, source) else {
            return want;
        };
        let Some(address) = pool.usable().find(|a| a.address.parse() == Ok(source)) else {
            return 0;
        };
        self.sources.reserve(address, provider, want as u32).await as usize
    }
}
