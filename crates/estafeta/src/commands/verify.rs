//! `estafeta verify ADDRESS...`: a report per address, as text or JSON.

use estafeta_core::Config;
use estafeta_verify::Verifier;
use std::sync::Arc;

/// Addresses probed at once (each at its own domain's servers).
const AT_ONCE: usize = 8;

pub async fn verify(config: &Config, addresses: &[String], json: bool) -> anyhow::Result<()> {
    let resolver = estafeta_net::dns::resolver(&config.dns)?;
    let verifier = Arc::new(Verifier::new(Arc::new(config.clone()), resolver));
    let limit = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let tasks: Vec<_> = addresses
        .iter()
        .map(|address| {
            let (verifier, limit, address) = (Arc::clone(&verifier), Arc::clone(&limit), address.clone());
            tokio::spawn(async move {
                let _permit = limit.acquire_owned().await;
                verifier.verify(&address).await
            })
        })
        .collect();
    let mut reports = Vec::with_capacity(tasks.len());
    for task in tasks {
        reports.push(task.await?);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for report in &reports {
            print!("{}", report.human());
        }
    }
    Ok(())
}
