//! Writing responses (RFC 9051 7). The session builds typed responses; this
//! writes them, choosing quoted strings or literals so that no client text
//! can break the line structure.

use super::command::{Flag, StatusItem};
use super::sequence::compact;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    PreAuth,
    Bye,
}

/// Response codes (RFC 9051 7.1, RFC 4315, RFC 7162, RFC 5530, RFC 7889).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Alert,
    Capability(Vec<String>),
    PermanentFlags(Vec<Flag>, bool),
    ReadOnly,
    ReadWrite,
    TryCreate,
    UidNext(u32),
    UidValidity(u32),
    /// RFC 3501 7.1: the first unseen message (IMAP4rev1 SELECT only).
    Unseen(u32),
    /// RFC 4978 4.
    CompressionActive,
    HighestModseq(u64),
    NoModseq,
    /// RFC 7162 3.1.3: messages STORE skipped for UNCHANGEDSINCE.
    Modified(Vec<u32>),
    /// RFC 4315: the new message's UID(s).
    AppendUid {
        uid_validity: u32,
        uids: Vec<u32>,
    },
    CopyUid {
        uid_validity: u32,
        source: Vec<u32>,
        target: Vec<u32>,
    },
    /// RFC 7162 3.2.11: the previously selected mailbox is now closed.
    Closed,
    TooBig,
    Limit,
    OverQuota,
    NonExistent,
    AlreadyExists,
    AuthenticationFailed,
    Unavailable,
    InUse,
    Cannot,
    /// RFC 4469 6: a CATENATE URL that names nothing this user may read.
    BadUrl(String),
    NoPerm,
    ClientBug,
    ServerBug,
    ExpungeIssued,
    PrivacyRequired,
    BadCharset(Vec<String>),
    Parse,
    HasChildren,
}

/// A string written as a quoted string when safe, a literal otherwise.
pub fn string(out: &mut Vec<u8>, bytes: &[u8], utf8: bool) {
    let quotable = bytes.len() < 1024
        && bytes
            .iter()
            .all(|&b| b != b'\r' && b != b'\n' && b != 0 && ((0x20..0x7f).contains(&b) || b >= 0x80 && utf8))
        && (!utf8 || std::str::from_utf8(bytes).is_ok());
    if quotable {
        out.push(b'"');
        for &b in bytes {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, bytes);
    }
}

/// `{n}` CRLF bytes, or `~{n}` for content with NUL (RFC 3516 literal8).
pub fn literal(out: &mut Vec<u8>, bytes: &[u8]) {
    let prefix = if bytes.contains(&0) { "~" } else { "" };
    out.extend_from_slice(format!("{prefix}{{{}}}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

pub fn nstring(out: &mut Vec<u8>, bytes: Option<&[u8]>, utf8: bool) {
    match bytes {
        Some(bytes) => string(out, bytes, utf8),
        None => out.extend_from_slice(b"NIL"),
    }
}

pub fn flag(flag: &Flag) -> &str {
    match flag {
        Flag::Seen => "\\Seen",
        Flag::Answered => "\\Answered",
        Flag::Flagged => "\\Flagged",
        Flag::Deleted => "\\Deleted",
        Flag::Draft => "\\Draft",
        Flag::Keyword(keyword) => keyword,
    }
}

pub fn flag_list(flags: &[Flag]) -> String {
    let names: Vec<&str> = flags.iter().map(flag).collect();
    format!("({})", names.join(" "))
}

pub fn status_item(item: StatusItem) -> &'static str {
    match item {
        StatusItem::Messages => "MESSAGES",
        StatusItem::UidNext => "UIDNEXT",
        StatusItem::UidValidity => "UIDVALIDITY",
        StatusItem::Unseen => "UNSEEN",
        StatusItem::Deleted => "DELETED",
        StatusItem::Size => "SIZE",
        StatusItem::HighestModseq => "HIGHESTMODSEQ",
        StatusItem::Recent => "RECENT",
    }
}

/// `"17-Jul-1996 02:44:25 -0700"` (RFC 9051 9 date-time), written in the
/// zone `zone` minutes east of UTC.
pub fn date_time(secs: i64, zone: i16) -> String {
    use estafeta_core::time::{MONTH_NAMES, civil};
    let c = civil(secs + i64::from(zone) * 60);
    let sign = if zone < 0 { '-' } else { '+' };
    let zone = zone.unsigned_abs();
    format!(
        "\"{:02}-{}-{:04} {:02}:{:02}:{:02} {sign}{:02}{:02}\"",
        c.day,
        MONTH_NAMES[(c.month - 1) as usize],
        c.year,
        c.hour,
        c.minute,
        c.second,
        zone / 60,
        zone % 60
    )
}

impl Code {
    fn write(&self, out: &mut String) {
        let _ = match self {
            Code::Alert => write!(out, "ALERT"),
            Code::Capability(caps) => write!(out, "CAPABILITY {}", caps.join(" ")),
            Code::PermanentFlags(flags, keywords) => {
                let mut names: Vec<&str> = flags.iter().map(flag).collect();
                if *keywords {
                    names.push("\\*");
                }
                write!(out, "PERMANENTFLAGS ({})", names.join(" "))
            }
            Code::ReadOnly => write!(out, "READ-ONLY"),
            Code::ReadWrite => write!(out, "READ-WRITE"),
            Code::TryCreate => write!(out, "TRYCREATE"),
            Code::UidNext(n) => write!(out, "UIDNEXT {n}"),
            Code::UidValidity(n) => write!(out, "UIDVALIDITY {n}"),
            Code::Unseen(n) => write!(out, "UNSEEN {n}"),
            Code::CompressionActive => write!(out, "COMPRESSIONACTIVE"),
            Code::HighestModseq(n) => write!(out, "HIGHESTMODSEQ {n}"),
            Code::NoModseq => write!(out, "NOMODSEQ"),
            Code::Modified(set) => write!(out, "MODIFIED {}", compact(set)),
            Code::AppendUid { uid_validity, uids } => write!(out, "APPENDUID {uid_validity} {}", compact(uids)),
            // RFC 4315 3: the two sets in matching order, not compacted
            // apart (compact keeps order for ascending input).
            Code::CopyUid {
                uid_validity,
                source,
                target,
            } => {
                write!(out, "COPYUID {uid_validity} {} {}", compact(source), compact(target))
            }
            Code::Closed => write!(out, "CLOSED"),
            Code::TooBig => write!(out, "TOOBIG"),
            Code::Limit => write!(out, "LIMIT"),
            Code::OverQuota => write!(out, "OVERQUOTA"),
            Code::NonExistent => write!(out, "NONEXISTENT"),
            Code::AlreadyExists => write!(out, "ALREADYEXISTS"),
            Code::AuthenticationFailed => write!(out, "AUTHENTICATIONFAILED"),
            Code::Unavailable => write!(out, "UNAVAILABLE"),
            Code::InUse => write!(out, "INUSE"),
            Code::Cannot => write!(out, "CANNOT"),
            Code::BadUrl(url) => write!(out, "BADURL \"{}\"", url.replace(['"', '\\'], "")),
            Code::NoPerm => write!(out, "NOPERM"),
            Code::ClientBug => write!(out, "CLIENTBUG"),
            Code::ServerBug => write!(out, "SERVERBUG"),
            Code::ExpungeIssued => write!(out, "EXPUNGEISSUED"),
            Code::PrivacyRequired => write!(out, "PRIVACYREQUIRED"),
            Code::BadCharset(charsets) => write!(out, "BADCHARSET ({})", charsets.join(" ")),
            Code::Parse => write!(out, "PARSE"),
            Code::HasChildren => write!(out, "HASCHILDREN"),
        };
    }
}

/// A status response: tagged, or untagged (`*`) without a tag.
pub fn status(out: &mut Vec<u8>, tag: Option<&str>, status: Status, code: Option<&Code>, text: &str) {
    let mut line = String::new();
    line.push_str(tag.unwrap_or("*"));
    line.push_str(match status {
        Status::Ok => " OK ",
        Status::No => " NO ",
        Status::Bad => " BAD ",
        Status::PreAuth => " PREAUTH ",
        Status::Bye => " BYE ",
    });
    if let Some(code) = code {
        line.push('[');
        code.write(&mut line);
        line.push_str("] ");
    }
    // resp-text is TEXT-CHARs: no CR or LF, whatever a caller passes.
    line.extend(text.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }));
    line.push_str("\r\n");
    out.extend_from_slice(line.as_bytes());
}

/// `+ text` (RFC 9051 7.5): go ahead with the literal or the SASL step.
pub fn continuation(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(format!("+ {text}\r\n").as_bytes());
}

/// An untagged data line written as given (`* 23 EXISTS`).
pub fn untagged(out: &mut Vec<u8>, data: &str) {
    out.extend_from_slice(format!("* {data}\r\n").as_bytes());
}

/// `* VANISHED [(EARLIER)] uids` (RFC 7162 3.2.10).
pub fn vanished(out: &mut Vec<u8>, earlier: bool, uids: &[u32]) {
    if uids.is_empty() {
        return;
    }
    let earlier = if earlier { "(EARLIER) " } else { "" };
    untagged(out, &format!("VANISHED {earlier}{}", compact(uids)));
}

/// `* LIST (attributes) "/" name` with the name already encoded.
pub fn list(out: &mut Vec<u8>, command: &str, attributes: &[&str], delimiter: char, name: &[u8], utf8: bool) {
    list_extended(out, command, attributes, delimiter, name, utf8, "");
}

/// A LIST response with RFC 5258 extended data items after the name
/// (`("CHILDINFO" ("SUBSCRIBED"))`); none when `extended` is empty.
pub fn list_extended(
    out: &mut Vec<u8>,
    command: &str,
    attributes: &[&str],
    delimiter: char,
    name: &[u8],
    utf8: bool,
    extended: &str,
) {
    out.extend_from_slice(format!("* {command} ({}) \"{delimiter}\" ", attributes.join(" ")).as_bytes());
    string(out, name, utf8);
    if !extended.is_empty() {
        out.push(b' ');
        out.extend_from_slice(extended.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// `* STATUS name (ITEM n ...)`.
pub fn status_data(out: &mut Vec<u8>, name: &[u8], items: &[(StatusItem, u64)], utf8: bool) {
    out.extend_from_slice(b"* STATUS ");
    string(out, name, utf8);
    let body: Vec<String> = items
        .iter()
        .map(|(item, n)| format!("{} {n}", status_item(*item)))
        .collect();
    out.extend_from_slice(format!(" ({})\r\n", body.join(" ")).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn status_lines_from_rfc_9051() {
        assert_eq!(
            text(|o| status(o, Some("a001"), Status::Ok, None, "LOGIN completed")),
            "a001 OK LOGIN completed\r\n"
        );
        assert_eq!(
            text(|o| status(o, None, Status::Ok, Some(&Code::UidValidity(3857529045)), "UIDs valid")),
            "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
        );
        assert_eq!(
            text(|o| status(
                o,
                Some("A003"),
                Status::Ok,
                Some(&Code::AppendUid {
                    uid_validity: 38505,
                    uids: vec![3955]
                }),
                "APPEND completed"
            )),
            "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"
        );
        assert_eq!(
            text(|o| status(
                o,
                Some("A004"),
                Status::Ok,
                Some(&Code::CopyUid {
                    uid_validity: 38505,
                    source: vec![304, 319, 320],
                    target: vec![3956, 3957, 3958]
                }),
                "Done"
            )),
            "A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"
        );
        let flags = Code::PermanentFlags(vec![Flag::Deleted, Flag::Seen], true);
        assert_eq!(
            text(|o| status(o, None, Status::Ok, Some(&flags), "Limited")),
            "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"
        );
        assert_eq!(
            text(|o| status(o, Some("t"), Status::No, None, "evil\r\n* OK injected")),
            "t NO evil  * OK injected\r\n"
        );
        assert_eq!(
            text(|o| status(o, Some("a"), Status::Ok, Some(&Code::Modified(vec![7, 9])), "x")),
            "a OK [MODIFIED 7,9] x\r\n"
        );
    }

    #[test]
    fn strings_choose_quoted_or_literal() {
        assert_eq!(text(|o| string(o, b"plain", false)), "\"plain\"");
        assert_eq!(
            text(|o| string(o, b"say \"hi\" \\o/", false)),
            "\"say \\\"hi\\\" \\\\o/\""
        );
        assert_eq!(text(|o| string(o, b"two\r\nlines", false)), "{10}\r\ntwo\r\nlines");
        assert_eq!(text(|o| string(o, "ol\u{e1}".as_bytes(), false)), "{4}\r\nol\u{e1}");
        assert_eq!(text(|o| string(o, "ol\u{e1}".as_bytes(), true)), "\"ol\u{e1}\"");
        assert_eq!(text(|o| nstring(o, None, true)), "NIL");
        let mut out = Vec::new();
        literal(&mut out, b"a\0b");
        assert_eq!(out, b"~{3}\r\na\0b");
    }

    #[test]
    fn data_lines() {
        assert_eq!(
            text(|o| list(o, "LIST", &["\\HasNoChildren", "\\Junk"], '/', b"Junk", true)),
            "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"\r\n"
        );
        assert_eq!(
            text(|o| status_data(
                o,
                b"blurdybloop",
                &[(StatusItem::Messages, 231), (StatusItem::UidNext, 44292)],
                true
            )),
            "* STATUS \"blurdybloop\" (MESSAGES 231 UIDNEXT 44292)\r\n"
        );
        assert_eq!(
            text(|o| vanished(o, true, &[41, 43, 44, 45, 46, 47])),
            "* VANISHED (EARLIER) 41,43:47\r\n"
        );
        assert_eq!(text(|o| vanished(o, false, &[])), "");
        assert_eq!(text(|o| continuation(o, "Ready")), "+ Ready\r\n");
    }

    #[test]
    fn dates() {
        assert_eq!(date_time(837_596_665, 0), "\"17-Jul-1996 09:44:25 +0000\"");
        assert_eq!(date_time(837_596_665, -420), "\"17-Jul-1996 02:44:25 -0700\"");
        assert_eq!(date_time(1_174_761_000, 330), "\"25-Mar-2007 00:00:00 +0530\"");
        assert_eq!(date_time(0, 0), "\"01-Jan-1970 00:00:00 +0000\"");
    }
}
