//! Password hashing with Argon2id (RFC 9106), PHC string format.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use rand::RngExt;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password must not be empty")]
    Empty,
    #[error("password is longer than 1024 bytes")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Argon2id with the library's defaults (m=19 MiB, t=2, p=1: the OWASP
/// baseline). The parameters are stored in the hash, so raising them later
/// leaves old hashes verifiable.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    if password.len() > 1024 {
        return Err(PasswordError::TooLong);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Hash(error.to_string()))
}

/// True when `password` matches `hash`. A malformed hash never matches.
/// This is CPU-bound (tens of milliseconds): call it off the async runtime.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real verification, so an unknown user cannot
/// be told apart from a wrong password by timing.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("estafeta-dummy-password").expect("hash dummy"));
    let _ = verify_password(password, hash);
}

/// A random password of 24 letters and digits (~142 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_its_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert!(!verify_password("", &hash));
    }

    #[test]
    fn salts_differ() {
        assert_ne!(hash_password("same").unwrap(), hash_password("same").unwrap());
    }

    #[test]
    fn malformed_hash_never_matches() {
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password("x", ""));
    }

    #[test]
    fn refuses_empty_and_huge() {
        assert!(matches!(hash_password(""), Err(PasswordError::Empty)));
        assert!(matches!(hash_password(&"x".repeat(1025)), Err(PasswordError::TooLong)));
    }

    #[test]
    fn generated_passwords_are_strong_and_distinct() {
        let a = generate_password();
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, generate_password());
    }
}
