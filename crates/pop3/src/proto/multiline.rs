//! Multi-line responses (RFC 1939 3): every line ends in CRLF, a line that
//! begins with "." gets a second one in front, and a line holding only "."
//! ends the response. Messages go out in exactly this form, so the size
//! LIST announces (RFC 1939 11) is what the client counts, byte-stuffing
//! aside.

use estafeta_core::crlf;

/// Appends `message` as a multi-line body. With `body_lines` (TOP, RFC 1939
/// 7): the header, the blank line after it and that many body lines.
pub fn write_message(out: &mut Vec<u8>, message: &[u8], body_lines: Option<u64>) {
    crlf::write_dot_stuffed(out, message, body_lines);
}

/// What [`write_message`] sends, decoded back as a client does: for
/// tests and the fuzz target.
pub fn read_message(wire: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(wire.len());
    let mut rest = wire;
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n")? + 2;
        let line = &rest[..end];
        rest = &rest[end..];
        if line == b".\r\n" {
            return rest.is_empty().then_some(out);
        }
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(message: &[u8], lines: Option<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        write_message(&mut out, message, lines);
        out
    }

    #[test]
    fn dots_are_doubled_and_the_end_is_marked() {
        let message = b"Subject: x\r\n\r\n.\r\n..two\r\n.hidden\r\nend.\r\n";
        assert_eq!(
            wire(message, None),
            b"Subject: x\r\n\r\n..\r\n...two\r\n..hidden\r\nend.\r\n.\r\n"
        );
        assert_eq!(read_message(&wire(message, None)).unwrap(), message);
    }

    #[test]
    fn bare_line_ends_go_out_as_crlf() {
        assert_eq!(wire(b"a\n.b\nc", None), b"a\r\n..b\r\nc\r\n.\r\n");
        assert_eq!(wire(b"", None), b".\r\n");
    }

    #[test]
    fn eight_bit_and_binary_pass_unchanged() {
        let message = b"Subject: \xc3\xa9t\xc3\xa9\r\n\r\n\x00\x01\xff\r\n";
        assert_eq!(read_message(&wire(message, None)).unwrap(), message);
    }

    #[test]
    fn top_sends_the_header_and_n_body_lines() {
        let message = b"A: 1\r\nB: 2\r\n\r\none\r\n.two\r\nthree\r\n";
        assert_eq!(wire(message, Some(0)), b"A: 1\r\nB: 2\r\n\r\n.\r\n");
        assert_eq!(wire(message, Some(2)), b"A: 1\r\nB: 2\r\n\r\none\r\n..two\r\n.\r\n");
        assert_eq!(read_message(&wire(message, Some(99))).unwrap(), message);
        // No body at all: the header is everything.
        assert_eq!(wire(b"A: 1\r\n", Some(3)), b"A: 1\r\n.\r\n");
    }
}
