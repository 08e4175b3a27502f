//! Line endings of stored messages. RFC 5322 2.3 allows CR and LF only
//! together; SMTP refuses anything else at the door (RFC 5321 2.3.8), and
//! what IMAP APPEND brings in is brought to the same form, so every stored
//! message is CRLF throughout and POP3 (RFC 1939 11) can announce its exact
//! size without reading it.

/// `data` with every bare LF or CR made CRLF and ending in CRLF (DKIM's
/// canonical forms add that last CRLF too, RFC 6376 3.4, so signatures hold).
/// An empty message stays empty. Canonical input is returned unchanged.
pub fn canonical(data: Vec<u8>) -> Vec<u8> {
    if is_canonical(&data) {
        return data;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 2);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                i += if data.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// True when every CR is followed by LF, every LF preceded by CR, and the
/// data ends with CRLF (or is empty).
pub fn is_canonical(data: &[u8]) -> bool {
    if data.is_empty() {
        return true;
    }
    if !data.ends_with(b"\r\n") {
        return false;
    }
    let mut previous = 0u8;
    for (i, &byte) in data.iter().enumerate() {
        match byte {
            b'\n' if previous != b'\r' => return false,
            b'\r' if data.get(i + 1) != Some(&b'\n') => return false,
            _ => {}
        }
        previous = byte;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_line_ends_become_crlf_and_a_last_one_is_added() {
        assert_eq!(canonical(b"a\nb\rc\r\nd".to_vec()), b"a\r\nb\r\nc\r\nd\r\n");
        assert_eq!(canonical(b"\n\n".to_vec()), b"\r\n\r\n");
        assert_eq!(canonical(b"x\r".to_vec()), b"x\r\n");
        assert_eq!(canonical(Vec::new()), b"");
    }

    #[test]
    fn canonical_input_is_kept_as_is() {
        for data in [&b"a\r\nb\r\n"[..], b"\r\n", b"8-bit \xff\xfe\r\n"] {
            assert!(is_canonical(data));
            assert_eq!(canonical(data.to_vec()), data);
        }
        for data in [&b"a\r\nb"[..], b"a\n", b"a\r\r\n", b"\ra\r\n"] {
            assert!(!is_canonical(data), "{data:?}");
            assert!(is_canonical(&canonical(data.to_vec())), "{data:?}");
        }
    }
}
