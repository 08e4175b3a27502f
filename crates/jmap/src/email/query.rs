//! Email/query (RFC 8621 4.4, RFC 8620 5.5): filters and sorts over the
//! account's Emails. Conditions and sorts on metadata use the store's
//! index alone; those on header fields or text read each message once.

use super::view::{Form, HeaderProperty, View};
use super::{Email, Emails, valid_keyword};
use crate::Context;
use crate::error::MethodError;
use crate::mailbox::parse_mailbox_id;
use estafeta_core::model::MailboxId;
use estafeta_core::subject::base_subject;
use serde_json::{Map, Value, json};
use std::cmp::Ordering;

/// How many messages are read from the store at once when a query needs
/// their content.
const CONTENT_BATCH: usize = 256;

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Vec<Filter>),
    All(Vec<Condition>),
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    InMailbox(Option<MailboxId>),
    InMailboxOtherThan(Vec<Option<MailboxId>>),
    Before(i64),
    After(i64),
    MinSize(u64),
    MaxSize(u64),
    HasKeyword(String),
    NotKeyword(String),
    /// RFC 8621 4.4.1's thread conditions: every, some or no Email of the
    /// Email's Thread has the keyword.
    InThread(Share, String),
    HasAttachment(bool),
    /// Text in one of the named header fields (RFC 8621 4.4.1 from, to,
    /// cc, bcc, subject), in the body, or both (`text`).
    Text {
        fields: &'static [&'static str],
        body: bool,
        needle: String,
    },
    Header {
        name: String,
        needle: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Share {
    All,
    Some,
    None,
}

/// The keywords of each Thread: those every Email has, and those any has.
#[derive(Default)]
struct ThreadKeywords(std::collections::HashMap<String, (Vec<String>, Vec<String>)>);

impl ThreadKeywords {
    fn of(emails: &Emails) -> ThreadKeywords {
        let threads = emails.threads();
        ThreadKeywords(
            threads
                .into_iter()
                .map(|(thread, members)| {
                    let each: Vec<Vec<String>> = members.iter().map(|email| email.keywords()).collect();
                    let mut some: Vec<String> = each.iter().flatten().cloned().collect();
                    some.sort();
                    some.dedup();
                    let all = some
                        .iter()
                        .filter(|k| each.iter().all(|e| e.contains(k)))
                        .cloned()
                        .collect();
                    (thread, (all, some))
                })
                .collect(),
        )
    }

    fn holds(&self, email: &Email, share: Share, keyword: &str) -> bool {
        let (all, some) = match self.0.get(&super::thread_id(email)) {
            Some((all, some)) => (all.as_slice(), some.as_slice()),
            None => (&[][..], &[][..]),
        };
        let has = |list: &[String]| list.iter().any(|k| k == keyword);
        match share {
            Share::All => has(all),
            Share::Some => has(some),
            Share::None => !has(some),
        }
    }
}

fn unsupported(what: impl std::fmt::Display) -> MethodError {
    MethodError::described("unsupportedFilter", what.to_string())
}

fn utc_seconds(value: &Value) -> Option<i64> {
    let date = mail_parser::DateTime::parse_rfc3339(value.as_str()?)?;
    date.is_valid().then(|| date.to_timestamp())
}

impl Filter {
    fn parse(value: &Value) -> Result<Filter, MethodError> {
        let Value::Object(object) = value else {
            return Err(unsupported("a filter is an object"));
        };
        if let Some(operator) = object.get("operator") {
            let conditions = match object.get("conditions") {
                Some(Value::Array(conditions)) => {
                    conditions.iter().map(Filter::parse).collect::<Result<Vec<_>, _>>()?
                }
                _ => return Err(unsupported("an operator needs conditions")),
            };
            return match operator.as_str() {
                Some("AND") => Ok(Filter::And(conditions)),
                Some("OR") => Ok(Filter::Or(conditions)),
                Some("NOT") => Ok(Filter::Not(conditions)),
                _ => Err(unsupported(format!("operator {operator}"))),
            };
        }
        object
            .iter()
            .map(|(name, value)| Condition::parse(name, value))
            .collect::<Result<_, _>>()
            .map(Filter::All)
    }

    fn needs_content(&self) -> bool {
        match self {
            Filter::And(all) | Filter::Or(all) | Filter::Not(all) => all.iter().any(Filter::needs_content),
            Filter::All(conditions) => conditions.iter().any(Condition::needs_content),
        }
    }

    /// Whether a condition reads the body, not only the header.
    fn needs_body(&self) -> bool {
        match self {
            Filter::And(all) | Filter::Or(all) | Filter::Not(all) => all.iter().any(Filter::needs_body),
            Filter::All(conditions) => conditions
                .iter()
                .any(|c| matches!(c, Condition::HasAttachment(_) | Condition::Text { body: true, .. })),
        }
    }

    fn matches(&self, email: &Email, view: Option<&View<'_>>, threads: &ThreadKeywords) -> bool {
        match self {
            Filter::And(all) => all.iter().all(|f| f.matches(email, view, threads)),
            Filter::Or(any) => any.iter().any(|f| f.matches(email, view, threads)),
            Filter::Not(none) => !none.iter().any(|f| f.matches(email, view, threads)),
            Filter::All(conditions) => conditions.iter().all(|c| c.matches(email, view, threads)),
        }
    }

    fn reads_threads(&self) -> bool {
        match self {
            Filter::And(all) | Filter::Or(all) | Filter::Not(all) => all.iter().any(Filter::reads_threads),
            Filter::All(conditions) => conditions.iter().any(|c| matches!(c, Condition::InThread(..))),
        }
    }
}

impl Condition {
    fn parse(name: &str, value: &Value) -> Result<Condition, MethodError> {
        let bad = || unsupported(format!("{name}: {value}"));
        let text = || value.as_str().map(str::to_lowercase).ok_or_else(bad);
        let keyword = || {
            value
                .as_str()
                .filter(|k| valid_keyword(k))
                .map(str::to_ascii_lowercase)
                .ok_or_else(bad)
        };
        Ok(match name {
            "inMailbox" => Condition::InMailbox(parse_mailbox_id(value.as_str().ok_or_else(bad)?)),
            "inMailboxOtherThan" => Condition::InMailboxOtherThan(
                value
                    .as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .map(|id| id.as_str().map(parse_mailbox_id).ok_or_else(bad))
                    .collect::<Result<_, _>>()?,
            ),
            "before" => Condition::Before(utc_seconds(value).ok_or_else(bad)?),
            "after" => Condition::After(utc_seconds(value).ok_or_else(bad)?),
            "minSize" => Condition::MinSize(value.as_u64().ok_or_else(bad)?),
            "maxSize" => Condition::MaxSize(value.as_u64().ok_or_else(bad)?),
            "hasKeyword" => Condition::HasKeyword(keyword()?),
            "notKeyword" => Condition::NotKeyword(keyword()?),
            "allInThreadHaveKeyword" => Condition::InThread(Share::All, keyword()?),
            "someInThreadHaveKeyword" => Condition::InThread(Share::Some, keyword()?),
            "noneInThreadHaveKeyword" => Condition::InThread(Share::None, keyword()?),
            "hasAttachment" => Condition::HasAttachment(value.as_bool().ok_or_else(bad)?),
            "text" => Condition::Text {
                fields: &["From", "To", "Cc", "Bcc", "Subject"],
                body: true,
                needle: text()?,
            },
            "from" => Condition::Text {
                fields: &["From"],
                body: false,
                needle: text()?,
            },
            "to" => Condition::Text {
                fields: &["To"],
                body: false,
                needle: text()?,
            },
            "cc" => Condition::Text {
                fields: &["Cc"],
                body: false,
                needle: text()?,
            },
            "bcc" => Condition::Text {
                fields: &["Bcc"],
                body: false,
                needle: text()?,
            },
            "subject" => Condition::Text {
                fields: &["Subject"],
                body: false,
                needle: text()?,
            },
            "body" => Condition::Text {
                fields: &[],
                body: true,
                needle: text()?,
            },
            "header" => match value.as_array().map(Vec::as_slice) {
                Some([Value::String(name)]) => Condition::Header {
                    name: name.clone(),
                    needle: None,
                },
                Some([Value::String(name), Value::String(needle)]) => Condition::Header {
                    name: name.clone(),
                    needle: Some(needle.to_lowercase()),
                },
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        })
    }

    fn needs_content(&self) -> bool {
        matches!(
            self,
            Condition::HasAttachment(_) | Condition::Text { .. } | Condition::Header { .. }
        )
    }

    fn matches(&self, email: &Email, view: Option<&View<'_>>, threads: &ThreadKeywords) -> bool {
        match self {
            Condition::InThread(share, keyword) => threads.holds(email, *share, keyword),
            Condition::InMailbox(mailbox) => mailbox.is_some_and(|m| email.in_mailbox(m)),
            Condition::InMailboxOtherThan(mailboxes) => {
                email.copies.iter().any(|c| !mailboxes.contains(&Some(c.mailbox)))
            }
            Condition::Before(at) => email.received_at < *at,
            Condition::After(at) => email.received_at >= *at,
            Condition::MinSize(size) => email.size >= *size,
            Condition::MaxSize(size) => email.size < *size,
            Condition::HasKeyword(keyword) => email.has_keyword(keyword),
            Condition::NotKeyword(keyword) => !email.has_keyword(keyword),
            Condition::HasAttachment(wanted) => view.is_some_and(|v| v.message.attachments.is_empty() != *wanted),
            Condition::Text { fields, body, needle } => view.is_some_and(|view| {
                fields
                    .iter()
                    .any(|field| field_text(view, field).contains(needle.as_str()))
                    || (*body && view.text().any(|text| text.to_lowercase().contains(needle.as_str())))
            }),
            Condition::Header { name, needle } => view.is_some_and(|view| {
                let all = view.header(&header(name, Form::Text, true));
                let values = all.as_array().map(Vec::as_slice).unwrap_or_default();
                match needle {
                    None => !values.is_empty(),
                    Some(needle) => values
                        .iter()
                        .any(|v| v.as_str().is_some_and(|v| v.to_lowercase().contains(needle.as_str()))),
                }
            }),
        }
    }
}

fn header(name: &str, form: Form, all: bool) -> HeaderProperty {
    HeaderProperty {
        property: String::new(),
        name: name.to_owned(),
        form,
        all,
    }
}

/// Every field of that name, decoded, in lower case.
fn field_text(view: &View<'_>, name: &str) -> String {
    let values = view.header(&header(name, Form::Text, true));
    let texts = values.as_array().into_iter().flatten().filter_map(Value::as_str);
    texts.collect::<Vec<_>>().join("\n").to_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    ReceivedAt,
    Size,
    From,
    To,
    Subject,
    SentAt,
    HasKeyword,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    key: SortKey,
    keyword: Option<String>,
    /// For the thread keyword sorts: every or some Email of the Thread.
    share: Option<Share>,
    ascending: bool,
}

/// The sort options the session resource lists (RFC 8621 1.3.1).
pub(crate) const SORT_OPTIONS: &[&str] = &[
    "receivedAt",
    "size",
    "from",
    "to",
    "subject",
    "sentAt",
    "hasKeyword",
    "allInThreadHaveKeyword",
    "someInThreadHaveKeyword",
];

impl Comparator {
    fn parse(value: &Value) -> Result<Comparator, MethodError> {
        let bad = |why: &str| MethodError::described("unsupportedSort", format!("{why}: {value}"));
        let Value::Object(object) = value else {
            return Err(bad("a comparator is an object"));
        };
        let key = match object.get("property").and_then(Value::as_str) {
            Some("receivedAt") => SortKey::ReceivedAt,
            Some("size") => SortKey::Size,
            Some("from") => SortKey::From,
            Some("to") => SortKey::To,
            Some("subject") => SortKey::Subject,
            Some("sentAt") => SortKey::SentAt,
            Some("hasKeyword" | "allInThreadHaveKeyword" | "someInThreadHaveKeyword") => SortKey::HasKeyword,
            _ => return Err(bad("no such sort property")),
        };
        let keyword = match (key, object.get("keyword")) {
            (SortKey::HasKeyword, Some(Value::String(k))) if valid_keyword(k) => Some(k.to_ascii_lowercase()),
            (SortKey::HasKeyword, _) => return Err(MethodError::invalid_arguments("a keyword sort needs a keyword")),
            _ => None,
        };
        let ascending = match object.get("isAscending") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(ascending)) => *ascending,
            Some(_) => return Err(MethodError::invalid_arguments("isAscending must be a boolean")),
        };
        match object.get("collation").and_then(Value::as_str) {
            None | Some("i;ascii-casemap" | "i;unicode-casemap") => {}
            Some(other) => return Err(bad(&format!("collation {other}"))),
        }
        let share = match object.get("property").and_then(Value::as_str) {
            Some("allInThreadHaveKeyword") => Some(Share::All),
            Some("someInThreadHaveKeyword") => Some(Share::Some),
            _ => None,
        };
        Ok(Comparator {
            key,
            keyword,
            share,
            ascending,
        })
    }

    fn needs_content(&self) -> bool {
        matches!(
            self.key,
            SortKey::From | SortKey::To | SortKey::Subject | SortKey::SentAt
        )
    }
}

/// What an Email sorts by, taken once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Sortable {
    Number(i64),
    Text(String),
}

/// RFC 8621 4.4.2: an address sorts by the name of the first one, or its
/// email when it has no name.
fn first_address(view: &View<'_>, field: &str) -> String {
    let addresses = view.header(&header(field, Form::Addresses, false));
    let first = addresses.get(0);
    let name = first.and_then(|a| a["name"].as_str()).filter(|n| !n.is_empty());
    name.or_else(|| first.and_then(|a| a["email"].as_str()))
        .unwrap_or_default()
        .to_lowercase()
}

fn sort_value(comparator: &Comparator, email: &Email, view: Option<&View<'_>>, threads: &ThreadKeywords) -> Sortable {
    let text = |read: &dyn Fn(&View<'_>) -> String| Sortable::Text(view.map(read).unwrap_or_default());
    match comparator.key {
        SortKey::ReceivedAt => Sortable::Number(email.received_at),
        SortKey::Size => Sortable::Number(email.size as i64),
        SortKey::HasKeyword => {
            Sortable::Number(i64::from(comparator.keyword.as_deref().is_some_and(
                |k| match comparator.share {
                    Some(share) => threads.holds(email, share, k),
                    None => email.has_keyword(k),
                },
            )))
        }
        SortKey::From => text(&|v| first_address(v, "From")),
        SortKey::To => text(&|v| first_address(v, "To")),
        SortKey::Subject => text(&|v| {
            let raw = v.header(&header("Subject", Form::Raw, false));
            base_subject(raw.as_str().unwrap_or_default().as_bytes()).key()
        }),
        // RFC 8621 4.1.3: without a usable Date, sentAt is null; such
        // mail sorts by when it came.
        SortKey::SentAt => {
            let sent = view
                .map(|v| v.header(&header("Date", Form::Date, false)))
                .and_then(|d| mail_parser::DateTime::parse_rfc3339(d.as_str()?))
                .map(|d| d.to_timestamp());
            Sortable::Number(sent.unwrap_or(email.received_at))
        }
    }
}

fn int_argument(arguments: &Map<String, Value>, name: &str) -> Result<Option<i64>, MethodError> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| MethodError::invalid_arguments(format!("{name} must be an integer"))),
    }
}

pub async fn query(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let filter = match arguments.get("filter") {
        None | Some(Value::Null) => None,
        Some(value) => Some(Filter::parse(value)?),
    };
    let comparators = match arguments.get("sort") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(sort)) => sort.iter().map(Comparator::parse).collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(MethodError::invalid_arguments("sort must be an array")),
    };
    let position = int_argument(&arguments, "position")?.unwrap_or(0);
    let anchor_offset = int_argument(&arguments, "anchorOffset")?.unwrap_or(0);
    let limit = int_argument(&arguments, "limit")?;
    if limit.is_some_and(|l| l < 0) {
        return Err(MethodError::invalid_arguments("limit must not be negative"));
    }
    let anchor = match arguments.get("anchor") {
        None | Some(Value::Null) => None,
        Some(Value::String(anchor)) => Some(anchor.clone()),
        Some(_) => return Err(MethodError::invalid_arguments("anchor must be an id")),
    };
    let total_wanted = arguments.get("calculateTotal") == Some(&Value::Bool(true));

    let collapse = arguments.get("collapseThreads") == Some(&Value::Bool(true));

    let emails = Emails::load(context).await?;
    let needs_content =
        filter.as_ref().is_some_and(Filter::needs_content) || comparators.iter().any(Comparator::needs_content);
    let threads = if filter.as_ref().is_some_and(Filter::reads_threads) || comparators.iter().any(|c| c.share.is_some())
    {
        ThreadKeywords::of(&emails)
    } else {
        ThreadKeywords::default()
    };
    // The sort values of an Email the filter keeps.
    let kept = |email: &Email, view: Option<&View<'_>>| {
        filter
            .as_ref()
            .is_none_or(|f| f.matches(email, view, &threads))
            .then(|| {
                comparators
                    .iter()
                    .map(|c| sort_value(c, email, view, &threads))
                    .collect::<Vec<_>>()
            })
    };
    let mut found: Vec<(&Email, Vec<Sortable>)> = Vec::new();
    if needs_content {
        let body = filter.as_ref().is_some_and(Filter::needs_body);
        for batch in emails.list.chunks(CONTENT_BATCH) {
            let blobs: Vec<_> = batch.iter().map(|e| e.blob.clone()).collect();
            let contents = context.store.message_contents(&blobs).await;
            for (email, content) in batch.iter().zip(contents) {
                let content = content?;
                let view = if body {
                    View::new(&content)
                } else {
                    View::header_only(&content)
                };
                if let Some(values) = kept(email, Some(&view)) {
                    found.push((email, values));
                }
            }
        }
    } else {
        found.extend(
            emails
                .list
                .iter()
                .filter_map(|e| kept(e, None).map(|values| (e, values))),
        );
    }
    // Ties go newest first, then by id, so every query gives one order.
    found.sort_by(|(a, a_values), (b, b_values)| {
        comparators
            .iter()
            .zip(a_values.iter().zip(b_values))
            .map(|(comparator, (x, y))| if comparator.ascending { x.cmp(y) } else { y.cmp(x) })
            .find(|order| *order != Ordering::Equal)
            .unwrap_or_else(|| b.received_at.cmp(&a.received_at).then_with(|| a.blob.cmp(&b.blob)))
    });

    // RFC 8621 4.4.3: collapsed, each Thread shows as its first Email in
    // this order, and the total counts Threads.
    if collapse {
        let mut seen = std::collections::HashSet::new();
        found.retain(|(email, _)| seen.insert(super::thread_id(email)));
    }
    let total = found.len();
    // RFC 8620 5.5: an anchor overrides the position; a negative position
    // counts from the end.
    let start = match &anchor {
        Some(anchor) => {
            let at = found
                .iter()
                .position(|(email, _)| email.id() == *anchor)
                .ok_or_else(|| MethodError::new("anchorNotFound"))?;
            (at as i64 + anchor_offset).max(0) as usize
        }
        None if position < 0 => (total as i64 + position).max(0) as usize,
        None => position as usize,
    }
    .min(total);
    let end = limit.map_or(total, |l| start.saturating_add(l as usize).min(total));
    let ids: Vec<String> = found[start..end].iter().map(|(email, _)| email.id()).collect();
    let mut response = json!({
        "accountId": account_id,
        "queryState": emails.state,
        "canCalculateChanges": true,
        "position": start,
        "ids": ids,
    });
    if total_wanted {
        response["total"] = json!(total);
    }
    Ok(response)
}

/// RFC 8620 5.6: the query run again, against Email/changes since the
/// old state (an Email's state names each mailbox's UIDNEXT and
/// HIGHESTMODSEQ, so any old state says what changed).
pub async fn query_changes(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    context.check_account(&arguments)?;
    let (since, changes_arguments) = crate::query_changes::since(&arguments)?;
    let now = query(context, crate::query_changes::query_arguments(&arguments)).await?;
    let changes = super::changes::changes(context, changes_arguments).await?;
    crate::query_changes::answer(&arguments, &since, &now, &changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::get::utc_date;

    #[test]
    fn filters_parse_or_say_what_is_unsupported() {
        let filter = Filter::parse(&json!({"operator": "OR", "conditions": [
            {"inMailbox": "m1", "hasKeyword": "$Seen"},
            {"operator": "NOT", "conditions": [{"from": "Ann"}]}
        ]}))
        .unwrap();
        assert!(filter.needs_content());
        let Filter::Or(parts) = &filter else {
            panic!("{filter:?}")
        };
        assert_eq!(
            parts[0],
            Filter::All(vec![
                Condition::HasKeyword("$seen".into()),
                Condition::InMailbox(Some(MailboxId(1)))
            ])
        );
        assert!(
            !Filter::parse(&json!({"after": "2026-01-01T00:00:00Z"}))
                .unwrap()
                .needs_content()
        );
        for bad in [
            json!({"nope": 1}),
            json!({"after": "yesterday"}),
            json!({"hasKeyword": "two words"}),
            json!({"operator": "XOR", "conditions": []}),
            json!({"operator": "AND"}),
            json!({"header": []}),
            json!([]),
        ] {
            assert_eq!(Filter::parse(&bad).unwrap_err().kind, "unsupportedFilter", "{bad}");
        }
    }

    #[test]
    fn comparators_need_known_properties() {
        let newest = Comparator::parse(&json!({"property": "receivedAt", "isAscending": false})).unwrap();
        assert!(!newest.ascending && !newest.needs_content());
        assert!(
            Comparator::parse(&json!({"property": "subject"}))
                .unwrap()
                .needs_content()
        );
        assert_eq!(
            Comparator::parse(&json!({"property": "color"})).unwrap_err().kind,
            "unsupportedSort"
        );
        assert_eq!(
            Comparator::parse(&json!({"property": "hasKeyword"})).unwrap_err().kind,
            "invalidArguments"
        );
        assert_eq!(
            Comparator::parse(&json!({"property": "size", "collation": "i;octet-x"}))
                .unwrap_err()
                .kind,
            "unsupportedSort"
        );
        assert_eq!(utc_seconds(&json!("1970-01-01T00:01:00Z")), Some(60));
        assert_eq!(utc_date(60), "1970-01-01T00:01:00Z");
    }
}
