//! `estafeta verify ADDRESS...`: a report per address, as text or JSON;
//! `estafeta verify --input list.csv --output results.csv`: a whole list,
//! with a progress bar, resumable, and a summary.

use estafeta_core::Config;
use estafeta_verify::Verifier;
use estafeta_verify::batch::{Retries, verify_all};
use estafeta_verify::listfile::{Results, read_input};
use std::path::Path;
use std::sync::Arc;

/// Addresses in progress at once from the command line; the verifier's
/// own limits (`verify.max_probes`, per host) still apply under it.
const WINDOW: usize = 256;

fn verifier(config: &Config) -> anyhow::Result<Arc<Verifier>> {
    let resolver = estafeta_net::dns::resolver(&config.dns)?;
    Ok(Arc::new(Verifier::new(Arc::new(config.clone()), resolver)))
}

pub async fn verify(config: &Config, addresses: &[String], json: bool) -> anyhow::Result<()> {
    let mut receiver = verify_all(verifier(config)?, addresses.to_vec(), WINDOW, Retries::Wait);
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

pub async fn verify_list(config: &Config, input: &Path, output: &Path) -> anyhow::Result<()> {
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
    let mut receiver = verify_all(verifier(config)?, pending, WINDOW, Retries::Wait);
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
