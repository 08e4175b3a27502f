//! `estafeta spam train` and `estafeta spam classify`: teaching the filter
//! labelled mail and showing an operator why a message goes where it goes.

use super::admin::open;
use crate::cli::SpamCommand;
use anyhow::{Context, bail};
use estafeta_core::Config;
use estafeta_core::model::AccountId;
use estafeta_filter::{Filter, Input, Tab, corpus};
use estafeta_store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut messages = Vec::new();
    for path in paths {
        messages.extend(corpus::read(path).with_context(|| format!("cannot read {}", path.display()))?);
    }
    Ok(messages)
}

async fn account_id(store: &dyn Store, address: Option<&str>) -> anyhow::Result<Option<AccountId>> {
    let Some(address) = address else { return Ok(None) };
    match store.account_get(&address.to_lowercase()).await? {
        Some(account) => Ok(Some(account.id)),
        None => bail!("no account {address}"),
    }
}

pub async fn spam(config: &Config, command: SpamCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match command {
        SpamCommand::Train {
            spam,
            ham,
            tab,
            account,
        } => {
            if spam.is_empty() && ham.is_empty() && tab.is_empty() {
                bail!("nothing to learn: give --spam, --ham or --tab paths");
            }
            let account = account_id(store.as_ref(), account.as_deref()).await?;
            let mut labelled = Vec::new();
            labelled.extend(read_all(&spam)?.into_iter().map(|m| (m, true)));
            labelled.extend(read_all(&ham)?.into_iter().map(|m| (m, false)));
            if !labelled.is_empty() {
                let (spam, ham) = estafeta_filter::train_spam(store.as_ref(), account, labelled).await?;
                println!("learned {spam} spam and {ham} ham");
            }
            let mut examples = Vec::new();
            for pair in &tab {
                let Some((name, path)) = pair.split_once('=') else {
                    bail!("--tab takes TAB=PATH, not {pair}");
                };
                let Some(tab) = Tab::parse(name) else {
                    bail!("no tab {name}: primary, promotions, social or updates");
                };
                let messages = corpus::read(Path::new(path)).with_context(|| format!("cannot read {path}"))?;
                examples.extend(messages.into_iter().map(|m| (m, tab)));
            }
            if !examples.is_empty() {
                let learned = estafeta_filter::train_tabs(store.as_ref(), account, examples).await?;
                println!("learned {learned} tab examples");
            }
        }
        SpamCommand::Classify {
            file,
            account,
            ip,
            offline,
        } => {
            let message = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let recipient = match &account {
                Some(address) => Some((
                    account_id(store.as_ref(), Some(address)).await?.expect("found"),
                    address.to_lowercase(),
                )),
                None => None,
            };
            let resolver = if offline {
                None
            } else {
                Some(estafeta_net::dns::resolver(&config.dns)?)
            };
            let filter = Filter::new(Arc::new(config.clone()), Arc::clone(&store), resolver);
            let input = Input {
                message: &message,
                parsed: None,
                ip,
                mail_from: "",
                auth: Default::default(),
                smtputf8: false,
            };
            let analysis = filter.analyze(&input).await;
            let verdict = filter
                .verdict(
                    &analysis,
                    recipient.as_ref().map(|(id, address)| (*id, address.as_str())),
                )
                .await;
            print!("{}", verdict.explain());
        }
    }
    Ok(())
}
