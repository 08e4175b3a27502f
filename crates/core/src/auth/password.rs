//! Password hashing with Argon2id (RFC 9106), PHC string format.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString, rand_core::OsRng};
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

/// Hashes we would never have written (over 256 MiB of memory) are not
/// worth the memory to check.
const MAX_MEMORY_BLOCKS: u32 = 256 * 1024;

thread_local! {
    /// Argon2's working memory, kept by each thread that checks passwords:
    /// a fresh 19 MiB per check would leave memory behind in every malloc
    /// arena it passed through (hundreds of MiB after a burst of logins).
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// True when `password` matches `hash`. A malformed hash never matches.
/// This is CPU-bound (tens of milliseconds): call it off the async runtime.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(params), Some(salt), Some(expected)) = (argon2::Params::try_from(&parsed), parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    if params.m_cost() > MAX_MEMORY_BLOCKS {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let hashed = MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
            .is_ok()
    });
    // Constant time: every byte is compared whatever the first difference.
    hashed
        && out
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
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
    fn hashes_with_other_parameters_still_verify() {
        // The parameters live in the hash: an older, cheaper one keeps working.
        let params = argon2::Params::new(8, 1, 1, Some(16)).unwrap();
        let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let hash = argon.hash_password(b"old secret", &salt).unwrap().to_string();
        assert!(verify_password("old secret", &hash));
        assert!(!verify_password("old secreT", &hash));
        // And after it, a default-cost hash on the same thread's memory.
        let current = hash_password("new secret").unwrap();
        assert!(verify_password("new secret", &current));
        assert!(!verify_password("new secret", &hash));
        // Absurd memory costs are refused without trying.
        let greedy = current.replace("m=19456", "m=4000000");
        assert!(!verify_password("new secret", &greedy));
    }

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
