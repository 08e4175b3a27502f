//! EmailSubmission/set (RFC 8621 7.5): an Email of the account sent through
//! the server's own submission path (the checks and records of the
//! submission port, given by the `Sender` the server plugs in), and then
//! the Email moved or changed as `onSuccessUpdateEmail` says (from Drafts
//! to Sent, say). Sending is immediate: `undoStatus` is `final`.

use crate::email::{Emails, email_id};
use crate::error::MethodError;
use crate::identity::Identities;
use crate::set_args::{check_state, invalid, or_null};
use crate::{Context, LIMITS};
use estafeta_store::Account;
use serde_json::{Map, Value, json};

/// Why a message was not taken: the reply the submission port gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The SMTP reply code (RFC 5321 4.2): 4xx is a try-later.
    pub code: u16,
    pub text: String,
}

/// Sends a message for an account the way the submission port would.
#[async_trait::async_trait]
pub trait Sender: Send + Sync {
    async fn send(
        &self,
        account: &Account,
        mail_from: &str,
        rcpt_to: &[String],
        message: Vec<u8>,
    ) -> Result<String, Refusal>;
}

/// The addresses of one header field, read as JMAP reads them.
fn addresses(view: &Value) -> Vec<String> {
    view.as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["email"].as_str().map(str::to_owned))
        .collect()
}

/// RFC 8621 7.5: without an envelope, the sender is the Sender field's
/// address or else From's, and the recipients are To, Cc and Bcc's.
fn envelope(object: &Map<String, Value>, headers: &Value) -> Result<(String, Vec<String>), Value> {
    if let Some(given) = object.get("envelope").filter(|e| !e.is_null()) {
        let from = given["mailFrom"]["email"]
            .as_str()
            .ok_or_else(|| invalid("envelope", "mailFrom needs an email"))?;
        let to = given["rcptTo"]
            .as_array()
            .ok_or_else(|| invalid("envelope", "rcptTo is a list"))?
            .iter()
            .map(|r| r["email"].as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("envelope", "each rcptTo needs an email"))?;
        return Ok((from.to_owned(), to));
    }
    let from = addresses(&headers["sender"])
        .into_iter()
        .chain(addresses(&headers["from"]))
        .next()
        .ok_or_else(|| invalid("envelope", "the Email has no From to send as"))?;
    let mut to = Vec::new();
    for field in ["to", "cc", "bcc"] {
        for address in addresses(&headers[field]) {
            if !to.iter().any(|t: &String| t.eq_ignore_ascii_case(&address)) {
                to.push(address);
            }
        }
    }
    Ok((from, to))
}

/// The message without its Bcc fields (RFC 5322 3.6.3: blind copies are
/// not shown to the other recipients).
fn without_bcc(message: &[u8]) -> Vec<u8> {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |at| at + 2);
    let mut out = Vec::with_capacity(message.len());
    let mut skipping = false;
    for line in message[..end].split_inclusive(|&b| b == b'\n') {
        let continued = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continued {
            skipping = line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"bcc:");
        }
        if !skipping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&message[end..]);
    out
}

fn refusal(refused: Refusal) -> Value {
    let kind = match refused.code {
        552 => "tooLarge",
        550 if refused.text.contains("not yours") => "forbiddenFrom",
        554 if refused.text.contains("recipients") => "noRecipients",
        code if code < 500 => "serverFail",
        _ => "forbiddenToSend",
    };
    json!({"type": kind, "description": format!("{} {}", refused.code, refused.text)})
}

async fn create_one(
    context: &Context<'_>,
    object: &Map<String, Value>,
    created_ids: &Map<String, Value>,
    emails: &Emails,
) -> Result<(Value, String), Value> {
    let sender = context
        .sender
        .ok_or_else(|| json!({"type": "forbiddenToSend", "description": "this server sends no mail"}))?;
    let identities = Identities::load(context)
        .await
        .map_err(|e| json!({"type": "serverFail", "description": e.kind}))?;
    // RFC 8620 5.3: "#creation" names what an earlier call made.
    let identity_given = object.get("identityId").and_then(Value::as_str).unwrap_or_default();
    let identity_id = match identity_given.strip_prefix('#') {
        Some(creation) => created_ids.get(creation).and_then(Value::as_str).unwrap_or_default(),
        None => identity_given,
    };
    if identities.find(context, identity_id).is_none() {
        return Err(invalid("identityId", "not an identity of this account"));
    }
    let email_id_given = object.get("emailId").and_then(Value::as_str).unwrap_or_default();
    let resolved = match email_id_given.strip_prefix('#') {
        Some(creation) => created_ids.get(creation).and_then(Value::as_str).unwrap_or_default(),
        None => email_id_given,
    };
    let email = emails
        .find(resolved)
        .ok_or_else(|| invalid("emailId", "no such Email"))?;
    let message = context
        .store
        .message_content(&email.blob)
        .await
        .map_err(|e| json!({"type": "serverFail", "description": e.to_string()}))?;
    // The address fields only: the header is all that is parsed.
    let view = crate::email::view::View::header_only(&message);
    let headers: Map<String, Value> = ["sender", "from", "to", "cc", "bcc"]
        .into_iter()
        .map(|field| (field.to_owned(), view.convenience(field).unwrap_or(Value::Null)))
        .collect();
    let headers = Value::Object(headers);
    let (mail_from, rcpt_to) = envelope(object, &headers)?;
    if rcpt_to.is_empty() {
        return Err(json!({"type": "noRecipients", "description": "no To, Cc or Bcc to send to"}));
    }
    if message.len() > LIMITS.max_size_upload {
        return Err(json!({"type": "tooLarge"}));
    }
    sender
        .send(context.account, &mail_from, &rcpt_to, without_bcc(&message))
        .await
        .map_err(refusal)?;
    let id = format!("s{:016x}", rand::random::<u64>());
    let made = json!({
        "id": id,
        "undoStatus": "final",
        "sendAt": crate::email::get::utc_date(estafeta_core::time::now()),
        "envelope": {
            "mailFrom": {"email": mail_from, "parameters": null},
            "rcptTo": rcpt_to.iter().map(|r| json!({"email": r, "parameters": null})).collect::<Vec<_>>(),
        },
        "deliveryStatus": null,
        "dsnBlobIds": [],
        "mdnBlobIds": [],
        "emailId": email_id(&email.blob),
        "threadId": crate::email::thread_id(email),
    });
    Ok((made, email_id(&email.blob)))
}

/// EmailSubmission/set; the second value is the implicit Email/set
/// response `onSuccessUpdateEmail` or `onSuccessDestroyEmail` asked for.
pub async fn set(
    context: &Context<'_>,
    arguments: Map<String, Value>,
    created_ids: &mut Map<String, Value>,
) -> Result<(Value, Option<Value>), MethodError> {
    let account_id = context.check_account(&arguments)?;
    let state = state(context);
    check_state(&arguments, &state)?;
    let create = match arguments.get("create") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(create)) => create.clone(),
        Some(_) => return Err(MethodError::invalid_arguments("create must be an object")),
    };
    if create.len() > LIMITS.max_objects_in_set {
        return Err(MethodError::new("requestTooLarge"));
    }
    let emails = Emails::load(context).await?;
    let (mut created, mut not_created) = (Map::new(), Map::new());
    // Submission id (and creation id) of each sent Email's id.
    let mut sent: Vec<(String, String, String)> = Vec::new();
    for (creation_id, object) in create {
        let outcome = match &object {
            Value::Object(object) => create_one(context, object, created_ids, &emails).await,
            _ => Err(invalid("emailId", "an EmailSubmission is an object")),
        };
        match outcome {
            Ok((made, email)) => {
                let id = made["id"].as_str().unwrap_or_default().to_owned();
                created_ids.insert(creation_id.clone(), json!(id));
                sent.push((creation_id.clone(), id, email));
                created.insert(creation_id, made);
            }
            Err(error) => {
                not_created.insert(creation_id, error);
            }
        }
    }
    // Nothing is kept after sending, so there is nothing to update or
    // cancel (RFC 8621 7.5: undoStatus final).
    let not_updated: Map<String, Value> = object_keys(&arguments, "update")
        .into_iter()
        .map(|id| {
            (
                id,
                json!({"type": "cannotUnsend", "description": "sent at once; nothing left to change"}),
            )
        })
        .collect();
    let not_destroyed: Map<String, Value> = match arguments.get("destroy") {
        Some(Value::Array(ids)) => ids
            .iter()
            .filter_map(Value::as_str)
            .map(|id| (id.to_owned(), json!({"type": "notFound"})))
            .collect(),
        _ => Map::new(),
    };

    // RFC 8621 7.5: after success, the Emails sent are changed as asked,
    // by submission id or `#creation id`, in an implicit Email/set.
    let on_success = |name: &str| arguments.get(name).filter(|v| !v.is_null()).cloned();
    let mut implicit = None;
    let update = on_success("onSuccessUpdateEmail");
    let destroy = on_success("onSuccessDestroyEmail");
    if !sent.is_empty() && (update.is_some() || destroy.is_some()) {
        let named = |key: &str| {
            sent.iter()
                .find(|(creation, id, _)| key.strip_prefix('#') == Some(creation.as_str()) || key == id)
                .map(|(_, _, email)| email.clone())
        };
        let mut email_update = Map::new();
        if let Some(Value::Object(patches)) = &update {
            for (key, patch) in patches {
                if let Some(email) = named(key) {
                    email_update.insert(email, patch.clone());
                }
            }
        }
        let mut email_destroy = Vec::new();
        if let Some(Value::Array(keys)) = &destroy {
            for key in keys.iter().filter_map(Value::as_str) {
                if let Some(email) = named(key) {
                    email_destroy.push(json!(email));
                }
            }
        }
        let mut email_set = Map::new();
        email_set.insert("accountId".into(), json!(account_id));
        email_set.insert("update".into(), Value::Object(email_update));
        email_set.insert("destroy".into(), Value::Array(email_destroy));
        implicit = Some(crate::email::set::set(context, email_set, created_ids).await?);
    }
    let response = json!({
        "accountId": account_id,
        "oldState": state,
        "newState": state,
        "created": or_null(created),
        "notCreated": or_null(not_created),
        "updated": null,
        "notUpdated": or_null(not_updated),
        "destroyed": null,
        "notDestroyed": or_null(not_destroyed),
    });
    Ok((response, implicit))
}

fn object_keys(arguments: &Map<String, Value>, name: &str) -> Vec<String> {
    match arguments.get(name) {
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// EmailSubmission/get: a submission is not kept once the message is
/// taken (its queue entry and the delivery log are the record), so every
/// id asked for is not found.
pub async fn get(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let not_found = match arguments.get("ids") {
        Some(Value::Array(ids)) => ids.clone(),
        _ => Vec::new(),
    };
    Ok(json!({
        "accountId": account_id,
        "state": state(context),
        "list": [],
        "notFound": not_found,
    }))
}

/// Nothing is kept, so nothing changes: the state is the account's.
fn state(context: &Context<'_>) -> String {
    format!("s{}", context.account.id.0)
}

/// RFC 8621 7.3's filter conditions and sort properties.
const FILTERS: &[&str] = &["identityIds", "emailIds", "threadIds", "undoStatus", "before", "after"];
const SORTS: &[&str] = &["emailId", "threadId", "sentAt"];

fn check_filter(filter: &Value) -> Result<(), MethodError> {
    let Value::Object(filter) = filter else {
        return Err(MethodError::new("unsupportedFilter"));
    };
    if let Some(operator) = filter.get("operator") {
        if !matches!(operator.as_str(), Some("AND" | "OR" | "NOT")) {
            return Err(MethodError::new("unsupportedFilter"));
        }
        let Some(Value::Array(conditions)) = filter.get("conditions") else {
            return Err(MethodError::new("unsupportedFilter"));
        };
        return conditions.iter().try_for_each(check_filter);
    }
    match filter.keys().find(|name| !FILTERS.contains(&name.as_str())) {
        Some(name) => Err(MethodError::described("unsupportedFilter", format!("no filter {name}"))),
        None => Ok(()),
    }
}

/// EmailSubmission/query (RFC 8621 7.3): the filter and sort are checked,
/// and the results are the records kept: none.
pub async fn query(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    if let Some(filter) = arguments.get("filter").filter(|f| !f.is_null()) {
        check_filter(filter)?;
    }
    match arguments.get("sort") {
        None | Some(Value::Null) => {}
        Some(Value::Array(sort)) => {
            for comparator in sort {
                let property = comparator["property"].as_str().unwrap_or_default();
                if !SORTS.contains(&property) {
                    return Err(MethodError::described(
                        "unsupportedSort",
                        format!("no sort by {property:?}"),
                    ));
                }
            }
        }
        Some(_) => return Err(MethodError::invalid_arguments("sort must be an array")),
    }
    let mut response = json!({
        "accountId": account_id,
        "queryState": state(context),
        "canCalculateChanges": true,
        "position": 0,
        "ids": [],
    });
    if arguments.get("calculateTotal") == Some(&Value::Bool(true)) {
        response["total"] = json!(0);
    }
    Ok(response)
}

/// The old state asked about, if it is today's (else the client starts
/// over: RFC 8620 5.2 cannotCalculateChanges).
fn unchanged_since<'a>(
    context: &Context<'_>,
    arguments: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, MethodError> {
    let Some(Value::String(since)) = arguments.get(name) else {
        return Err(MethodError::invalid_arguments(format!("{name} is required")));
    };
    if *since != state(context) {
        return Err(MethodError::new("cannotCalculateChanges"));
    }
    Ok(since)
}

/// EmailSubmission/changes (RFC 8620 5.2).
pub async fn changes(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let since = unchanged_since(context, &arguments, "sinceState")?;
    Ok(json!({
        "accountId": account_id,
        "oldState": since,
        "newState": since,
        "hasMoreChanges": false,
        "created": [],
        "updated": [],
        "destroyed": [],
    }))
}

/// EmailSubmission/queryChanges (RFC 8620 5.6).
pub async fn query_changes(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let since = unchanged_since(context, &arguments, "sinceQueryState")?;
    let mut response = json!({
        "accountId": account_id,
        "oldQueryState": since,
        "newQueryState": since,
        "removed": [],
        "added": [],
    });
    if arguments.get("calculateTotal") == Some(&Value::Bool(true)) {
        response["total"] = json!(0);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_filters_are_those_of_rfc_8621() {
        assert!(check_filter(&json!({"undoStatus": "final", "emailIds": ["e1"]})).is_ok());
        assert!(check_filter(&json!({"operator": "NOT", "conditions": [{"after": "2026-01-01T00:00:00Z"}]})).is_ok());
        for bad in [
            json!({"subject": "x"}),
            json!({"operator": "XOR", "conditions": []}),
            json!([]),
        ] {
            assert_eq!(check_filter(&bad).unwrap_err().kind, "unsupportedFilter", "{bad}");
        }
    }

    #[test]
    fn bcc_fields_are_taken_out_and_nothing_else() {
        let message =
            b"From: a@x\r\nBcc: hidden@y,\r\n  other@z\r\nTo: b@x\r\nbcc: more@w\r\n\r\nBcc: in the body stays\r\n";
        assert_eq!(
            without_bcc(message),
            b"From: a@x\r\nTo: b@x\r\n\r\nBcc: in the body stays\r\n".to_vec()
        );
    }

    #[test]
    fn an_envelope_comes_from_the_headers_when_not_given() {
        let headers = json!({
            "from": [{"email": "ann@example.com"}],
            "to": [{"email": "b@x"}], "cc": [{"email": "B@x"}, {"email": "c@x"}], "bcc": [{"email": "d@x"}],
        });
        let (from, to) = envelope(&Map::new(), &headers).unwrap();
        assert_eq!(from, "ann@example.com");
        assert_eq!(to, ["b@x", "c@x", "d@x"]);
        let given = json!({"envelope": {"mailFrom": {"email": "e@x"}, "rcptTo": [{"email": "f@x"}]}});
        assert_eq!(
            envelope(given.as_object().unwrap(), &headers).unwrap(),
            ("e@x".into(), vec!["f@x".into()])
        );
    }

    #[test]
    fn refusals_name_the_jmap_error() {
        let kind = |code, text: &str| {
            refusal(Refusal {
                code,
                text: text.into(),
            })["type"]
                .clone()
        };
        assert_eq!(kind(550, "Sender address is not yours (a@x)"), "forbiddenFrom");
        assert_eq!(kind(552, "too big"), "tooLarge");
        assert_eq!(kind(451, "try later"), "serverFail");
        assert_eq!(kind(550, "relaying denied"), "forbiddenToSend");
    }
}
