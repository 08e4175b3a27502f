//! `estafeta queue` and `estafeta dkim`: the outbound side, over the same
//! store the server uses.

use super::admin::open;
use crate::cli::{DkimCommand, QueueCommand};
use anyhow::{Context, bail};
use estafeta_core::Config;
use estafeta_core::auth::LoginLimiter;
use estafeta_core::metrics::Metrics;
use estafeta_core::model::QueueId;
use estafeta_smtp::SmtpContext;
use estafeta_smtp::outbound::dkim;
use estafeta_store::{DkimKey, QueuedMessage, RecipientStatus};
use std::sync::Arc;

fn when(secs: i64) -> String {
    estafeta_core::time::format_utc(secs)
}

fn pending(message: &QueuedMessage) -> usize {
    message
        .recipients
        .iter()
        .filter(|r| r.status == RecipientStatus::Pending)
        .count()
}

pub async fn queue(config: &Config, command: QueueCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        QueueCommand::List => {
            let queued = store.queue_list().await?;
            for message in &queued {
                let sender = if message.sender.is_empty() {
                    "<>"
                } else {
                    &message.sender
                };
                println!(
                    "{}\t{}\t{} bytes\t{} of {} pending\tnext {}\tfrom {sender}",
                    message.id,
                    when(message.created_at),
                    message.size,
                    pending(message),
                    message.recipients.len(),
                    when(message.next_attempt),
                );
            }
            println!("{} queued", queued.len());
        }
        QueueCommand::Show { id } => {
            let Some(message) = store.queue_get(QueueId(id)).await? else {
                bail!("no queued message {id}");
            };
            let sender = if message.sender.is_empty() {
                "<>"
            } else {
                &message.sender
            };
            println!("id: {}", message.id);
            println!("from: {sender}");
            println!("size: {} bytes", message.size);
            println!("queued: {}", when(message.created_at));
            println!("attempts: {}", message.attempts);
            println!("next attempt: {}", when(message.next_attempt));
            if let Some((owner, until)) = &message.claimed_by
                && *until > estafeta_core::time::now()
            {
                println!("being delivered by {owner} (claim until {})", when(*until));
            }
            if let Some(envid) = &message.envid {
                println!("envid: {envid}");
            }
            for recipient in &message.recipients {
                println!(
                    "to: {} [{}] attempts {}{}",
                    recipient.recipient.address,
                    recipient.status.as_str(),
                    recipient.attempts,
                    recipient
                        .last_reply
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default(),
                );
            }
        }
        QueueCommand::Retry { id, all } => {
            if id.is_none() && !all {
                bail!("give a message id, or --all");
            }
            let changed = store.queue_retry(id.map(QueueId)).await?;
            if let Some(id) = id
                && changed == 0
            {
                bail!("no queued message {id}");
            }
            println!("{changed} due now");
        }
        QueueCommand::Remove { id, bounce } => {
            let Some(message) = store.queue_get(QueueId(id)).await? else {
                bail!("no queued message {id}");
            };
            if bounce {
                let context = SmtpContext {
                    config: Arc::new(config.clone()),
                    store: Arc::clone(&store),
                    logins: Arc::new(LoginLimiter::from_config(&config.auth)),
                    metrics: Metrics::new(),
                    resolver: None,
                    queue_wake: Default::default(),
                    filter: None,
                    ledger: None,
                };
                estafeta_smtp::outbound::bounce(&context, &message, "removed from the queue by the administrator")
                    .await
                    .context("cannot send the DSN; the message stays queued")?;
            }
            if !store.queue_remove(QueueId(id)).await? {
                bail!("no queued message {id}");
            }
            println!("removed {id}{}", if bounce { " and told the sender" } else { "" });
        }
    }
    Ok(())
}

pub async fn dkim(config: &Config, command: DkimCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        DkimCommand::Generate {
            domain,
            algorithm,
            selector,
        } => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            if !store.domain_is_local(&domain).await? {
                bail!("{domain} is not one of our domains; `estafeta domain add {domain}` first");
            }
            let now = estafeta_core::time::now();
            let selector =
                selector.unwrap_or_else(|| format!("e{}", estafeta_core::time::format_utc(now)[..10].replace('-', "")));
            let generated =
                tokio::task::spawn_blocking(move || dkim::generate(&algorithm).map(|g| (g, algorithm))).await??;
            let (generated, algorithm) = generated;
            store
                .dkim_key_set(&DkimKey {
                    domain: domain.clone(),
                    selector: selector.clone(),
                    algorithm,
                    private_key: generated.private_key,
                    created_at: now,
                })
                .await?;
            println!("Publish this TXT record, then mail from {domain} is signed:");
            println!(
                "{}. IN TXT \"{}\"",
                dkim::record_name(&selector, &domain),
                generated.record
            );
        }
        DkimCommand::Show { domain } => {
            let Some(key) = store.dkim_key_get(&domain).await? else {
                bail!("{domain} has no DKIM key; `estafeta dkim generate {domain}`");
            };
            println!(
                "{}. IN TXT \"{}\"",
                dkim::record_name(&key.selector, &key.domain),
                dkim::record_of(&key)?
            );
        }
        DkimCommand::List => {
            for key in store.dkim_key_list().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    key.domain,
                    key.selector,
                    key.algorithm,
                    when(key.created_at)
                );
            }
        }
    }
    Ok(())
}
