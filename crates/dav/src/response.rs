//! What the DAV layer answers: a status, headers and a body, for the HTTP
//! listener to send as they are; the 207 Multi-Status body (RFC 4918 13)
//! and the error body that names a failed precondition (RFC 4918 16).

use crate::xml::{APPLE_ICAL, CALDAV, CALENDARSERVER, CARDDAV, DAV, Name, escape};
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

const XML_TYPE: &str = "application/xml; charset=utf-8";

impl Response {
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response {
            status,
            headers: vec![("content-type", "text/plain; charset=utf-8".into())],
            body: text.into().into_bytes(),
        }
    }

    pub fn xml(status: u16, xml: String) -> Response {
        Response {
            status,
            headers: vec![("content-type", XML_TYPE.into())],
            body: xml.into_bytes(),
        }
    }

    /// A failed precondition or postcondition, named in a `DAV:error`
    /// body (RFC 4918 16) with the reason for a person beside it.
    pub fn condition(status: u16, name: &Name, why: &str) -> Response {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error");
        xml.push_str(NAMESPACES);
        xml.push('>');
        xml.push_str(&open_tag(name, true));
        xml.push_str("<D:responsedescription>");
        xml.push_str(&escape(why));
        xml.push_str("</D:responsedescription></D:error>");
        Response::xml(status, xml)
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

const NAMESPACES: &str = " xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\" \
xmlns:CR=\"urn:ietf:params:xml:ns:carddav\" xmlns:CS=\"http://calendarserver.org/ns/\" \
xmlns:A=\"http://apple.com/ns/ical/\"";

fn prefix(ns: &str) -> Option<&'static str> {
    match ns {
        DAV => Some("D"),
        CALDAV => Some("C"),
        CARDDAV => Some("CR"),
        CALENDARSERVER => Some("CS"),
        APPLE_ICAL => Some("A"),
        _ => None,
    }
}

/// `<D:name>` for a known namespace; otherwise the element declares its
/// own (`<X:name xmlns:X="...">`, or no namespace at all).
fn open_tag(name: &Name, empty: bool) -> String {
    let close = if empty { "/>" } else { ">" };
    match prefix(&name.ns) {
        Some(prefix) => format!("<{prefix}:{}{close}", name.local),
        None if name.ns.is_empty() => format!("<{}{close}", name.local),
        None => format!("<X:{} xmlns:X=\"{}\"{close}", name.local, escape(&name.ns)),
    }
}

fn close_tag(name: &Name) -> String {
    match prefix(&name.ns) {
        Some(prefix) => format!("</{prefix}:{}>", name.local),
        None if name.ns.is_empty() => format!("</{}>", name.local),
        None => format!("</X:{}>", name.local),
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        207 => "Multi-Status",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        412 => "Precondition Failed",
        415 => "Unsupported Media Type",
        424 => "Failed Dependency",
        507 => "Insufficient Storage",
        _ => "",
    }
}

/// A property's value, as the multistatus writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `<D:name/>`: present, nothing inside (and every name in a 404
    /// propstat or a `propname` answer).
    Empty,
    Text(String),
    /// Markup inside the property, written with the multistatus prefixes
    /// (`D:`, `C:`, `CR:`, `CS:`, `A:`).
    Markup(String),
    Hrefs(Vec<String>),
    /// A dead property: the whole element as the client set it.
    Element(String),
}

/// Markup for hrefs, each escaped.
pub fn hrefs_markup(hrefs: &[String]) -> String {
    hrefs
        .iter()
        .map(|href| format!("<D:href>{}</D:href>", escape(href)))
        .collect()
}

pub struct Multistatus {
    out: String,
}

impl Default for Multistatus {
    fn default() -> Self {
        Multistatus::new()
    }
}

impl Multistatus {
    pub fn new() -> Multistatus {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus");
        out.push_str(NAMESPACES);
        out.push('>');
        Multistatus { out }
    }

    /// One resource's properties, grouped by status (RFC 4918 14.22).
    pub fn response(&mut self, href: &str, propstats: &[(u16, Vec<(Name, Value)>)]) {
        let _ = write!(self.out, "<D:response><D:href>{}</D:href>", escape(href));
        for (status, props) in propstats.iter().filter(|(_, props)| !props.is_empty()) {
            self.out.push_str("<D:propstat><D:prop>");
            for (name, value) in props {
                self.property(name, value);
            }
            let _ = write!(
                self.out,
                "</D:prop><D:status>HTTP/1.1 {status} {}</D:status></D:propstat>",
                reason(*status)
            );
        }
        self.out.push_str("</D:response>");
    }

    /// A resource answered with a status alone (a missing href in a
    /// multiget, a removed member in a sync report).
    pub fn status(&mut self, href: &str, status: u16) {
        let _ = write!(
            self.out,
            "<D:response><D:href>{}</D:href><D:status>HTTP/1.1 {status} {}</D:status></D:response>",
            escape(href),
            reason(status)
        );
    }

    fn property(&mut self, name: &Name, value: &Value) {
        match value {
            Value::Empty => self.out.push_str(&open_tag(name, true)),
            Value::Element(xml) => self.out.push_str(xml),
            Value::Text(text) => {
                self.out.push_str(&open_tag(name, false));
                self.out.push_str(&escape(text));
                self.out.push_str(&close_tag(name));
            }
            Value::Markup(markup) => {
                self.out.push_str(&open_tag(name, false));
                self.out.push_str(markup);
                self.out.push_str(&close_tag(name));
            }
            Value::Hrefs(hrefs) => {
                self.out.push_str(&open_tag(name, false));
                self.out.push_str(&hrefs_markup(hrefs));
                self.out.push_str(&close_tag(name));
            }
        }
    }

    /// Ends the body; a sync report names its new token last (RFC 6578 6.2).
    pub fn finish(mut self, sync_token: Option<&str>) -> Response {
        if let Some(token) = sync_token {
            let _ = write!(self.out, "<D:sync-token>{}</D:sync-token>", escape(token));
        }
        self.out.push_str("</D:multistatus>");
        Response::xml(207, self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

    #[test]
    fn a_multistatus_reads_back_as_the_xml_it_means() {
        let mut body = Multistatus::new();
        body.response(
            "/dav/calendars/a%20b/",
            &[
                (
                    200,
                    vec![
                        (Name::new(DAV, "displayname"), Value::Text("R&D <team>".into())),
                        (
                            Name::new(DAV, "resourcetype"),
                            Value::Markup("<D:collection/><C:calendar/>".into()),
                        ),
                        (
                            Name::new("http://example.com/x", "order"),
                            Value::Element("<order xmlns=\"http://example.com/x\">3</order>".into()),
                        ),
                    ],
                ),
                (404, vec![(Name::new("urn:other", "missing"), Value::Empty)]),
            ],
        );
        body.status("/dav/calendars/gone.ics", 404);
        let response = body.finish(Some("urn:x:1"));
        assert_eq!(response.status, 207);
        let root = parse(&response.body).unwrap();
        assert!(root.is(DAV, "multistatus"));
        let responses: Vec<_> = root.children_named(DAV, "response").collect();
        assert_eq!(responses.len(), 2);
        let stats: Vec<_> = responses[0].children_named(DAV, "propstat").collect();
        let ok = stats[0].child(DAV, "prop").unwrap();
        assert_eq!(ok.child(DAV, "displayname").unwrap().text(), "R&D <team>");
        assert!(
            ok.child(DAV, "resourcetype")
                .unwrap()
                .child(CALDAV, "calendar")
                .is_some()
        );
        assert_eq!(ok.child("http://example.com/x", "order").unwrap().text(), "3");
        assert!(
            stats[1]
                .child(DAV, "prop")
                .unwrap()
                .child("urn:other", "missing")
                .is_some()
        );
        assert_eq!(stats[1].child(DAV, "status").unwrap().text(), "HTTP/1.1 404 Not Found");
        assert_eq!(root.child(DAV, "sync-token").unwrap().text(), "urn:x:1");
    }
}
