//! The DATA reader (RFC 5321 4.1.1.4, 4.5.2): undoes dot-stuffing and finds
//! the end of data, byte by byte across reads.
//!
//! Only `CRLF . CRLF` ends the data. A bare LF or CR anywhere is noted so the
//! session can refuse the message: a server that let `LF . LF` (or CR
//! variants) end the data, or passed bare line ends on to a peer that does,
//! is open to SMTP smuggling (RFC 5321 2.3.8: CR and LF only as CRLF).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    LineStart,
    Middle,
    SawCr,
    Dot,
    DotCr,
}

#[derive(Debug)]
pub struct DataDecoder {
    state: State,
    limit: usize,
    /// More content than `limit` arrived; what is kept was cut at the limit.
    pub over_limit: bool,
    pub bare_line_ending: bool,
    /// Bytes of content seen (kept or not).
    pub seen: u64,
}

impl DataDecoder {
    pub fn new(limit: usize) -> DataDecoder {
        DataDecoder {
            state: State::LineStart,
            limit,
            over_limit: false,
            bare_line_ending: false,
            seen: 0,
        }
    }

    /// `out` may be only the latest part of the content (the rest spooled),
    /// so the limit is counted here, not by its length.
    fn push(&mut self, out: &mut Vec<u8>, byte: u8) {
        if self.seen < self.limit as u64 {
            out.push(byte);
        } else {
            self.over_limit = true;
        }
        self.seen += 1;
    }

    /// Decodes `input` into `out`; returns how many input bytes were used
    /// up to and including the end-of-data line, or `None` if more is needed
    /// (then all of `input` was used).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        for (i, &byte) in input.iter().enumerate() {
            self.state = match (self.state, byte) {
                (State::LineStart, b'.') => State::Dot,
                (State::DotCr, b'\n') => return Some(i + 1),
                (State::DotCr, _) => {
                    // ".\r" then not LF: the stuffed dot goes, the CR stays.
                    self.bare_line_ending = true;
                    self.push(out, b'\r');
                    self.after_cr(out, byte)
                }
                (State::Dot, b'\r') => State::DotCr,
                (State::SawCr, _) => self.after_cr(out, byte),
                (_, b'\r') => {
                    self.push(out, b'\r');
                    State::SawCr
                }
                (_, b'\n') => {
                    // Not a line start: only a line begun after CRLF can
                    // hold the end-of-data dot.
                    self.bare_line_ending = true;
                    self.push(out, b'\n');
                    State::Middle
                }
                _ => {
                    self.push(out, byte);
                    State::Middle
                }
            };
        }
        None
    }

    fn after_cr(&mut self, out: &mut Vec<u8>, byte: u8) -> State {
        match byte {
            b'\n' => {
                self.push(out, b'\n');
                State::LineStart
            }
            b'\r' => {
                self.bare_line_ending = true;
                self.push(out, b'\r');
                State::SawCr
            }
            _ => {
                self.bare_line_ending = true;
                self.push(out, byte);
                State::Middle
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], limit: usize) -> (Vec<u8>, Option<usize>, DataDecoder) {
        let mut decoder = DataDecoder::new(limit);
        let mut out = Vec::new();
        let end = decoder.feed(input, &mut out);
        (out, end, decoder)
    }

    #[test]
    fn unstuffs_and_finds_the_end() {
        let input = b"Subject: x\r\n\r\n..leading dot\r\n.\r\nRSET\r\n";
        let (out, end, decoder) = decode_all(input, 1000);
        assert_eq!(out, b"Subject: x\r\n\r\n.leading dot\r\n");
        assert_eq!(end, Some(input.len() - 6), "RSET stays for the command reader");
        assert!(!decoder.bare_line_ending);
    }

    #[test]
    fn end_split_across_reads() {
        let mut decoder = DataDecoder::new(1000);
        let mut out = Vec::new();
        let input = b"line\r\n.\r\n";
        for (i, byte) in input.iter().enumerate() {
            let end = decoder.feed(std::slice::from_ref(byte), &mut out);
            assert_eq!(end.is_some(), i == input.len() - 1);
        }
        assert_eq!(out, b"line\r\n");
    }

    #[test]
    fn empty_message() {
        let (out, end, _) = decode_all(b".\r\n", 1000);
        assert_eq!((out.as_slice(), end), (&b""[..], Some(3)));
    }

    #[test]
    fn smuggling_forms_do_not_end_the_data() {
        for input in [
            &b"a\r\n.\nMAIL FROM:<x>\r\n"[..],
            b"a\n.\r\nb",
            b"a\r.\rb",
            b"a\n.\nb",
            b"a\r\n.\rb",
        ] {
            let (_, end, decoder) = decode_all(input, 1000);
            assert_eq!(end, None, "{input:?} ended the data");
            assert!(decoder.bare_line_ending, "{input:?} not flagged");
        }
    }

    #[test]
    fn over_the_limit_keeps_reading_to_the_end() {
        let input = b"0123456789\r\n.\r\n";
        let (out, end, decoder) = decode_all(input, 4);
        assert_eq!(out, b"0123");
        assert_eq!(end, Some(input.len()));
        assert!(decoder.over_limit);
        assert_eq!(decoder.seen, 12);
    }
}
