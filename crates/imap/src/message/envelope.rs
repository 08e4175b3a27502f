//! ENVELOPE (RFC 9051 7.5.2): the header fields a client lists mail by.
//!
//! Date, Subject, In-Reply-To and Message-ID go out as they are in the
//! header (unfolded), encoded words and all, as other servers send them.
//! Addresses are parsed by mail-parser, which decodes display names; a
//! non-ASCII name is re-encoded as an RFC 2047 word unless the client
//! enabled UTF8=ACCEPT (RFC 6855 3).

use super::mime::{fields, unfold};
use crate::proto::response::{nstring, string};
use mail_parser::{Address, HeaderName, HeaderValue, MessageParser};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeAddress {
    Mailbox {
        name: Option<String>,
        /// RFC 5322 4.4 obs-route (`@relay1,@relay2`), kept as the
        /// address's adl (RFC 3501 7.4.2).
        route: Option<String>,
        mailbox: String,
        host: String,
    },
    /// RFC 9051 7.5.2: `(NIL NIL "group" NIL)` opens a group ...
    GroupStart(String),
    /// ... and `(NIL NIL NIL NIL)` closes it.
    GroupEnd,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub date: Option<Vec<u8>>,
    pub subject: Option<Vec<u8>>,
    pub from: Vec<EnvelopeAddress>,
    pub sender: Vec<EnvelopeAddress>,
    pub reply_to: Vec<EnvelopeAddress>,
    pub to: Vec<EnvelopeAddress>,
    pub cc: Vec<EnvelopeAddress>,
    pub bcc: Vec<EnvelopeAddress>,
    pub in_reply_to: Option<Vec<u8>>,
    pub message_id: Option<Vec<u8>>,
}

fn mailbox(name: Option<&str>, address: Option<&str>) -> Option<EnvelopeAddress> {
    let address = address?.trim();
    if address.is_empty() {
        return None;
    }
    // RFC 5322 4.4 obs-angle-addr: `<@route:user@domain>`.
    let (route, address) = match address.strip_prefix('@').and_then(|_| address.split_once(':')) {
        Some((route, rest)) => (Some(route.trim().to_owned()), rest.trim()),
        None => (None, address),
    };
    let (mailbox, host) = match address.rsplit_once('@') {
        Some((mailbox, host)) => (mailbox.to_owned(), host.to_owned()),
        None => (address.to_owned(), String::new()),
    };
    let name = name.map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    Some(EnvelopeAddress::Mailbox {
        name,
        route,
        mailbox,
        host,
    })
}

fn addresses(value: Option<&HeaderValue>) -> Vec<EnvelopeAddress> {
    let mut out = Vec::new();
    match value {
        Some(HeaderValue::Address(Address::List(list))) => {
            out.extend(
                list.iter()
                    .filter_map(|a| mailbox(a.name.as_deref(), a.address.as_deref())),
            );
        }
        Some(HeaderValue::Address(Address::Group(groups))) => {
            for group in groups {
                let members = group
                    .addresses
                    .iter()
                    .filter_map(|a| mailbox(a.name.as_deref(), a.address.as_deref()));
                match &group.name {
                    Some(name) => {
                        out.push(EnvelopeAddress::GroupStart(name.to_string()));
                        out.extend(members);
                        out.push(EnvelopeAddress::GroupEnd);
                    }
                    None => out.extend(members),
                }
            }
        }
        _ => {}
    }
    out
}

impl Envelope {
    /// The envelope of a header block.
    pub fn of_header(header: &[u8]) -> Envelope {
        let raw = |name: &str| {
            fields(header)
                .into_iter()
                .find(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
                .map(|f| unfold(f.value))
        };
        let parsed = MessageParser::default().parse_headers(header);
        let list = |name: HeaderName| addresses(parsed.as_ref().and_then(|m| m.header(name)));
        let from = list(HeaderName::From);
        let sender = list(HeaderName::Sender);
        let reply_to = list(HeaderName::ReplyTo);
        Envelope {
            date: raw("date"),
            subject: raw("subject"),
            sender: if sender.is_empty() { from.clone() } else { sender },
            reply_to: if reply_to.is_empty() { from.clone() } else { reply_to },
            from,
            to: list(HeaderName::To),
            cc: list(HeaderName::Cc),
            bcc: list(HeaderName::Bcc),
            in_reply_to: raw("in-reply-to"),
            message_id: raw("message-id"),
        }
    }

    pub fn write(&self, out: &mut Vec<u8>, utf8: bool) {
        out.push(b'(');
        nstring(out, self.date.as_deref(), utf8);
        out.push(b' ');
        nstring(out, self.subject.as_deref(), utf8);
        for list in [&self.from, &self.sender, &self.reply_to, &self.to, &self.cc, &self.bcc] {
            out.push(b' ');
            write_addresses(out, list, utf8);
        }
        out.push(b' ');
        nstring(out, self.in_reply_to.as_deref(), utf8);
        out.push(b' ');
        nstring(out, self.message_id.as_deref(), utf8);
        out.push(b')');
    }
}

fn write_addresses(out: &mut Vec<u8>, list: &[EnvelopeAddress], utf8: bool) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for address in list {
        match address {
            EnvelopeAddress::Mailbox {
                name,
                route,
                mailbox,
                host,
            } => {
                out.push(b'(');
                match name {
                    Some(name) if !utf8 && !name.is_ascii() => string(out, encoded_word(name).as_bytes(), false),
                    Some(name) => string(out, name.as_bytes(), utf8),
                    None => out.extend_from_slice(b"NIL"),
                }
                out.push(b' ');
                nstring(out, route.as_deref().map(str::as_bytes), utf8);
                out.push(b' ');
                string(out, mailbox.as_bytes(), utf8);
                out.push(b' ');
                string(out, host.as_bytes(), utf8);
                out.push(b')');
            }
            EnvelopeAddress::GroupStart(name) => {
                out.extend_from_slice(b"(NIL NIL ");
                string(out, name.as_bytes(), utf8);
                out.extend_from_slice(b" NIL)");
            }
            EnvelopeAddress::GroupEnd => out.extend_from_slice(b"(NIL NIL NIL NIL)"),
        }
    }
    out.push(b')');
}

/// `=?utf-8?b?...?=` (RFC 2047 4.1).
pub fn encoded_word(text: &str) -> String {
    use base64::Engine as _;
    format!("=?utf-8?b?{}?=", base64::engine::general_purpose::STANDARD.encode(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(header: &[u8], utf8: bool) -> String {
        let mut out = Vec::new();
        Envelope::of_header(header).write(&mut out, utf8);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rfc_example_shape() {
        let header = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\nFrom: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev2 WG mtg summary and minutes\r\nTo: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\r\n";
        assert_eq!(
            render(header, false),
            "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev2 WG mtg summary and minutes\" \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) \
((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \
\"<B27397-0100000@cac.washington.edu>\")"
        );
    }

    #[test]
    fn groups_and_non_ascii_names() {
        let header = "To: friends: Ann <ann@x.test>, bob@y.test;\r\nFrom: =?utf-8?q?Jos=C3=A9?= <jose@z.test>\r\n\r\n";
        let ascii = render(header.as_bytes(), false);
        assert!(
            ascii.contains("((NIL NIL \"friends\" NIL)(\"Ann\" NIL \"ann\" \"x.test\")(NIL NIL \"bob\" \"y.test\")(NIL NIL NIL NIL))"),
            "{ascii}"
        );
        assert!(
            ascii.contains("((\"=?utf-8?b?Sm9zw6k=?=\" NIL \"jose\" \"z.test\"))"),
            "{ascii}"
        );
        let utf8 = render(header.as_bytes(), true);
        assert!(utf8.contains("((\"José\" NIL \"jose\" \"z.test\"))"), "{utf8}");
    }

    #[test]
    fn empty_header_is_all_nil() {
        assert_eq!(render(b"\r\n", false), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    }

    #[test]
    fn a_source_route_is_the_addresses_adl() {
        // RFC 3501 7.4.2: the second field is the at-domain-list (source
        // route); RFC 5322 4.4 obs-route.
        let out = render(
            b"From: <@route.test:user@domain.test>\r\nTo: Ann <@a.test,@b.test:ann@x.test>\r\n\r\n",
            false,
        );
        assert!(
            out.contains("((NIL \"@route.test\" \"user\" \"domain.test\"))"),
            "{out}"
        );
        assert!(
            out.contains("((\"Ann\" \"@a.test,@b.test\" \"ann\" \"x.test\"))"),
            "{out}"
        );
    }
}
