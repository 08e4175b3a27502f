//! APPEND of binary content (RFC 3516 4.4): a message sent as literal8
//! may hold parts that are not line-based text (NULs, bare CR or LF,
//! `Content-Transfer-Encoding: binary`). Stored mail is CRLF throughout
//! (core/crlf.rs: POP3 sizes and SMTP relaying depend on it), which would
//! change such bytes; RFC 3516 lets the server change the transfer
//! encoding as long as nothing is lost, so those parts are stored as
//! base64. BINARY[part] decodes them back to the bytes the client sent.

use super::mime::{Kind, Part, parse};
use base64::Engine;
use std::ops::Range;

/// `message` with every leaf part that is not line-based text re-encoded
/// as base64; unchanged when there is none.
pub fn encode_binary_parts(message: &[u8]) -> Vec<u8> {
    let root = parse(message);
    let mut binary = Vec::new();
    collect(&root, message, &mut binary);
    let mut out = message.to_vec();
    // Last first: each edit leaves the ranges before it where they were.
    // Ranges out of that order (hostile MIME) are left as they are.
    binary.sort_by_key(|(_, body)| std::cmp::Reverse(body.start));
    let mut untouched_until = message.len();
    for (header, body) in binary {
        if header.end > body.start || body.end > untouched_until {
            continue;
        }
        untouched_until = header.start;
        let encoded = base64_lines(&message[body.clone()]);
        out.splice(body, encoded);
        let new_header = with_base64_encoding(&message[header.clone()]);
        out.splice(header, new_header);
    }
    out
}

/// The (header, body) ranges of the leaf parts that need it.
fn collect(part: &Part, message: &[u8], found: &mut Vec<(Range<usize>, Range<usize>)>) {
    match &part.kind {
        Kind::Multipart(parts) => parts.iter().for_each(|p| collect(p, message, found)),
        Kind::Message(inner) => collect(inner, message, found),
        Kind::Leaf => {
            let declared = part
                .encoding
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case("binary"));
            if declared || !line_based(&message[part.body.clone()]) {
                found.push((part.header.clone(), part.body.clone()));
            }
        }
    }
}

/// Text in CRLF lines with no NUL: what stores unchanged.
fn line_based(body: &[u8]) -> bool {
    let mut previous = 0u8;
    for &byte in body {
        let bare_cr = previous == b'\r' && byte != b'\n';
        let bare_lf = byte == b'\n' && previous != b'\r';
        if byte == 0 || bare_cr || bare_lf {
            return false;
        }
        previous = byte;
    }
    previous != b'\r'
}

/// RFC 2045 6.8: base64 in lines of at most 76 characters.
fn base64_lines(data: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 38);
    for (i, line) in encoded.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line);
    }
    out
}

/// The header with `Content-Transfer-Encoding: base64` in place of the
/// one it had (continuation lines included), or added before its end.
fn with_base64_encoding(header: &[u8]) -> Vec<u8> {
    const FIELD: &[u8] = b"content-transfer-encoding:";
    const BASE64: &[u8] = b"Content-Transfer-Encoding: base64\r\n";
    let mut out = Vec::with_capacity(header.len() + BASE64.len());
    let mut added = false;
    let mut skipping = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if skipping && continuation {
            continue;
        }
        skipping = line.len() >= FIELD.len() && line[..FIELD.len()].eq_ignore_ascii_case(FIELD);
        if skipping {
            continue;
        }
        if line == b"\r\n" || line == b"\n" {
            out.extend_from_slice(BASE64);
            added = true;
        }
        out.extend_from_slice(line);
    }
    if !added {
        // A header that runs to the end of the part, without its empty line.
        out.extend_from_slice(BASE64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::section::binary_section;

    #[test]
    fn binary_parts_become_base64_and_decode_to_what_was_sent() {
        let payload: &[u8] = b"\x00\x01\nbare lf\rbare cr\xff\x00";
        let mut message = b"Subject: b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n\
--x\r\nContent-Type: text/plain\r\n\r\nplain text\r\n\
--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            .to_vec();
        message.extend_from_slice(payload);
        message.extend_from_slice(b"\r\n--x--\r\n");
        let stored = encode_binary_parts(&message);
        assert!(stored.iter().all(|&b| b != 0));
        let root = parse(&stored);
        assert_eq!(root.find(&[2]).unwrap().encoding.as_deref(), Some("base64"));
        assert_eq!(binary_section(&root, &stored, &[2]).unwrap().as_ref(), payload);
        assert_eq!(binary_section(&root, &stored, &[1]).unwrap().as_ref(), b"plain text");
        // Stored form survives CRLF canonicalisation unchanged.
        assert_eq!(estafeta_core::crlf::canonical(stored.clone()), stored);
    }

    #[test]
    fn text_in_crlf_lines_is_left_alone() {
        let message = b"Subject: t\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\nline two\r\n".to_vec();
        assert_eq!(encode_binary_parts(&message), message);
    }
}
