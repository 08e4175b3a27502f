//! Many addresses at once. Domains take turns, so each host sees a few
//! addresses at a time and every host is busy, and the next address at a
//! domain usually finds its connection still open. A temporary answer
//! waits for its retry without holding a place in the window.

use crate::{Report, syntax};
use crate::{Step, Verifier};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};

/// Reports in the order they finish; the channel closes after the last.
/// `window` addresses are checked at once (the verifier's own limits
/// still hold under it).
pub fn verify_all(verifier: Arc<Verifier>, addresses: Vec<String>, window: usize) -> mpsc::Receiver<Report> {
    let (reports, receiver) = mpsc::channel(window.max(1));
    tokio::spawn(async move {
        let window = Arc::new(Semaphore::new(window.max(1)));
        for address in interleave(addresses) {
            if reports.is_closed() {
                return;
            }
            let permit = Arc::clone(&window).acquire_owned().await.expect("never closed");
            let (verifier, window, reports) = (Arc::clone(&verifier), Arc::clone(&window), reports.clone());
            tokio::spawn(async move {
                let verify = &verifier.config.verify;
                let mut permit = Some(permit);
                let mut asked = 0;
                loop {
                    match verifier.attempt(&address, asked, asked >= verify.retries).await {
                        Step::Done(report) => {
                            drop(permit);
                            let _ = reports.send(*report).await;
                            return;
                        }
                        Step::Retry => {
                            drop(permit.take());
                            asked += 1;
                            tokio::time::sleep(verify.retry_delay).await;
                            permit = Some(Arc::clone(&window).acquire_owned().await.expect("never closed"));
                        }
                    }
                }
            });
        }
    });
    receiver
}

/// One address per domain in turn, domains in order of first appearance.
fn interleave(addresses: Vec<String>) -> Vec<String> {
    let total = addresses.len();
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
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        for domain in &order {
            if let Some(address) = by_domain.get_mut(domain).and_then(VecDeque::pop_front) {
                out.push(address);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_take_turns() {
        let input = [
            "a@x.test", "b@x.test", "c@x.test", "d@y.test", "e@Y.test", "bad", "f@z.test",
        ];
        let order = interleave(input.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            order,
            [
                "a@x.test", "d@y.test", "bad", "f@z.test", "b@x.test", "e@Y.test", "c@x.test"
            ]
        );
    }
}
