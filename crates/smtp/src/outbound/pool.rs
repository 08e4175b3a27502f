//! Connections kept open between messages to the same destination
//! (RFC 5321 4.1.1.5 lets one session carry many transactions), and the
//! per-destination limit on connections at once.

use super::client::SmtpClient;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// An idle connection older than this is closed rather than reused:
/// servers drop idle clients, and a fresh one costs little.
const IDLE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<String, Vec<(SmtpClient, Instant)>>>,
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Pool {
    /// Waits for a connection slot of `destination` (at most `limit` at once).
    pub async fn slot(&self, destination: &str, limit: u32) -> OwnedSemaphorePermit {
        let semaphore = {
            let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(
                limits
                    .entry(destination.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(limit as usize))),
            )
        };
        semaphore.acquire_owned().await.expect("never closed")
    }

    /// A recent idle connection to `destination`, if there is one.
    pub fn take(&self, destination: &str) -> Option<SmtpClient> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(destination)?;
        while let Some((client, since)) = list.pop() {
            if since.elapsed() < IDLE {
                return Some(client);
            }
            tokio::spawn(client.quit());
        }
        None
    }

    pub fn put(&self, destination: &str, client: SmtpClient) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.entry(destination.to_owned())
            .or_default()
            .push((client, Instant::now()));
    }

    /// Closes connections idle too long; the runner calls this now and then.
    pub fn sweep(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        for list in idle.values_mut() {
            let (stale, fresh): (Vec<_>, Vec<_>) = list.drain(..).partition(|(_, since)| since.elapsed() >= IDLE);
            *list = fresh;
            for (client, _) in stale {
                tokio::spawn(client.quit());
            }
        }
        idle.retain(|_, list| !list.is_empty());
    }

    /// Closes every idle connection (shutdown).
    pub async fn close_all(&self) {
        let all: Vec<SmtpClient> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.drain()
                .flat_map(|(_, list)| list.into_iter().map(|(client, _)| client))
                .collect()
        };
        for client in all {
            client.quit().await;
        }
    }
}
