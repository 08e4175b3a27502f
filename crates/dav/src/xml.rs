//! The XML of WebDAV requests (RFC 4918 14, 17): read into a small tree
//! with every name resolved to its namespace, and written back out. A
//! request body is parsed whole (the server caps its size), nested no
//! deeper than [`MAX_DEPTH`]; DOCTYPE and entities other than XML's five
//! and character references are refused, so nothing expands (RFC 4918
//! 20.6).

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use std::fmt::Write;
use thiserror::Error;

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";

/// Deeper than any DAV request nests (a calendar-query filter is the
/// deepest, at about a dozen levels).
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed XML: {0}")]
pub struct XmlError(pub String);

/// An element's name: its namespace (empty for none) and local part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    pub ns: String,
    pub local: String,
}

impl Name {
    pub fn new(ns: &str, local: &str) -> Name {
        Name {
            ns: ns.to_owned(),
            local: local.to_owned(),
        }
    }

    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: Name,
    /// Attributes by local name (DAV's own carry no namespace).
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.name.is(ns, local)
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            Node::Text(_) => None,
        })
    }

    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|element| element.is(ns, local))
    }

    pub fn children_named<'a>(&'a self, ns: &'a str, local: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |element| element.is(ns, local))
    }

    /// The text it holds, its descendants' included.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for node in &self.children {
            match node {
                Node::Text(part) => text.push_str(part),
                Node::Element(element) => text.push_str(&element.text()),
            }
        }
        text
    }

    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(name, _)| name == local)
            .map(|(_, value)| value.as_str())
    }

    /// Written out with each namespace declared where it starts, so the
    /// text stands alone (a dead property's value, RFC 4918 4.3).
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None);
        out
    }

    fn write(&self, out: &mut String, parent_ns: Option<&str>) {
        out.push('<');
        out.push_str(&self.name.local);
        if parent_ns != Some(self.name.ns.as_str()) {
            let _ = write!(out, " xmlns=\"{}\"", escape(&self.name.ns));
        }
        for (name, value) in &self.attrs {
            let _ = write!(out, " {name}=\"{}\"", escape(value));
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for node in &self.children {
            match node {
                Node::Text(text) => out.push_str(&escape(text)),
                Node::Element(element) => element.write(out, Some(&self.name.ns)),
            }
        }
        let _ = write!(out, "</{}>", self.name.local);
    }
}

/// Escapes text for an XML element or attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// Reads a request body into its root element.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError("the body is not UTF-8".into()))?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (namespace, event) = reader
            .read_resolved_event()
            .map_err(|error| XmlError(error.to_string()))?;
        let namespace = match namespace {
            ResolveResult::Bound(ns) => Some(namespace_name(ns.as_ref())?),
            ResolveResult::Unbound => Some(String::new()),
            ResolveResult::Unknown(prefix) => {
                return Err(XmlError(format!("the prefix {prefix:?} is not declared")));
            }
        };
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError("more than one root element".into()));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError(format!("nested deeper than {MAX_DEPTH}")));
                }
                let local = ncname(start.local_name().as_ref())?;
                let mut attrs = Vec::new();
                for attr in start.attributes() {
                    let attr = attr.map_err(|error| XmlError(error.to_string()))?;
                    let key = attr.key.as_ref();
                    if key.starts_with("xmlns") {
                        continue;
                    }
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|error| XmlError(error.to_string()))?;
                    legal_chars(&value)?;
                    let local = ncname(attr.key.local_name().as_ref())?;
                    // Kept by local name: a second `x` (from another
                    // namespace) would be written out twice.
                    if !attrs.iter().any(|(have, _): &(String, String)| *have == local) {
                        attrs.push((local, value.into_owned()));
                    }
                }
                let element = Element {
                    name: Name {
                        ns: namespace.unwrap_or_default(),
                        local,
                    },
                    attrs,
                    children: Vec::new(),
                };
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| XmlError("an end tag without a start".into()))?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(text) => push_text(&mut stack, &text.xml10_content())?,
            Event::CData(data) => {
                push_text(&mut stack, &data.into_inner())?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => match reference.xml10_content().as_ref() {
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "amp" => "&".into(),
                        "apos" => "'".into(),
                        "quot" => "\"".into(),
                        other => return Err(XmlError(format!("the entity &{other}; is not XML's"))),
                    },
                    Err(error) => return Err(XmlError(error.to_string())),
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(XmlError("a DOCTYPE is not taken".into())),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError("the document ends inside an element".into()));
    }
    root.ok_or_else(|| XmlError("no element".into()))
}

/// XML 1.0 2.2: no control characters but tab, line feed and carriage
/// return, even as character references.
fn legal_chars(text: &str) -> Result<(), XmlError> {
    match text
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        Some(c) => Err(XmlError(format!(
            "the character U+{:04X} is not allowed in XML",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// A namespace is a URI (Namespaces in XML 1.0, 2): the reader hands it
/// over as written, so one that needs escaping is refused rather than
/// stored in a form that would not read back.
fn namespace_name(ns: &str) -> Result<String, XmlError> {
    if ns.chars().any(|c| c.is_control() || matches!(c, '&' | '<' | '>' | '"')) {
        return Err(XmlError(format!("{ns:?} is not a namespace name")));
    }
    Ok(ns.to_owned())
}

/// A name without its prefix must be an NCName (Namespaces in XML 1.0,
/// 3): the reader forgives more (`a:b:c`, `a,b`), and such a name would
/// not read back once written out.
fn ncname(name: &str) -> Result<String, XmlError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || !c.is_ascii());
    if first_ok && chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_') || !c.is_ascii()) {
        Ok(name.to_owned())
    } else {
        Err(XmlError(format!("{name:?} is not an XML name")))
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    legal_chars(text)?;
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(last)) = parent.children.last_mut() {
                last.push_str(text);
            } else {
                parent.children.push(Node::Text(text.to_owned()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError("text outside the root element".into())),
    }
}

/// Dead properties as stored: each element's own XML, one after another.
pub fn parse_many(stored: &str) -> Vec<Element> {
    if stored.is_empty() {
        return Vec::new();
    }
    parse(format!("<r xmlns=\"\">{stored}</r>").as_bytes())
        .map(|root| root.elements().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_their_namespaces_whatever_the_prefix() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?>
<x:propfind xmlns:x="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><x:prop><c:calendar-data/>
<displayname xmlns="DAV:"/><z:foo xmlns:z="http://example.com/ns">a &amp; b &#233;</z:foo></x:prop></x:propfind>"#;
        let root = parse(body).unwrap();
        assert!(root.is(DAV, "propfind"));
        let prop = root.child(DAV, "prop").unwrap();
        let names: Vec<_> = prop
            .elements()
            .map(|e| (e.name.ns.as_str(), e.name.local.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (CALDAV, "calendar-data"),
                (DAV, "displayname"),
                ("http://example.com/ns", "foo")
            ]
        );
        assert_eq!(prop.child("http://example.com/ns", "foo").unwrap().text(), "a & b é");
    }

    #[test]
    fn what_is_not_well_formed_or_expands_is_refused() {
        for body in [
            &b"<propfind xmlns=\"DAV:\"><prop></propfind>"[..],
            b"<D:propfind xmlns:D=\"DAV:\"><E:prop/></D:propfind>",
            b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>",
            b"<x>&nbsp;</x>",
            b"<a/><b/>",
            b"",
            b"\xff\xfe<a/>",
            b"<C:a:b xmlns:C=\"urn:x\"/>",
            b"<a b,c=\"1\"/>",
            b"<a>\0</a>",
            b"<a>&#1;</a>",
            b"<a xmlns=\"urn:&amp;x\"/>",
        ] {
            assert!(parse(body).is_err(), "{:?}", String::from_utf8_lossy(body));
        }
        let deep = format!("{}{}", "<a>".repeat(MAX_DEPTH + 1), "</a>".repeat(MAX_DEPTH + 1));
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn an_element_written_out_reads_back_the_same() {
        let body =
            "<v xmlns=\"http://example.com/a\" k=\"1&amp;2\">x<w xmlns=\"http://example.com/b\">&lt;y</w><u/></v>";
        let element = parse(body.as_bytes()).unwrap();
        let again = parse(element.to_xml().as_bytes()).unwrap();
        assert_eq!(element, again);
        let many = format!("{}{}", element.to_xml(), element.to_xml());
        assert_eq!(parse_many(&many), vec![element.clone(), element]);
    }
}
