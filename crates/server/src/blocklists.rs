//! Blocklist monitoring: every pool address (reversed, RFC 5782) and
//! every domain this node sends for, looked up in the configured lists
//! on a schedule. A listed address leaves its pool (mail goes out from
//! the others) until a later check finds it clean; the operator is told
//! in the log, in `estafeta pool list` and at `/metrics`.

use crate::Shared;
use estafeta_core::config::DnsList;
use estafeta_core::time::now;
use estafeta_filter::dnsbl::{listing, reversed};
use estafeta_net::dns::Resolver;
use estafeta_net::{CancellationToken, TaskTracker};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Startup is busy; the first look waits this long at most.
const FIRST_CHECK: Duration = Duration::from_secs(60);

fn lists(zones: &[String]) -> Vec<DnsList> {
    zones
        .iter()
        .map(|zone| DnsList {
            zone: zone.trim_matches('.').to_owned(),
            weight: 0.0,
            codes: Vec::new(),
        })
        .collect()
}

/// What the lists say about one name: the first listing, `None` when
/// none lists it, an error when a list could not be asked and none lists it.
async fn look_up(resolver: &Resolver, subject: &str, lists: &[DnsList]) -> Result<Option<String>, String> {
    let mut failure = None;
    for list in lists {
        let name = format!("{subject}.{}.", list.zone);
        match listing(resolver, &name, list).await {
            Ok(Some(code)) => return Ok(Some(format!("{} ({code})", list.zone))),
            Ok(None) => {}
            Err(error) => failure = Some(error),
        }
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(None),
    }
}

pub fn spawn(shared: &Arc<Shared>, resolver: Resolver, shutdown: &CancellationToken, tracker: &TaskTracker) {
    let config = &shared.config.deliverability;
    if config.blocklists.is_empty() && config.domain_blocklists.is_empty() {
        return;
    }
    let interval = config.blocklist_interval;
    let (shared, stop) = (Arc::clone(shared), shutdown.clone());
    tracker.spawn(async move {
        let mut wait = interval.min(FIRST_CHECK);
        // Domain listings last seen, so each is told once.
        let mut domains: HashMap<String, Option<String>> = HashMap::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => return,
            }
            wait = interval;
            check_addresses(&shared, &resolver).await;
            check_domains(&shared, &resolver, &mut domains).await;
        }
    });
}

async fn check_addresses(shared: &Shared, resolver: &Resolver) {
    let lists = lists(&shared.config.deliverability.blocklists);
    if lists.is_empty() {
        return;
    }
    let pools = match shared.store.pool_list().await {
        Ok(pools) => pools,
        Err(error) => {
            tracing::warn!(%error, "could not read the IP pools for the blocklist check");
            return;
        }
    };
    for pool in pools {
        for address in pool.addresses {
            let Ok(ip) = address.address.parse::<IpAddr>() else {
                continue;
            };
            let found = match look_up(resolver, &reversed(ip), &lists).await {
                Ok(found) => found,
                Err(error) => {
                    tracing::warn!(address = %address.address, %error, "blocklist check failed; listing left as it was");
                    continue;
                }
            };
            if found == address.listed {
                continue;
            }
            match shared
                .store
                .pool_address_listed(&address.address, found.as_deref(), now())
                .await
            {
                Ok(true) => match &found {
                    Some(listing) => tracing::error!(
                        pool = %pool.name, address = %address.address, %listing,
                        "pool address is on a blocklist: taken out of its pool until it is delisted"
                    ),
                    None => tracing::warn!(
                        pool = %pool.name, address = %address.address,
                        "pool address is off the blocklists: back in its pool"
                    ),
                },
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "could not record a blocklist listing"),
            }
        }
    }
}

async fn check_domains(shared: &Shared, resolver: &Resolver, known: &mut HashMap<String, Option<String>>) {
    let config = &shared.config.deliverability;
    let lists = lists(&config.domain_blocklists);
    if lists.is_empty() {
        return;
    }
    let since = now() - config.rate_window.as_secs() as i64;
    for domain in shared.ledger.sending_domains(since) {
        let found = match look_up(resolver, &domain, &lists).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%domain, %error, "domain blocklist check failed");
                continue;
            }
        };
        shared
            .metrics
            .gauge(
                "estafeta_domain_listed",
                "1 while a sending domain is on a domain blocklist.",
                &[("domain", &domain)],
            )
            .set(i64::from(found.is_some()));
        if known.get(&domain) == Some(&found) {
            continue;
        }
        match &found {
            Some(listing) => tracing::error!(%domain, %listing, "sending domain is on a domain blocklist"),
            None if known.contains_key(&domain) => {
                tracing::warn!(%domain, "sending domain is off the domain blocklists")
            }
            None => {}
        }
        known.insert(domain, found);
    }
}
