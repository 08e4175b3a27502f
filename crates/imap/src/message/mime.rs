//! The MIME structure of a stored message as IMAP sees it: byte ranges of
//! every part's header and body (RFC 9051 6.4.5 section numbers) and the
//! fields BODYSTRUCTURE reports.
//!
//! IMAP hands out exact raw bytes of parts (`BODY[1.2]`, `BODY[2.MIME]`),
//! so the tree is computed here from the raw message rather than from a
//! decoding parser. Hostile MIME is bounded: nesting depth and the number of
//! parts are capped, and a part that does not parse is a leaf.

use std::ops::Range;

/// Deeper nesting is shown as an opaque leaf.
const MAX_DEPTH: usize = 32;
/// More parts than this in one message are not split further.
const MAX_PARTS: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Leaf,
    Multipart(Vec<Part>),
    /// message/rfc822 (and message/global): the enclosed message's root.
    Message(Box<Part>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The header, including the empty line that ends it.
    pub header: Range<usize>,
    pub body: Range<usize>,
    pub media_type: String,
    pub subtype: String,
    pub params: Vec<(String, String)>,
    pub id: Option<Vec<u8>>,
    pub description: Option<Vec<u8>>,
    pub encoding: Option<String>,
    pub md5: Option<Vec<u8>>,
    pub disposition: Option<(String, Vec<(String, String)>)>,
    pub language: Vec<String>,
    pub location: Option<Vec<u8>>,
    /// Lines of the body (reported for text and message parts).
    pub lines: u32,
    pub kind: Kind,
}

impl Part {
    pub fn is(&self, media_type: &str, subtype: &str) -> bool {
        self.media_type.eq_ignore_ascii_case(media_type) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The part named by an IMAP part path (`[]` is the whole message).
    /// RFC 9051 6.4.5: a non-multipart message has a part 1, itself; the
    /// parts of an enclosed message are numbered within it.
    pub fn find(&self, path: &[u32]) -> Option<&Part> {
        // RFC 3501 6.4.5: a message that is not multipart has one part,
        // 1, the message's body itself (a message/rfc822 body included);
        // the numbers below it are those of what it encloses.
        match (&self.kind, path.split_first()) {
            (_, None) => Some(self),
            (Kind::Multipart(_), _) => self.descend(path),
            (_, Some((1, rest))) => self.descend(rest),
            _ => None,
        }
    }

    /// The part `path` names below this one: a multipart's parts, or what
    /// an enclosed message holds (its parts when it is multipart, else
    /// its body as part 1). A leaf has none.
    fn descend(&self, path: &[u32]) -> Option<&Part> {
        let Some((&first, rest)) = path.split_first() else {
            return Some(self);
        };
        let index = first.checked_sub(1)? as usize;
        let next = match &self.kind {
            Kind::Multipart(parts) => parts.get(index)?,
            Kind::Message(inner) => match &inner.kind {
                Kind::Multipart(parts) => parts.get(index)?,
                _ if index == 0 => inner.as_ref(),
                _ => return None,
            },
            Kind::Leaf => return None,
        };
        next.descend(rest)
    }
}

/// Where the header of `bytes` ends: the offset just past the empty line,
/// or the end when there is none.
pub fn header_end(bytes: &[u8]) -> usize {
    let mut line_start = 0;
    while line_start < bytes.len() {
        let line_end = match memchr(b'\n', &bytes[line_start..]) {
            Some(at) => line_start + at + 1,
            None => return bytes.len(),
        };
        let line = &bytes[line_start..line_end];
        if line == b"\r\n" || line == b"\n" {
            return line_end;
        }
        line_start = line_end;
    }
    bytes.len()
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// One header field: its name, its raw value (folding kept, final line
/// ending removed) and the range of the whole field with its line ending.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    pub raw: Range<usize>,
}

/// The fields of a header block (lines without a colon are skipped).
pub fn fields(header: &[u8]) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < header.len() {
        // A field runs to the first line ending not followed by WSP.
        let mut end = start;
        loop {
            match memchr(b'\n', &header[end..]) {
                Some(at) => {
                    end += at + 1;
                    if !matches!(header.get(end), Some(b' ' | b'\t')) {
                        break;
                    }
                }
                None => {
                    end = header.len();
                    break;
                }
            }
        }
        let field = &header[start..end];
        let trimmed = field
            .strip_suffix(b"\r\n")
            .or_else(|| field.strip_suffix(b"\n"))
            .unwrap_or(field);
        if let Some(colon) = memchr(b':', trimmed) {
            let name = trim_ascii_end(&trimmed[..colon]);
            if !name.is_empty() && !name.iter().any(|b| b.is_ascii_whitespace()) {
                let value = &trimmed[colon + 1..];
                out.push(Field {
                    name,
                    value,
                    raw: start..end,
                });
            }
        }
        start = end;
    }
    out
}

fn trim_ascii_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// A header value unfolded (RFC 5322 2.2.3) and trimmed.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = value.iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect();
    let start = out.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(out.len());
    out.drain(..start);
    let end = out.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    out.truncate(end);
    out
}

/// The first field called `name` (case-insensitive), unfolded.
pub fn header_value(header: &[u8], name: &str) -> Option<Vec<u8>> {
    fields(header)
        .into_iter()
        .find(|field| field.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|field| unfold(field.value))
}

/// Removes RFC 5322 comments (nested parentheses), outside quoted strings.
fn strip_comments(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for &b in value {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(b);
            }
            continue;
        }
        match b {
            b'\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(b);
                }
            }
            b'"' if depth == 0 => {
                quoted = !quoted;
                out.push(b);
            }
            b'(' if !quoted => depth += 1,
            b')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(b),
            _ => {}
        }
    }
    out
}

/// `value; name=value; name="quoted"` (RFC 2045 5.1, RFC 2183 2): the
/// leading value and the parameters, names lower-cased.
pub fn parse_parameterised(value: &[u8]) -> (String, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(&strip_comments(&unfold(value))).into_owned();
    let mut pieces = split_unquoted(&text, ';').into_iter();
    let head = pieces.next().unwrap_or_default().trim().to_owned();
    let mut params = Vec::new();
    for piece in pieces {
        let Some((name, value)) = piece.split_once('=') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(inner) => unquote(inner),
            None => value.to_owned(),
        };
        if !name.is_empty() && params.len() < 64 {
            params.push((name, value));
        }
    }
    (head, params)
}

fn unquote(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn split_unquoted(text: &str, separator: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in text.chars() {
        if escaped {
            escaped = false;
            current.push(c);
            continue;
        }
        match c {
            '\\' if quoted => {
                escaped = true;
                current.push(c);
            }
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c == separator && !quoted => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    out.push(current);
    out
}

fn count_lines(body: &[u8]) -> u32 {
    body.iter().filter(|&&b| b == b'\n').count() as u32 + u32::from(!body.is_empty() && body.last() != Some(&b'\n'))
}

struct Builder<'a> {
    bytes: &'a [u8],
    parts: usize,
}

/// The structure of a whole message.
pub fn parse(bytes: &[u8]) -> Part {
    let mut builder = Builder { bytes, parts: 0 };
    builder.part(0..bytes.len(), 0, false)
}

impl Builder<'_> {
    /// A part spanning `range`: header, then body.
    fn part(&mut self, range: Range<usize>, depth: usize, digest_child: bool) -> Part {
        self.parts += 1;
        let bytes = &self.bytes[range.clone()];
        let header_len = header_end(bytes);
        let header = range.start..range.start + header_len;
        let body = range.start + header_len..range.end;
        let mut part = Part {
            header: header.clone(),
            body: body.clone(),
            media_type: if digest_child { "message" } else { "text" }.to_owned(),
            subtype: if digest_child { "rfc822" } else { "plain" }.to_owned(),
            params: Vec::new(),
            id: None,
            description: None,
            encoding: None,
            md5: None,
            disposition: None,
            language: Vec::new(),
            location: None,
            lines: count_lines(&self.bytes[body.clone()]),
            kind: Kind::Leaf,
        };
        let mut typed = false;
        for field in fields(&self.bytes[header]) {
            let name = String::from_utf8_lossy(field.name).to_ascii_lowercase();
            match name.as_str() {
                "content-type" if !typed => {
                    let (value, params) = parse_parameterised(field.value);
                    if let Some((media_type, subtype)) = value.split_once('/') {
                        let (media_type, subtype) = (media_type.trim(), subtype.trim());
                        if !media_type.is_empty() && !subtype.is_empty() {
                            typed = true;
                            part.media_type = media_type.to_owned();
                            part.subtype = subtype.to_owned();
                            part.params = params;
                        }
                    }
                }
                "content-id" => part.id = Some(unfold(field.value)),
                "content-description" => part.description = Some(unfold(field.value)),
                "content-transfer-encoding" => {
                    let value = String::from_utf8_lossy(&strip_comments(&unfold(field.value)))
                        .trim()
                        .to_owned();
                    if !value.is_empty() {
                        part.encoding = Some(value);
                    }
                }
                "content-md5" => part.md5 = Some(unfold(field.value)),
                "content-disposition" => {
                    let (value, params) = parse_parameterised(field.value);
                    if !value.is_empty() {
                        part.disposition = Some((value, params));
                    }
                }
                "content-language" => {
                    let value = String::from_utf8_lossy(&strip_comments(&unfold(field.value))).into_owned();
                    part.language = value
                        .split(',')
                        .map(|tag| tag.trim().to_owned())
                        .filter(|tag| !tag.is_empty())
                        .take(16)
                        .collect();
                }
                "content-location" => part.location = Some(unfold(field.value)),
                _ => {}
            }
        }
        if !typed && part.media_type == "text" {
            part.params = vec![("charset".to_owned(), "us-ascii".to_owned())];
        }
        if depth >= MAX_DEPTH || self.parts >= MAX_PARTS {
            return part;
        }
        let encoded = part
            .encoding
            .as_deref()
            .is_some_and(|e| !matches!(e.to_ascii_lowercase().as_str(), "7bit" | "8bit" | "binary"));
        if part.media_type.eq_ignore_ascii_case("multipart") {
            if let Some(boundary) = part.param("boundary").filter(|b| !b.is_empty()).map(str::to_owned) {
                let digest = part.subtype.eq_ignore_ascii_case("digest");
                let children = self.multipart(body.clone(), boundary.as_bytes(), depth, digest);
                part.kind = Kind::Multipart(children);
            } else {
                // RFC 2046 5.1.1: a multipart without a boundary cannot be
                // split; show its body as one plain part.
                let mut only = self.part(body.start..body.start, depth + 1, false);
                only.body = body.clone();
                only.lines = part.lines;
                part.kind = Kind::Multipart(vec![only]);
            }
        } else if part.media_type.eq_ignore_ascii_case("message")
            && (part.subtype.eq_ignore_ascii_case("rfc822") || part.subtype.eq_ignore_ascii_case("global"))
            && !encoded
        {
            let inner = self.part(body, depth + 1, false);
            part.kind = Kind::Message(Box::new(inner));
        }
        part
    }

    /// RFC 2046 5.1.1: parts sit between delimiter lines `--boundary`; the
    /// line ending before a delimiter belongs to the delimiter.
    fn multipart(&mut self, body: Range<usize>, boundary: &[u8], depth: usize, digest: bool) -> Vec<Part> {
        let bytes = self.bytes;
        let mut delimiters = Vec::new(); // (start of CRLF before, end of line, closing)
        let mut line_start = body.start;
        while line_start < body.end {
            let line_end = match memchr(b'\n', &bytes[line_start..body.end]) {
                Some(at) => line_start + at + 1,
                None => body.end,
            };
            let line = &bytes[line_start..line_end];
            if let Some(rest) = line.strip_prefix(b"--").and_then(|l| l.strip_prefix(boundary)) {
                let closing = rest.starts_with(b"--");
                let rest = if closing { &rest[2..] } else { rest };
                if rest.iter().all(|b| b.is_ascii_whitespace()) {
                    let before = if line_start == body.start {
                        line_start
                    } else if line_start >= 2 && &bytes[line_start - 2..line_start] == b"\r\n" {
                        line_start - 2
                    } else {
                        line_start - 1
                    };
                    delimiters.push((before.max(body.start), line_end, closing));
                    if closing {
                        break;
                    }
                }
            }
            line_start = line_end;
        }
        let mut parts = Vec::new();
        for (i, &(_, start, closing)) in delimiters.iter().enumerate() {
            if closing || self.parts >= MAX_PARTS {
                break;
            }
            let end = delimiters.get(i + 1).map_or(body.end, |&(before, _, _)| before);
            parts.push(self.part(start..end.max(start), depth + 1, digest));
        }
        if parts.is_empty() {
            let mut only = self.part(body.start..body.start, depth + 1, false);
            only.body = body.clone();
            only.lines = count_lines(&bytes[body]);
            parts.push(only);
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &[u8] = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
preamble\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n\
--outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n\
--in\r\n\r\nplain\r\n--in\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--in--\r\n\r\n--outer--\r\nepilogue\r\n";

    fn text<'a>(range: &Range<usize>, bytes: &'a [u8]) -> &'a str {
        std::str::from_utf8(&bytes[range.clone()]).unwrap()
    }

    #[test]
    fn nested_parts_have_exact_ranges() {
        let root = parse(NESTED);
        let Kind::Multipart(parts) = &root.kind else { panic!() };
        assert_eq!(parts.len(), 2);
        assert_eq!(text(&parts[0].body, NESTED), "hello");
        assert_eq!(parts[0].param("charset"), Some("utf-8"));
        let first = root.find(&[1]).unwrap();
        assert_eq!(
            text(&first.header, NESTED),
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        );
        let inner_plain = root.find(&[2, 1]).unwrap();
        assert_eq!(text(&inner_plain.body, NESTED), "plain");
        assert!(inner_plain.is("text", "plain"));
        let html = root.find(&[2, 2]).unwrap();
        assert_eq!(text(&html.body, NESTED), "<p>x</p>");
        assert!(root.find(&[2, 3]).is_none());
        assert!(root.find(&[3]).is_none());
        let Kind::Message(inner) = &root.find(&[2]).unwrap().kind else {
            panic!()
        };
        assert_eq!(
            header_value(&NESTED[inner.header.clone()], "subject").unwrap(),
            b"inner"
        );
    }

    #[test]
    fn single_part_message_is_its_own_part_one() {
        let message = b"Subject: x\r\n\r\nbody\r\n";
        let root = parse(message);
        assert_eq!(root.find(&[1]).unwrap().body, root.body);
        assert!(root.find(&[2]).is_none());
        assert_eq!(root.lines, 1);
        assert_eq!(root.params, vec![("charset".to_owned(), "us-ascii".to_owned())]);
    }

    #[test]
    fn folded_fields_and_comments() {
        let header = b"Content-Type: text/plain (comment);\r\n\tcharset=\"iso-8859-1\"\r\nX: y\r\n\r\n";
        let fields = fields(header);
        assert_eq!(fields.len(), 2);
        let (value, params) = parse_parameterised(fields[0].value);
        assert_eq!(value, "text/plain");
        assert_eq!(params, vec![("charset".to_owned(), "iso-8859-1".to_owned())]);
    }

    #[test]
    fn hostile_nesting_is_bounded() {
        let mut message = Vec::new();
        for i in 0..200 {
            message.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
            );
        }
        let root = parse(&message);
        let mut depth = 0;
        let mut part = &root;
        while let Kind::Multipart(parts) = &part.kind {
            part = &parts[0];
            depth += 1;
        }
        assert!(depth <= MAX_DEPTH, "depth {depth}");
    }

    #[test]
    fn missing_closing_delimiter_runs_to_the_end() {
        let message = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nonly\r\n";
        let root = parse(message);
        assert_eq!(text(&root.find(&[1]).unwrap().body, message), "only\r\n");
    }
}
