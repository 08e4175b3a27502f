//! `text-match` in a query filter (RFC 4791 9.7.5, RFC 6352 10.5.4): a
//! string, a collation (RFC 4790) and, for CardDAV, where in the value it
//! must be found.

use crate::context::precondition;
use crate::response::Response;
use crate::xml::Element;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    /// `i;octet`: byte for byte.
    Octet,
    /// `i;ascii-casemap`: ASCII letters without case.
    AsciiCasemap,
    /// `i;unicode-casemap` (RFC 5051): every letter without case.
    UnicodeCasemap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    pub text: String,
    pub collation: Collation,
    pub match_type: MatchType,
    pub negate: bool,
}

impl TextMatch {
    /// `ns` is the namespace of the request, whose precondition a
    /// collation this server lacks is reported in.
    pub fn parse(element: &Element, ns: &str, default: Collation) -> Result<TextMatch, Response> {
        let collation = match element.attr("collation") {
            None => default,
            Some("i;octet") => Collation::Octet,
            Some("i;ascii-casemap") => Collation::AsciiCasemap,
            Some("i;unicode-casemap") => Collation::UnicodeCasemap,
            Some(other) => {
                return Err(precondition(
                    403,
                    ns,
                    "supported-collation",
                    &format!("{other} is not a collation here"),
                ));
            }
        };
        let match_type = match element.attr("match-type") {
            None | Some("contains") => MatchType::Contains,
            Some("equals") => MatchType::Equals,
            Some("starts-with") => MatchType::StartsWith,
            Some("ends-with") => MatchType::EndsWith,
            Some(other) => {
                return Err(Response::text(
                    400,
                    format!("match-type {other:?} is not one of RFC 6352's"),
                ));
            }
        };
        let negate = element.attr("negate-condition") == Some("yes");
        Ok(TextMatch {
            text: element.text(),
            collation,
            match_type,
            negate,
        })
    }

    fn fold(&self, text: &str) -> String {
        match self.collation {
            Collation::Octet => text.to_owned(),
            Collation::AsciiCasemap => text.to_ascii_lowercase(),
            Collation::UnicodeCasemap => text.to_lowercase(),
        }
    }

    /// Whether one value matches, negation applied.
    pub fn matches(&self, value: &str) -> bool {
        let (value, wanted) = (self.fold(value), self.fold(&self.text));
        let found = match self.match_type {
            MatchType::Equals => value == wanted,
            MatchType::Contains => value.contains(&wanted),
            MatchType::StartsWith => value.starts_with(&wanted),
            MatchType::EndsWith => value.ends_with(&wanted),
        };
        found != self.negate
    }
}

/// The name a filter element tests (RFC 4791 9.7.1, RFC 6352 10.5.1),
/// upper-cased as iCalendar and vCard names compare.
pub fn filter_name(element: &Element, ns: &str) -> Result<String, Response> {
    element
        .attr("name")
        .filter(|name| !name.is_empty())
        .map(str::to_ascii_uppercase)
        .ok_or_else(|| precondition(403, ns, "valid-filter", "a filter names what it tests"))
}

/// A param-filter, the same in both REPORTs (RFC 4791 9.7.3, RFC 6352
/// 10.5.2): the parameter is absent, or one of its values matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    pub name: String,
    pub not_defined: bool,
    pub text: Option<TextMatch>,
}

impl ParamFilter {
    pub fn parse(element: &Element, ns: &str, collation: Collation) -> Result<ParamFilter, Response> {
        Ok(ParamFilter {
            name: filter_name(element, ns)?,
            not_defined: element.child(ns, "is-not-defined").is_some(),
            text: element
                .child(ns, "text-match")
                .map(|text| TextMatch::parse(text, ns, collation))
                .transpose()?,
        })
    }

    /// Whether the values a property gives this parameter pass.
    pub fn matches(&self, mut values: impl Iterator<Item = String>) -> bool {
        match values.next() {
            None => self.not_defined,
            Some(_) if self.not_defined => false,
            Some(first) => {
                let text = |value: &str| self.text.as_ref().is_none_or(|text| text.matches(value));
                text(&first) || values.any(|value| text(&value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

    fn text_match(xml: &str) -> TextMatch {
        TextMatch::parse(&parse(xml.as_bytes()).unwrap(), "urn:x", Collation::AsciiCasemap).unwrap()
    }

    #[test]
    fn collations_and_match_types_decide_as_their_rfcs_say() {
        assert!(text_match("<t>meet</t>").matches("Team MEETING"));
        assert!(!text_match("<t collation=\"i;octet\">meet</t>").matches("Team MEETING"));
        assert!(!text_match("<t>ção</t>").matches("REUNIÇÃO"));
        assert!(text_match("<t collation=\"i;unicode-casemap\">ção</t>").matches("REUNIÇÃO"));
        assert!(text_match("<t match-type=\"starts-with\">ann</t>").matches("Anna"));
        assert!(!text_match("<t match-type=\"equals\">ann</t>").matches("Anna"));
        assert!(text_match("<t match-type=\"ends-with\">.org</t>").matches("a@b.ORG"));
        assert!(text_match("<t negate-condition=\"yes\">x</t>").matches("abc"));
        let unknown = parse(b"<t collation=\"i;basic\">x</t>").unwrap();
        assert_eq!(
            TextMatch::parse(&unknown, "urn:x", Collation::Octet)
                .unwrap_err()
                .status,
            403
        );
    }
}
