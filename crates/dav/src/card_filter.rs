//! The filter of an addressbook-query (RFC 6352 10.5): prop-filters
//! combined by `test` (anyof, the default, or allof), each with text
//! matches and param-filters combined the same way.

use crate::context::precondition;
use crate::response::Response;
use crate::text_match::{Collation, ParamFilter, TextMatch, filter_name};
use crate::xml::{CARDDAV, Element};
use calcard::vcard::{VCard, VCardEntry, VCardValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    AnyOf,
    AllOf,
}

impl Test {
    fn of(element: &Element) -> Result<Test, Response> {
        match element.attr("test") {
            None | Some("anyof") => Ok(Test::AnyOf),
            Some("allof") => Ok(Test::AllOf),
            Some(other) => Err(precondition(
                403,
                CARDDAV,
                "valid-filter",
                &format!("test {other:?} is neither anyof nor allof"),
            )),
        }
    }

    fn combine(self, mut results: impl Iterator<Item = bool>) -> bool {
        match self {
            Test::AnyOf => results.any(|hit| hit),
            Test::AllOf => results.all(|hit| hit),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFilter {
    pub test: Test,
    pub props: Vec<PropFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    pub name: String,
    pub test: Test,
    pub not_defined: bool,
    pub texts: Vec<TextMatch>,
    pub params: Vec<ParamFilter>,
}

fn name_of(element: &Element) -> Result<String, Response> {
    filter_name(element, CARDDAV)
}

fn text(element: &Element) -> Result<TextMatch, Response> {
    TextMatch::parse(element, CARDDAV, Collation::UnicodeCasemap)
}

pub fn parse(filter: &Element) -> Result<CardFilter, Response> {
    let props = filter
        .children_named(CARDDAV, "prop-filter")
        .map(|prop| {
            Ok(PropFilter {
                name: name_of(prop)?,
                test: Test::of(prop)?,
                not_defined: prop.child(CARDDAV, "is-not-defined").is_some(),
                texts: prop
                    .children_named(CARDDAV, "text-match")
                    .map(text)
                    .collect::<Result<_, _>>()?,
                params: prop
                    .children_named(CARDDAV, "param-filter")
                    .map(|param| ParamFilter::parse(param, CARDDAV, Collation::UnicodeCasemap))
                    .collect::<Result<_, Response>>()?,
            })
        })
        .collect::<Result<_, Response>>()?;
    Ok(CardFilter {
        test: Test::of(filter)?,
        props,
    })
}

/// A property's value as text, as vCard writes it (RFC 6350 3.3): the
/// parts of a structured value (N, ADR, ORG, GENDER) joined by `;`, a
/// list's items by `,`.
fn entry_text(entry: &VCardEntry) -> String {
    let structured = matches!(entry.name.as_str(), "N" | "ADR" | "ORG" | "GENDER");
    entry
        .values
        .iter()
        .filter_map(|value| match value {
            VCardValue::Component(parts) => Some(parts.join(",")),
            other => other.as_text().map(str::to_owned),
        })
        .collect::<Vec<_>>()
        .join(if structured { ";" } else { "," })
}

/// Whether the card matches; an empty filter matches every card.
pub fn matches(filter: &CardFilter, card: &VCard) -> bool {
    if filter.props.is_empty() {
        return true;
    }
    filter
        .test
        .combine(filter.props.iter().map(|prop| prop_matches(prop, card)))
}

fn prop_matches(filter: &PropFilter, card: &VCard) -> bool {
    let entries: Vec<&VCardEntry> = card
        .entries
        .iter()
        .filter(|entry| entry.name.as_str().eq_ignore_ascii_case(&filter.name))
        .collect();
    if filter.not_defined {
        return entries.is_empty();
    }
    if entries.is_empty() {
        return false;
    }
    if filter.texts.is_empty() && filter.params.is_empty() {
        return true;
    }
    // RFC 6352 10.5.1: each text-match and param-filter is a test; a
    // test holds when some value of the property passes it.
    let texts = filter
        .texts
        .iter()
        .map(|text| entries.iter().any(|entry| text.matches(&entry_text(entry))));
    let params = filter.params.iter().map(|param| {
        entries.iter().any(|entry| {
            param.matches(
                entry
                    .params
                    .iter()
                    .filter(|have| have.name.as_str().eq_ignore_ascii_case(&param.name))
                    .map(|have| have.value.clone().into_text().into_owned()),
            )
        })
    });
    filter.test.combine(texts.chain(params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse as xml;

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c1\r\nFN:Ana Souza\r\nN:Souza;Ana;;;\r\n\
EMAIL;TYPE=work:ana@example.com.br\r\nTEL;TYPE=cell:+55 11 5555 0000\r\nEND:VCARD\r\n";

    fn hits(inner: &str, test: &str) -> bool {
        let body =
            format!("<CR:filter xmlns:CR=\"urn:ietf:params:xml:ns:carddav\" test=\"{test}\">{inner}</CR:filter>");
        let filter = parse(&xml(body.as_bytes()).unwrap()).unwrap();
        matches(&filter, &VCard::parse(CARD).unwrap())
    }

    #[test]
    fn prop_filters_combine_by_their_test() {
        let email = "<CR:prop-filter name=\"EMAIL\"><CR:text-match match-type=\"ends-with\">.BR</CR:text-match></CR:prop-filter>";
        let nick = "<CR:prop-filter name=\"NICKNAME\"/>";
        assert!(hits(email, "anyof"));
        assert!(hits(&format!("{email}{nick}"), "anyof"));
        assert!(!hits(&format!("{email}{nick}"), "allof"));
        assert!(hits(
            "<CR:prop-filter name=\"NICKNAME\"><CR:is-not-defined/></CR:prop-filter>",
            "allof"
        ));
        assert!(hits(
            "<CR:prop-filter name=\"N\"><CR:text-match match-type=\"starts-with\">souza;ana</CR:text-match></CR:prop-filter>",
            "anyof"
        ));
        assert!(hits(
            "<CR:prop-filter name=\"TEL\"><CR:param-filter name=\"TYPE\"><CR:text-match match-type=\"equals\">cell</CR:text-match></CR:param-filter></CR:prop-filter>",
            "anyof"
        ));
        assert!(!hits(
            "<CR:prop-filter name=\"FN\" test=\"allof\"><CR:text-match>ana</CR:text-match><CR:text-match>bob</CR:text-match></CR:prop-filter>",
            "anyof"
        ));
    }
}
