//! IMAP URLs (RFC 5092) as CATENATE (RFC 4469) takes them: relative to
//! this server, naming a message or a part of one.

/// What an IMAP URL's path names: `/mailbox[;UIDVALIDITY=n]/;UID=n
/// [/;SECTION=s][/;PARTIAL=o[.l]]` (RFC 5092 2, 7).
pub struct ImapUrl {
    /// The mailbox name as in a command (percent-decoding undone).
    pub mailbox: Vec<u8>,
    pub uid_validity: Option<u32>,
    pub uid: u32,
    /// As in FETCH BODY[...], without the brackets.
    pub section: Option<String>,
    /// Start and length; the length is unbounded when not given.
    pub partial: Option<(u64, u64)>,
}

fn percent_decoded(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

pub fn parse(url: &str) -> Option<ImapUrl> {
    // A relative URL (RFC 5092 7.2): an absolute one could name another
    // server, whose messages are not ours to read.
    let path = url.strip_prefix('/')?;
    let mut segments = path.split("/;");
    let first = segments.next()?;
    let (mailbox, validity) = match first.split_once(';') {
        Some((mailbox, parameter)) => {
            let (name, value) = parameter.split_once('=')?;
            if !name.eq_ignore_ascii_case("UIDVALIDITY") {
                return None;
            }
            (mailbox, Some(value.parse().ok()?))
        }
        None => (first, None),
    };
    let mut target = ImapUrl {
        mailbox: percent_decoded(mailbox.trim_end_matches('/'))?,
        uid_validity: validity,
        uid: 0,
        section: None,
        partial: None,
    };
    for segment in segments {
        let (name, value) = segment.trim_end_matches('/').split_once('=')?;
        match name.to_ascii_uppercase().as_str() {
            "UID" if target.uid == 0 => target.uid = value.parse().ok().filter(|&u| u > 0)?,
            "SECTION" if target.uid != 0 && target.section.is_none() => {
                target.section = Some(String::from_utf8(percent_decoded(value)?).ok()?)
            }
            "PARTIAL" if target.uid != 0 && target.partial.is_none() => {
                let (start, length) = match value.split_once('.') {
                    Some((start, length)) => (start.parse().ok()?, length.parse().ok().filter(|&l| l > 0)?),
                    None => (value.parse().ok()?, u64::MAX),
                };
                target.partial = Some((start, length));
            }
            _ => return None,
        }
    }
    (target.uid != 0).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_urls_of_rfc_5092() {
        let t = parse("/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9").unwrap();
        assert_eq!(
            (t.mailbox, t.uid_validity, t.uid, t.section.as_deref()),
            (b"INBOX".to_vec(), Some(785_799_047), 113_330, Some("1.5.9"))
        );
        let t = parse("/Drafts/;uid=20/;section=HEADER/;partial=0.1024").unwrap();
        assert_eq!((t.mailbox, t.uid, t.partial), (b"Drafts".to_vec(), 20, Some((0, 1024))));
        let t = parse("/a%20b/;UID=1").unwrap();
        assert_eq!(t.mailbox, b"a b".to_vec());
        for bad in [
            "imap://joe@example.com/INBOX/;UID=1",
            "/INBOX",
            "/INBOX/;UID=0",
            "/INBOX/;UID=x",
            "/INBOX;FOO=1/;UID=1",
            "/INBOX/;SECTION=1",
            "/INBOX/;UID=1/;UID=2",
            "/INBOX/;UID=1/;PARTIAL=1.0",
            "/a%2/;UID=1",
            "/a%+1/;UID=1",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
