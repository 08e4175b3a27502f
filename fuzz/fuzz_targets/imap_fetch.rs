//! FETCH responses over arbitrary (malformed) MIME: the structure parser,
//! ENVELOPE/BODYSTRUCTURE, every section of every part, BINARY decoding
//! and SEARCH's decoded text, and SORT's base subject, must neither panic
//! nor write a response a client cannot parse.
#![no_main]

use estafeta_core::model::Flags;
use estafeta_imap::message::binary::encode_binary_parts;
use estafeta_imap::message::mime::{Kind, Part};
use estafeta_core::subject::base_subject;
use estafeta_imap::message::text::{Needle, Searchable};
use estafeta_imap::message::{Parsed, render};
use estafeta_imap::proto::fetch::{FetchAttribute, Section, SectionText};
use estafeta_store::{BlobId, MessageMeta};
use libfuzzer_sys::fuzz_target;

fn paths(part: &Part, prefix: &mut Vec<u32>, out: &mut Vec<Vec<u32>>) {
    if out.len() > 64 {
        return;
    }
    out.push(prefix.clone());
    let children: &[Part] = match &part.kind {
        Kind::Multipart(parts) => parts,
        Kind::Message(inner) => match &inner.kind {
            Kind::Multipart(parts) => parts,
            _ => std::slice::from_ref(inner.as_ref()),
        },
        Kind::Leaf => return,
    };
    for (i, child) in children.iter().enumerate().take(8) {
        prefix.push(i as u32 + 1);
        paths(child, prefix, out);
        prefix.pop();
    }
}

/// Walks a response the way a client reads it: literals by their count,
/// quoted strings to their quote; parentheses must balance and the line
/// must end where it says.
fn check_response(out: &[u8]) {
    assert!(out.starts_with(b"* 1 FETCH ("));
    assert!(out.ends_with(b")\r\n"));
    let body = &out[..out.len() - 2];
    let (mut i, mut depth) = (0usize, 0i64);
    while i < body.len() {
        match body[i] {
            b'"' => {
                i += 1;
                while body[i] != b'"' {
                    assert!(body[i] != b'\r' && body[i] != b'\n');
                    i += if body[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                let close = i + body[i..].iter().position(|&b| b == b'}').unwrap();
                let n: usize = std::str::from_utf8(&body[i + 1..close]).unwrap().parse().unwrap();
                assert_eq!(&body[close + 1..close + 3], b"\r\n");
                i = close + 2 + n;
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'\r' | b'\n' => panic!("line break outside a literal"),
            _ => {}
        }
        assert!(depth >= 0);
        i += 1;
    }
    assert_eq!(depth, 0);
}

fuzz_target!(|data: &[u8]| {
    // APPEND of literal8 (RFC 3516 4.4): binary parts to base64; what
    // comes out must parse again.
    let stored = encode_binary_parts(data);
    let _ = Parsed::new(&stored);
    let parsed = Parsed::new(data);
    // SORT and THREAD's base subject (RFC 5256 2.1): trimmed, one space
    // at most between words, whatever the subject held.
    let base = base_subject(parsed.envelope.subject.as_deref().unwrap_or(data));
    assert_eq!(base.text.trim(), base.text);
    assert!(!base.text.contains("  "));
    let mut all = Vec::new();
    paths(&parsed.root, &mut Vec::new(), &mut all);
    let mut attributes = vec![
        FetchAttribute::Envelope,
        FetchAttribute::BodyStructure,
        FetchAttribute::Body,
        FetchAttribute::Rfc822Header,
        FetchAttribute::Rfc822Text,
    ];
    for path in &all {
        let texts = [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
            Some(SectionText::HeaderFields { not: false, fields: vec!["Subject".into(), "From".into()] }),
            Some(SectionText::HeaderFields { not: true, fields: vec!["Received".into()] }),
        ];
        for text in texts {
            if matches!(text, Some(SectionText::Mime)) && path.is_empty() {
                continue;
            }
            attributes.push(FetchAttribute::BodySection {
                section: Section { part: path.clone(), text: text.clone() },
                partial: Some((data.len() as u64 / 3, 7)),
                peek: true,
            });
            attributes.push(FetchAttribute::BinarySize { section: Section { part: path.clone(), text } });
        }
    }
    let meta = MessageMeta {
        mailbox: estafeta_core::model::MailboxId(1),
        uid: 1,
        modseq: 1,
        blob: BlobId::of(data),
        size: data.len() as u64,
        internal_date: 0,
        date_zone: 0,
        flags: Flags::default(),
    };
    for utf8 in [false, true] {
        // An undecodable part is a tagged NO for the client, not a bad line.
        if let Ok(out) = render::fetch_response(1, &meta, false, &attributes, Some(&parsed), Some(data), utf8) {
            check_response(&out);
        }
    }
    let searchable = Searchable::new(data);
    let _ = searchable.text_contains(&Needle::new(b"caf\xc3\xa9"));
    let _ = searchable.header("subject");
});
