//! SEARCH programs (RFC 9051 6.4.4) with ESEARCH return options (RFC 4731),
//! MODSEQ (RFC 7162 3.1.5), and the criteria of SORT and THREAD (RFC 5256).

use super::SequenceSet;
use super::lexer::{Lexer, Result, SyntaxError, days_from_civil};

/// NOT, OR and parentheses nest; a hostile client must not blow the stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Deleted,
    Draft,
    Flagged,
    Seen,
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unseen,
    /// IMAP4rev1 only (RFC 3501): no \Recent in IMAP4rev2.
    New,
    Old,
    Recent,
    Keyword(String),
    Unkeyword(String),
    Bcc(Vec<u8>),
    Body(Vec<u8>),
    Cc(Vec<u8>),
    From(Vec<u8>),
    Subject(Vec<u8>),
    Text(Vec<u8>),
    To(Vec<u8>),
    Header(String, Vec<u8>),
    /// Dates are days since 1970-01-01 (internal date / Date: header).
    Before(i64),
    On(i64),
    Since(i64),
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    Larger(u64),
    Smaller(u64),
    Uid(SequenceSet),
    Sequence(SequenceSet),
    Modseq(u64),
    Not(Box<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    And(Vec<SearchKey>),
}

/// RFC 4731 RETURN options; `None` on the command means a plain SEARCH reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
    /// RFC 5182 SEARCHRES: remember the result as `$`.
    pub save: bool,
    /// RFC 9394 PARTIAL: the results at these 1-based positions of the
    /// result (mailbox order for SEARCH, sort order for SORT); negative
    /// positions count from the end (-1 is the last).
    pub partial: Option<PartialRange>,
    /// RFC 5267 4.3 (CONTEXT=SEARCH): keep the result up to date with
    /// ADDTO and REMOVEFROM.
    pub update: bool,
    /// RFC 5267 4.2: a hint that the search will be asked again; nothing
    /// to do, as results are not cached.
    pub context: bool,
}

impl SearchReturn {
    /// Whether the answer has an ESEARCH response (SAVE alone has none;
    /// UPDATE alone has one with no result, naming the context).
    pub fn answers(&self) -> bool {
        self.min || self.max || self.all || self.count || self.partial.is_some() || self.update
    }
}

/// A PARTIAL range as the client wrote it, lowest magnitude first
/// (RFC 9394 3.1: 500:400 is 400:500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialRange {
    pub first: i64,
    pub last: i64,
}

impl PartialRange {
    /// `1:100` or `-1:-100`; both ends nonzero and of one sign.
    pub fn parse(text: &str) -> Option<PartialRange> {
        let (a, b) = text.split_once(':')?;
        let number = |t: &str| -> Option<i64> {
            let digits = t.strip_prefix('-').unwrap_or(t);
            if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            t.parse()
                .ok()
                .filter(|n: &i64| *n != 0 && n.unsigned_abs() <= u64::from(u32::MAX))
        };
        let (a, b) = (number(a)?, number(b)?);
        if (a < 0) != (b < 0) {
            return None;
        }
        let (first, last) = if a.abs() <= b.abs() { (a, b) } else { (b, a) };
        Some(PartialRange { first, last })
    }

    /// The 0-based positions, within `len` results, this range covers.
    pub fn positions(&self, len: usize) -> std::ops::Range<usize> {
        let len = len as i64;
        let (from, to) = if self.first > 0 {
            (self.first - 1, self.last.min(len))
        } else {
            (len + self.last, len + self.first + 1)
        };
        let (from, to) = (from.max(0), to.max(0));
        if from >= to { 0..0 } else { from as usize..to as usize }
    }
}

impl std::fmt::Display for PartialRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.first, self.last)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    /// RFC 5957 (SORT=DISPLAY).
    DisplayFrom,
    DisplayTo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    pub reverse: bool,
    pub key: SortKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
}

/// date = date-text / DQUOTE date-text DQUOTE; date-text = d-Mon-yyyy.
fn date(lexer: &mut Lexer) -> Result<i64> {
    let text = if lexer.peek() == Some(b'"') {
        lexer.quoted()?
    } else {
        lexer.atom()?.as_bytes().to_vec()
    };
    let text = String::from_utf8(text).map_err(|_| SyntaxError("bad date"))?;
    let mut parts = text.split('-');
    let (Some(day), Some(month), Some(year), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(SyntaxError("bad date"));
    };
    let day: i64 = day.parse().map_err(|_| SyntaxError("bad date"))?;
    let month = estafeta_core::time::MONTH_NAMES
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month))
        .ok_or(SyntaxError("bad date"))? as i64
        + 1;
    let year: i64 = year.parse().map_err(|_| SyntaxError("bad date"))?;
    if !(1..=31).contains(&day) || !(1..=9999).contains(&year) || year.to_string().len() != 4 {
        return Err(SyntaxError("bad date"));
    }
    Ok(days_from_civil(year, month, day))
}

fn keyword_arg(lexer: &mut Lexer) -> Result<String> {
    lexer.sp()?;
    Ok(lexer.atom()?.to_owned())
}

fn string_arg(lexer: &mut Lexer) -> Result<Vec<u8>> {
    lexer.sp()?;
    lexer.astring()
}

pub fn key(lexer: &mut Lexer, depth: usize) -> Result<SearchKey> {
    if depth > MAX_DEPTH {
        return Err(SyntaxError("search nested too deeply"));
    }
    if lexer.peek() == Some(b'(') {
        let keys = lexer.list(false, |l| key(l, depth + 1))?;
        return Ok(SearchKey::And(keys));
    }
    if lexer
        .peek()
        .is_some_and(|b| b.is_ascii_digit() || b == b'*' || b == b'$')
    {
        return Ok(SearchKey::Sequence(lexer.sequence_set()?));
    }
    let name = lexer.atom()?.to_ascii_uppercase();
    use SearchKey as K;
    Ok(match name.as_str() {
        "ALL" => K::All,
        "ANSWERED" => K::Answered,
        "DELETED" => K::Deleted,
        "DRAFT" => K::Draft,
        "FLAGGED" => K::Flagged,
        "SEEN" => K::Seen,
        "UNANSWERED" => K::Unanswered,
        "UNDELETED" => K::Undeleted,
        "UNDRAFT" => K::Undraft,
        "UNFLAGGED" => K::Unflagged,
        "UNSEEN" => K::Unseen,
        "NEW" => K::New,
        "OLD" => K::Old,
        "RECENT" => K::Recent,
        "KEYWORD" => K::Keyword(keyword_arg(lexer)?),
        "UNKEYWORD" => K::Unkeyword(keyword_arg(lexer)?),
        "BCC" => K::Bcc(string_arg(lexer)?),
        "BODY" => K::Body(string_arg(lexer)?),
        "CC" => K::Cc(string_arg(lexer)?),
        "FROM" => K::From(string_arg(lexer)?),
        "SUBJECT" => K::Subject(string_arg(lexer)?),
        "TEXT" => K::Text(string_arg(lexer)?),
        "TO" => K::To(string_arg(lexer)?),
        "HEADER" => {
            let field = String::from_utf8(string_arg(lexer)?).map_err(|_| SyntaxError("header names are ASCII"))?;
            K::Header(field, string_arg(lexer)?)
        }
        "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
            lexer.sp()?;
            let day = date(lexer)?;
            match name.as_str() {
                "BEFORE" => K::Before(day),
                "ON" => K::On(day),
                "SINCE" => K::Since(day),
                "SENTBEFORE" => K::SentBefore(day),
                "SENTON" => K::SentOn(day),
                _ => K::SentSince(day),
            }
        }
        "LARGER" | "SMALLER" => {
            lexer.sp()?;
            let size = lexer.number64()?;
            if name == "LARGER" {
                K::Larger(size)
            } else {
                K::Smaller(size)
            }
        }
        "UID" => {
            lexer.sp()?;
            K::Uid(lexer.sequence_set()?)
        }
        "MODSEQ" => {
            lexer.sp()?;
            // RFC 7162 3.1.5: optional entry name and type, then the value.
            if lexer.peek() == Some(b'"') {
                lexer.quoted()?;
                lexer.sp()?;
                let kind = lexer.atom()?.to_ascii_lowercase();
                if !["priv", "shared", "all"].contains(&kind.as_str()) {
                    return Err(SyntaxError("bad MODSEQ entry type"));
                }
                lexer.sp()?;
            }
            K::Modseq(lexer.number64()?)
        }
        "NOT" => {
            lexer.sp()?;
            K::Not(Box::new(key(lexer, depth + 1)?))
        }
        "OR" => {
            lexer.sp()?;
            let left = key(lexer, depth + 1)?;
            lexer.sp()?;
            K::Or(Box::new(left), Box::new(key(lexer, depth + 1)?))
        }
        _ => return Err(SyntaxError("unknown search key")),
    })
}

/// `[CHARSET charset SP] key *(SP key)`: returns the charset and the keys
/// (ANDed). The rest of the command must be search keys.
pub fn program(lexer: &mut Lexer) -> Result<(Option<String>, SearchKey)> {
    let charset = if lexer.keyword("CHARSET") {
        lexer.sp()?;
        let charset = String::from_utf8(lexer.astring()?).map_err(|_| SyntaxError("bad charset"))?;
        lexer.sp()?;
        Some(charset)
    } else {
        None
    };
    let mut keys = vec![key(lexer, 0)?];
    while !lexer.at_end() {
        lexer.sp()?;
        keys.push(key(lexer, 0)?);
    }
    let key = if keys.len() == 1 {
        keys.pop().unwrap()
    } else {
        SearchKey::And(keys)
    };
    Ok((charset, key))
}

/// ` RETURN (...)` (RFC 4731); `Some(default)` for `RETURN ()` = ALL.
pub fn return_options(lexer: &mut Lexer) -> Result<Option<SearchReturn>> {
    if !lexer.keyword("RETURN") {
        return Ok(None);
    }
    lexer.sp()?;
    let mut options = SearchReturn::default();
    lexer.list(true, |l| {
        let option = l.atom()?.to_ascii_uppercase();
        match option.as_str() {
            "MIN" => options.min = true,
            "MAX" => options.max = true,
            "ALL" => options.all = true,
            "COUNT" => options.count = true,
            "SAVE" => options.save = true,
            "UPDATE" => options.update = true,
            "CONTEXT" => options.context = true,
            "PARTIAL" if options.partial.is_none() => {
                l.sp()?;
                options.partial = Some(PartialRange::parse(l.atom()?).ok_or(SyntaxError("bad PARTIAL range"))?);
            }
            _ => return Err(SyntaxError("unknown RETURN option")),
        }
        Ok(())
    })?;
    // RFC 4731 3.1: an empty list means ALL, and so does one holding only
    // the CONTEXT hint.
    if options
        == (SearchReturn {
            context: options.context,
            ..SearchReturn::default()
        })
    {
        options.all = true;
    }
    // RFC 5267 4.4: one PARTIAL or one ALL, not both.
    if options.all && options.partial.is_some() {
        return Err(SyntaxError("ALL and PARTIAL together"));
    }
    lexer.sp()?;
    Ok(Some(options))
}

pub fn sort_criteria(lexer: &mut Lexer) -> Result<Vec<SortCriterion>> {
    let mut criteria = Vec::new();
    let mut reverse = false;
    lexer.list(false, |l| {
        let name = l.atom()?.to_ascii_uppercase();
        if name == "REVERSE" {
            if reverse {
                return Err(SyntaxError("REVERSE twice"));
            }
            reverse = true;
            return Ok(());
        }
        let key = match name.as_str() {
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            "DISPLAYFROM" => SortKey::DisplayFrom,
            "DISPLAYTO" => SortKey::DisplayTo,
            _ => return Err(SyntaxError("unknown sort key")),
        };
        criteria.push(SortCriterion { reverse, key });
        reverse = false;
        Ok(())
    })?;
    if reverse {
        return Err(SyntaxError("REVERSE must precede a sort key"));
    }
    Ok(criteria)
}

pub fn thread_algorithm(lexer: &mut Lexer) -> Result<ThreadAlgorithm> {
    match lexer.atom()?.to_ascii_uppercase().as_str() {
        "REFERENCES" => Ok(ThreadAlgorithm::References),
        "ORDEREDSUBJECT" => Ok(ThreadAlgorithm::OrderedSubject),
        _ => Err(SyntaxError("unknown thread algorithm")),
    }
}

#[cfg(test)]
mod tests {
    use super::PartialRange;

    #[test]
    fn partial_ranges_cover_positions_from_either_end() {
        let range = |text: &str| PartialRange::parse(text).unwrap_or_else(|| panic!("{text}"));
        // RFC 9394 3.1: the lower magnitude first, whichever way written.
        assert_eq!(range("500:400"), range("400:500"));
        assert_eq!(range("-9:-1").to_string(), "-1:-9");
        assert_eq!(range("1:3").positions(10), 0..3);
        assert_eq!(range("8:20").positions(10), 7..10);
        assert_eq!(range("11:20").positions(10), 0..0);
        assert_eq!(range("-1:-3").positions(10), 7..10);
        assert_eq!(range("-9:-20").positions(10), 0..2);
        assert_eq!(range("-11:-20").positions(10), 0..0);
        assert_eq!(range("1:4294967295").positions(3), 0..3);
        for bad in [
            "0:5",
            "1:0",
            "-1:5",
            "1:",
            ":1",
            "a:b",
            "1",
            "--1:-2",
            "1:4294967296",
            "+1:2",
        ] {
            assert_eq!(PartialRange::parse(bad), None, "{bad}");
        }
    }
}
