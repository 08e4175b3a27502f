//! Thread/get (RFC 8621 3.1) and Thread/changes (RFC 8621 3.2); see
//! `thread_id` for which Emails form a Thread here.

use super::{Emails, parse_email_id, thread_id_of};
use crate::Context;
use crate::error::MethodError;
use estafeta_store::BlobId;
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap, HashSet};

pub async fn get(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let emails = Emails::load(context).await?;
    let threads = emails.threads();
    let ids: Vec<String> = match arguments.get("ids") {
        None | Some(Value::Null) => threads.keys().cloned().collect::<BTreeSet<_>>().into_iter().collect(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| id.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| MethodError::invalid_arguments("ids must hold strings"))?,
        Some(_) => return Err(MethodError::invalid_arguments("ids must be an array or null")),
    };
    if ids.len() > crate::LIMITS.max_objects_in_get {
        return Err(MethodError::new("requestTooLarge"));
    }
    let (mut list, mut not_found) = (Vec::new(), Vec::new());
    for id in ids {
        match threads.get(&id) {
            Some(members) => {
                let email_ids: Vec<String> = members.iter().map(|email| email.id()).collect();
                list.push(json!({"id": id, "emailIds": email_ids}));
            }
            None => not_found.push(json!(id)),
        }
    }
    Ok(json!({
        "accountId": account_id,
        "state": emails.state,
        "list": list,
        "notFound": not_found,
    }))
}

fn blobs(email_ids: &Value) -> Vec<BlobId> {
    let ids = email_ids.as_array().into_iter().flatten().filter_map(Value::as_str);
    ids.filter_map(parse_email_id).collect()
}

/// Thread/changes (RFC 8621 3.2), from Email/changes: a Thread is made
/// when its first Email arrives, destroyed when its last goes, and updated
/// when Emails join or leave it (an Email's own changes leave its Thread's
/// `emailIds` as they were). An Email gone with its content is placed by
/// the number the store kept where it left its mailbox.
pub async fn changes(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let mut response = super::changes::changes(context, arguments).await?;
    let created = blobs(&response["created"]);
    let destroyed = blobs(&response["destroyed"]);
    let emails = Emails::load(context).await?;
    let roots = context.store.thread_roots(&destroyed).await?;
    let gone: HashMap<String, usize> = destroyed
        .iter()
        .zip(roots)
        .fold(HashMap::new(), |mut gone, (blob, root)| {
            *gone.entry(thread_id_of(blob, root)).or_default() += 1;
            gone
        });
    let arrived: HashSet<&BlobId> = created.iter().collect();
    let members = emails.threads();
    let mut touched: BTreeSet<String> = gone.keys().cloned().collect();
    for blob in &created {
        if let Some(email) = emails.find(&super::email_id(blob)) {
            touched.insert(super::thread_id(email));
        }
    }
    let (mut made, mut changed, mut ended) = (Vec::new(), Vec::new(), Vec::new());
    for thread in touched {
        let now = members.get(&thread).map_or(&[][..], Vec::as_slice);
        let stayed = now.iter().filter(|email| !arrived.contains(&email.blob)).count();
        let before = stayed + gone.get(&thread).copied().unwrap_or(0);
        match (before, now.len()) {
            (0, 0) => {}
            (0, _) => made.push(thread),
            (_, 0) => ended.push(thread),
            _ => changed.push(thread),
        }
    }
    response["created"] = json!(made);
    response["updated"] = json!(changed);
    response["destroyed"] = json!(ended);
    Ok(response)
}
