//! Cutting the input stream into whole commands (RFC 9051 2.2, 4.3).
//!
//! A command is a line that may contain literals: `{n}` (the client waits
//! for our `+` continuation), `{n+}` (LITERAL+, RFC 7888: it does not wait)
//! and `~{n}` / `~{n+}` (BINARY, RFC 3516). The framer is sans-I/O: it is
//! fed bytes and says what it needs, so the session can answer
//! continuations, and the whole state machine can be fuzzed.

/// Sizes the framer will take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest line (the text between literals).
    pub line: usize,
    /// The largest literal (APPENDLIMIT, RFC 7889, for APPEND data).
    pub literal: u64,
    /// The whole command, literals included.
    pub command: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            line: 64 * 1024,
            literal: 50 * 1024 * 1024,
            command: 64 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole command: its lines and literals, with the final CRLF removed.
    Command(Vec<u8>),
    /// A synchronising literal was announced: send `+ ...` and feed on.
    NeedContinuation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A line, or the whole command, grew past its limit; the rest of it
    /// was skipped.
    TooLong { tag: Option<String> },
    /// A literal over the limit (RFC 7889 [TOOBIG]). A synchronising one is
    /// never sent (we refuse instead of `+`); a non-synchronising one is read
    /// and dropped.
    LiteralTooBig { tag: Option<String>, size: u64 },
}

/// How much of an over-long line is kept for its tag.
const TAG_SCAN: usize = 64;

#[derive(Debug)]
enum State {
    Line,
    /// Inside a literal, `remaining` bytes to go.
    Literal {
        remaining: u64,
    },
    /// Dropping a refused command: skip `remaining` literal bytes, then
    /// the rest of the line (which may announce more literals).
    Discard {
        remaining: u64,
    },
}

#[derive(Debug)]
pub struct Framer {
    limits: Limits,
    state: State,
    command: Vec<u8>,
    /// Offset in `command` where the current line starts.
    line_start: usize,
    skipping_line: bool,
    /// The last bytes of a line we are not keeping (too long, or part of a
    /// refused command): enough to see a literal marker at its end, which
    /// decides whether literal data follows that must be skipped too.
    tail: Vec<u8>,
}

/// `~{` + 19 digits + `+}` fits in this.
const TAIL: usize = 32;

fn keep_tail(tail: &mut Vec<u8>, bytes: &[u8]) {
    tail.extend_from_slice(bytes);
    if tail.len() > TAIL {
        tail.drain(..tail.len() - TAIL);
    }
}

/// After a skipped line: skip the non-synchronising literal it announces,
/// if any (a synchronising one never comes without our `+`).
fn after_skipped_line(line: &[u8]) -> State {
    match literal_marker(line.strip_suffix(b"\r").unwrap_or(line)) {
        Some((size, true)) => State::Discard { remaining: size },
        _ => State::Line,
    }
}

/// A literal announced at the end of a line: `{n}`, `{n+}`, `~{n}`, `~{n+}`.
fn literal_marker(line: &[u8]) -> Option<(u64, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let (digits, non_sync) = match inner[open + 1..].strip_suffix(b"+") {
        Some(digits) => (digits, true),
        None => (&inner[open + 1..], false),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((size, non_sync))
}

/// The tag of a command, for tagged error replies when it is refused early.
fn tag_of(command: &[u8]) -> Option<String> {
    // Only the first bytes are kept of an over-long line, so a tag must end
    // within them, whichever way the line arrived.
    let end = command.iter().take(TAG_SCAN).position(|&b| b == b' ')?;
    let tag = std::str::from_utf8(&command[..end]).ok()?;
    // RFC 9051 9: tag = 1*<any ASTRING-CHAR except "+">.
    let valid = !tag.is_empty() && tag.bytes().all(|b| b > b' ' && b < 0x7f && !b"(){%*\"\\+".contains(&b));
    valid.then(|| tag.to_owned())
}

impl Framer {
    /// Whether part of a command has been fed (a command is in progress).
    pub fn in_command(&self) -> bool {
        !self.command.is_empty() || !matches!(self.state, State::Line) || self.skipping_line
    }

    /// Whether the bytes fed next are literal data.
    pub fn in_literal(&self) -> bool {
        matches!(self.state, State::Literal { .. } | State::Discard { .. })
    }

    /// New limits for the commands still to come (they change at login);
    /// a command half read is judged by them from here on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    pub fn new(limits: Limits) -> Framer {
        Framer {
            limits,
            state: State::Line,
            command: Vec::new(),
            line_start: 0,
            skipping_line: false,
            tail: Vec::new(),
        }
    }

    /// Feeds input; returns how much of it was used and what happened, or
    /// `None` when all was used and more is needed.
    pub fn feed(&mut self, input: &[u8]) -> (usize, Option<Result<Frame, FrameError>>) {
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            match &mut self.state {
                State::Literal { remaining } => {
                    let take = (*remaining).min(rest.len() as u64) as usize;
                    self.command.extend_from_slice(&rest[..take]);
                    *remaining -= take as u64;
                    used += take;
                    if *remaining == 0 {
                        self.state = State::Line;
                        self.line_start = self.command.len();
                    }
                }
                State::Discard { remaining } if *remaining > 0 => {
                    let take = (*remaining).min(rest.len() as u64) as usize;
                    *remaining -= take as u64;
                    used += take;
                }
                State::Discard { .. } => {
                    // The rest of the refused command's line.
                    match rest.iter().position(|&b| b == b'\n') {
                        None => {
                            keep_tail(&mut self.tail, rest);
                            used = input.len();
                        }
                        Some(lf) => {
                            keep_tail(&mut self.tail, &rest[..lf]);
                            used += lf + 1;
                            self.state = after_skipped_line(&self.tail);
                            self.reset();
                        }
                    }
                }
                State::Line => {
                    let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
                        keep_tail(&mut self.tail, rest);
                        self.push_line_bytes(rest);
                        used = input.len();
                        // `+ 1`: a last CR may yet turn out to be the line end.
                        if self.command.len() - self.line_start > self.limits.line + 1 {
                            // Keep the start, so the refusal can name the tag.
                            self.skipping_line = true;
                            self.command.truncate(self.line_start + TAG_SCAN);
                        }
                        continue;
                    };
                    keep_tail(&mut self.tail, &rest[..lf]);
                    self.push_line_bytes(&rest[..lf]);
                    used += lf + 1;
                    // Only a CR of this line: a literal may end in CR too.
                    if self.command.len() > self.line_start && self.command.last() == Some(&b'\r') {
                        self.command.pop();
                    }
                    let line_too_long = self.command.len() - self.line_start > self.limits.line;
                    if self.skipping_line || line_too_long || self.command.len() as u64 > self.limits.command {
                        let tag = tag_of(&self.command);
                        self.state = after_skipped_line(&self.tail);
                        self.reset();
                        return (used, Some(Err(FrameError::TooLong { tag })));
                    }
                    self.tail.clear();
                    let line = &self.command[self.line_start..];
                    let Some((size, non_sync)) = literal_marker(line) else {
                        let command = std::mem::take(&mut self.command);
                        self.reset();
                        return (used, Some(Ok(Frame::Command(command))));
                    };
                    let total = self.command.len() as u64 + size;
                    if size > self.limits.literal || total > self.limits.command {
                        let tag = tag_of(&self.command);
                        self.reset();
                        self.state = match non_sync {
                            true => State::Discard { remaining: size },
                            false => State::Line,
                        };
                        return (used, Some(Err(FrameError::LiteralTooBig { tag, size })));
                    }
                    // The literal's bytes follow the marker line's CRLF.
                    self.command.extend_from_slice(b"\r\n");
                    self.state = State::Literal { remaining: size };
                    if size == 0 {
                        self.state = State::Line;
                        self.line_start = self.command.len();
                    }
                    if !non_sync {
                        return (used, Some(Ok(Frame::NeedContinuation)));
                    }
                }
            }
        }
        (used, None)
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) {
        if !self.skipping_line {
            self.command.extend_from_slice(bytes);
        }
    }

    fn reset(&mut self) {
        self.command.clear();
        self.line_start = 0;
        self.skipping_line = false;
        self.tail.clear();
    }

    /// Whether a command is half-read (for an idle-timeout decision).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Line) && self.command.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds everything, collecting frames and errors in order.
    fn run(framer: &mut Framer, mut input: &[u8]) -> Vec<Result<Frame, FrameError>> {
        let mut out = Vec::new();
        loop {
            let (used, event) = framer.feed(input);
            input = &input[used..];
            match event {
                Some(event) => out.push(event),
                None => return out,
            }
        }
    }

    fn command(text: &str) -> Result<Frame, FrameError> {
        Ok(Frame::Command(text.as_bytes().to_vec()))
    }

    #[test]
    fn plain_lines() {
        let mut framer = Framer::new(Limits::default());
        let events = run(&mut framer, b"a1 NOOP\r\na2 CAPABILITY\nA3 LOGOUT\r\n");
        assert_eq!(
            events,
            vec![command("a1 NOOP"), command("a2 CAPABILITY"), command("A3 LOGOUT")]
        );
        assert!(framer.is_idle());
    }

    #[test]
    fn synchronising_literal_asks_for_continuation() {
        let mut framer = Framer::new(Limits::default());
        let events = run(&mut framer, b"a1 LOGIN {5}\r\n");
        assert_eq!(events, vec![Ok(Frame::NeedContinuation)]);
        assert!(!framer.is_idle());
        let events = run(&mut framer, b"alice {6}\r\n");
        assert_eq!(events, vec![Ok(Frame::NeedContinuation)]);
        let events = run(&mut framer, b"secret\r\n");
        assert_eq!(events, vec![command("a1 LOGIN {5}\r\nalice {6}\r\nsecret")]);
    }

    #[test]
    fn literal_plus_and_binary_need_no_continuation() {
        let mut framer = Framer::new(Limits::default());
        let events = run(
            &mut framer,
            b"a1 APPEND INBOX {3+}\r\nabc\r\na2 APPEND INBOX ~{2+}\r\n\x00\x01\r\n",
        );
        assert_eq!(
            events,
            vec![
                command("a1 APPEND INBOX {3+}\r\nabc"),
                Ok(Frame::Command(b"a2 APPEND INBOX ~{2+}\r\n\x00\x01".to_vec()))
            ]
        );
    }

    #[test]
    fn literal_bytes_are_opaque() {
        let mut framer = Framer::new(Limits::default());
        let events = run(&mut framer, b"a1 APPEND x {6+}\r\n{9}\r\n\n\r\n");
        assert_eq!(events, vec![command("a1 APPEND x {6+}\r\n{9}\r\n\n")]);
        // A literal ending in CR, then the command's own bare LF.
        let events = run(&mut framer, b"a3 APPEND x {2+}\r\nx\r\n");
        assert_eq!(events, vec![command("a3 APPEND x {2+}\r\nx\r")]);
        let events = run(&mut framer, b"a2 X {0}\r\n\r\n");
        assert_eq!(events, vec![Ok(Frame::NeedContinuation), command("a2 X {0}\r\n")]);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_result() {
        let input = b"a1 LOGIN {5+}\r\nalice \"pw\"\r\na2 NOOP\r\n";
        let mut framer = Framer::new(Limits::default());
        let mut events = Vec::new();
        for byte in input {
            events.extend(run(&mut framer, std::slice::from_ref(byte)));
        }
        assert_eq!(
            events,
            vec![command("a1 LOGIN {5+}\r\nalice \"pw\""), command("a2 NOOP")]
        );
    }

    #[test]
    fn too_big_literals_are_refused_and_skipped() {
        let limits = Limits {
            line: 100,
            literal: 10,
            command: 1000,
        };
        let mut framer = Framer::new(limits);
        // Synchronising: refused at once; the client never sends the data.
        let events = run(&mut framer, b"a1 APPEND INBOX {20}\r\na2 NOOP\r\n");
        assert_eq!(
            events,
            vec![
                Err(FrameError::LiteralTooBig {
                    tag: Some("a1".into()),
                    size: 20
                }),
                command("a2 NOOP")
            ]
        );
        // Non-synchronising: the data comes anyway and is dropped.
        let events = run(
            &mut framer,
            b"a3 APPEND INBOX {20+}\r\n01234567890123456789 {2+}\r\nxy\r\na4 NOOP\r\n",
        );
        assert_eq!(
            events,
            vec![
                Err(FrameError::LiteralTooBig {
                    tag: Some("a3".into()),
                    size: 20
                }),
                command("a4 NOOP")
            ]
        );
    }

    #[test]
    fn long_lines_are_refused_and_skipped() {
        let limits = Limits {
            line: 16,
            literal: 10,
            command: 1000,
        };
        let mut framer = Framer::new(limits);
        let long = format!("a1 {}\r\na2 NOOP\r\n", "x".repeat(100));
        let events = run(&mut framer, long.as_bytes());
        assert_eq!(
            events,
            vec![Err(FrameError::TooLong { tag: Some("a1".into()) }), command("a2 NOOP")]
        );
        // Even when it arrives in small pieces (the tag was already cut).
        let mut events = Vec::new();
        for chunk in long.as_bytes().chunks(7) {
            events.extend(run(&mut framer, chunk));
        }
        assert_eq!(
            events,
            vec![Err(FrameError::TooLong { tag: Some("a1".into()) }), command("a2 NOOP")]
        );
    }

    #[test]
    fn a_full_length_line_split_after_its_cr_is_accepted() {
        // Found by fuzzing: the CR was counted against the limit when the
        // input happened to end right after it.
        let limits = Limits {
            line: 10,
            literal: 10,
            command: 100,
        };
        let line = b"a1 NOOP123\r\n";
        let mut whole = Framer::new(limits);
        let mut split = Framer::new(limits);
        let expected = run(&mut whole, line);
        let mut got = run(&mut split, &line[..11]);
        got.extend(run(&mut split, &line[11..]));
        assert_eq!(expected, vec![command("a1 NOOP123")]);
        assert_eq!(got, expected);
    }

    #[test]
    fn a_skipped_line_still_skips_the_literal_it_announces() {
        // Found by fuzzing: fed in pieces, the marker at the end of a
        // refused command's next line went unseen and its literal was
        // taken for commands.
        let limits = Limits {
            line: 40,
            literal: 10,
            command: 100,
        };
        let input = b"a1 APPEND x {20+}\r\n01234567890123456789 more {5+}\r\nb2 NO\r\na2 NOOP\r\n";
        let long = format!("a3 {} {{4+}}\r\nc4 X\r\na4 NOOP\r\n", "x".repeat(60));
        for input in [&input[..], long.as_bytes()] {
            let mut whole = Framer::new(limits);
            let expected = run(&mut whole, input);
            let mut pieces = Framer::new(limits);
            let mut got = Vec::new();
            for byte in input {
                got.extend(run(&mut pieces, std::slice::from_ref(byte)));
            }
            assert_eq!(got, expected);
            assert_eq!(expected.len(), 2, "{expected:?}");
            assert!(expected[0].is_err());
            assert!(
                matches!(&expected[1], Ok(Frame::Command(c)) if c.ends_with(b"NOOP")),
                "{expected:?}"
            );
        }
    }

    #[test]
    fn many_small_literals_cannot_grow_a_command_past_its_limit() {
        // Found by fuzzing: only announced literals were checked.
        let limits = Limits {
            line: 50,
            literal: 10,
            command: 120,
        };
        let mut input = b"a1 X".to_vec();
        for _ in 0..10 {
            input.extend_from_slice(format!(" {} {{0+}}\r\n", "y".repeat(30)).as_bytes());
        }
        input.extend_from_slice(b"end\r\na2 NOOP\r\n");
        let mut framer = Framer::new(limits);
        let events = run(&mut framer, &input);
        assert_eq!(
            events,
            vec![Err(FrameError::TooLong { tag: Some("a1".into()) }), command("a2 NOOP")]
        );
    }

    #[test]
    fn markers() {
        assert_eq!(literal_marker(b"a {12}"), Some((12, false)));
        assert_eq!(literal_marker(b"a ~{12+}"), Some((12, true)));
        assert_eq!(literal_marker(b"a {}"), None);
        assert_eq!(literal_marker(b"a {1x}"), None);
        assert_eq!(literal_marker(b"a {99999999999999999999}"), None);
        assert_eq!(tag_of(b"A001 NOOP").as_deref(), Some("A001"));
        assert_eq!(tag_of(b"+bad NOOP"), None);
        assert_eq!(tag_of(b"NOSPACE"), None);
        assert_eq!(tag_of(format!("{} NOOP", "t".repeat(70)).as_bytes()), None);
    }
}
