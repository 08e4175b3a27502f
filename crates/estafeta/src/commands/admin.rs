//! Admin commands over the same store the server uses (`store.backend`).
//! They work while the server runs: SQLite in WAL mode takes writes from
//! both processes, PostgreSQL from any number, and the server caches
//! nothing from the directory, so it sees each change at its next lookup.

use crate::cli::{AccountCommand, AliasCommand, DomainCommand};
use anyhow::{Context, bail};
use estafeta_core::auth::{generate_password, hash_password};
use estafeta_core::config::Backend;
use estafeta_core::{Address, Config};
use estafeta_store::Store;
use estafeta_store::postgres::PostgresStore;
use estafeta_store::sqlite::SqliteStore;
use std::io::BufRead;
use std::sync::Arc;

pub async fn open(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match config.store.backend {
        Backend::Sqlite => Arc::new(
            SqliteStore::open(&config.data_dir)
                .await
                .with_context(|| format!("cannot open the store in {}", config.data_dir.display()))?,
        ),
        Backend::Postgres => Arc::new(
            PostgresStore::open(&config.store.url)
                .await
                .context("cannot open the PostgreSQL store (store.url)")?,
        ),
    })
}

fn address(text: &str) -> anyhow::Result<Address> {
    Ok(Address::parse(text)?)
}

/// First line of standard input, without its line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

async fn hash(password: String) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || hash_password(&password)).await??)
}

pub async fn domain(config: &Config, command: DomainCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        DomainCommand::Add { domain, tenant } => {
            let owner = match &tenant {
                Some(name) => Some(super::tenancy::tenant(store.as_ref(), name).await?),
                None => None,
            };
            let name = match store.domain_add(&domain).await {
                Ok(added) => {
                    println!("added domain {}", added.name);
                    added.name
                }
                // Already hosted: `--tenant` moves it.
                Err(estafeta_store::StoreError::AlreadyExists(_)) if owner.is_some() => domain.to_ascii_lowercase(),
                Err(error) => return Err(error.into()),
            };
            if let (Some(owner), Some(tenant)) = (owner, tenant) {
                store.domain_set_tenant(&name, owner.id).await?;
                println!("domain {name} belongs to tenant {tenant}");
            }
        }
        DomainCommand::List => {
            let tenants = store.tenant_list().await?;
            for domain in store.domain_list().await? {
                match tenants
                    .iter()
                    .find(|t| t.id == domain.tenant && t.id != estafeta_store::DEFAULT_TENANT)
                {
                    Some(tenant) => println!("{} (tenant {})", domain.name, tenant.name),
                    None => println!("{}", domain.name),
                }
            }
        }
        DomainCommand::Remove { domain } => {
            store.domain_remove(&domain).await?;
            println!("removed domain {}", domain.to_ascii_lowercase());
        }
    }
    Ok(())
}

pub async fn account(config: &Config, command: AccountCommand) -> anyhow::Result<()> {
    match command {
        AccountCommand::Add {
            address: text,
            password_stdin,
        } => {
            let address = address(&text)?;
            let (password, generated) = match password_stdin {
                true => (password_from_stdin()?, false),
                false => (generate_password(), true),
            };
            let store = open(config).await?;
            let account = store.account_add(&address, &hash(password.clone()).await?).await?;
            println!("added account {}", account.address);
            if generated {
                // Shown once: only its hash is kept.
                println!("password: {password}");
            }
        }
        AccountCommand::List => {
            for account in open(config).await?.account_list().await? {
                println!("{}", account.address);
            }
        }
        AccountCommand::Passwd { address: text, .. } => {
            let address = address(&text)?;
            let password = password_from_stdin()?;
            let store = open(config).await?;
            store
                .account_set_password(&address.to_string(), &hash(password).await?)
                .await?;
            println!("changed password of {address}");
        }
        AccountCommand::Export { address: text, output } => {
            let address = address(&text)?;
            let store = open(config).await?;
            let Some(account) = store.account_get(&address.to_string()).await? else {
                bail!("no account {address}");
            };
            let done = super::export::export(store.as_ref(), &account, &output).await?;
            println!(
                "exported {address} into {}: {} messages in {} mailboxes, {} calendar and contact resources, {} files",
                output.display(),
                done.messages,
                done.mailboxes,
                done.resources,
                done.files
            );
        }
        AccountCommand::Remove { address: text } => {
            let address = address(&text)?;
            open(config).await?.account_remove(&address.to_string()).await?;
            println!("removed account {address} and its mail");
        }
    }
    Ok(())
}

pub async fn alias(config: &Config, command: AliasCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        AliasCommand::Add { alias, target } => {
            let added = store.alias_add(&address(&alias)?, &address(&target)?).await?;
            println!("added alias {} -> {}", added.address, added.target);
        }
        AliasCommand::List => {
            for alias in store.alias_list().await? {
                println!("{} -> {}", alias.address, alias.target);
            }
        }
        AliasCommand::Remove { alias } => {
            let alias = address(&alias)?;
            store.alias_remove(&alias.to_string()).await?;
            println!("removed alias {alias}");
        }
    }
    Ok(())
}

pub async fn verify_data(config: &Config, repair: bool) -> anyhow::Result<()> {
    let store = open(config).await?;
    let report = store.verify(repair).await?;
    println!(
        "checked {} messages and {} blobs",
        report.messages_checked, report.blobs_checked
    );
    let sections = [
        ("missing blob", &report.missing_blobs),
        ("corrupt blob", &report.corrupt_blobs),
        ("reference count", &report.refcount_mismatches),
        ("mailbox counter", &report.counter_errors),
        ("calendar or contact", &report.dav_errors),
        ("orphan blob content", &report.orphan_files),
    ];
    for (what, items) in sections {
        for item in items {
            println!("{what}: {item}");
        }
    }
    if repair {
        println!("repaired {}", report.repaired);
    }
    if !report.is_healthy() && !repair {
        bail!("the store has problems (see above); `estafeta verify-data --repair` fixes counts and counters");
    }
    if !report.missing_blobs.is_empty() || !report.corrupt_blobs.is_empty() {
        bail!("message content is missing or damaged; restore those blobs from a backup");
    }
    println!("ok");
    Ok(())
}

/// `estafeta migrate --from sqlite:DIR --to postgres://...`.
pub async fn migrate(from: &str, to: &str) -> anyhow::Result<()> {
    let Some(dir) = from.strip_prefix("sqlite:") else {
        bail!("--from must be sqlite:DATA_DIR, not `{from}`");
    };
    if !to.starts_with("postgres://") && !to.starts_with("postgresql://") {
        bail!("--to must be a postgres://... URL");
    }
    let report = estafeta_store::migrate::sqlite_to_postgres(std::path::Path::new(dir), to)
        .await
        .with_context(|| format!("cannot migrate {dir}"))?;
    println!(
        "migrated {} domains, {} accounts, {} aliases, {} mailboxes, {} messages ({} blobs, {} expunged, {} queued); \
         verified {} blobs",
        report.domains,
        report.accounts,
        report.aliases,
        report.mailboxes,
        report.messages,
        report.blobs,
        report.expunged,
        report.queued,
        report.verified.blobs_checked
    );
    Ok(())
}
