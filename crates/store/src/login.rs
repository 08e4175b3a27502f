//! Password login, the same for SMTP AUTH, IMAP and POP3: the limiter first,
//! then the account, then Argon2 on threads of its own.

use crate::{Account, Store};
use estafeta_core::auth::password::verify_dummy;
use estafeta_core::auth::{Credentials, LoginLimiter, verify_password};
use std::net::IpAddr;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

type Check = Box<dyn FnOnce() + Send>;

/// Argon2 checks run on a few threads of their own, as many as there are
/// cores. Each check takes ~19 MiB for tens of milliseconds: a burst of
/// logins (or an attack) queues for the cores instead of fanning out into
/// hundreds of blocking threads, each keeping a 19 MiB malloc arena.
fn checkers() -> &'static Mutex<Sender<Check>> {
    static CHECKERS: OnceLock<Mutex<Sender<Check>>> = OnceLock::new();
    CHECKERS.get_or_init(|| {
        let (sender, receiver) = channel::<Check>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
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
        Mutex::new(sender)
    })
}

/// Runs `check` on the password threads and waits for its answer.
async fn on_password_thread(check: impl FnOnce() -> bool + Send + 'static) -> bool {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Check = Box::new(move || {
        let _ = reply.send(check());
    });
    if checkers().lock().unwrap_or_else(|e| e.into_inner()).send(job).is_err() {
        return false;
    }
    answer.await.unwrap_or(false)
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

pub async fn login(
    store: &dyn Store,
    limiter: &LoginLimiter,
    ip: IpAddr,
    credentials: &Credentials,
) -> Result<Account, LoginError> {
    let name = credentials.authcid.trim().to_lowercase();
    if let Err(lockout) = limiter.check(ip, &name) {
        return Err(LoginError::Locked {
            retry_after: lockout.retry_after,
        });
    }
    // Failures seen by the other nodes count too (PostgreSQL).
    let keys = [format!("ip:{ip}"), format!("account:{name}")];
    match store.login_locked(&keys).await {
        Ok(Some(retry_after)) => return Err(LoginError::Locked { retry_after }),
        Ok(None) => {}
        Err(error) => return Err(LoginError::Unavailable(error.to_string())),
    }
    let account = store
        .account_get(&name)
        .await
        .map_err(|error| LoginError::Unavailable(error.to_string()))?;
    let password = credentials.password.clone();
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    let valid = on_password_thread(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        // Same work for an unknown user, so timing does not tell.
        None => {
            verify_dummy(&password);
            false
        }
    })
    .await;
    match account {
        Some(account) if valid => {
            limiter.record_success(&name);
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
