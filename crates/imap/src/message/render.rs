//! Writing one FETCH response (RFC 9051 7.5.2) from a message's metadata,
//! its parsed structure and, where an item needs it, its content.

use super::Parsed;
use super::mime::Part;
use super::section::{self, BinaryError};
use crate::proto::fetch::{FetchAttribute, Section, SectionText};
use crate::proto::response;
use crate::session::selected::flags_list;
use estafeta_store::MessageMeta;
use std::borrow::Cow;

/// A part's content decoded from its transfer encoding (RFC 3516 4.1); a
/// header, MIME header or TEXT section is what BODY[] gives, as header
/// fields carry no transfer encoding and TEXT is the enclosed message as
/// written.
fn binary_data<'a>(root: &Part, bytes: &'a [u8], section: &Section) -> Result<Cow<'a, [u8]>, BinaryError> {
    match section.text {
        None => section::binary_section(root, bytes, &section.part),
        Some(_) => section::body_section(root, bytes, section).ok_or(BinaryError::NoSuchPart),
    }
}

fn section_name(section: &Section) -> String {
    let mut name: Vec<String> = section.part.iter().map(u32::to_string).collect();
    match &section.text {
        None => {}
        Some(SectionText::Header) => name.push("HEADER".into()),
        Some(SectionText::Text) => name.push("TEXT".into()),
        Some(SectionText::Mime) => name.push("MIME".into()),
        Some(SectionText::HeaderFields { not, fields }) => {
            let keyword = if *not { "HEADER.FIELDS.NOT" } else { "HEADER.FIELDS" };
            let quoted: Vec<String> = fields
                .iter()
                .map(|field| {
                    let mut out = Vec::new();
                    if field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                        out.extend_from_slice(field.as_bytes());
                    } else {
                        response::string(&mut out, field.as_bytes(), false);
                    }
                    String::from_utf8_lossy(&out).into_owned()
                })
                .collect();
            name.push(format!("{keyword} ({})", quoted.join(" ")));
        }
    }
    name.join(".")
}

fn origin(partial: Option<(u64, u64)>) -> String {
    partial.map(|(start, _)| format!("<{start}>")).unwrap_or_default()
}

/// One `* n FETCH (...)` response line for `attributes`. `parsed` must
/// be there when any item needs the structure, `bytes` when any needs
/// content; `recent`: the message is \Recent in this session.
pub fn fetch_response(
    seq: usize,
    meta: &MessageMeta,
    recent: bool,
    attributes: &[FetchAttribute],
    parsed: Option<&Parsed>,
    bytes: Option<&[u8]>,
    utf8: bool,
) -> Result<Vec<u8>, BinaryError> {
    let mut out = format!("* {seq} FETCH (").into_bytes();
    let empty: &[u8] = b"";
    let bytes = bytes.unwrap_or(empty);
    for (n, attribute) in attributes.iter().enumerate() {
        if n > 0 {
            out.push(b' ');
        }
        let parsed = || parsed.expect("parsed when needed");
        match attribute {
            FetchAttribute::Uid => out.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
            FetchAttribute::Flags => {
                out.extend_from_slice(format!("FLAGS {}", flags_list(&meta.flags, recent)).as_bytes())
            }
            FetchAttribute::InternalDate => out.extend_from_slice(
                format!(
                    "INTERNALDATE {}",
                    response::date_time(meta.internal_date, meta.date_zone)
                )
                .as_bytes(),
            ),
            FetchAttribute::Rfc822Size => out.extend_from_slice(format!("RFC822.SIZE {}", meta.size).as_bytes()),
            FetchAttribute::Modseq => out.extend_from_slice(format!("MODSEQ ({})", meta.modseq).as_bytes()),
            FetchAttribute::Envelope => {
                out.extend_from_slice(b"ENVELOPE ");
                if utf8 {
                    parsed().envelope.write(&mut out, true);
                } else {
                    out.extend_from_slice(&parsed().envelope_ascii);
                }
            }
            FetchAttribute::BodyStructure => {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                out.extend_from_slice(&parsed().body_structure);
            }
            FetchAttribute::Body => {
                out.extend_from_slice(b"BODY ");
                out.extend_from_slice(&parsed().body);
            }
            FetchAttribute::Rfc822 => {
                out.extend_from_slice(b"RFC822 ");
                response::literal(&mut out, bytes);
            }
            FetchAttribute::Rfc822Header => {
                out.extend_from_slice(b"RFC822.HEADER ");
                response::literal(&mut out, &bytes[parsed().root.header.clone()]);
            }
            FetchAttribute::Rfc822Text => {
                out.extend_from_slice(b"RFC822.TEXT ");
                response::literal(&mut out, &bytes[parsed().root.body.clone()]);
            }
            FetchAttribute::BodySection { section, partial, .. } => {
                out.extend_from_slice(format!("BODY[{}]{} ", section_name(section), origin(*partial)).as_bytes());
                // RFC 9051 6.4.5: a part that does not exist is empty.
                match section::body_section(&parsed().root, bytes, section) {
                    Some(data) => response::literal(&mut out, section::partial(&data, *partial)),
                    None => out.extend_from_slice(b"\"\""),
                }
            }
            FetchAttribute::Binary { section, partial, .. } => {
                let data = binary_data(&parsed().root, bytes, section)?;
                out.extend_from_slice(format!("BINARY[{}]{} ", section_name(section), origin(*partial)).as_bytes());
                response::literal(&mut out, section::partial(&data, *partial));
            }
            FetchAttribute::BinarySize { section } => {
                let data = binary_data(&parsed().root, bytes, section)?;
                out.extend_from_slice(format!("BINARY.SIZE[{}] {}", section_name(section), data.len()).as_bytes());
            }
        }
    }
    out.extend_from_slice(b")\r\n");
    Ok(out)
}
