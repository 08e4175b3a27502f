//! The bytes of `BODY[section]` and `BINARY[part]` (RFC 9051 6.4.5,
//! RFC 3516 4.2).

use super::mime::{Kind, Part, fields};
use crate::proto::fetch::{Section, SectionText};
use std::borrow::Cow;

/// The bytes a section names, or `None` when the part does not exist.
pub fn body_section<'a>(root: &Part, bytes: &'a [u8], section: &Section) -> Option<Cow<'a, [u8]>> {
    let part = root.find(&section.part)?;
    let whole = section.part.is_empty();
    // HEADER, TEXT and HEADER.FIELDS of a part refer to the message it
    // encloses (RFC 9051 6.4.5); MIME to the part's own header.
    let message = || -> Option<&Part> {
        if whole {
            return Some(part);
        }
        match &part.kind {
            Kind::Message(inner) => Some(inner.as_ref()),
            _ => None,
        }
    };
    Some(match &section.text {
        None if whole => Cow::Borrowed(bytes),
        None => Cow::Borrowed(&bytes[part.body.clone()]),
        Some(SectionText::Mime) => Cow::Borrowed(&bytes[part.header.clone()]),
        Some(SectionText::Header) => Cow::Borrowed(&bytes[message()?.header.clone()]),
        Some(SectionText::Text) => Cow::Borrowed(&bytes[message()?.body.clone()]),
        Some(SectionText::HeaderFields { not, fields: names }) => {
            let header = &bytes[message()?.header.clone()];
            let mut out = Vec::new();
            for field in fields(header) {
                let listed = names.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(field.name));
                if listed != *not {
                    out.extend_from_slice(&header[field.raw.clone()]);
                    if !out.ends_with(b"\n") {
                        out.extend_from_slice(b"\r\n");
                    }
                }
            }
            out.extend_from_slice(b"\r\n");
            Cow::Owned(out)
        }
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum BinaryError {
    NoSuchPart,
    /// RFC 3516 4.3 [UNKNOWN-CTE].
    UnknownEncoding,
}

/// The decoded content of a part (`BINARY[1.2]`): transfer encoding undone.
pub fn binary_section<'a>(root: &Part, bytes: &'a [u8], path: &[u32]) -> Result<Cow<'a, [u8]>, BinaryError> {
    let part = root.find(path).ok_or(BinaryError::NoSuchPart)?;
    if path.is_empty() {
        return Ok(Cow::Borrowed(bytes));
    }
    let body = &bytes[part.body.clone()];
    if !matches!(part.kind, Kind::Leaf) {
        return Ok(Cow::Borrowed(body));
    }
    let encoding = part.encoding.as_deref().unwrap_or("7bit").to_ascii_lowercase();
    match encoding.as_str() {
        "7bit" | "8bit" | "binary" => Ok(Cow::Borrowed(body)),
        "base64" => {
            let clean: Vec<u8> = body.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
            mail_parser::decoders::base64::base64_decode(&clean)
                .map(Cow::Owned)
                .ok_or(BinaryError::UnknownEncoding)
        }
        "quoted-printable" => mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
            .map(Cow::Owned)
            .ok_or(BinaryError::UnknownEncoding),
        _ => Err(BinaryError::UnknownEncoding),
    }
}

/// `<start.length>` applied (RFC 9051 6.4.5): past the end is empty.
pub fn partial(bytes: &[u8], partial: Option<(u64, u64)>) -> &[u8] {
    match partial {
        None => bytes,
        Some((start, length)) => {
            let start = (start.min(bytes.len() as u64)) as usize;
            let end = (start as u64).saturating_add(length).min(bytes.len() as u64) as usize;
            &bytes[start..end]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::mime::parse;
    use super::*;

    const MESSAGE: &[u8] = b"Subject: s\r\nFrom: a@b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs\r\nbG8=\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\nX: y\r\n\r\ninner\r\n--b--\r\n";

    fn section(part: &[u32], text: Option<SectionText>) -> String {
        let root = parse(MESSAGE);
        let section = Section {
            part: part.to_vec(),
            text,
        };
        String::from_utf8(body_section(&root, MESSAGE, &section).unwrap().into_owned()).unwrap()
    }

    #[test]
    fn sections() {
        assert_eq!(section(&[], Some(SectionText::Header)).lines().count(), 4);
        assert_eq!(section(&[1], None), "hi");
        assert_eq!(
            section(&[1], Some(SectionText::Mime)),
            "Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(section(&[3], Some(SectionText::Text)), "inner");
        assert_eq!(section(&[3], Some(SectionText::Header)), "Subject: in\r\nX: y\r\n\r\n");
        let fields = SectionText::HeaderFields {
            not: false,
            fields: vec!["SUBJECT".to_owned()],
        };
        assert_eq!(section(&[], Some(fields)), "Subject: s\r\n\r\n");
        let not = SectionText::HeaderFields {
            not: true,
            fields: vec!["subject".to_owned(), "content-type".to_owned()],
        };
        assert_eq!(section(&[], Some(not)), "From: a@b\r\n\r\n");
        let root = parse(MESSAGE);
        let header_of_leaf = Section {
            part: vec![1],
            text: Some(SectionText::Header),
        };
        assert!(body_section(&root, MESSAGE, &header_of_leaf).is_none());
    }

    #[test]
    fn a_message_that_is_message_rfc822_has_it_as_part_1_and_a_leaf_has_nothing_below() {
        // RFC 3501 6.4.5: a non-multipart message has one part, 1: its
        // body, here an enclosed message with its own HEADER and TEXT.
        let top: &[u8] = b"Subject: top\r\nContent-Type: message/rfc822\r\n\r\nSubject: enc\r\n\r\nenc body\r\n";
        let root = parse(top);
        let get = |part: &[u32], text: Option<SectionText>| {
            let section = Section {
                part: part.to_vec(),
                text,
            };
            body_section(&root, top, &section).map(|c| String::from_utf8(c.into_owned()).unwrap())
        };
        assert_eq!(get(&[1], None).as_deref(), Some("Subject: enc\r\n\r\nenc body\r\n"));
        assert_eq!(
            get(&[1], Some(SectionText::Header)).as_deref(),
            Some("Subject: enc\r\n\r\n")
        );
        assert_eq!(get(&[1], Some(SectionText::Text)).as_deref(), Some("enc body\r\n"));
        assert_eq!(get(&[1, 1], None).as_deref(), Some("enc body\r\n"));
        assert_eq!(get(&[1, 1, 1], None), None, "a leaf has no part 1");
        assert_eq!(get(&[2], None), None);
        // The same for a plain message: 1 is its body, 1.1 is nothing.
        let plain: &[u8] = b"Subject: p\r\n\r\nbody\r\n";
        let root = parse(plain);
        let section = |part: &[u32]| Section {
            part: part.to_vec(),
            text: None,
        };
        assert_eq!(
            body_section(&root, plain, &section(&[1])).as_deref(),
            Some(&b"body\r\n"[..])
        );
        assert!(body_section(&root, plain, &section(&[1, 1])).is_none());
    }

    #[test]
    fn binary_decodes() {
        let root = parse(MESSAGE);
        assert_eq!(binary_section(&root, MESSAGE, &[2]).unwrap().as_ref(), b"hello");
        assert_eq!(binary_section(&root, MESSAGE, &[1]).unwrap().as_ref(), b"hi");
        assert_eq!(binary_section(&root, MESSAGE, &[9]), Err(BinaryError::NoSuchPart));
    }

    #[test]
    fn partials() {
        assert_eq!(partial(b"0123456789", Some((2, 3))), b"234");
        assert_eq!(partial(b"0123", Some((10, 3))), b"");
        assert_eq!(partial(b"0123", Some((2, u64::MAX))), b"23");
    }
}
