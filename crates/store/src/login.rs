//! Password login, the same for SMTP AUTH, IMAP and POP3: the limiter first,
//! then the account, then Argon2 on threads of its own.

use crate::{Account, Store};
use estafeta_core::auth::password::verify_dummy;
use estafeta_core::auth::{Credentials, LoginLimiter, verify_password};
use std::net::IpAddr;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

type Check = Box<dyn FnOnce() + Send>;

/// Checks waiting for a password thread, at most: past that a login is
/// answered "try again later" at once, so a flood of logins costs a bounded
/// queue, not unbounded memory and ever-later answers.
const QUEUED_CHECKS: usize = 64;

/// Argon2 checks run on a few threads of their own, as many as there are
/// cores. Each check takes ~19 MiB for tens of milliseconds: a burst of
/// logins (or an attack) queues for the cores instead of fanning out into
/// hundreds of blocking threads, each keeping a 19 MiB malloc arena.
struct PasswordThreads {
    queue: SyncSender<Check>,
}

impl PasswordThreads {
    fn start(threads: usize, queued: usize) -> PasswordThreads {
        let (queue, receiver) = sync_channel::<Check>(queued);
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    loop {
                        let next = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match next {
                            Ok(check) => check(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("start a password thread");
        }
        PasswordThreads { queue }
    }

    /// Runs `check` on the password threads and waits for its answer;
    /// `None` when the queue is full (or the threads are gone).
    async fn run(&self, check: impl FnOnce() -> bool + Send + 'static) -> Option<bool> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Check = Box::new(move || {
            let _ = reply.send(check());
        });
        match self.queue.try_send(job) {
            Ok(()) => answer.await.ok(),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => None,
        }
    }
}

fn password_threads() -> &'static PasswordThreads {
    static THREADS: OnceLock<PasswordThreads> = OnceLock::new();
    THREADS.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        PasswordThreads::start(threads, QUEUED_CHECKS)
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginError {
    /// Too many failures from this IP or against this account.
    Locked { retry_after: Duration },
    /// Unknown user or wrong password: deliberately the same answer.
    Invalid,
    /// The store could not answer: a temporary failure, not a wrong password.
    Unavailable(String),
}

/// Where failures are counted, for every node to see (PostgreSQL): per
/// source (an IPv6 /64 as one) and per (account, source), since a shared
/// account-wide lock would let anyone lock the owner out.
fn lock_keys(ip: IpAddr, name: &str) -> [String; 2] {
    let source = estafeta_core::auth::limiter::Source::of(ip);
    [format!("ip:{source}"), format!("account:{name}@{source}")]
}

/// Whether logins of `credentials`' account from `ip` are locked out now,
/// by this node's failures or (PostgreSQL) any node's: then even the right
/// password is refused until the lock runs out.
pub async fn check_locks(
    store: &dyn Store,
    limiter: &LoginLimiter,
    ip: IpAddr,
    credentials: &Credentials,
) -> Result<(), LoginError> {
    let name = credentials.authcid.trim().to_lowercase();
    if let Err(lockout) = limiter.check(ip, &name) {
        return Err(LoginError::Locked {
            retry_after: lockout.retry_after,
        });
    }
    // Failures seen by the other nodes count too (PostgreSQL).
    match store.login_locked(&lock_keys(ip, &name)).await {
        Ok(Some(retry_after)) => Err(LoginError::Locked { retry_after }),
        Ok(None) => Ok(()),
        Err(error) => Err(LoginError::Unavailable(error.to_string())),
    }
}

pub async fn login(
    store: &dyn Store,
    limiter: &LoginLimiter,
    ip: IpAddr,
    credentials: &Credentials,
) -> Result<Account, LoginError> {
    check_locks(store, limiter, ip, credentials).await?;
    let name = credentials.authcid.trim().to_lowercase();
    let keys = lock_keys(ip, &name);
    let account = store
        .account_get(&name)
        .await
        .map_err(|error| LoginError::Unavailable(error.to_string()))?;
    let password = credentials.password.clone();
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    let valid = password_threads()
        .run(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            // Same work for an unknown user, so timing does not tell.
            None => {
                verify_dummy(&password);
                false
            }
        })
        .await
        .ok_or_else(|| LoginError::Unavailable("too many logins in progress".into()))?;
    match account {
        Some(account) if valid => {
            limiter.record_success(ip, &name);
            if let Err(error) = store.login_cleared(&keys[1]).await {
                tracing::warn!(%error, "could not clear shared login failures");
            }
            Ok(account)
        }
        _ => {
            limiter.record_failure(ip, &name);
            let (max, window, lockout) = limiter.limits();
            if let Err(error) = store.login_failure(&keys, max, window, lockout).await {
                tracing::warn!(%error, "could not count a failed login for the cluster");
            }
            Err(LoginError::Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_answers_at_once_instead_of_growing() {
        let threads = Arc::new(PasswordThreads::start(1, 2));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        // One check on the thread, two waiting: the queue is full.
        let mut running = Vec::new();
        for _ in 0..3 {
            let (threads, hold) = (Arc::clone(&threads), Arc::clone(&hold));
            running.push(tokio::spawn(async move {
                threads.run(move || hold.lock().unwrap().recv().is_ok()).await
            }));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(threads.run(|| true).await, None, "refused, not queued");
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        for task in running {
            assert_eq!(task.await.unwrap(), Some(true));
        }
        assert_eq!(threads.run(|| true).await, Some(true), "room again");
    }
}
