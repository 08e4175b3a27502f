//! Many addresses at once. Workers take a domain each and check its
//! addresses one after another, so one connection serves several of them
//! (RSET between) and each host sees at most `host_connections` workers;
//! there are no more workers than sessions allowed in all, so a worker
//! seldom waits for another host's idle connection to close. A temporary
//! answer waits for its retry apart, without holding a worker.

use crate::{Report, Step, Verifier, syntax};
use estafeta_core::model::TenantId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What to do with a temporary answer (greylisting, a busy server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retries {
    /// Ask again after `verify.retry_delay`, `verify.retries` times.
    Wait,
    /// Report it now (callers that cannot wait minutes).
    Skip,
}

/// How a batch runs.
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    /// Addresses checked at once, at most (the verifier's limits still hold).
    pub window: usize,
    pub retries: Retries,
    /// Whose suppression list to consult.
    pub tenant: Option<TenantId>,
}

/// Reports in the order they finish; the channel closes after the last.
pub fn verify_all(verifier: Arc<Verifier>, addresses: Vec<String>, batch: Batch) -> mpsc::Receiver<Report> {
    let Batch {
        window,
        retries,
        tenant,
    } = batch;
    let verify = &verifier.config.verify;
    let workers = window.min(verify.max_probes).max(1);
    let (reports, receiver) = mpsc::channel(workers);
    let jobs = Arc::new(Mutex::new(jobs(addresses, verify.host_connections.max(1))));
    let last_try = retries == Retries::Skip || verify.retries == 0;
    for _ in 0..workers {
        let (verifier, jobs, reports) = (Arc::clone(&verifier), Arc::clone(&jobs), reports.clone());
        tokio::spawn(async move {
            loop {
                let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some(job) = job else { return };
                loop {
                    let address = job.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(address) = address else { break };
                    if reports.is_closed() {
                        return;
                    }
                    match verifier.attempt(&address, 0, last_try, tenant).await {
                        Step::Done(report) => {
                            let _ = reports.send(*report).await;
                        }
                        Step::Retry => {
                            tokio::spawn(retry(Arc::clone(&verifier), address, tenant, reports.clone()));
                        }
                    }
                }
            }
        });
    }
    receiver
}

/// Asks again after `retry_delay`, up to `retries` times.
async fn retry(verifier: Arc<Verifier>, address: String, tenant: Option<TenantId>, reports: mpsc::Sender<Report>) {
    let verify = &verifier.config.verify;
    let mut asked = 1;
    loop {
        tokio::time::sleep(verify.retry_delay).await;
        match verifier.attempt(&address, asked, asked >= verify.retries, tenant).await {
            Step::Done(report) => {
                let _ = reports.send(*report).await;
                return;
            }
            Step::Retry => asked += 1,
        }
    }
}

type Job = Arc<Mutex<VecDeque<String>>>;

/// One queue per domain, in order of first appearance; a domain with
/// several addresses is offered to up to `lanes` workers.
fn jobs(addresses: Vec<String>, lanes: usize) -> VecDeque<Job> {
    let mut order: Vec<String> = Vec::new();
    let mut by_domain: HashMap<String, VecDeque<String>> = HashMap::new();
    for address in addresses {
        let domain = syntax::parse(&address)
            .ok()
            .and_then(|parsed| parsed.domain().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        let queue = by_domain.entry(domain.clone()).or_insert_with(|| {
            order.push(domain);
            VecDeque::new()
        });
        queue.push_back(address);
    }
    let mut jobs = VecDeque::new();
    for domain in order {
        let queue = by_domain.remove(&domain).unwrap_or_default();
        let workers = lanes.min(queue.len());
        let job = Arc::new(Mutex::new(queue));
        for _ in 0..workers {
            jobs.push_back(Arc::clone(&job));
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_domain_is_one_queue_offered_to_a_few_workers() {
        let input = ["a@x.test", "b@x.test", "c@x.test", "d@y.test", "bad", "e@Y.test"];
        let jobs = jobs(input.iter().map(|s| s.to_string()).collect(), 2);
        let queues: Vec<Vec<String>> = jobs
            .iter()
            .map(|job| job.lock().unwrap().iter().cloned().collect())
            .collect();
        assert_eq!(
            queues,
            [
                vec!["a@x.test", "b@x.test", "c@x.test"],
                vec!["a@x.test", "b@x.test", "c@x.test"],
                vec!["d@y.test", "e@Y.test"],
                vec!["d@y.test", "e@Y.test"],
                vec!["bad"],
            ]
        );
        assert!(Arc::ptr_eq(&jobs[0], &jobs[1]));
    }
}
