//! `estafeta verify ADDRESS...`: a report per address, as text or JSON;
//! `estafeta verify --input list.csv --output results.csv`: a whole list,
//! with a progress bar, resumable, and a summary.

use estafeta_core::Config;
use estafeta_verify::Verifier;
use estafeta_verify::batch::{Batch, Retries, verify_all};
use estafeta_verify::listfile::{Results, read_input};
use std::path::Path;
use std::sync::Arc;

/// Addresses in progress at once from the command line; the verifier's
/// own limits (`verify.max_probes`, per host) still apply under it.
const WINDOW: usize = 256;

/// The verifier, consulting `tenant`'s suppression list.
async fn verifier(config: &Config, tenant: &str) -> anyhow::Result<(Arc<Verifier>, Batch)> {
    let resolver = estafeta_net::dns::resolver(&config.dns)?;
    let store = super::admin::open(config).await?;
    let owner = super::tenancy::tenant(store.as_ref(), tenant).await?;
    let verifier = Verifier::new(Arc::new(config.clone()), resolver).with_store(store);
    let batch = Batch {
        window: WINDOW,
        retries: Retries::Wait,
        tenant: Some(owner.id),
    };
    Ok((Arc::new(verifier), batch))
}

pub async fn verify(config: &Config, tenant: &str, addresses: &[String], json: bool) -> anyhow::Result<()> {
    let (verifier, batch) = verifier(config, tenant).await?;
    let mut receiver = verify_all(verifier, addresses.to_vec(), batch);
    let mut reports = Vec::with_capacity(addresses.len());
    while let Some(report) = receiver.recv().await {
        reports.push(report);
    }
    // In the order asked, whatever order they finished in.
    reports.sort_by_key(|report| addresses.iter().position(|a| *a == report.address));
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for report in &reports {
            print!("{}", report.human());
        }
    }
    Ok(())
}

pub async fn verify_list(config: &Config, tenant: &str, input: &Path, output: &Path) -> anyhow::Result<()> {
    let (verifier, batch) = verifier(config, tenant).await?;
    let list = read_input(input)?;
    let mut results = Results::open(output)?;
    let pending: Vec<String> = list
        .addresses
        .iter()
        .filter(|address| !results.contains(address))
        .cloned()
        .collect();
    let done = list.addresses.len() - pending.len();
    if done > 0 {
        eprintln!(
            "resuming: {done} of {} already in {}",
            list.addresses.len(),
            output.display()
        );
    }
    if list.duplicates > 0 {
        eprintln!("{} duplicate rows skipped", list.duplicates);
    }
    let progress = indicatif::ProgressBar::new(list.addresses.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta} {msg}")
            .expect("a valid template"),
    );
    progress.set_position(done as u64);
    let mut receiver = verify_all(verifier, pending, batch);
    let interrupted = loop {
        tokio::select! {
            report = receiver.recv() => match report {
                Some(report) => {
                    results.add(&report)?;
                    progress.inc(1);
                }
                None => break false,
            },
            _ = tokio::signal::ctrl_c() => break true,
        }
    };
    progress.finish_and_clear();
    if interrupted {
        let summary = results.summary();
        eprintln!(
            "interrupted: {} of {} verified and kept in {}; run the same command again to go on",
            summary.total(),
            list.addresses.len(),
            output.display()
        );
        std::process::exit(130);
    }
    let summary = results.finish(&list.addresses)?;
    println!("{summary}");
    Ok(())
}
