//! BODYSTRUCTURE and BODY (RFC 9051 7.5.2) from the MIME tree.

use super::envelope::Envelope;
use super::mime::{Kind, Part};
use crate::proto::response::{nstring, string};

/// Writes the structure of `part`; `extensible` adds the extension data
/// of BODYSTRUCTURE, which BODY leaves out.
pub fn write(out: &mut Vec<u8>, part: &Part, bytes: &[u8], extensible: bool) {
    out.push(b'(');
    match &part.kind {
        Kind::Multipart(children) => {
            for child in children {
                write(out, child, bytes, extensible);
            }
            out.push(b' ');
            string(out, part.subtype.as_bytes(), false);
            if extensible {
                out.push(b' ');
                write_params(out, &part.params);
                write_extension(out, part);
            }
        }
        kind => {
            string(out, part.media_type.as_bytes(), false);
            out.push(b' ');
            string(out, part.subtype.as_bytes(), false);
            out.push(b' ');
            write_params(out, &part.params);
            out.push(b' ');
            nstring(out, part.id.as_deref(), false);
            out.push(b' ');
            nstring(out, part.description.as_deref(), false);
            out.push(b' ');
            string(out, part.encoding.as_deref().unwrap_or("7bit").as_bytes(), false);
            out.extend_from_slice(format!(" {}", part.body.len()).as_bytes());
            if let Kind::Message(inner) = kind {
                out.push(b' ');
                Envelope::of_header(&bytes[inner.header.clone()]).write(out, false);
                out.push(b' ');
                write(out, inner, bytes, extensible);
                out.extend_from_slice(format!(" {}", part.lines).as_bytes());
            } else if part.media_type.eq_ignore_ascii_case("text") {
                out.extend_from_slice(format!(" {}", part.lines).as_bytes());
            }
            if extensible {
                out.push(b' ');
                nstring(out, part.md5.as_deref(), false);
                write_extension(out, part);
            }
        }
    }
    out.push(b')');
}

fn write_params(out: &mut Vec<u8>, params: &[(String, String)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, name.as_bytes(), false);
        out.push(b' ');
        string(out, value.as_bytes(), false);
    }
    out.push(b')');
}

/// body-fld-dsp, body-fld-lang, body-fld-loc.
fn write_extension(out: &mut Vec<u8>, part: &Part) {
    out.push(b' ');
    match &part.disposition {
        Some((value, params)) => {
            out.push(b'(');
            string(out, value.as_bytes(), false);
            out.push(b' ');
            write_params(out, params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match part.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [one] => string(out, one.as_bytes(), false),
        many => {
            out.push(b'(');
            for (i, tag) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, tag.as_bytes(), false);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    nstring(out, part.location.as_deref(), false);
}

#[cfg(test)]
mod tests {
    use super::super::mime::parse;
    use super::*;

    fn render(message: &[u8], extensible: bool) -> String {
        let mut out = Vec::new();
        write(&mut out, &parse(message), message, extensible);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_text() {
        let message = b"Subject: x\r\n\r\nline one\r\nline two\r\n";
        assert_eq!(
            render(message, true),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL NIL)"
        );
        assert_eq!(
            render(message, false),
            "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2)"
        );
    }

    #[test]
    fn multipart_with_attachment_and_message() {
        let message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\n\
--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nQUJD\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n--b--\r\n";
        let text = render(message, true);
        assert_eq!(
            text,
            "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 2 1 NIL NIL NIL NIL)\
(\"application\" \"pdf\" (\"name\" \"a.pdf\") NIL NIL \"base64\" 4 NIL (\"attachment\" (\"filename\" \"a.pdf\")) NIL NIL)\
(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 19 (NIL \"in\" NIL NIL NIL NIL NIL NIL NIL NIL) \
(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) \
\"mixed\" (\"boundary\" \"b\") NIL NIL NIL)"
        );
    }
}
