//! Grammar primitives of RFC 9051 9 over one framed command (literals
//! inline as `{n}CRLF<bytes>`). Strings come back as bytes: literal data
//! may be 8-bit (APPEND) and names decode per session (UTF-8 or UTF-7).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub &'static str);

pub type Result<T> = std::result::Result<T, SyntaxError>;

pub struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
}

/// RFC 9051 9: atom-specials are `(){ %*"\]`, SP and controls.
fn is_atom_char(b: u8) -> bool {
    b > b' ' && b < 0x7f && !b"(){%*\"\\]".contains(&b)
}

fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

impl<'a> Lexer<'a> {
    pub fn new(input: &'a [u8]) -> Lexer<'a> {
        Lexer { input, pos: 0 }
    }

    pub fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.input.get(self.pos + ahead).copied()
    }

    /// A FETCH item name: atom characters up to `[`, `<`, SP or `)`.
    pub fn fetch_name(&mut self) -> Result<&'a str> {
        let name = self.take_while(|b| is_atom_char(b) && b != b'[' && b != b'<');
        if name.is_empty() {
            return Err(SyntaxError("expected a FETCH item"));
        }
        Ok(std::str::from_utf8(name).expect("atom chars are ASCII"))
    }

    pub fn at_end(&self) -> bool {
        self.pos == self.input.len()
    }

    pub fn end(&self) -> Result<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(SyntaxError("unexpected text at the end of the command"))
        }
    }

    pub fn sp(&mut self) -> Result<()> {
        self.byte(b' ').map_err(|_| SyntaxError("expected a space"))
    }

    pub fn byte(&mut self, expected: u8) -> Result<()> {
        if self.peek() == Some(expected) {
            self.pos += 1;
            Ok(())
        } else {
            Err(SyntaxError("unexpected character"))
        }
    }

    /// Consumes `word` if it comes next (case-insensitive), as a whole word.
    pub fn keyword(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        let matches = self
            .input
            .get(self.pos..end)
            .is_some_and(|s| s.eq_ignore_ascii_case(word.as_bytes()))
            && self.input.get(end).is_none_or(|&b| !is_atom_char(b));
        if matches {
            self.pos = end;
        }
        matches
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    pub fn atom(&mut self) -> Result<&'a str> {
        let atom = self.take_while(is_atom_char);
        if atom.is_empty() {
            return Err(SyntaxError("expected an atom"));
        }
        Ok(std::str::from_utf8(atom).expect("atom chars are ASCII"))
    }

    /// A tag: ASTRING-CHARs except `+` (RFC 9051 9).
    pub fn tag(&mut self) -> Result<&'a str> {
        let tag = self.take_while(|b| is_astring_char(b) && b != b'+');
        if tag.is_empty() {
            return Err(SyntaxError("missing tag"));
        }
        Ok(std::str::from_utf8(tag).expect("tag chars are ASCII"))
    }

    pub fn number(&mut self) -> Result<u32> {
        self.number64()?.try_into().map_err(|_| SyntaxError("number too large"))
    }

    pub fn number64(&mut self) -> Result<u64> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() || digits.len() > 19 {
            return Err(SyntaxError("expected a number"));
        }
        std::str::from_utf8(digits)
            .unwrap()
            .parse()
            .map_err(|_| SyntaxError("number too large"))
    }

    pub fn nz_number(&mut self) -> Result<u32> {
        match self.number()? {
            0 => Err(SyntaxError("expected a non-zero number")),
            n => Ok(n),
        }
    }

    /// `{n}` or `{n+}` then CRLF then n bytes; with `binary`, also `~{n}`
    /// (RFC 3516 literal8). Returns the bytes and whether it was literal8.
    pub fn literal(&mut self, binary: bool) -> Result<(&'a [u8], bool)> {
        let literal8 = binary && self.peek() == Some(b'~');
        if literal8 {
            self.pos += 1;
        }
        self.byte(b'{')?;
        let size = self.number64()?;
        if self.peek() == Some(b'+') {
            self.pos += 1;
        }
        self.byte(b'}')?;
        self.byte(b'\r')
            .and_then(|_| self.byte(b'\n'))
            .map_err(|_| SyntaxError("literal must end its line"))?;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| self.pos.checked_add(s))
            .filter(|&e| e <= self.input.len());
        let end = end.ok_or(SyntaxError("literal shorter than announced"))?;
        let data = &self.input[self.pos..end];
        self.pos = end;
        // RFC 9051 4.3: a non-binary literal has no NUL.
        if !literal8 && data.contains(&0) {
            return Err(SyntaxError("NUL in a literal; use literal8"));
        }
        Ok((data, literal8))
    }

    /// quoted = DQUOTE *QUOTED-CHAR DQUOTE, with `\"` and `\\` escapes.
    pub fn quoted(&mut self) -> Result<Vec<u8>> {
        self.byte(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r' | b'\n' | 0) => return Err(SyntaxError("unterminated quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b @ (b'"' | b'\\')) => out.push(b),
                        _ => return Err(SyntaxError("bad escape in quoted string")),
                    }
                    self.pos += 1;
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    pub fn string(&mut self) -> Result<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal(false)?.0.to_vec()),
            _ => Err(SyntaxError("expected a string")),
        }
    }

    pub fn astring(&mut self) -> Result<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                // 8-bit bytes are not ASTRING-CHARs, but clients (imaplib,
                // UTF8=ACCEPT users) send UTF-8 unquoted; take them.
                let text = self.take_while(|b| is_astring_char(b) || b >= 0x80);
                if text.is_empty() {
                    return Err(SyntaxError("expected an astring"));
                }
                Ok(text.to_vec())
            }
        }
    }

    /// nstring: a string or NIL.
    pub fn nstring(&mut self) -> Result<Option<Vec<u8>>> {
        if self.keyword("NIL") {
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// list-mailbox: list-chars (with `%` and `*`) or a string.
    pub fn list_mailbox(&mut self) -> Result<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let text = self.take_while(|b| is_list_char(b) || b >= 0x80);
                if text.is_empty() {
                    return Err(SyntaxError("expected a mailbox pattern"));
                }
                Ok(text.to_vec())
            }
        }
    }

    /// `(` item *(SP item) `)`; with `allow_empty`, `()` too.
    pub fn list<T>(&mut self, allow_empty: bool, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        self.byte(b'(').map_err(|_| SyntaxError("expected a list"))?;
        let mut items = Vec::new();
        if self.peek() == Some(b')') {
            self.pos += 1;
            return if allow_empty {
                Ok(items)
            } else {
                Err(SyntaxError("empty list"))
            };
        }
        loop {
            items.push(item(self)?);
            match self.peek() {
                Some(b' ') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(SyntaxError("expected a space or ) in a list")),
            }
        }
    }

    /// A sequence set as text (parsed by `SequenceSet`).
    pub fn sequence_set(&mut self) -> Result<super::SequenceSet> {
        let text = self.take_while(|b| b.is_ascii_digit() || b":,*$".contains(&b));
        super::SequenceSet::parse(std::str::from_utf8(text).unwrap()).map_err(|_| SyntaxError("bad sequence set"))
    }

    /// date-time (RFC 9051 9): `"dd-Mon-yyyy hh:mm:ss +zzzz"`, as seconds
    /// since the epoch (UTC) and the zone it was written in, in minutes
    /// east of UTC.
    pub fn date_time(&mut self) -> Result<(i64, i16)> {
        let text = self.quoted()?;
        parse_date_time(&text).ok_or(SyntaxError("bad date-time"))
    }
}

pub use estafeta_core::time::days_from_civil;

fn parse_date_time(text: &[u8]) -> Option<(i64, i16)> {
    let text = std::str::from_utf8(text).ok()?;
    // date-day-fixed may start with a space: " 4-Jul-2026 ...".
    let text = text.strip_prefix(' ').unwrap_or(text);
    let (date, rest) = text.split_once(' ')?;
    let (time, zone) = rest.split_once(' ')?;
    let mut date_parts = date.split('-');
    let day: i64 = date_parts.next()?.parse().ok()?;
    let month_name = date_parts.next()?;
    let month = estafeta_core::time::MONTH_NAMES
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month_name))? as i64
        + 1;
    let year: i64 = date_parts.next()?.parse().ok()?;
    let mut time_parts = time.split(':');
    let (hour, minute, second): (i64, i64, i64) = (
        time_parts.next()?.parse().ok()?,
        time_parts.next()?.parse().ok()?,
        time_parts.next()?.parse().ok()?,
    );
    let valid = (1..=31).contains(&day)
        && (1900..=9999).contains(&year)
        && hour < 24
        && minute < 60
        && second < 61
        && time.len() == 8
        && zone.len() == 5
        && zone.is_ascii()
        && date_parts.next().is_none();
    if !valid {
        return None;
    }
    let sign = match zone.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let zone_hours: i64 = zone[1..3].parse().ok()?;
    let zone_minutes: i64 = zone[3..5].parse().ok()?;
    if zone_minutes >= 60 {
        return None;
    }
    let offset = sign * (zone_hours * 60 + zone_minutes);
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset * 60;
    Some((secs, offset as i16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(Lexer::new(br#""a \"b\" \\ c""#).quoted().unwrap(), br#"a "b" \ c"#);
        assert_eq!(Lexer::new(b"{5}\r\nhe\"lo").string().unwrap(), b"he\"lo");
        assert_eq!(Lexer::new(b"{3+}\r\nabc").astring().unwrap(), b"abc");
        assert_eq!(Lexer::new(b"user]x rest").astring().unwrap(), b"user]x");
        assert_eq!(Lexer::new(b"NIL").nstring().unwrap(), None);
        assert_eq!(
            Lexer::new(b"~{2}\r\n\0\x01").literal(true).unwrap(),
            (&b"\0\x01"[..], true)
        );
        for bad in [
            &b"\"open"[..],
            b"\"bad \\x\"",
            b"{9}\r\nshort",
            b"{2}x\r\nab",
            b"{1}\r\n\0",
        ] {
            assert!(Lexer::new(bad).string().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keywords_match_whole_words() {
        let mut lexer = Lexer::new(b"NILS");
        assert!(!lexer.keyword("NIL"));
        assert!(Lexer::new(b"nil)").keyword("NIL"));
    }

    #[test]
    fn lists_and_numbers() {
        let mut lexer = Lexer::new(b"(a b c)");
        assert_eq!(
            lexer.list(false, |l| l.atom().map(str::to_owned)).unwrap(),
            vec!["a", "b", "c"]
        );
        assert!(Lexer::new(b"()").list(false, |l| l.atom().map(str::to_owned)).is_err());
        assert_eq!(
            Lexer::new(b"()").list(true, |l| l.atom().map(str::to_owned)).unwrap(),
            Vec::<String>::new()
        );
        assert!(
            Lexer::new(b"(a  b)")
                .list(false, |l| l.atom().map(str::to_owned))
                .is_err()
        );
        assert_eq!(Lexer::new(b"4294967295").number().unwrap(), u32::MAX);
        assert!(Lexer::new(b"4294967296").number().is_err());
        assert!(Lexer::new(b"0").nz_number().is_err());
    }

    #[test]
    fn date_times() {
        // RFC 9051 6.3.12's example date.
        assert_eq!(
            Lexer::new(b"\"17-Jul-1996 02:44:25 -0700\"").date_time().unwrap(),
            (837_596_665, -420)
        );
        assert_eq!(
            Lexer::new(b"\" 1-Jan-1970 00:00:00 +0000\"").date_time().unwrap(),
            (0, 0)
        );
        assert_eq!(
            Lexer::new(b"\"25-Mar-2007 00:00:00 +0530\"").date_time().unwrap(),
            (1_174_761_000, 330)
        );
        for bad in [
            "\"32-Jan-2026 00:00:00 +0000\"",
            "\"1-Foo-2026 00:00:00 +0000\"",
            "\"1-Jan-2026 24:00:00 +0000\"",
            "\"1-Jan-2026 00:00:00 0000\"",
            "\"1-Jan-2026 00:00:00 +0060\"",
            // Five bytes, but not five characters: no slicing inside one.
            "\"1-Jan-2026 00:00:00 +0\u{433}0\"",
        ] {
            assert!(Lexer::new(bad.as_bytes()).date_time().is_err(), "{bad}");
        }
    }
}
