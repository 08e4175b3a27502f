//! The Sender Rewriting Scheme for mail we forward (an alias of ours to an
//! address elsewhere). Sent on with its original envelope sender, such
//! mail fails SPF at the next hop, which sees our address and not the
//! sender's; and its bounces would come from the next hop straight to the
//! original sender. Rewritten as `SRS0=HASH=TT=domain=local@our-domain`,
//! SPF checks our domain, and a bounce comes back to us, where the hash
//! (a signature over the rest) and the day stamp prove we made the address
//! recently: only then is the bounce passed back. Nobody can use our
//! domain to send to addresses of their choosing.

use ring::hmac;

/// The local part's prefix (Shevek's SRS0 form, as libsrs2 and Postfix's
/// postsrsd write it).
pub const PREFIX: &str = "SRS0=";
/// Days an SRS address stays good for a bounce.
pub const MAX_AGE_DAYS: u32 = 21;
/// Hash length in base-32 letters (40 bits).
const HASH: usize = 8;
use crate::verp::BASE32;

pub struct Srs {
    key: hmac::Key,
}

/// The day stamp: days since the epoch, modulo 1024, as two base-32 letters.
fn stamp(day: u32) -> String {
    let day = day % 1024;
    [BASE32[(day >> 5) as usize] as char, BASE32[(day & 31) as usize] as char]
        .iter()
        .collect()
}

fn unstamp(text: &str) -> Option<u32> {
    let mut value = 0u32;
    if text.len() != 2 {
        return None;
    }
    for c in text.bytes() {
        let digit = BASE32.iter().position(|&b| b == c.to_ascii_lowercase())? as u32;
        value = value << 5 | digit;
    }
    Some(value)
}

impl Srs {
    pub fn new(secret: &[u8]) -> Srs {
        Srs {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// Case-insensitive: MTAs may fold the case of a local part.
    fn hash(&self, stamp: &str, domain: &str, local: &str) -> String {
        let data = format!("srs:{stamp}={domain}={local}").to_ascii_lowercase();
        crate::verp::base32(hmac::sign(&self.key, data.as_bytes()).as_ref(), HASH)
    }

    /// `sender` (local@domain) as an address of `forwarder` (our domain),
    /// stamped with `day` (days since the epoch).
    pub fn forward(&self, sender: &str, forwarder: &str, day: u32) -> Option<String> {
        let (local, domain) = sender.rsplit_once('@')?;
        let stamp = stamp(day);
        let hash = self.hash(&stamp, domain, local);
        Some(format!("{PREFIX}{hash}={stamp}={domain}={local}@{forwarder}"))
    }

    /// The original sender an SRS local part of ours names, when its hash
    /// holds and it is at most `MAX_AGE_DAYS` old on `today`.
    pub fn reverse(&self, local: &str, today: u32) -> Option<String> {
        let rest = local
            .get(..PREFIX.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(PREFIX))
            .map(|_| &local[PREFIX.len()..])?;
        let mut fields = rest.splitn(4, '=');
        let (hash, stamp, domain, original) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        if domain.is_empty() || original.is_empty() {
            return None;
        }
        if !crate::verp::same(&hash.to_ascii_lowercase(), &self.hash(stamp, domain, original)) {
            return None;
        }
        let age = (today % 1024 + 1024 - unstamp(stamp)?) % 1024;
        (age <= MAX_AGE_DAYS).then(|| format!("{original}@{domain}"))
    }

    /// Whether a local part has the SRS form (ours or not yet checked).
    pub fn is_srs(local: &str) -> bool {
        local
            .get(..PREFIX.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(PREFIX))
    }
}

/// Days since the epoch now.
pub fn today() -> u32 {
    (estafeta_core::time::now() / 86_400) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_sender_comes_back_within_its_age() {
        let srs = Srs::new(b"secret");
        let day = 20_000;
        let address = srs.forward("Ann.Smith@origin.test", "fwd.test", day).unwrap();
        let (local, domain) = address.rsplit_once('@').unwrap();
        assert_eq!(domain, "fwd.test");
        assert!(
            local.starts_with("SRS0=") && local.ends_with("=origin.test=Ann.Smith"),
            "{local}"
        );
        assert_eq!(srs.reverse(local, day).as_deref(), Some("Ann.Smith@origin.test"));
        // Case folded by some hop on the way back: still ours.
        assert_eq!(
            srs.reverse(&local.to_ascii_lowercase(), day + 3).as_deref(),
            Some("ann.smith@origin.test")
        );
        assert_eq!(
            srs.reverse(local, day + MAX_AGE_DAYS).as_deref(),
            Some("Ann.Smith@origin.test")
        );
        assert_eq!(srs.reverse(local, day + MAX_AGE_DAYS + 1), None, "too old");
        // Across the stamp's wrap at 1024 days.
        let late = srs.forward("a@b.test", "fwd.test", 1023).unwrap();
        assert!(srs.reverse(late.rsplit_once('@').unwrap().0, 1025).is_some());
    }

    #[test]
    fn made_up_or_altered_addresses_are_not_ours() {
        let srs = Srs::new(b"secret");
        let address = srs.forward("a@origin.test", "fwd.test", 100).unwrap();
        let local = address.rsplit_once('@').unwrap().0;
        assert_eq!(Srs::new(b"other").reverse(local, 100), None);
        let victim = local.replace("=origin.test=a", "=victim.test=a");
        assert_eq!(srs.reverse(&victim, 100), None);
        for junk in ["SRS0=", "SRS0=x=y", "SRS0==aa=d=l", "alice", "SRS0=abcdefgh=zz=d="] {
            assert_eq!(srs.reverse(junk, 100), None, "{junk}");
        }
    }
}
