//! Email/get (RFC 8621 4.2): metadata from the store's index; header and
//! body properties from the content, read only when one is asked for.

use super::view::{BODY_PROPERTIES, BodyProperty, DEFAULT_BODY_PROPERTIES, HeaderProperty, View};
use super::{Email, Emails, blob_id, thread_id};
use crate::error::MethodError;
use crate::{Context, LIMITS};
use serde_json::{Map, Value, json};

/// RFC 8621 4.2: what an Email shows when `properties` is not given.
const DEFAULT_PROPERTIES: &[&str] = &[
    "id",
    "blobId",
    "threadId",
    "mailboxIds",
    "keywords",
    "size",
    "receivedAt",
    "messageId",
    "inReplyTo",
    "references",
    "sender",
    "from",
    "to",
    "cc",
    "bcc",
    "replyTo",
    "subject",
    "sentAt",
    "hasAttachment",
    "preview",
    "bodyValues",
    "textBody",
    "htmlBody",
    "attachments",
];

/// Properties the store's index answers without the content.
const METADATA: &[&str] = &[
    "id",
    "blobId",
    "threadId",
    "mailboxIds",
    "keywords",
    "size",
    "receivedAt",
];

const CONTENT: &[&str] = &[
    "messageId",
    "inReplyTo",
    "references",
    "sender",
    "from",
    "to",
    "cc",
    "bcc",
    "replyTo",
    "subject",
    "sentAt",
    "headers",
    "hasAttachment",
    "preview",
    "bodyStructure",
    "bodyValues",
    "textBody",
    "htmlBody",
    "attachments",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Property {
    Named(&'static str),
    Header(HeaderProperty),
}

impl Property {
    fn parse(name: &str) -> Result<Property, MethodError> {
        if let Some(header) = HeaderProperty::parse(name)? {
            return Ok(Property::Header(header));
        }
        METADATA
            .iter()
            .chain(CONTENT)
            .find(|known| **known == name)
            .map(|known| Property::Named(known))
            .ok_or_else(|| MethodError::invalid_arguments(format!("unknown property {name}")))
    }

    fn needs_content(&self) -> bool {
        !matches!(self, Property::Named(name) if METADATA.contains(name))
    }

    /// Whether the property reads the body, not only the header.
    fn needs_body(&self) -> bool {
        matches!(self, Property::Named(name) if BODY.contains(name))
    }
}

/// Properties read from the body's parts.
const BODY: &[&str] = &[
    "hasAttachment",
    "preview",
    "bodyStructure",
    "bodyValues",
    "textBody",
    "htmlBody",
    "attachments",
];

fn names(arguments: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, MethodError> {
    match arguments.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| MethodError::invalid_arguments(format!("{key} must hold strings"))),
        Some(_) => Err(MethodError::invalid_arguments(format!(
            "{key} must be an array or null"
        ))),
    }
}

fn flag(arguments: &Map<String, Value>, key: &str) -> Result<bool, MethodError> {
    match arguments.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(MethodError::invalid_arguments(format!("{key} must be a boolean"))),
    }
}

/// What to show of each Email, from the arguments of Email/get.
pub(crate) struct Shape {
    properties: Vec<Property>,
    body_properties: Vec<BodyProperty>,
    text_values: bool,
    html_values: bool,
    all_values: bool,
    max_bytes: usize,
}

impl Shape {
    pub fn parse(arguments: &Map<String, Value>) -> Result<Shape, MethodError> {
        let mut properties = vec![Property::Named("id")];
        match names(arguments, "properties")? {
            None => properties.extend(DEFAULT_PROPERTIES[1..].iter().map(|p| Property::Named(p))),
            Some(asked) => {
                for name in asked {
                    let property = Property::parse(&name)?;
                    if !properties.contains(&property) {
                        properties.push(property);
                    }
                }
            }
        }
        let body_properties = match names(arguments, "bodyProperties")? {
            None => DEFAULT_BODY_PROPERTIES.iter().map(|p| BodyProperty::Named(p)).collect(),
            Some(asked) => asked
                .iter()
                .map(|name| match HeaderProperty::parse(name)? {
                    Some(header) => Ok(BodyProperty::Header(header)),
                    None => BODY_PROPERTIES
                        .iter()
                        .find(|known| **known == name)
                        .map(|known| BodyProperty::Named(known))
                        .ok_or_else(|| MethodError::invalid_arguments(format!("unknown body property {name}"))),
                })
                .collect::<Result<_, _>>()?,
        };
        let max_bytes = match arguments.get("maxBodyValueBytes") {
            None | Some(Value::Null) => 0,
            Some(value) => value
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| MethodError::invalid_arguments("maxBodyValueBytes must be a positive integer"))?
                as usize,
        };
        Ok(Shape {
            properties,
            body_properties,
            text_values: flag(arguments, "fetchTextBodyValues")?,
            html_values: flag(arguments, "fetchHTMLBodyValues")?,
            all_values: flag(arguments, "fetchAllBodyValues")?,
            max_bytes,
        })
    }

    fn needs_content(&self) -> bool {
        self.properties.iter().any(Property::needs_content)
    }

    pub(crate) fn describe(&self, email: &Email, content: Option<&[u8]>) -> Value {
        let body = self.properties.iter().any(Property::needs_body);
        let view = content.map(|raw| if body { View::new(raw) } else { View::header_only(raw) });
        let blob = blob_id(&email.blob);
        let mut object = Map::new();
        for property in &self.properties {
            let (name, value) = match property {
                Property::Header(header) => (
                    header.property.as_str(),
                    view.as_ref().map_or(Value::Null, |v| v.header(header)),
                ),
                Property::Named(name) => (*name, self.named(name, email, view.as_ref(), &blob)),
            };
            object.insert(name.to_owned(), value);
        }
        Value::Object(object)
    }

    fn named(&self, name: &str, email: &Email, view: Option<&View<'_>>, blob: &str) -> Value {
        match name {
            "id" => json!(email.id()),
            "blobId" => json!(blob),
            "threadId" => json!(thread_id(email)),
            "mailboxIds" => Value::Object(email.mailbox_ids()),
            "keywords" => Value::Object(email.keywords().into_iter().map(|k| (k, Value::Bool(true))).collect()),
            "size" => json!(email.size),
            "receivedAt" => json!(utc_date(email.received_at)),
            _ => {
                let Some(view) = view else {
                    return Value::Null;
                };
                match name {
                    "bodyStructure" => view.structure(&self.body_properties, blob),
                    "textBody" => view.parts(&view.message.text_body, &self.body_properties, blob),
                    "htmlBody" => view.parts(&view.message.html_body, &self.body_properties, blob),
                    "attachments" => view.parts(&view.message.attachments, &self.body_properties, blob),
                    "bodyValues" => self.body_values(view),
                    other => view.convenience(other).unwrap_or(Value::Null),
                }
            }
        }
    }

    /// RFC 8621 4.2: the values of the text parts the fetch flags name.
    fn body_values(&self, view: &View<'_>) -> Value {
        let message = &view.message;
        let mut ids: Vec<u32> = Vec::new();
        if self.text_values || self.all_values {
            ids.extend(&message.text_body);
        }
        if self.html_values || self.all_values {
            ids.extend(&message.html_body);
        }
        if self.all_values {
            ids.extend(&message.attachments);
        }
        let mut values = Map::new();
        for id in ids {
            if let Some(value) = view.body_value(id, self.max_bytes) {
                values.insert(id.to_string(), value);
            }
        }
        Value::Object(values)
    }
}

/// `2026-12-07T10:00:00Z` (RFC 8620 1.4 UTCDate).
pub(crate) fn utc_date(secs: i64) -> String {
    let c = estafeta_core::time::civil(secs);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

pub async fn get(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let shape = Shape::parse(&arguments)?;
    let ids = names(&arguments, "ids")?;
    let emails = match &ids {
        Some(ids) if ids.len() <= LIMITS.max_objects_in_get => {
            let blobs: Vec<_> = ids.iter().filter_map(|id| super::parse_email_id(id)).collect();
            Emails::holding(context, &blobs).await?
        }
        _ => Emails::load(context).await?,
    };
    let mut not_found = Vec::new();
    let chosen: Vec<&Email> = match ids {
        None => emails.list.iter().collect(),
        Some(ids) => {
            let mut chosen: Vec<&Email> = Vec::new();
            for id in ids {
                match emails.find(&id) {
                    Some(email) if !chosen.iter().any(|c| c.blob == email.blob) => chosen.push(email),
                    Some(_) => {}
                    None if !not_found.contains(&id) => not_found.push(id),
                    None => {}
                }
            }
            chosen
        }
    };
    if chosen.len() > LIMITS.max_objects_in_get {
        return Err(MethodError::new("requestTooLarge"));
    }
    let contents = if shape.needs_content() {
        let blobs: Vec<_> = chosen.iter().map(|e| e.blob.clone()).collect();
        context.store.message_contents(&blobs).await
    } else {
        Vec::new()
    };
    let mut list = Vec::with_capacity(chosen.len());
    for (i, email) in chosen.iter().enumerate() {
        let content = match contents.get(i) {
            Some(Ok(content)) => Some(content.as_slice()),
            Some(Err(error)) => return Err(MethodError::described("serverFail", error.to_string())),
            None => None,
        };
        list.push(shape.describe(email, content));
    }
    Ok(json!({
        "accountId": account_id,
        "state": emails.state,
        "list": list,
        "notFound": not_found,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_rfc_3339_in_utc() {
        assert_eq!(utc_date(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_date(1_796_637_600), "2026-12-07T10:00:00Z");
    }

    #[test]
    fn properties_are_checked_and_id_always_comes_back() {
        let shape = Shape::parse(
            json!({"properties": ["subject", "subject", "header:X:asText"]})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(shape.properties.len(), 3);
        assert_eq!(shape.properties[0], Property::Named("id"));
        assert!(shape.needs_content());
        let metadata = Shape::parse(json!({"properties": ["keywords", "mailboxIds"]}).as_object().unwrap()).unwrap();
        assert!(!metadata.needs_content());
        for bad in [
            json!({"properties": ["nope"]}),
            json!({"properties": "subject"}),
            json!({"bodyProperties": ["x"]}),
            json!({"maxBodyValueBytes": 0}),
            json!({"fetchTextBodyValues": "yes"}),
        ] {
            assert!(Shape::parse(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }
}
