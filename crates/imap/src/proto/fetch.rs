//! FETCH items (RFC 9051 6.4.5), BINARY (RFC 3516) and CONDSTORE/QRESYNC
//! modifiers (RFC 7162 3.1.4, 3.2.6).

use super::lexer::{Lexer, Result, SyntaxError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    HeaderFields {
        not: bool,
        fields: Vec<String>,
    },
    Text,
    /// The MIME header of a part (only after a part number).
    Mime,
}

/// `[1.2.HEADER]`: a part path (empty: the whole message) and what of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    Envelope,
    Flags,
    InternalDate,
    Rfc822Size,
    /// RFC 3501 forms kept for IMAP4rev1 clients.
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    /// BODY without a section: BODYSTRUCTURE without extension data.
    Body,
    BodyStructure,
    Uid,
    /// RFC 7162.
    Modseq,
    /// BODY[section]<partial> or BODY.PEEK[...].
    BodySection {
        section: Section,
        partial: Option<(u64, u64)>,
        peek: bool,
    },
    /// BINARY[part]<partial> or BINARY.PEEK[...] (RFC 3516). RFC 3516
    /// names only parts; a section text (HEADER, MIME, TEXT, HEADER.FIELDS)
    /// is taken too, as Dovecot does, since clients and suites send it.
    Binary {
        section: Section,
        partial: Option<(u64, u64)>,
        peek: bool,
    },
    BinarySize {
        section: Section,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchModifiers {
    pub changed_since: Option<u64>,
    /// QRESYNC: report expunged UIDs (UID FETCH only).
    pub vanished: bool,
}

fn part(lexer: &mut Lexer) -> Result<Vec<u32>> {
    let mut numbers = Vec::new();
    while lexer.peek().is_some_and(|b| b.is_ascii_digit()) {
        numbers.push(lexer.nz_number()?);
        if lexer.peek() == Some(b'.') && lexer_peek_digit_after_dot(lexer) {
            lexer.byte(b'.')?;
        } else {
            break;
        }
    }
    Ok(numbers)
}

fn lexer_peek_digit_after_dot(lexer: &Lexer) -> bool {
    lexer.peek_at(1).is_some_and(|b| b.is_ascii_digit())
}

pub(crate) fn section(lexer: &mut Lexer) -> Result<Section> {
    lexer.byte(b'[')?;
    let part = part(lexer)?;
    let mut text = None;
    if lexer.peek() != Some(b']') {
        if !part.is_empty() {
            lexer.byte(b'.')?;
        }
        let name = lexer.atom()?.to_ascii_uppercase();
        text = Some(match name.as_str() {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if !part.is_empty() => SectionText::Mime,
            "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
                lexer.sp()?;
                let fields = lexer.list(false, |l| {
                    String::from_utf8(l.astring()?).map_err(|_| SyntaxError("header field names are ASCII"))
                })?;
                SectionText::HeaderFields {
                    not: name.ends_with(".NOT"),
                    fields,
                }
            }
            _ => return Err(SyntaxError("unknown section")),
        });
    }
    lexer.byte(b']')?;
    Ok(Section { part, text })
}

fn partial(lexer: &mut Lexer) -> Result<Option<(u64, u64)>> {
    if lexer.peek() != Some(b'<') {
        return Ok(None);
    }
    lexer.byte(b'<')?;
    let start = lexer.number64()?;
    // RFC 9051 names `<start.length>`; `<start>`, to the end, is what
    // Dovecot also takes and imaptest sends, so it is taken too.
    let length = if lexer.peek() == Some(b'.') {
        lexer.byte(b'.')?;
        lexer.number64()?
    } else {
        u64::MAX
    };
    lexer.byte(b'>')?;
    if length == 0 {
        return Err(SyntaxError("partial length must not be zero"));
    }
    Ok(Some((start, length)))
}

pub fn attribute(lexer: &mut Lexer) -> Result<FetchAttribute> {
    // Item names may carry `[`, so read the name up to it.
    let name = lexer.fetch_name()?.to_ascii_uppercase();
    Ok(match name.as_str() {
        "ENVELOPE" => FetchAttribute::Envelope,
        "FLAGS" => FetchAttribute::Flags,
        "INTERNALDATE" => FetchAttribute::InternalDate,
        "RFC822.SIZE" => FetchAttribute::Rfc822Size,
        "RFC822" => FetchAttribute::Rfc822,
        "RFC822.HEADER" => FetchAttribute::Rfc822Header,
        "RFC822.TEXT" => FetchAttribute::Rfc822Text,
        "BODYSTRUCTURE" => FetchAttribute::BodyStructure,
        "UID" => FetchAttribute::Uid,
        "MODSEQ" => FetchAttribute::Modseq,
        "BODY" if lexer.peek() != Some(b'[') => FetchAttribute::Body,
        "BODY" | "BODY.PEEK" => {
            let section = section(lexer)?;
            FetchAttribute::BodySection {
                section,
                partial: partial(lexer)?,
                peek: name == "BODY.PEEK",
            }
        }
        "BINARY" | "BINARY.PEEK" => {
            let section = section(lexer)?;
            FetchAttribute::Binary {
                section,
                partial: partial(lexer)?,
                peek: name == "BINARY.PEEK",
            }
        }
        "BINARY.SIZE" => FetchAttribute::BinarySize {
            section: section(lexer)?,
        },
        _ => return Err(SyntaxError("unknown FETCH item")),
    })
}

/// The items after the sequence set: a macro, one item, or a list.
pub fn attributes(lexer: &mut Lexer) -> Result<Vec<FetchAttribute>> {
    use FetchAttribute::*;
    // RFC 9051 6.4.5: the macros, expanded.
    if lexer.keyword("ALL") {
        return Ok(vec![Flags, InternalDate, Rfc822Size, Envelope]);
    }
    if lexer.keyword("FAST") {
        return Ok(vec![Flags, InternalDate, Rfc822Size]);
    }
    if lexer.keyword("FULL") {
        return Ok(vec![Flags, InternalDate, Rfc822Size, Envelope, Body]);
    }
    if lexer.peek() == Some(b'(') {
        return lexer.list(false, attribute);
    }
    Ok(vec![attribute(lexer)?])
}

pub fn modifiers(lexer: &mut Lexer) -> Result<FetchModifiers> {
    let mut modifiers = FetchModifiers::default();
    if lexer.at_end() {
        return Ok(modifiers);
    }
    lexer.sp()?;
    lexer.list(false, |l| {
        if l.keyword("CHANGEDSINCE") {
            l.sp()?;
            modifiers.changed_since = Some(l.number64()?);
        } else if l.keyword("VANISHED") {
            modifiers.vanished = true;
        } else {
            return Err(SyntaxError("unknown FETCH modifier"));
        }
        Ok(())
    })?;
    // RFC 7162 3.2.6: VANISHED only together with CHANGEDSINCE.
    if modifiers.vanished && modifiers.changed_since.is_none() {
        return Err(SyntaxError("VANISHED needs CHANGEDSINCE"));
    }
    Ok(modifiers)
}
