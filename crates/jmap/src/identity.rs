//! Identity/get and Identity/changes (RFC 8621 6): who the account may
//! send as. That is its own address, the one the submission port lets
//! it put in From (aliases are addresses others write to, not identities
//! yet); its name and signatures are the client's to show.

use crate::Context;
use crate::error::MethodError;
use serde_json::{Map, Value, json};

pub fn identity_id(context: &Context<'_>) -> String {
    format!("i{}", context.account.id.0)
}

/// The state changes only with the account.
fn state(context: &Context<'_>) -> String {
    format!("i{}", context.account.id.0)
}

fn identity(context: &Context<'_>) -> Value {
    json!({
        "id": identity_id(context),
        "name": "",
        "email": context.account.address,
        "replyTo": null,
        "bcc": null,
        "textSignature": "",
        "htmlSignature": "",
        "mayDelete": false,
    })
}

pub async fn get(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let own = identity(context);
    let (list, not_found): (Vec<Value>, Vec<Value>) = match arguments.get("ids") {
        None | Some(Value::Null) => (vec![own], Vec::new()),
        Some(Value::Array(ids)) => {
            let mut list = Vec::new();
            let mut not_found = Vec::new();
            for id in ids {
                if *id == own["id"] {
                    if list.is_empty() {
                        list.push(own.clone());
                    }
                } else if !not_found.contains(id) {
                    not_found.push(id.clone());
                }
            }
            (list, not_found)
        }
        Some(_) => return Err(MethodError::invalid_arguments("ids must be an array or null")),
    };
    let wanted = match arguments.get("properties") {
        Some(Value::Array(names)) => Some(names.iter().filter_map(Value::as_str).collect::<Vec<_>>()),
        _ => None,
    };
    let list: Vec<Value> = list
        .into_iter()
        .map(|identity| match (&wanted, identity) {
            (Some(names), Value::Object(all)) => Value::Object(
                all.into_iter()
                    .filter(|(k, _)| k == "id" || names.contains(&k.as_str()))
                    .collect(),
            ),
            (_, identity) => identity,
        })
        .collect();
    Ok(json!({
        "accountId": account_id,
        "state": state(context),
        "list": list,
        "notFound": not_found,
    }))
}

pub async fn changes(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let since = arguments.get("sinceState").and_then(Value::as_str);
    if since != Some(state(context).as_str()) {
        return Err(MethodError::new("cannotCalculateChanges"));
    }
    Ok(json!({
        "accountId": account_id,
        "oldState": since,
        "newState": state(context),
        "hasMoreChanges": false,
        "created": [],
        "updated": [],
        "destroyed": [],
    }))
}
