//! What a message's bytes say as JMAP properties (RFC 8621 4.1.2 to
//! 4.1.4): header fields in their parsed forms, the body structure, and the
//! text of its body parts. The MIME parsing is mail-parser's, whose
//! `text_body`, `html_body` and `attachments` follow RFC 8621 4.1.4's
//! algorithm.

use crate::error::MethodError;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Address, Encoding, Header, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// The forms a header field can be asked in (RFC 8621 4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Raw,
    Text,
    Addresses,
    GroupedAddresses,
    MessageIds,
    Date,
    Urls,
}

/// A `header:{name}[:as{form}][:all]` property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderProperty {
    pub property: String,
    pub name: String,
    pub form: Form,
    pub all: bool,
}

impl HeaderProperty {
    /// Parses a property name that starts with `header:`; the error says
    /// why it cannot be (RFC 8621 4.1.2: a form the field cannot take is
    /// an invalid argument).
    pub fn parse(property: &str) -> Result<Option<HeaderProperty>, MethodError> {
        let Some(rest) = property.strip_prefix("header:") else {
            return Ok(None);
        };
        let mut pieces: Vec<&str> = rest.split(':').collect();
        let all = pieces.last() == Some(&"all") && pieces.len() > 1;
        if all {
            pieces.pop();
        }
        let form = match pieces.as_slice() {
            [_] => Form::Raw,
            [_, form] => match *form {
                "asRaw" => Form::Raw,
                "asText" => Form::Text,
                "asAddresses" => Form::Addresses,
                "asGroupedAddresses" => Form::GroupedAddresses,
                "asMessageIds" => Form::MessageIds,
                "asDate" => Form::Date,
                "asURLs" => Form::Urls,
                _ => return Err(MethodError::invalid_arguments(format!("unknown form in {property}"))),
            },
            _ => return Err(MethodError::invalid_arguments(format!("cannot read {property}"))),
        };
        let name = pieces[0];
        if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
            return Err(MethodError::invalid_arguments(format!(
                "no header field name in {property}"
            )));
        }
        if !form_allowed(name, form) {
            return Err(MethodError::invalid_arguments(format!(
                "{name} cannot be read as {form:?}"
            )));
        }
        Ok(Some(HeaderProperty {
            property: property.to_owned(),
            name: name.to_owned(),
            form,
            all,
        }))
    }
}

/// RFC 8621 4.1.2.1 to 4.1.2.7: which forms each field of RFC 5322 and
/// RFC 2369 may be read in; any other field may be read in every form.
fn form_allowed(name: &str, form: Form) -> bool {
    const ADDRESS: &[&str] = &[
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "bcc",
        "resent-from",
        "resent-sender",
        "resent-reply-to",
        "resent-to",
        "resent-cc",
        "resent-bcc",
    ];
    const IDS: &[&str] = &["message-id", "in-reply-to", "references", "resent-message-id"];
    const DATES: &[&str] = &["date", "resent-date"];
    const URLS: &[&str] = &[
        "list-help",
        "list-unsubscribe",
        "list-subscribe",
        "list-post",
        "list-owner",
        "list-archive",
    ];
    const TEXT: &[&str] = &["subject", "comments", "keywords", "list-id"];
    let name = name.to_ascii_lowercase();
    let known = [ADDRESS, IDS, DATES, URLS, TEXT]
        .iter()
        .find(|names| names.contains(&name.as_str()));
    match (form, known) {
        (Form::Raw, _) | (_, None) => true,
        (Form::Addresses | Form::GroupedAddresses, Some(names)) => *names == ADDRESS,
        (Form::MessageIds, Some(names)) => *names == IDS,
        (Form::Date, Some(names)) => *names == DATES,
        (Form::Urls, Some(names)) => *names == URLS,
        (Form::Text, Some(names)) => *names == TEXT,
    }
}

/// How deep `bodyStructure` goes: far past any real message's nesting.
const MAX_DEPTH: usize = 32;

/// A parsed message and the bytes it came from.
pub(crate) struct View<'a> {
    pub raw: &'a [u8],
    pub message: Message<'a>,
}

impl<'a> View<'a> {
    pub fn new(raw: &'a [u8]) -> View<'a> {
        let message = MessageParser::default().parse(raw).unwrap_or_default();
        View { raw, message }
    }

    /// The message's header alone: all a header property needs, for a
    /// fraction of the work of parsing the body's parts.
    pub fn header_only(raw: &'a [u8]) -> View<'a> {
        let message = MessageParser::default().parse_headers(raw).unwrap_or_default();
        View { raw, message }
    }

    fn headers(&self) -> &[Header<'a>] {
        self.message.parts.first().map_or(&[], |p| p.headers.as_slice())
    }

    /// A header property of the message's own header.
    pub fn header(&self, property: &HeaderProperty) -> Value {
        header_value(self.raw, self.headers(), property)
    }

    /// The convenience properties of RFC 8621 4.1.3.
    pub fn convenience(&self, property: &str) -> Option<Value> {
        let read = |name: &str, form: Form| {
            let property = HeaderProperty {
                property: String::new(),
                name: name.to_owned(),
                form,
                all: false,
            };
            self.header(&property)
        };
        Some(match property {
            "messageId" => read("Message-ID", Form::MessageIds),
            "inReplyTo" => read("In-Reply-To", Form::MessageIds),
            "references" => read("References", Form::MessageIds),
            "sender" => read("Sender", Form::Addresses),
            "from" => read("From", Form::Addresses),
            "to" => read("To", Form::Addresses),
            "cc" => read("Cc", Form::Addresses),
            "bcc" => read("Bcc", Form::Addresses),
            "replyTo" => read("Reply-To", Form::Addresses),
            "subject" => read("Subject", Form::Text),
            "sentAt" => read("Date", Form::Date),
            "headers" => raw_headers(self.raw, self.headers()),
            "hasAttachment" => json!(!self.message.attachments.is_empty()),
            // RFC 8621 4.1.4: up to 256 characters of plain text.
            "preview" => json!(self.message.body_preview(256).unwrap_or_default().trim()),
            _ => return None,
        })
    }

    /// The `bodyStructure` tree.
    pub fn structure(&self, properties: &[BodyProperty], blob: &str) -> Value {
        self.part(0, properties, blob, 0)
    }

    /// `textBody`, `htmlBody` or `attachments`: leaf parts, in order.
    pub fn parts(&self, ids: &[u32], properties: &[BodyProperty], blob: &str) -> Value {
        Value::Array(
            ids.iter()
                .map(|&id| self.part(id, properties, blob, MAX_DEPTH))
                .collect(),
        )
    }

    /// One part; its children below it while `depth` allows, and only
    /// parts after it, so no input can make the walk loop or run deep.
    fn part(&self, id: u32, properties: &[BodyProperty], blob: &str, depth: usize) -> Value {
        let children = |children: &[u32]| -> Value {
            let below = children.iter().filter(|&&child| child > id && depth < MAX_DEPTH);
            Value::Array(
                below
                    .map(|&child| self.part(child, properties, blob, depth + 1))
                    .collect(),
            )
        };
        let Some(part) = self.message.parts.get(id as usize) else {
            return Value::Null;
        };
        let mut object = Map::new();
        for property in properties {
            let value = match property {
                BodyProperty::Header(header) => header_value(self.raw, &part.headers, header),
                BodyProperty::Named(name) => match *name {
                    "partId" => match part.body {
                        PartType::Multipart(_) => Value::Null,
                        _ => json!(id.to_string()),
                    },
                    "blobId" => match part.body {
                        PartType::Multipart(_) => Value::Null,
                        _ => json!(format!("{blob}_{id}")),
                    },
                    "size" => json!(self.decoded(part).len()),
                    "headers" => raw_headers(self.raw, &part.headers),
                    "name" => json!(part.attachment_name()),
                    "type" => json!(media_type(part)),
                    "charset" => json!(charset(part)),
                    "disposition" => json!(part.content_disposition().map(|d| d.ctype().to_ascii_lowercase())),
                    "cid" => json!(
                        part.content_id()
                            .map(|c| c.trim().trim_start_matches('<').trim_end_matches('>'))
                    ),
                    "language" => match part.content_language() {
                        HeaderValue::Text(one) => json!([one]),
                        HeaderValue::TextList(many) => json!(many),
                        _ => Value::Null,
                    },
                    "location" => json!(part.content_location()),
                    "subParts" => match &part.body {
                        PartType::Multipart(parts) => children(parts),
                        _ => continue,
                    },
                    _ => continue,
                },
            };
            object.insert(property.name().to_owned(), value);
        }
        // RFC 8621 4.1.4: a multipart always shows its parts.
        if let PartType::Multipart(parts) = &part.body
            && !object.contains_key("subParts")
        {
            object.insert("subParts".into(), children(parts));
        }
        Value::Object(object)
    }

    /// The part's content with its transfer encoding undone: what a
    /// download of its blob gives.
    pub fn decoded(&self, part: &MessagePart<'_>) -> Cow<'a, [u8]> {
        let start = (part.offset_body as usize).min(self.raw.len());
        let end = (part.offset_end as usize).clamp(start, self.raw.len());
        let body = &self.raw[start..end];
        let decoded = match part.encoding {
            Encoding::Base64 => base64_decode(body),
            Encoding::QuotedPrintable => quoted_printable_decode(body),
            Encoding::None => None,
        };
        decoded.map_or(Cow::Borrowed(body), Cow::Owned)
    }

    /// A text part's value for `bodyValues` (RFC 8621 4.1.4), cut to at most
    /// `max_bytes` octets of UTF-8 when that is more than 0.
    pub fn body_value(&self, id: u32, max_bytes: usize) -> Option<Value> {
        let part = self.message.parts.get(id as usize)?;
        let text: &str = match &part.body {
            PartType::Text(text) | PartType::Html(text) => text,
            _ => return None,
        };
        let mut end = text.len();
        if max_bytes > 0 && end > max_bytes {
            end = max_bytes;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
        }
        Some(json!({
            "value": &text[..end],
            "isEncodingProblem": part.is_encoding_problem,
            "isTruncated": end < text.len(),
        }))
    }

    /// The text parts a reader is shown, for searching: the plain ones, or
    /// the HTML ones when there are none (mail-parser lists a plain part
    /// among both when it is the only one).
    pub fn text(&self) -> impl Iterator<Item = &str> {
        let parts = if self.message.text_body.is_empty() {
            &self.message.html_body
        } else {
            &self.message.text_body
        };
        parts
            .iter()
            .filter_map(|&id| match &self.message.parts.get(id as usize)?.body {
                PartType::Text(text) | PartType::Html(text) => Some(text.as_ref()),
                _ => None,
            })
    }
}

/// A body part property: a name of RFC 8621 4.1.4 or a header property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyProperty {
    Named(&'static str),
    Header(HeaderProperty),
}

impl BodyProperty {
    pub fn name(&self) -> &str {
        match self {
            BodyProperty::Named(name) => name,
            BodyProperty::Header(header) => &header.property,
        }
    }
}

pub(crate) const BODY_PROPERTIES: &[&str] = &[
    "partId",
    "blobId",
    "size",
    "headers",
    "name",
    "type",
    "charset",
    "disposition",
    "cid",
    "language",
    "location",
    "subParts",
];

/// RFC 8621 4.2: what a body part shows when `bodyProperties` is not given.
pub(crate) const DEFAULT_BODY_PROPERTIES: &[&str] = &[
    "partId",
    "blobId",
    "size",
    "name",
    "type",
    "charset",
    "disposition",
    "cid",
    "language",
    "location",
];

fn media_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(content_type) => match content_type.subtype() {
            Some(subtype) => format!("{}/{}", content_type.ctype(), subtype),
            None => content_type.ctype().to_owned(),
        }
        .to_ascii_lowercase(),
        // RFC 2045 5.2; and RFC 2046 5.1.5 for the parts of a digest.
        None => match part.body {
            PartType::Message(_) => "message/rfc822".into(),
            _ => "text/plain".into(),
        },
    }
}

/// RFC 8621 4.1.4: text parts without a charset are US-ASCII (RFC 2046
/// 4.1.2); other types have none.
fn charset(part: &MessagePart<'_>) -> Option<String> {
    let given = part
        .content_type()
        .and_then(|c| c.attribute("charset"))
        .map(str::to_ascii_lowercase);
    match part.body {
        PartType::Text(_) | PartType::Html(_) => Some(given.unwrap_or_else(|| "us-ascii".into())),
        _ => given,
    }
}

fn raw_value<'r>(raw: &'r [u8], header: &Header<'_>) -> &'r [u8] {
    let start = (header.offset_start as usize).min(raw.len());
    let end = (header.offset_end as usize).clamp(start, raw.len());
    let value = &raw[start..end];
    value
        .strip_suffix(b"\r\n")
        .or_else(|| value.strip_suffix(b"\n"))
        .unwrap_or(value)
}

/// RFC 8621 4.1.3 `headers`: every field, in order, raw.
fn raw_headers(raw: &[u8], headers: &[Header<'_>]) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|h| json!({"name": h.name.as_str(), "value": String::from_utf8_lossy(raw_value(raw, h))}))
            .collect(),
    )
}

/// A header property: the last field of that name (or all of them, in
/// order, with `:all`), in the form asked for; null (or `[]`) when there
/// is none.
fn header_value(raw: &[u8], headers: &[Header<'_>], property: &HeaderProperty) -> Value {
    let mut values: Vec<Value> = headers
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(&property.name))
        .map(|h| in_form(raw_value(raw, h), property.form))
        .collect();
    if property.all {
        Value::Array(values)
    } else {
        values.pop().unwrap_or(Value::Null)
    }
}

/// RFC 8621 4.1.2.1 to 4.1.2.7, parsed the way mail-parser parses the
/// fields it knows; the parser reads up to the end of the field, so the
/// value is given it with a line end.
fn in_form(value: &[u8], form: Form) -> Value {
    let mut line = Vec::with_capacity(value.len() + 2);
    line.extend_from_slice(value);
    line.extend_from_slice(b"\r\n");
    let mut stream = mail_parser::parsers::MessageStream::new(&line);
    match form {
        Form::Raw => json!(String::from_utf8_lossy(value)),
        Form::Text => match stream.parse_unstructured() {
            HeaderValue::Text(text) => json!(text.trim()),
            _ => json!(""),
        },
        Form::Addresses => match stream.parse_address() {
            HeaderValue::Address(address) => Value::Array(flat_addresses(&address)),
            _ => json!([]),
        },
        Form::GroupedAddresses => match stream.parse_address() {
            HeaderValue::Address(Address::List(list)) => {
                json!([{"name": null, "addresses": list.iter().map(email_address).collect::<Vec<_>>()}])
            }
            HeaderValue::Address(Address::Group(groups)) => Value::Array(
                groups
                    .iter()
                    .map(|g| json!({"name": g.name, "addresses": g.addresses.iter().map(email_address).collect::<Vec<_>>()}))
                    .collect(),
            ),
            _ => json!([]),
        },
        Form::MessageIds => match stream.parse_id() {
            HeaderValue::Text(id) => json!([id]),
            HeaderValue::TextList(ids) => json!(ids),
            _ => Value::Null,
        },
        Form::Date => match stream.parse_date() {
            HeaderValue::DateTime(date) if date.is_valid() => json!(date.to_rfc3339()),
            _ => Value::Null,
        },
        Form::Urls => match stream.parse_address() {
            HeaderValue::Address(address) => {
                let urls: Vec<Value> = address.iter().filter_map(|a| a.address.as_deref()).map(|u| json!(u)).collect();
                if urls.is_empty() { Value::Null } else { Value::Array(urls) }
            }
            _ => Value::Null,
        },
    }
}

fn email_address(address: &mail_parser::Addr<'_>) -> Value {
    json!({"name": address.name.as_deref().map(str::trim), "email": address.address.as_deref().unwrap_or("")})
}

fn flat_addresses(address: &Address<'_>) -> Vec<Value> {
    address.iter().map(email_address).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"From: =?utf-8?q?Jos=C3=A9?= <jose@example.com>\r\n\
To: a@example.com, Friends: b@example.com, c@example.com;\r\n\
Subject: =?utf-8?q?Ol=C3=A1?= there\r\n\
Date: Mon, 7 Dec 2026 10:00:00 -0300\r\n\
Message-ID: <one@example.com>\r\n\
References: <zero@example.com>\r\n <one-half@example.com>\r\n\
List-Unsubscribe: <https://example.com/u>, <mailto:u@example.com>\r\n\
X-Tag: first\r\n\
X-Tag:  second \r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hello, world.\r\n\
--b\r\n\
Content-Type: application/pdf; name=report.pdf\r\n\
Content-Disposition: attachment; filename=report.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0=\r\n\
--b--\r\n";

    fn read(view: &View<'_>, property: &str) -> Value {
        view.header(&HeaderProperty::parse(property).unwrap().unwrap())
    }

    #[test]
    fn header_forms_follow_rfc_8621() {
        let view = View::new(MESSAGE);
        assert_eq!(read(&view, "header:Subject:asText"), json!("Olá there"));
        assert_eq!(read(&view, "header:subject"), json!(" =?utf-8?q?Ol=C3=A1?= there"));
        assert_eq!(read(&view, "header:X-Tag:all"), json!([" first", "  second "]));
        assert_eq!(read(&view, "header:X-Tag:asText"), json!("second"));
        assert_eq!(read(&view, "header:X-Missing"), Value::Null);
        assert_eq!(read(&view, "header:X-Missing:all"), json!([]));
        assert_eq!(read(&view, "header:Date:asDate"), json!("2026-12-07T10:00:00-03:00"));
        assert_eq!(
            read(&view, "header:References:asMessageIds"),
            json!(["zero@example.com", "one-half@example.com"])
        );
        assert_eq!(
            read(&view, "header:List-Unsubscribe:asURLs"),
            json!(["https://example.com/u", "mailto:u@example.com"])
        );
        assert_eq!(
            read(&view, "header:To:asGroupedAddresses"),
            json!([
                {"name": null, "addresses": [{"name": null, "email": "a@example.com"}]},
                {"name": "Friends", "addresses": [{"name": null, "email": "b@example.com"}, {"name": null, "email": "c@example.com"}]}
            ])
        );
        assert_eq!(
            view.convenience("from"),
            Some(json!([{"name": "José", "email": "jose@example.com"}]))
        );
        assert_eq!(view.convenience("to").unwrap().as_array().unwrap().len(), 3);
    }

    #[test]
    fn forms_a_field_cannot_take_are_refused() {
        for bad in [
            "header:Subject:asAddresses",
            "header:From:asDate",
            "header:Date:asMessageIds",
            "header:To:asText",
            "header:X:asNothing",
            "header:",
            "header:A:asRaw:all:extra",
        ] {
            assert!(HeaderProperty::parse(bad).is_err(), "{bad}");
        }
        assert!(
            HeaderProperty::parse("header:X-Custom:asAddresses:all")
                .unwrap()
                .unwrap()
                .all
        );
        assert_eq!(HeaderProperty::parse("subject").unwrap(), None);
    }

    #[test]
    fn body_parts_show_their_decoded_size_and_mime_details() {
        let view = View::new(MESSAGE);
        let properties: Vec<BodyProperty> = DEFAULT_BODY_PROPERTIES.iter().map(|p| BodyProperty::Named(p)).collect();
        let structure = view.structure(&properties, "bX");
        let parts = structure["subParts"].as_array().unwrap();
        assert_eq!(structure["type"], "multipart/mixed");
        assert_eq!(structure["partId"], Value::Null);
        assert_eq!(parts[0]["type"], "text/plain");
        assert_eq!(parts[0]["charset"], "us-ascii");
        assert_eq!(parts[1]["name"], "report.pdf");
        assert_eq!(parts[1]["disposition"], "attachment");
        assert_eq!(parts[1]["size"], 5, "base64 JVBERi0= is 5 octets: %PDF-");
        assert_eq!(
            parts[1]["blobId"],
            format!("bX_{}", parts[1]["partId"].as_str().unwrap())
        );
        assert_eq!(view.convenience("hasAttachment"), Some(json!(true)));
        assert_eq!(view.convenience("preview"), Some(json!("Hello, world.")));
        let text = view.message.text_body[0];
        assert_eq!(
            view.body_value(text, 5),
            Some(json!({"value": "Hello", "isEncodingProblem": false, "isTruncated": true}))
        );
    }

    #[test]
    fn a_structure_that_points_back_or_runs_deep_is_cut_short() {
        let looping = View {
            raw: b"",
            message: Message {
                parts: vec![
                    MessagePart {
                        body: PartType::Multipart(vec![0, 1]),
                        ..Default::default()
                    },
                    MessagePart {
                        body: PartType::Multipart(vec![0, 1]),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        };
        let properties = [BodyProperty::Named("type")];
        let structure = looping.structure(&properties, "b");
        assert_eq!(
            structure["subParts"].as_array().unwrap().len(),
            1,
            "only the part after it: {structure}"
        );
        assert_eq!(structure["subParts"][0]["subParts"], json!([]));

        let levels = MAX_DEPTH + 8;
        let mut deep = String::from("Content-Type: multipart/mixed; boundary=b0\r\n\r\n");
        for level in 1..levels {
            deep.push_str(&format!(
                "--b{}\r\nContent-Type: multipart/mixed; boundary=b{level}\r\n\r\n",
                level - 1
            ));
        }
        let view = View::new(deep.as_bytes());
        let mut depth = 0;
        let structure = view.structure(&properties, "b");
        let mut at = &structure;
        while let Some(first) = at["subParts"].get(0) {
            depth += 1;
            at = first;
        }
        assert!(depth <= MAX_DEPTH, "{depth}");
    }
}
