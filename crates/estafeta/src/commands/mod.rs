mod admin;
mod dns;
mod export;
mod outbound;
mod pools;
mod serve;
mod spam;
mod tenancy;
mod verify;

use crate::cli::{Cli, Command};
use anyhow::Context;
use estafeta_core::Config;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = load_config(&cli)?;
    match cli.command {
        Command::Serve => serve::run(config).await,
        Command::Domain(command) => admin::domain(&config, command).await,
        Command::Tenant(command) => tenancy::tenants(&config, command).await,
        Command::Suppression(command) => tenancy::suppressions(&config, command).await,
        Command::Pool(command) => pools::pools(&config, command).await,
        Command::Reputation => tenancy::reputation(&config).await,
        Command::Account(command) => admin::account(&config, command).await,
        Command::Alias(command) => admin::alias(&config, command).await,
        Command::Queue(command) => outbound::queue(&config, command).await,
        Command::Dkim(command) => outbound::dkim(&config, command).await,
        Command::Spam(command) => spam::spam(&config, command).await,
        Command::DnsRecords { domain } => dns::records(&config, &domain).await,
        Command::DnsCheck { domain } => dns::check(&config, &domain).await,
        Command::Verify {
            addresses,
            json,
            input,
            output,
            tenant,
        } => match (input, output) {
            (Some(input), Some(output)) => verify::verify_list(&config, &tenant, &input, &output).await,
            _ => verify::verify(&config, &tenant, &addresses, json).await,
        },
        Command::VerifyData { repair } => admin::verify_data(&config, repair).await,
        Command::Migrate { from, to } => admin::migrate(&from, &to).await,
    }
}

/// The config file if given (errors name the key and file), else the
/// embedded defaults; then `--data-dir` on top.
fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = match &cli.config {
        Some(path) => Config::load(path).context("invalid configuration")?,
        None => Config::default(),
    };
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    Ok(config)
}
