//! Email/import (RFC 8621 4.8): a message the client already has as a
//! blob (an upload, or a message or part of the account's) becomes an
//! Email in the mailboxes named, as IMAP's APPEND would store it.

use super::Emails;
use super::create::{mailbox_ids, new_date, new_keywords, store_new};
use crate::error::MethodError;
use crate::set_args::{check_state, invalid, or_null};
use crate::{Context, LIMITS};
use serde_json::{Map, Value, json};

async fn import_one(
    context: &Context<'_>,
    object: &Map<String, Value>,
    created_ids: &Map<String, Value>,
    emails: &Emails,
) -> Result<Value, Value> {
    for property in object.keys() {
        if !["blobId", "mailboxIds", "keywords", "receivedAt"].contains(&property.as_str()) {
            return Err(invalid(
                property,
                "an import gives blobId, mailboxIds, keywords and receivedAt",
            ));
        }
    }
    let mailboxes = mailbox_ids(object, created_ids, emails)?;
    let keywords = new_keywords(object)?;
    let received_at = new_date(object, "receivedAt")?.unwrap_or_else(estafeta_core::time::now);
    let blob = object
        .get("blobId")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("blobId", "the message to import, by blob id"))?;
    let bytes = crate::blob::download(context, blob)
        .await
        .map_err(|e| json!({"type": "serverFail", "description": e.to_string()}))?
        .ok_or_else(|| json!({"type": "blobNotFound", "notFound": [blob]}))?;
    // RFC 8621 4.8: the blob must be an RFC 5322 message; its line ends
    // are made CRLF as an IMAP APPEND's are.
    let message = estafeta_core::crlf::line_ends(bytes);
    if !starts_with_a_field(&message) {
        return Err(json!({"type": "invalidEmail", "description": "the blob is not a message with a header"}));
    }
    store_new(context, message, &mailboxes, &keywords, received_at).await
}

/// RFC 5322 2.2: a message starts with a header field, a name of printable
/// characters other than the colon and then a colon.
fn starts_with_a_field(message: &[u8]) -> bool {
    let name_end = message.iter().position(|&b| !(33..=126).contains(&b) || b == b':');
    name_end.is_some_and(|end| end > 0 && message[end] == b':')
}

pub async fn import(
    context: &Context<'_>,
    arguments: Map<String, Value>,
    created_ids: &mut Map<String, Value>,
) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let emails = Emails::load(context).await?;
    check_state(&arguments, &emails.state)?;
    let Some(Value::Object(imports)) = arguments.get("emails") else {
        return Err(MethodError::invalid_arguments(
            "emails is required: creation ids to EmailImport objects",
        ));
    };
    if imports.len() > LIMITS.max_objects_in_set {
        return Err(MethodError::new("requestTooLarge"));
    }
    let (mut created, mut not_created) = (Map::new(), Map::new());
    for (creation_id, object) in imports {
        let outcome = match object {
            Value::Object(object) => import_one(context, object, created_ids, &emails).await,
            _ => Err(invalid("blobId", "an EmailImport is an object")),
        };
        match outcome {
            Ok(made) => {
                created_ids.insert(creation_id.clone(), made["id"].clone());
                created.insert(creation_id.clone(), made);
            }
            Err(error) => {
                not_created.insert(creation_id.clone(), error);
            }
        }
    }
    let new_state = Emails::load(context).await?.state;
    Ok(json!({
        "accountId": account_id,
        "oldState": emails.state,
        "newState": new_state,
        "created": or_null(created),
        "notCreated": or_null(not_created),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_starts_with_a_header_field() {
        assert!(starts_with_a_field(b"From: a@b\r\n\r\nhi"));
        assert!(starts_with_a_field(b"X-Odd:x"));
        for not in [
            &b"%PDF-1.4 tiny"[..],
            b"From a@b Mon",
            b": empty name",
            b"",
            b"\r\nbody",
        ] {
            assert!(!starts_with_a_field(not), "{:?}", String::from_utf8_lossy(not));
        }
    }
}
