//! Delivery of the outbound queue: workers claim due messages under a
//! lease (the queue lives in the store, so several nodes share it), send
//! them by MX or a configured route, record each recipient's outcome before
//! the connection is closed, retry temporary failures on a schedule, and
//! tell senders about failures, delays and (when asked) success (RFC 3464).

pub mod client;
pub mod dane;
mod deliver;
mod departure;
pub mod dkim;
pub mod dsn;
mod https;
pub mod mta_sts;
mod pool;
pub mod reply;
pub mod route;
pub mod tls;
pub mod tls_report;

use crate::SmtpContext;
pub use deliver::bounce;
use estafeta_deliverability::sources::Sources;
use estafeta_deliverability::throttle::{Throttle, ThrottleRules};
use estafeta_net::{CancellationToken, TaskTracker};
use pool::Pool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How often the queue is looked at when nothing wakes the runner (mail
/// queued by other nodes, retries coming due).
const POLL: Duration = Duration::from_secs(1);

pub struct Outbound {
    context: Arc<SmtpContext>,
    /// This node's name as a lease holder; each claim adds its own number,
    /// so a message claimed again after its lease ran out is never taken
    /// for the earlier claim still in flight.
    owner: String,
    claims: std::sync::atomic::AtomicU64,
    tls: Arc<rustls::ClientConfig>,
    /// For peers the operator named (require_tls routes, smarthosts).
    verified_tls: Arc<rustls::ClientConfig>,
    /// MTA-STS policies seen (RFC 8461 5.1 cache).
    policies: mta_sts::Policies,
    /// DNSSEC-aware lookups for DANE (RFC 7672).
    dnssec: estafeta_net::dnssec::SecureResolver,
    pool: Pool,
    /// Which address mail leaves from (IP pools, warm-up).
    sources: Sources,
    /// Spaces out connections to providers that defer us.
    throttle: Throttle,
    /// Messages in delivery at once.
    slots: Arc<Semaphore>,
    /// Told when a delivery ends, so its slot is filled at once.
    freed: tokio::sync::Notify,
    /// What TLS came to, for the reports of RFC 8460.
    reports: Arc<tls_report::TlsReports>,
}

/// Starts the delivery runner; it stops claiming when `shutdown` fires.
pub fn spawn(context: Arc<SmtpContext>, shutdown: CancellationToken, tracker: TaskTracker) {
    let slots = context.config.outbound.max_connections as usize;
    let outbound = Arc::new(Outbound {
        owner: format!("{}-{:016x}", context.config.hostname, rand::random::<u64>()),
        claims: std::sync::atomic::AtomicU64::new(0),
        tls: tls::client_config(),
        verified_tls: tls::verified_config(context.config.outbound.tls_ca_file.as_deref()).unwrap_or_else(|error| {
            tracing::error!(%error, "outbound.tls_ca_file unreadable; verifying with the system's roots only");
            tls::verified_config(None).expect("ring supports the default protocol versions")
        }),
        policies: Default::default(),
        dnssec: estafeta_net::dnssec::SecureResolver::new(&context.config.dns),
        pool: Pool::default(),
        sources: Sources::new(Arc::clone(&context.config), Arc::clone(&context.store)),
        throttle: Throttle::new(ThrottleRules {
            deferrals: context.config.deliverability.throttle_deferrals,
            sample: context.config.deliverability.throttle_sample,
            max_gap: context.config.deliverability.throttle_max,
        }),
        slots: Arc::new(Semaphore::new(slots)),
        freed: tokio::sync::Notify::new(),
        reports: Arc::new(tls_report::TlsReports::new(context.config.outbound.tls_report_period)),
        context,
    });
    if outbound.context.config.outbound.tls_reports {
        let (context, reports, tls, stop) = (
            Arc::clone(&outbound.context),
            Arc::clone(&outbound.reports),
            Arc::clone(&outbound.verified_tls),
            shutdown.clone(),
        );
        // A period is reported soon after it ends, whatever its length.
        let tick =
            (context.config.outbound.tls_report_period / 4).clamp(Duration::from_millis(250), Duration::from_secs(300));
        tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(tick) => {}
                }
                tls_report::send_closed(&context, &reports, &tls).await;
            }
        });
    }
    let runner_tracker = tracker.clone();
    tracker.spawn(async move { outbound.run(shutdown, runner_tracker).await });
}

impl Outbound {
    async fn run(self: Arc<Self>, shutdown: CancellationToken, tracker: TaskTracker) {
        let wake = Arc::clone(&self.context.queue_wake);
        loop {
            let free = self.slots.available_permits().min(256);
            let claimed = if free == 0 || self.context.config.outbound.hold {
                Vec::new()
            } else {
                let lease = self.context.config.outbound.lease;
                let claim = self.claims.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let owner = format!("{}#{claim}", self.owner);
                match self.context.store.queue_claim(&owner, free, lease).await {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::warn!(%error, "could not read the outbound queue");
                        Vec::new()
                    }
                }
            };
            let busy = !claimed.is_empty();
            for message in claimed {
                let Ok(slot) = Arc::clone(&self.slots).acquire_owned().await else {
                    return;
                };
                let this = Arc::clone(&self);
                tracker.spawn(async move {
                    this.deliver(message).await;
                    drop(slot);
                    this.freed.notify_one();
                });
            }
            self.pool.sweep();
            if busy && self.slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = self.freed.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        self.pool.close_all().await;
    }
}
