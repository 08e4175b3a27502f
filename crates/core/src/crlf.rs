//! Line endings of stored messages. RFC 5322 2.3 allows CR and LF only
//! together; SMTP refuses anything else at the door (RFC 5321 2.3.8), and
//! what IMAP APPEND brings in is brought to the same form, so every stored
//! message is CRLF throughout and POP3 (RFC 1939 11) can announce its size
//! without reading it. APPEND keeps a message's end as the client wrote it
//! (IMAP clients compare sizes); one without a last CRLF gets it on the
//! POP3 wire only.

use std::borrow::Cow;

/// `data` with every bare LF or CR made CRLF and ending in CRLF (DKIM's
/// canonical forms add that last CRLF too, RFC 6376 3.4, so signatures hold).
/// An empty message stays empty. Canonical input is returned unchanged.
pub fn canonical(data: Vec<u8>) -> Vec<u8> {
    let mut out = line_ends(data);
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// `data` with every bare LF or CR made CRLF, its end left as it is: what
/// IMAP APPEND stores, so the message keeps the size the client gave it
/// (RFC 5322 2.1 asks for CRLF; nothing asks for a last one).
pub fn line_ends(data: Vec<u8>) -> Vec<u8> {
    if has_only_crlf(&data) {
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
    out
}

/// True when every CR is followed by LF, every LF preceded by CR, and the
/// data ends with CRLF (or is empty).
pub fn is_canonical(data: &[u8]) -> bool {
    if data.is_empty() {
        return true;
    }
    data.ends_with(b"\r\n") && has_only_crlf(data)
}

/// True when every CR is followed by LF and every LF preceded by CR.
fn has_only_crlf(data: &[u8]) -> bool {
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

/// Appends `message` dot-stuffed and CRLF throughout, then the `.` line
/// that ends it: SMTP DATA (RFC 5321 4.5.2) and POP3 multi-line responses
/// (RFC 1939 3) alike. With `body_lines` (POP3 TOP): the header, the blank
/// line after it and that many body lines.
pub fn write_dot_stuffed(out: &mut Vec<u8>, message: &[u8], body_lines: Option<u64>) {
    // Stored mail is CRLF already (SMTP and APPEND see to it); anything
    // older is brought to that form first.
    let message: Cow<[u8]> = if is_canonical(message) {
        Cow::Borrowed(message)
    } else {
        Cow::Owned(canonical(message.to_vec()))
    };
    out.reserve(message.len() + message.len() / 64 + 8);
    let mut in_body = false;
    let mut left = body_lines;
    let mut rest: &[u8] = &message;
    while !rest.is_empty() {
        if in_body && left == Some(0) {
            break;
        }
        // Canonical: the next LF is the end of a CRLF-terminated line.
        let end = rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |lf| lf + 1);
        let line = &rest[..end];
        rest = &rest[end..];
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        if in_body {
            if let Some(left) = left.as_mut() {
                *left -= 1;
            }
        } else if line == b"\r\n" {
            in_body = true;
        }
    }
    out.extend_from_slice(b".\r\n");
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
    fn line_ends_mends_bare_ones_and_leaves_the_end_alone() {
        assert_eq!(line_ends(b"a\nb\rc\r\nd".to_vec()), b"a\r\nb\r\nc\r\nd");
        assert_eq!(line_ends(b"body".to_vec()), b"body");
        assert_eq!(line_ends(b"x\r\n".to_vec()), b"x\r\n");
        assert_eq!(line_ends(Vec::new()), b"");
    }

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_with_a_dot_line() {
        let mut out = Vec::new();
        write_dot_stuffed(&mut out, b"a\r\n.b\r\n.\r\n", None);
        assert_eq!(out, b"a\r\n..b\r\n..\r\n.\r\n");
        out.clear();
        write_dot_stuffed(&mut out, b"no end", None);
        assert_eq!(out, b"no end\r\n.\r\n");
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
