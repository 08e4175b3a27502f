//! RFC 5256 2.1: the base subject, what SORT SUBJECT orders by and what
//! THREAD groups by. Compared with the i;ascii-casemap collation (RFC
//! 5256 2.1, RFC 4790 9.2): ASCII letters fold, nothing else does.

/// A subject reduced to its base, and whether reducing it removed a
/// reply or forward marker (RFC 5256 5, step 5's "reply or forward").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseSubject {
    pub text: String,
    pub reply_or_forward: bool,
}

impl BaseSubject {
    /// The i;ascii-casemap key: equal keys are equal subjects.
    pub fn key(&self) -> String {
        self.text.to_ascii_uppercase()
    }
}

/// The base subject of a Subject field's raw value.
pub fn base_subject(raw: &[u8]) -> BaseSubject {
    // (1) Encoded words decoded (RFC 2047), folding and runs of white
    // space as one space.
    let header = [b"Subject: ".as_slice(), raw, b"\r\n\r\n"].concat();
    let decoded = mail_parser::MessageParser::default()
        .parse_headers(&header)
        .and_then(|m| m.subject().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned());
    let mut subject = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut reply_or_forward = false;
    loop {
        // (2) subj-trailer: "(fwd)" and white space at the end.
        loop {
            let trimmed = subject.trim_end();
            match strip_suffix_ignoring_case(trimmed, "(fwd)") {
                Some(rest) => {
                    subject = rest.to_owned();
                    reply_or_forward = true;
                }
                None => {
                    subject = trimmed.to_owned();
                    break;
                }
            }
        }
        // (3), (4), repeated as (5) says.
        loop {
            let before = subject.len();
            loop {
                let trimmed = subject.trim_start();
                match strip_leader(trimmed) {
                    Some(rest) => {
                        subject = rest.to_owned();
                        reply_or_forward = true;
                    }
                    None => {
                        subject = trimmed.to_owned();
                        break;
                    }
                }
            }
            if let Some(rest) = strip_blob(&subject)
                && !rest.trim().is_empty()
            {
                subject = rest.to_owned();
            }
            if subject.len() == before {
                break;
            }
        }
        // (6) "[fwd: ...]" around the whole of it: unwrap, back to (2).
        let unwrapped = strip_prefix_ignoring_case(&subject, "[fwd:").and_then(|s| s.strip_suffix(']'));
        match unwrapped {
            Some(inner) => {
                subject = inner.to_owned();
                reply_or_forward = true;
            }
            None => {
                return BaseSubject {
                    text: subject,
                    reply_or_forward,
                };
            }
        }
    }
}

fn strip_prefix_ignoring_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

fn strip_suffix_ignoring_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let at = text.len().checked_sub(suffix.len())?;
    let tail = text.get(at..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &text[..at])
}

/// subj-blob = "[" *BLOBCHAR "]" *WSP, BLOBCHAR any CHAR but "[" and "]".
fn strip_blob(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('[')?;
    let end = inner.find(['[', ']'])?;
    (inner.as_bytes()[end] == b']').then(|| inner[end + 1..].trim_start())
}

/// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":".
fn strip_refwd(text: &str) -> Option<&str> {
    let rest = ["fwd", "fw", "re"]
        .iter()
        .find_map(|word| strip_prefix_ignoring_case(text, word))?
        .trim_start();
    let rest = strip_blob(rest).unwrap_or(rest);
    rest.strip_prefix(':')
}

/// subj-leader = (*subj-blob subj-refwd) / WSP; the white space is
/// trimmed by the caller.
fn strip_leader(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(after) = strip_blob(rest) {
        rest = after;
    }
    strip_refwd(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(raw: &str) -> (String, bool) {
        let found = base_subject(raw.as_bytes());
        (found.text, found.reply_or_forward)
    }

    #[test]
    fn reply_and_forward_markers_blobs_and_trailers_go() {
        assert_eq!(base("Re: Fwd: [list] Hello  World (fwd)"), ("Hello World".into(), true));
        assert_eq!(base("RE[2]: x"), ("x".into(), true));
        assert_eq!(base("[Fwd: topic]"), ("topic".into(), true));
        assert_eq!(base("Fw : [Fwd: Re: topic (fwd)]"), ("topic".into(), true));
        assert_eq!(base("=?utf-8?q?Re=3A_caf=C3=A9?="), ("café".into(), true));
        assert_eq!(base("  plain\t subject  "), ("plain subject".into(), false));
    }

    #[test]
    fn a_blob_stays_when_it_is_all_there_is_or_holds_a_bracket() {
        // RFC 5256 2.1 (4): removed only when something is left after it.
        assert_eq!(base("[announce]"), ("[announce]".into(), false));
        assert_eq!(base("[a] [b] news"), ("news".into(), false));
        // BLOBCHAR excludes "[": "[a[b] x" is no blob.
        assert_eq!(base("[a[b] x"), ("[a[b] x".into(), false));
        // "Re" without its colon is a word, not a marker.
        assert_eq!(base("Report: numbers"), ("Report: numbers".into(), false));
    }

    #[test]
    fn case_folds_for_ascii_letters_only() {
        // i;ascii-casemap (RFC 4790 9.2).
        assert_eq!(base_subject(b"LUNCH").key(), base_subject(b"re: lunch").key());
        assert_ne!(
            base_subject("\u{c9}t\u{e9}".as_bytes()).key(),
            base_subject("\u{e9}t\u{e9}".as_bytes()).key()
        );
    }
}
