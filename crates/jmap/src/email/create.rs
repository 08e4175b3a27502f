//! Creating an Email with Email/set (RFC 8621 4.6): a draft or a message
//! to send, built from its header properties, a text and/or HTML body from
//! `bodyValues`, and attachments named by blob id (a message of the
//! account's or one of its parts), then stored as IMAP's APPEND stores.
//! A whole `bodyStructure` is not taken yet.

use super::get::utc_date;
use super::{Emails, blob_id, email_id, flags_of, thread_id, valid_keyword};
use crate::Context;
use crate::mailbox::parse_mailbox_id;
use crate::set_args::invalid;
use estafeta_core::model::{Flags, MailboxId};
use estafeta_store::{BlobId, NewMessage};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::raw::Raw;
use serde_json::{Map, Value, json};

/// The properties a create may give; the rest are the server's.
const SETTABLE: &[&str] = &[
    "mailboxIds",
    "keywords",
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
    "textBody",
    "htmlBody",
    "attachments",
    "bodyValues",
];

/// `[{"name": ..., "email": ...}]` as a mail-builder address list.
fn addresses<'a>(property: &str, value: &'a Value) -> Result<Address<'a>, Value> {
    let list = value
        .as_array()
        .ok_or_else(|| invalid(property, "a list of EmailAddress objects"))?;
    let mut out = Vec::with_capacity(list.len());
    for address in list {
        let email = address["email"]
            .as_str()
            .filter(|e| e.contains('@') && !e.contains(['\r', '\n', '<', '>']))
            .ok_or_else(|| invalid(property, "each address needs an email"))?;
        let name = address["name"].as_str().filter(|n| !n.contains(['\r', '\n']));
        out.push(Address::new_address(name, email));
    }
    Ok(Address::new_list(out))
}

/// `["id@host", ...]` as the ids a field lists.
fn message_ids<'a>(property: &str, value: &'a Value) -> Result<Vec<&'a str>, Value> {
    value
        .as_array()
        .ok_or_else(|| invalid(property, "a list of message ids"))?
        .iter()
        .map(|id| {
            id.as_str()
                .filter(|id| id.contains('@') && !id.contains(['<', '>', ' ', '\r', '\n']))
                .ok_or_else(|| invalid(property, "a message id is local@domain, without angle brackets"))
        })
        .collect()
}

/// The text of the one part a `textBody` or `htmlBody` names, from
/// `bodyValues`.
fn body_text<'a>(property: &str, value: &Value, values: &'a Map<String, Value>) -> Result<&'a str, Value> {
    let parts = value
        .as_array()
        .ok_or_else(|| invalid(property, "a list of one body part"))?;
    let [part] = parts.as_slice() else {
        return Err(invalid(property, "one body part"));
    };
    let part_id = part["partId"]
        .as_str()
        .ok_or_else(|| invalid(property, "the part names its value by partId"))?;
    values
        .get(part_id)
        .and_then(|v| v["value"].as_str())
        .ok_or_else(|| invalid("bodyValues", format!("no value for part {part_id}")))
}

/// The Email built and stored; what the server set, or why it was not.
pub(crate) async fn create(
    context: &Context<'_>,
    object: &Map<String, Value>,
    created_ids: &Map<String, Value>,
    emails: &Emails,
) -> Result<Value, Value> {
    for property in object.keys() {
        if !SETTABLE.contains(&property.as_str()) {
            let why = match property.as_str() {
                "bodyStructure" => "a bodyStructure is not taken yet: give textBody, htmlBody and attachments",
                "id" | "blobId" | "threadId" | "size" | "hasAttachment" | "preview" => "set by the server",
                _ => "not a property an Email is created with",
            };
            return Err(invalid(property, why));
        }
    }
    let mailboxes = mailbox_ids(object, created_ids, emails)?;
    let keywords = new_keywords(object)?;
    let now = estafeta_core::time::now();
    let received_at = new_date(object, "receivedAt")?.unwrap_or(now);
    let sent_at = new_date(object, "sentAt")?.unwrap_or(now);

    let mut message = MessageBuilder::new().date(sent_at);
    for (property, field) in [
        ("from", "From"),
        ("sender", "Sender"),
        ("to", "To"),
        ("cc", "Cc"),
        ("bcc", "Bcc"),
        ("replyTo", "Reply-To"),
    ] {
        if let Some(value) = object.get(property) {
            message = message.header(field, addresses(property, value)?);
        }
    }
    if let Some(subject) = object.get("subject") {
        let subject = subject.as_str().ok_or_else(|| invalid("subject", "a string"))?;
        message = message.subject(subject.replace(['\r', '\n'], " "));
    }
    // RFC 5322 3.6.4: every message has an id; one is made when none is given.
    let made_id;
    match object.get("messageId") {
        Some(value) => {
            let ids = message_ids("messageId", value)?;
            let [id] = ids.as_slice() else {
                return Err(invalid("messageId", "one message id"));
            };
            message = message.message_id(*id);
        }
        None => {
            let domain = context.account.address.rsplit('@').next().unwrap_or("localhost");
            made_id = format!("{:016x}.{now}@{domain}", rand_id());
            message = message.message_id(made_id.as_str());
        }
    }
    if let Some(value) = object.get("inReplyTo") {
        message = message.in_reply_to(message_ids("inReplyTo", value)?);
    }
    if let Some(value) = object.get("references") {
        message = message.references(message_ids("references", value)?);
    }

    let no_values = Map::new();
    let values = match object.get("bodyValues") {
        None => &no_values,
        Some(Value::Object(values)) => values,
        Some(_) => return Err(invalid("bodyValues", "an object")),
    };
    if let Some(text) = object.get("textBody") {
        message = message.text_body(body_text("textBody", text, values)?);
    }
    if let Some(html) = object.get("htmlBody") {
        message = message.html_body(body_text("htmlBody", html, values)?);
    }
    if object.get("textBody").is_none() && object.get("htmlBody").is_none() {
        message = message.text_body("");
    }
    let mut not_found = Vec::new();
    let mut total = 0usize;
    if let Some(attachments) = object.get("attachments") {
        let attachments = attachments.as_array().ok_or_else(|| invalid("attachments", "a list"))?;
        for part in attachments {
            let Some(blob) = part["blobId"].as_str() else {
                return Err(invalid("attachments", "each attachment names its blobId"));
            };
            let bytes = crate::blob::download(context, blob)
                .await
                .map_err(|e| json!({"type": "serverFail", "description": e.to_string()}))?;
            let Some(bytes) = bytes else {
                not_found.push(json!(blob));
                continue;
            };
            total += bytes.len();
            let media_type = part["type"].as_str().unwrap_or("application/octet-stream");
            let name = part["name"].as_str().unwrap_or("attachment");
            if media_type.contains(['\r', '\n', ';']) || name.contains(['\r', '\n']) {
                return Err(invalid("attachments", "a type or name with line breaks"));
            }
            message = match part["cid"].as_str() {
                Some(cid) if part["disposition"] == "inline" => {
                    message.inline(media_type.to_owned(), cid.to_owned(), bytes)
                }
                _ => message.attachment(media_type.to_owned(), name.to_owned(), bytes),
            };
        }
    }
    if !not_found.is_empty() {
        return Err(json!({"type": "blobNotFound", "notFound": not_found}));
    }
    if total > crate::LIMITS.max_size_upload {
        return Err(json!({"type": "tooLarge", "description": "the attachments are larger than the server takes"}));
    }
    message = message.header("MIME-Version", Raw::new("1.0"));
    let data = message
        .write_to_vec()
        .map_err(|e| json!({"type": "serverFail", "description": e.to_string()}))?;

    store_new(context, data, &mailboxes, &keywords, received_at).await
}

/// Stores a new message as IMAP's APPEND does, in the first mailbox and a
/// copy in each other; what the server set for the Email it is.
pub(crate) async fn store_new(
    context: &Context<'_>,
    data: Vec<u8>,
    mailboxes: &[MailboxId],
    keywords: &[String],
    received_at: i64,
) -> Result<Value, Value> {
    let flags = flags_of(keywords, &Flags::default());
    let store_error = |e: estafeta_store::StoreError| json!({"type": "serverFail", "description": e.to_string()});
    let content = BlobId::of(&data);
    let size = data.len();
    let new = NewMessage {
        data,
        internal_date: received_at,
        date_zone: 0,
        flags,
    };
    let first = mailboxes[0];
    let uids = context
        .store
        .append_messages(first, vec![new])
        .await
        .map_err(store_error)?;
    for other in &mailboxes[1..] {
        context
            .store
            .copy_messages(first, &uids, *other, false)
            .await
            .map_err(store_error)?;
    }
    // As stored: the same bytes stored before keep the number they got then.
    let thread = context
        .store
        .thread_roots(std::slice::from_ref(&content))
        .await
        .map_err(store_error)?[0];
    let email = super::Email {
        blob: content.clone(),
        size: size as u64,
        received_at,
        copies: Vec::new(),
        thread,
    };
    Ok(json!({
        "id": email_id(&content),
        "blobId": blob_id(&content),
        "threadId": thread_id(&email),
        "size": size,
        "receivedAt": utc_date(received_at),
    }))
}

/// `keywords` of a new Email: each set to true and a keyword.
pub(crate) fn new_keywords(object: &Map<String, Value>) -> Result<Vec<String>, Value> {
    let mut keywords = Vec::new();
    if let Some(given) = object.get("keywords") {
        let given = given.as_object().ok_or_else(|| invalid("keywords", "an object"))?;
        for (keyword, set) in given {
            if *set != Value::Bool(true) || !valid_keyword(keyword) {
                return Err(invalid("keywords", format!("{keyword} is not a keyword set to true")));
            }
            keywords.push(keyword.to_ascii_lowercase());
        }
    }
    Ok(keywords)
}

/// `receivedAt` (or another UTCDate property) of a new Email, if given.
pub(crate) fn new_date(object: &Map<String, Value>, property: &str) -> Result<Option<i64>, Value> {
    object
        .get(property)
        .map(|value| {
            value
                .as_str()
                .and_then(mail_parser::DateTime::parse_rfc3339)
                .filter(mail_parser::DateTime::is_valid)
                .map(|d| d.to_timestamp())
                .ok_or_else(|| invalid(property, "a date as RFC 3339 says"))
        })
        .transpose()
}

pub(crate) fn mailbox_ids(
    object: &Map<String, Value>,
    created_ids: &Map<String, Value>,
    emails: &Emails,
) -> Result<Vec<MailboxId>, Value> {
    let Some(Value::Object(given)) = object.get("mailboxIds") else {
        return Err(invalid("mailboxIds", "an Email is created in at least one mailbox"));
    };
    let mut mailboxes = Vec::new();
    for (id, set) in given {
        let id = match id.strip_prefix('#') {
            Some(creation) => created_ids.get(creation).and_then(Value::as_str).unwrap_or(id),
            None => id,
        };
        let mailbox = parse_mailbox_id(id)
            .filter(|m| emails.mailboxes.iter().any(|known| known.id == *m))
            .filter(|_| *set == Value::Bool(true))
            .ok_or_else(|| invalid("mailboxIds", format!("no mailbox {id}")))?;
        if !mailboxes.contains(&mailbox) {
            mailboxes.push(mailbox);
        }
    }
    if mailboxes.is_empty() {
        return Err(invalid("mailboxIds", "an Email is created in at least one mailbox"));
    }
    Ok(mailboxes)
}

/// A number for a made Message-ID, random so that two never meet.
fn rand_id() -> u64 {
    rand::random()
}
