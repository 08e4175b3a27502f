//! VERP return paths (`bounces+TOKEN@domain`): the token names the
//! delivery record of one recipient of one message, signed so nobody can
//! make us believe in bounces we did not cause.

use ring::hmac;

/// The local part's prefix; the rest is `<id in base 36>.<signature>`.
pub const PREFIX: &str = "bounces+";

/// Signature length in base-32 letters (60 bits).
const SIGNATURE: usize = 12;

pub struct Signer {
    key: hmac::Key,
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

/// RFC 4648 base 32, lower case (local parts may be case-folded).
pub(crate) const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

pub(crate) fn base32(bytes: &[u8], letters: usize) -> String {
    let mut out = String::with_capacity(letters);
    let (mut buffer, mut bits) = (0u32, 0);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 && out.len() < letters {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    out
}

impl Signer {
    pub fn new(secret: &[u8]) -> Signer {
        Signer {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn signature(&self, purpose: &str, id: u64, domain: &str) -> String {
        let data = format!("{purpose}:{id}:{}", domain.to_ascii_lowercase());
        base32(hmac::sign(&self.key, data.as_bytes()).as_ref(), SIGNATURE)
    }

    /// The return path for delivery `id` of mail from `domain`.
    pub fn return_path(&self, id: u64, domain: &str) -> String {
        format!("{PREFIX}{}.{}@{domain}", base36(id), self.signature("verp", id, domain))
    }

    /// The delivery a return path names, when its signature holds.
    pub fn read_return_path(&self, local: &str, domain: &str) -> Option<u64> {
        let token = local
            .get(..PREFIX.len())?
            .eq_ignore_ascii_case(PREFIX)
            .then(|| &local[PREFIX.len()..])?;
        self.read(token, "verp", domain)
    }

    /// A token for other links (one-click unsubscribe).
    pub fn token(&self, purpose: &str, id: u64, domain: &str) -> String {
        format!("{}.{}", base36(id), self.signature(purpose, id, domain))
    }

    pub fn read(&self, token: &str, purpose: &str, domain: &str) -> Option<u64> {
        let (id, signature) = token.split_once('.')?;
        let id = u64::from_str_radix(&id.to_ascii_lowercase(), 36).ok()?;
        let expected = self.signature(purpose, id, domain);
        same(&signature.to_ascii_lowercase(), &expected).then_some(id)
    }
}

/// Compared in constant time: a signature is the secret's proof, and a
/// comparison that stops at the first difference tells how much was right.
pub(crate) fn same(given: &str, expected: &str) -> bool {
    let differ = given
        .bytes()
        .zip(expected.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    given.len() == expected.len() && differ == 0
}

/// Every VERP address in `text`, lowercased, in order of appearance (to
/// be checked: anyone can write one; only ours carry a good signature).
pub fn paths_in(text: &str) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || "<>;,\"'()".contains(c)) {
        let lower = word.to_ascii_lowercase();
        if lower.starts_with(PREFIX) && lower.contains('@') && !paths.contains(&lower) {
            paths.push(lower);
        }
    }
    paths
}

/// The secret from the config, or the one kept in `dir`, made on first use.
pub fn secret(configured: &str, dir: &std::path::Path) -> std::io::Result<Vec<u8>> {
    if !configured.is_empty() {
        return Ok(configured.as_bytes().to_vec());
    }
    let path = dir.join("deliverability.key");
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 32 => Ok(key),
        Ok(_) | Err(_) => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let key: [u8; 32] = rand_bytes();
            let temporary = path.with_extension("partial");
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temporary)?;
            file.write_all(&key)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)?;
            Ok(key.to_vec())
        }
    }
}

fn rand_bytes() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut key = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .expect("system randomness");
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_round_trip_and_resist_forgery() {
        let signer = Signer::new(b"test secret");
        let path = signer.return_path(123_456_789, "Shop.example");
        let (local, domain) = path.rsplit_once('@').unwrap();
        assert!(local.starts_with("bounces+") && local.len() <= 64, "{path}");
        assert_eq!(signer.read_return_path(local, domain), Some(123_456_789));
        assert_eq!(
            signer.read_return_path(&local.to_uppercase(), "shop.example"),
            Some(123_456_789)
        );
        // Another domain, another id, another key: refused.
        assert_eq!(signer.read_return_path(local, "other.example"), None);
        let forged = local.replacen("21i3v9", "21i3va", 1);
        assert_eq!(signer.read_return_path(&forged, domain), None);
        assert_eq!(Signer::new(b"other").read_return_path(local, domain), None);
        assert_eq!(signer.read_return_path("bounces+", domain), None);
        assert_eq!(signer.read_return_path("alice", domain), None);
        // The largest id still fits the 64-octet local part (RFC 5321 4.5.3.1.1).
        assert!(
            signer
                .return_path(u64::MAX, "x.example")
                .split('@')
                .next()
                .unwrap()
                .len()
                <= 64
        );
    }
}
