//! `estafeta tenant ...` and `estafeta suppression ...`.

use super::admin::open;
use crate::cli::{SuppressionCommand, TenantCommand};
use estafeta_core::Config;
use estafeta_store::{Store, Suppression, SuppressionReason, Tenant};

/// The tenant of this name, or a clear refusal.
pub async fn tenant(store: &dyn Store, name: &str) -> anyhow::Result<Tenant> {
    store
        .tenant_get(name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant {name} (estafeta tenant add {name})"))
}

/// Tenant and pool names: short, and safe in logs and metric labels.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn reason(code: &str) -> anyhow::Result<SuppressionReason> {
    SuppressionReason::parse(code).ok_or_else(|| {
        let known: Vec<&str> = SuppressionReason::ALL.iter().map(|r| r.code()).collect();
        anyhow::anyhow!("unknown reason `{code}`: one of {}", known.join(", "))
    })
}

pub async fn tenants(config: &Config, command: TenantCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        TenantCommand::Add { name } => {
            anyhow::ensure!(
                valid_name(&name),
                "tenant names are 1-64 of a-z, 0-9, '-', '_', '.': `{name}`"
            );
            let added = store.tenant_add(&name).await?;
            println!("added tenant {}", added.name);
        }
        TenantCommand::List => {
            let domains = store.domain_list().await?;
            for tenant in store.tenant_list().await? {
                let owned: Vec<&str> = domains
                    .iter()
                    .filter(|d| d.tenant == tenant.id)
                    .map(|d| d.name.as_str())
                    .collect();
                match &tenant.paused {
                    Some(reason) => println!("{}\t{}\tpaused: {reason}", tenant.name, owned.join(" ")),
                    None => println!("{}\t{}", tenant.name, owned.join(" ")),
                }
            }
        }
        TenantCommand::Remove { name } => {
            store.tenant_remove(&name).await?;
            println!("removed tenant {name}");
        }
        TenantCommand::Resume { name } => {
            let found = tenant(store.as_ref(), &name).await?;
            anyhow::ensure!(found.paused.is_some(), "tenant {name} is not paused");
            store.tenant_pause(found.id, None).await?;
            println!("resumed tenant {name}'s bulk mail");
        }
    }
    Ok(())
}

pub async fn suppressions(config: &Config, command: SuppressionCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    let now = estafeta_core::time::now();
    match command {
        SuppressionCommand::List { tenant: name } => {
            let tenant = tenant(store.as_ref(), &name).await?;
            for entry in store.suppression_list(tenant.id, now).await? {
                let scope = if entry.sender_domain.is_empty() {
                    "*"
                } else {
                    &entry.sender_domain
                };
                let expires = entry
                    .expires_at
                    .map(estafeta_core::time::format_utc)
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{}\t{scope}\t{}\t{}\texpires {expires}\t{}",
                    entry.address,
                    entry.reason.code(),
                    estafeta_core::time::format_utc(entry.created_at),
                    entry.detail
                );
            }
        }
        SuppressionCommand::Add {
            addresses,
            tenant: name,
            sender_domain,
            reason: code,
            detail,
            expires,
        } => {
            let tenant = tenant(store.as_ref(), &name).await?;
            let reason = reason(&code)?;
            let expires_at = match expires {
                Some(text) => Some(
                    now + estafeta_core::duration::parse(&text)
                        .map_err(|e| anyhow::anyhow!("--expires: {e}"))?
                        .as_secs() as i64,
                ),
                None => None,
            };
            for address in &addresses {
                anyhow::ensure!(
                    estafeta_core::Address::parse(address).is_ok(),
                    "`{address}` is not an address"
                );
            }
            for address in addresses {
                store
                    .suppression_add(&Suppression {
                        tenant: tenant.id,
                        address: address.clone(),
                        sender_domain: sender_domain.clone().unwrap_or_default(),
                        reason,
                        detail: detail.clone(),
                        created_at: now,
                        expires_at,
                    })
                    .await?;
                println!("suppressed {} for tenant {name}", address.to_lowercase());
            }
        }
        SuppressionCommand::Remove {
            address,
            tenant: name,
            sender_domain,
        } => {
            let tenant = tenant(store.as_ref(), &name).await?;
            let removed = store
                .suppression_remove(tenant.id, sender_domain.as_deref(), &address)
                .await?;
            anyhow::ensure!(removed > 0, "{address} is not on tenant {name}'s suppression list");
            println!(
                "removed {} from tenant {name}'s suppression list",
                address.to_lowercase()
            );
        }
        SuppressionCommand::Import {
            file,
            tenant: name,
            reason: code,
        } => {
            let tenant = tenant(store.as_ref(), &name).await?;
            let input = std::fs::File::open(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let entries = estafeta_deliverability::suppression::import(input, tenant.id, reason(&code)?, now)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for entry in &entries {
                store.suppression_add(entry).await?;
            }
            println!("imported {} entries for tenant {name}", entries.len());
        }
        SuppressionCommand::Export { tenant: name, output } => {
            let tenant = tenant(store.as_ref(), &name).await?;
            let entries = store.suppression_list(tenant.id, now).await?;
            match output {
                Some(path) => {
                    let file = std::fs::File::create(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    estafeta_deliverability::suppression::export(&entries, file)?;
                    eprintln!("exported {} entries to {}", entries.len(), path.display());
                }
                None => estafeta_deliverability::suppression::export(&entries, std::io::stdout().lock())?,
            }
        }
    }
    Ok(())
}

pub async fn reputation(config: &Config) -> anyhow::Result<()> {
    let store = open(config).await?;
    let rules = &config.deliverability;
    let since = estafeta_core::time::now() - rules.rate_window.as_secs() as i64;
    let domains = store.domain_list().await?;
    println!(
        "{:<12} {:<24} {:>8} {:>9} {:>6} {:>6} {:>10} {:>7} {:>8} {:>10} {:>5}  status",
        "tenant",
        "sender domain",
        "sent",
        "delivered",
        "hard",
        "soft",
        "complaints",
        "unsubs",
        "bounce%",
        "complaint%",
        "score"
    );
    for tenant in store.tenant_list().await? {
        let status = match &tenant.paused {
            Some(reason) => format!("paused: {reason}"),
            None => "sending".to_owned(),
        };
        for domain in domains.iter().filter(|d| d.tenant == tenant.id) {
            let stats = store.stats_sum(tenant.id, Some(&domain.name), since).await?;
            let s = estafeta_deliverability::reputation::standing(&stats, rules);
            println!(
                "{:<12} {:<24} {:>8} {:>9} {:>6} {:>6} {:>10} {:>7} {:>7.2}% {:>9.3}% {:>5}  {status}",
                tenant.name,
                domain.name,
                s.sent,
                s.delivered,
                s.hard_bounces,
                s.soft_bounces,
                s.complaints,
                s.unsubscribes,
                100.0 * s.bounce_rate,
                100.0 * s.complaint_rate,
                s.score
            );
        }
    }
    let pools = store.pool_list().await?;
    if pools.iter().any(|p| !p.addresses.is_empty()) {
        println!();
        println!(
            "{:<12} {:<24} {:>8} {:>9} {:>8} {:>6} {:>6} {:>8} {:>9} {:>5}  status",
            "pool", "source address", "sent", "delivered", "deferred", "hard", "soft", "bounce%", "deferral%", "score"
        );
    }
    for pool in &pools {
        for address in &pool.addresses {
            let stats = store.source_stats_sum(&address.address, since).await?;
            let listed = address.listed.is_some();
            let s = estafeta_deliverability::reputation::source_standing(&stats, rules, listed);
            let status = match &address.listed {
                Some(listing) => format!("listed: {listing}"),
                None => "sending".to_owned(),
            };
            println!(
                "{:<12} {:<24} {:>8} {:>9} {:>8} {:>6} {:>6} {:>7.2}% {:>8.2}% {:>5}  {status}",
                pool.name,
                address.address,
                s.sent,
                s.delivered,
                s.deferred,
                s.hard_bounces,
                s.soft_bounces,
                100.0 * s.bounce_rate,
                100.0 * s.deferral_rate,
                s.score
            );
        }
    }
    Ok(())
}
