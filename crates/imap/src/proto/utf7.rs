//! Modified UTF-7 for mailbox names (RFC 3501 5.1.3), what IMAP4rev1
//! clients send and expect. Under UTF8=ACCEPT (RFC 6855) or IMAP4rev2
//! names travel as UTF-8 and this is not used.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn value(byte: u8) -> Option<u32> {
    ALPHABET.iter().position(|&b| b == byte).map(|p| p as u32)
}

/// Encodes a name: printable ASCII stays (`&` becomes `&-`), anything else
/// goes as modified base64 of UTF-16.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = pending.iter().flat_map(|unit| unit.to_be_bytes()).collect();
        for chunk in bytes.chunks(3) {
            let n = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            let digits = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
            for digit in &digits[..chunk.len() + 1] {
                out.push(ALPHABET[*digit as usize] as char);
            }
        }
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            pending.extend(c.encode_utf16(&mut [0; 2]).iter());
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a name; `None` for malformed input (which a server answers with
/// BAD or takes as a literal name, per its policy).
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(0x20..=0x7e).contains(&b) {
            return None;
        }
        if b != b'&' {
            out.push(b as char);
            i += 1;
            continue;
        }
        let end = i + 1 + bytes[i + 1..].iter().position(|&b| b == b'-')?;
        let encoded = &bytes[i + 1..end];
        if encoded.is_empty() {
            out.push('&');
        } else {
            let mut bits: u32 = 0;
            let mut count = 0;
            let mut units = Vec::new();
            for &digit in encoded {
                bits = (bits << 6) | value(digit)?;
                count += 6;
                if count >= 16 {
                    count -= 16;
                    units.push((bits >> count) as u16);
                    bits &= (1 << count) - 1;
                }
            }
            // Leftover bits must be zero padding, fewer than 6.
            if count >= 6 || bits != 0 {
                return None;
            }
            let decoded = String::from_utf16(&units).ok()?;
            // RFC 3501 5.1.3: printable ASCII must not be encoded.
            if decoded.chars().any(|c| (' '..='~').contains(&c)) {
                return None;
            }
            out.push_str(&decoded);
        }
        i = end + 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 3501 5.1.3.
        assert_eq!(encode("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(
            decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(),
            "~peter/mail/台北/日本語"
        );
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(decode("Tom &- Jerry").unwrap(), "Tom & Jerry");
    }

    #[test]
    fn round_trips() {
        for name in ["INBOX", "Entwürfe", "Входящие", "Sent/2026 €", "😀 emoji", "&&", "a&b"] {
            assert_eq!(decode(&encode(name)).unwrap(), name, "{name}");
        }
    }

    #[test]
    fn refuses_malformed() {
        for bad in ["&", "&U,BTFw", "&AGE-", "&Jjo!-", "caf\u{e9}", "&ZeVnLIq-"] {
            assert!(decode(bad).is_none(), "{bad:?}");
        }
    }
}
