//! Every API and JMAP request carries its password (HTTP Basic, RFC 7617),
//! and Argon2 is slow on purpose, tens of milliseconds a check: a client
//! paging through a mailbox would spend more on logins than on mail. So a
//! password that was right is remembered for a few minutes, by a salted
//! digest (the password itself is not kept), and only while the account's
//! stored hash is the one it was checked against: a password change ends
//! it at once.

use estafeta_core::auth::Credentials;
use estafeta_store::Account;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a checked password is taken without checking it again.
const REMEMBERED_FOR: Duration = Duration::from_secs(300);
/// Past this many, the expired ones go (and all, if none has expired).
const MOST: usize = 10_000;

struct Entry {
    address: String,
    password_hash: String,
    until: Instant,
}

pub struct VerifiedLogins {
    salt: [u8; 32],
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl Default for VerifiedLogins {
    fn default() -> Self {
        VerifiedLogins {
            salt: rand::random(),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl VerifiedLogins {
    fn key(&self, credentials: &Credentials) -> [u8; 32] {
        let mut digest = Sha256::new();
        digest.update(self.salt);
        digest.update(credentials.authcid.trim().to_lowercase().as_bytes());
        digest.update([0]);
        digest.update(credentials.password.as_bytes());
        digest.finalize().into()
    }

    /// The account these credentials were right for, and the stored hash
    /// they were checked against, if that was lately.
    pub fn remembered(&self, credentials: &Credentials) -> Option<(String, String)> {
        let key = self.key(credentials);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(&key).filter(|e| e.until > Instant::now())?;
        Some((entry.address.clone(), entry.password_hash.clone()))
    }

    pub fn remember(&self, credentials: &Credentials, account: &Account) {
        let key = self.key(credentials);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MOST {
            entries.retain(|_, e| e.until > now);
            if entries.len() >= MOST {
                entries.clear();
            }
        }
        let entry = Entry {
            address: account.address.clone(),
            password_hash: account.password_hash.clone(),
            until: now + REMEMBERED_FOR,
        };
        entries.insert(key, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use estafeta_core::model::AccountId;

    fn credentials(user: &str, password: &str) -> Credentials {
        Credentials {
            authcid: user.into(),
            password: password.into(),
        }
    }

    #[test]
    fn only_the_same_name_and_password_are_remembered() {
        let verified = VerifiedLogins::default();
        let account = Account {
            id: AccountId(1),
            address: "ann@example.com".into(),
            password_hash: "$argon2id$stored".into(),
            created_at: 0,
        };
        verified.remember(&credentials("Ann@Example.com ", "secret"), &account);
        assert_eq!(
            verified.remembered(&credentials("ann@example.com", "secret")),
            Some(("ann@example.com".into(), "$argon2id$stored".into()))
        );
        assert_eq!(verified.remembered(&credentials("ann@example.com", "Secret")), None);
        assert_eq!(verified.remembered(&credentials("bob@example.com", "secret")), None);
        let other = VerifiedLogins::default();
        assert_eq!(
            other.remembered(&credentials("ann@example.com", "secret")),
            None,
            "salted per server"
        );
    }
}
