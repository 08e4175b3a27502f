//! Password login, the same for SMTP AUTH, IMAP and POP3: the limiter first,
//! then the account, then Argon2 off the async runtime.

use crate::{Account, Store};
use estafeta_core::auth::password::verify_dummy;
use estafeta_core::auth::{Credentials, LoginLimiter, verify_password};
use std::net::IpAddr;
use std::time::Duration;

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
    let account = store
        .account_get(&name)
        .await
        .map_err(|error| LoginError::Unavailable(error.to_string()))?;
    let password = credentials.password.clone();
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    let valid = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        // Same work for an unknown user, so timing does not tell.
        None => {
            verify_dummy(&password);
            false
        }
    })
    .await
    .unwrap_or(false);
    match account {
        Some(account) if valid => {
            limiter.record_success(&name);
            Ok(account)
        }
        _ => {
            limiter.record_failure(ip, &name);
            Err(LoginError::Invalid)
        }
    }
}
