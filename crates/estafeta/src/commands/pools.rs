//! `estafeta pool ...`: IP pools and their source addresses.

use super::admin::open;
use super::tenancy::valid_name;
use crate::cli::{PoolAddressCommand, PoolCommand};
use estafeta_core::Config;
use estafeta_core::time::{format_utc, now};
use estafeta_deliverability::sources::warmup_cap;
use estafeta_store::NewPoolAddress;

/// A host name as EHLO takes it (RFC 5321 4.1.1.1: a domain, fully
/// qualified, which its PTR record should name).
fn valid_ehlo(name: &str) -> bool {
    name.contains('.')
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

pub async fn pools(config: &Config, command: PoolCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        PoolCommand::Add { name, dedicated } => {
            anyhow::ensure!(
                valid_name(&name),
                "pool names are 1-64 of a-z, 0-9, '-', '_', '.': `{name}`"
            );
            store.pool_add(&name, dedicated).await?;
            let kind = if dedicated { "dedicated" } else { "shared" };
            println!("added {kind} pool {name}");
        }
        PoolCommand::List => {
            let now = now();
            for pool in store.pool_list().await? {
                let kind = if pool.dedicated { "dedicated" } else { "shared" };
                let tenants: Vec<&str> = pool.tenants.iter().map(|(_, name)| name.as_str()).collect();
                println!("{}\t{kind}\ttenants: {}", pool.name, tenants.join(" "));
                for address in &pool.addresses {
                    let warmup = match (
                        address.warmup_start,
                        warmup_cap(&config.deliverability.warmup, address.warmup_start, now),
                    ) {
                        (Some(start), Some(cap)) => {
                            format!("warm-up day {}: {cap} a day per provider", (now - start) / 86_400 + 1)
                        }
                        _ => "warm".to_owned(),
                    };
                    let state = match (&address.listed, address.listed_at) {
                        (Some(listing), Some(at)) => {
                            format!("LISTED since {}: {listing}; out of the pool", format_utc(at))
                        }
                        (Some(listing), None) => format!("LISTED: {listing}; out of the pool"),
                        _ => "in use".to_owned(),
                    };
                    println!(
                        "  {}\t{}\tweight {}\t{warmup}\t{state}",
                        address.address, address.ehlo, address.weight
                    );
                }
            }
        }
        PoolCommand::Remove { name } => {
            store.pool_remove(&name).await?;
            println!("removed pool {name}");
        }
        PoolCommand::Assign { pool, tenant } => {
            store.pool_assign(Some(&pool), &tenant).await?;
            println!("tenant {tenant} sends from pool {pool}");
        }
        PoolCommand::Unassign { tenant } => {
            store.pool_assign(None, &tenant).await?;
            println!("tenant {tenant} sends from the default tenant's pool");
        }
        PoolCommand::Address(PoolAddressCommand::Add {
            pool,
            address,
            ehlo,
            weight,
            warm,
        }) => {
            anyhow::ensure!(valid_ehlo(&ehlo), "`{ehlo}` is not a fully qualified host name");
            anyhow::ensure!(
                !address.is_unspecified() && !address.is_multicast(),
                "{address} cannot be a source address"
            );
            store
                .pool_address_add(
                    &pool,
                    &NewPoolAddress {
                        address: address.to_string(),
                        ehlo: ehlo.to_ascii_lowercase(),
                        weight,
                        warmup: !warm,
                    },
                )
                .await?;
            println!("added {address} ({ehlo}) to pool {pool}");
            // The server may run elsewhere; here it is only a hint.
            if std::net::TcpListener::bind((address, 0)).is_err() {
                eprintln!("warning: {address} is not an address of this host; mail can only leave from it where it is");
            }
        }
        PoolCommand::Address(PoolAddressCommand::Remove { address }) => {
            store.pool_address_remove(&address.to_string()).await?;
            println!("removed {address} from its pool");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ehlo_names_must_be_fully_qualified_host_names() {
        assert!(valid_ehlo("mta1.example.com"));
        assert!(valid_ehlo("o1-2.mail.example.co.uk"));
        assert!(!valid_ehlo("localhost"));
        assert!(!valid_ehlo("-bad.example"));
        assert!(!valid_ehlo("a..example"));
        assert!(!valid_ehlo("mta 1.example"));
    }
}
