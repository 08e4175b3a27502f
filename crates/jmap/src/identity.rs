//! Identity/get, Identity/changes and Identity/set (RFC 8621 6): who the
//! account sends as. The first is its own address (id `i<account>`, which
//! cannot be destroyed); more may be made for any address the submission
//! port lets it put in From (its own, plus-tagged, or an alias delivering
//! to it), each with a name, Reply-To, Bcc and signatures for the client
//! to use. The state names each identity and a digest of it, so
//! Identity/changes says exactly what was made, changed and destroyed.

use crate::error::MethodError;
use crate::set_args::{check_state, ids, invalid, objects, or_null, set_error};
use crate::{Context, LIMITS};
use estafeta_store::{Identity, StoreError};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The id of the identity at `slot` of the context's account.
pub fn identity_id(context: &Context<'_>, slot: i64) -> String {
    match slot {
        0 => format!("i{}", context.account.id.0),
        slot => format!("i{}-{slot}", context.account.id.0),
    }
}

fn slot_of(context: &Context<'_>, id: &str) -> Option<i64> {
    let rest = id.strip_prefix(&format!("i{}", context.account.id.0))?;
    match rest {
        "" => Some(0),
        rest => rest.strip_prefix('-')?.parse().ok().filter(|slot| *slot > 0),
    }
}

/// The account's identities, its own first (as stored, or as it is until
/// changed).
pub(crate) struct Identities {
    pub list: Vec<Identity>,
    pub state: String,
}

/// 64-bit FNV-1a of every field: the state changes when any does.
fn digest(identity: &Identity) -> u64 {
    let mut h = estafeta_core::fnv::Fnv1a::new();
    for field in [
        &identity.name,
        &identity.email,
        &identity.reply_to,
        &identity.bcc,
        &identity.text_signature,
        &identity.html_signature,
    ] {
        h.write(field.as_bytes()).write(&[0xff]);
    }
    h.finish()
}

fn encode(list: &[Identity]) -> String {
    let parts: Vec<String> = list
        .iter()
        .map(|identity| format!("{}:{:x}", identity.slot, digest(identity)))
        .collect();
    format!("i{}", parts.join("."))
}

fn decode(state: &str) -> Option<BTreeMap<i64, u64>> {
    state
        .strip_prefix('i')?
        .split('.')
        .map(|part| {
            let (slot, digest) = part.split_once(':')?;
            Some((slot.parse().ok()?, u64::from_str_radix(digest, 16).ok()?))
        })
        .collect()
}

impl Identities {
    pub async fn load(context: &Context<'_>) -> Result<Identities, MethodError> {
        let mut list = context.store.identities(context.account.id).await?;
        if list.first().is_none_or(|first| first.slot != 0) {
            list.insert(
                0,
                Identity {
                    slot: 0,
                    email: context.account.address.clone(),
                    ..Identity::default()
                },
            );
        }
        let state = encode(&list);
        Ok(Identities { list, state })
    }

    pub fn find(&self, context: &Context<'_>, id: &str) -> Option<&Identity> {
        let slot = slot_of(context, id)?;
        self.list.iter().find(|identity| identity.slot == slot)
    }
}

fn addresses_json(stored: &str) -> Value {
    serde_json::from_str(stored).unwrap_or(Value::Null)
}

fn to_json(context: &Context<'_>, identity: &Identity) -> Value {
    json!({
        "id": identity_id(context, identity.slot),
        "name": identity.name,
        "email": identity.email,
        "replyTo": addresses_json(&identity.reply_to),
        "bcc": addresses_json(&identity.bcc),
        "textSignature": identity.text_signature,
        "htmlSignature": identity.html_signature,
        "mayDelete": identity.slot != 0,
    })
}

pub async fn get(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let identities = Identities::load(context).await?;
    let (found, not_found): (Vec<&Identity>, Vec<Value>) = match arguments.get("ids") {
        None | Some(Value::Null) => (identities.list.iter().collect(), Vec::new()),
        Some(Value::Array(ids)) => {
            if ids.len() > LIMITS.max_objects_in_get {
                return Err(MethodError::new("requestTooLarge"));
            }
            let (mut found, mut not_found) = (Vec::new(), Vec::new());
            for id in ids {
                match id.as_str().and_then(|id| identities.find(context, id)) {
                    Some(identity) if !found.contains(&identity) => found.push(identity),
                    Some(_) => {}
                    None if !not_found.contains(id) => not_found.push(id.clone()),
                    None => {}
                }
            }
            (found, not_found)
        }
        Some(_) => return Err(MethodError::invalid_arguments("ids must be an array or null")),
    };
    let wanted = match arguments.get("properties") {
        Some(Value::Array(names)) => Some(names.iter().filter_map(Value::as_str).collect::<Vec<_>>()),
        _ => None,
    };
    let list: Vec<Value> = found
        .into_iter()
        .map(|identity| match (&wanted, to_json(context, identity)) {
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
        "state": identities.state,
        "list": list,
        "notFound": not_found,
    }))
}

pub async fn changes(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let Some(Value::String(since)) = arguments.get("sinceState") else {
        return Err(MethodError::invalid_arguments("sinceState is required"));
    };
    let old = decode(since).ok_or_else(|| MethodError::new("cannotCalculateChanges"))?;
    let identities = Identities::load(context).await?;
    let now: BTreeMap<i64, u64> = identities.list.iter().map(|i| (i.slot, digest(i))).collect();
    let id = |slot: &i64| identity_id(context, *slot);
    let created: Vec<String> = now.keys().filter(|slot| !old.contains_key(slot)).map(id).collect();
    let destroyed: Vec<String> = old.keys().filter(|slot| !now.contains_key(slot)).map(id).collect();
    let updated: Vec<String> = now
        .iter()
        .filter(|(slot, digest)| old.get(slot).is_some_and(|before| before != *digest))
        .map(|(slot, _)| id(slot))
        .collect();
    Ok(json!({
        "accountId": account_id,
        "oldState": since,
        "newState": identities.state,
        "hasMoreChanges": false,
        "created": created,
        "updated": updated,
        "destroyed": destroyed,
    }))
}

/// RFC 8621 6: `EmailAddress[]|null`.
fn addresses(property: &str, value: &Value) -> Result<String, Value> {
    match value {
        Value::Null => Ok(String::new()),
        Value::Array(list) => {
            for address in list {
                let holds = address["email"].as_str().is_some_and(|e| e.contains('@'))
                    && (address["name"].is_null() || address["name"].is_string())
                    && address
                        .as_object()
                        .is_some_and(|a| a.keys().all(|k| k == "name" || k == "email"));
                if !holds {
                    return Err(invalid(property, "each address is {name, email}"));
                }
            }
            Ok(value.to_string())
        }
        _ => Err(invalid(property, "a list of addresses or null")),
    }
}

/// Sets the client-settable properties of `object` on `identity`; the
/// email only when `creating` (RFC 8621 6: it cannot change).
fn apply(identity: &mut Identity, object: &Map<String, Value>, creating: bool) -> Result<(), Value> {
    for (name, value) in object {
        let text = |value: &Value| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(name, "a string"))
        };
        match name.as_str() {
            "name" => identity.name = text(value)?,
            "textSignature" => identity.text_signature = text(value)?,
            "htmlSignature" => identity.html_signature = text(value)?,
            "replyTo" => identity.reply_to = addresses(name, value)?,
            "bcc" => identity.bcc = addresses(name, value)?,
            "email" if creating => identity.email = text(value)?.to_lowercase(),
            "email" if value.as_str().is_some_and(|e| e.eq_ignore_ascii_case(&identity.email)) => {}
            "email" => return Err(invalid(name, "an identity's email cannot change")),
            "id" | "mayDelete" => return Err(invalid(name, "set by the server")),
            _ => return Err(invalid(name, "no such property")),
        }
    }
    Ok(())
}

/// The submission port's rule for From (RFC 8621 6.3 forbiddenFrom): the
/// account's address, plus-tagged or not, or an alias delivering to it.
async fn may_send_as(context: &Context<'_>, email: &str) -> Result<bool, Value> {
    let address =
        estafeta_core::Address::parse(email).map_err(|_| invalid("email", format!("{email} is not an address")))?;
    let own = context.account.address.to_lowercase();
    if [address.to_string(), address.without_tag().to_string()]
        .iter()
        .any(|candidate| candidate.to_lowercase() == own)
    {
        return Ok(true);
    }
    let alias = context
        .store
        .alias_get(email)
        .await
        .map_err(|e| set_error("serverFail", e.to_string()))?;
    Ok(alias.is_some_and(|alias| alias.target == *own))
}

fn store_error(error: StoreError) -> Value {
    match error {
        StoreError::Invalid(why) => set_error("overQuota", why),
        other => set_error("serverFail", other.to_string()),
    }
}

pub async fn set(
    context: &Context<'_>,
    arguments: Map<String, Value>,
    created_ids: &mut Map<String, Value>,
) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let account = context.account.id;
    let old = Identities::load(context).await?;
    check_state(&arguments, &old.state)?;
    let (create, update) = (objects(&arguments, "create")?, objects(&arguments, "update")?);
    let destroy = ids(&arguments, "destroy")?;
    if create.len() + update.len() + destroy.len() > LIMITS.max_objects_in_set {
        return Err(MethodError::new("requestTooLarge"));
    }

    let (mut created, mut not_created) = (Map::new(), Map::new());
    for (creation_id, object) in create {
        let outcome = async {
            let Value::Object(object) = object else {
                return Err(invalid("email", "an identity to create is an object"));
            };
            let mut identity = Identity {
                slot: -1,
                ..Identity::default()
            };
            apply(&mut identity, &object, true)?;
            if identity.email.is_empty() {
                return Err(invalid("email", "an identity needs an email"));
            }
            if !may_send_as(context, &identity.email).await? {
                return Err(set_error(
                    "forbiddenFrom",
                    format!("{} is not an address this account may send as", identity.email),
                ));
            }
            context
                .store
                .identity_put(account, &identity)
                .await
                .map_err(store_error)
        }
        .await;
        match outcome {
            Ok(slot) => {
                let id = identity_id(context, slot);
                created_ids.insert(creation_id.clone(), json!(id));
                created.insert(creation_id, json!({"id": id, "mayDelete": true}));
            }
            Err(error) => {
                not_created.insert(creation_id, error);
            }
        }
    }

    let (mut updated, mut not_updated) = (Map::new(), Map::new());
    for (id, patch) in update {
        let outcome = async {
            let now = Identities::load(context)
                .await
                .map_err(|e| set_error("serverFail", e.kind))?;
            let mut identity = now
                .find(context, &id)
                .cloned()
                .ok_or_else(|| set_error("notFound", format!("no identity {id}")))?;
            let Value::Object(patch) = patch else {
                return Err(invalid("name", "an update is a patch object"));
            };
            apply(&mut identity, &patch, false)?;
            context
                .store
                .identity_put(account, &identity)
                .await
                .map_err(store_error)
        }
        .await;
        match outcome {
            Ok(_) => {
                updated.insert(id, Value::Null);
            }
            Err(error) => {
                not_updated.insert(id, error);
            }
        }
    }

    let (mut destroyed, mut not_destroyed) = (Vec::new(), Map::new());
    for id in destroy {
        let outcome = async {
            match slot_of(context, &id) {
                Some(0) => Err(set_error("forbidden", "the account's own identity stays")),
                Some(slot) => match context.store.identity_delete(account, slot).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(set_error("notFound", format!("no identity {id}"))),
                    Err(error) => Err(store_error(error)),
                },
                None => Err(set_error("notFound", format!("no identity {id}"))),
            }
        }
        .await;
        match outcome {
            Ok(()) => destroyed.push(id),
            Err(error) => {
                not_destroyed.insert(id, error);
            }
        }
    }

    let new = Identities::load(context).await?;
    Ok(json!({
        "accountId": account_id,
        "oldState": old.state,
        "newState": new.state,
        "created": or_null(created),
        "updated": or_null(updated),
        "destroyed": if destroyed.is_empty() { Value::Null } else { json!(destroyed) },
        "notCreated": or_null(not_created),
        "notUpdated": or_null(not_updated),
        "notDestroyed": or_null(not_destroyed),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_name_each_identity_and_its_digest() {
        let own = Identity {
            slot: 0,
            email: "ann@x.test".into(),
            ..Identity::default()
        };
        let mut sales = Identity {
            slot: 3,
            name: "Sales".into(),
            email: "sales@x.test".into(),
            ..Identity::default()
        };
        let state = encode(&[own.clone(), sales.clone()]);
        let decoded = decode(&state).unwrap();
        assert_eq!(decoded.keys().copied().collect::<Vec<_>>(), [0, 3]);
        sales.text_signature = "--".into();
        assert_ne!(encode(&[own.clone(), sales]), state, "a signature changes the state");
        assert_eq!(decode("nonsense"), None);
        assert_eq!(decode("i0:zz"), None);
    }

    #[test]
    fn addresses_are_lists_of_name_and_email_or_null() {
        assert_eq!(addresses("bcc", &Value::Null).unwrap(), "");
        let one = json!([{"name": null, "email": "a@x.test"}]);
        assert_eq!(addresses("bcc", &one).unwrap(), one.to_string());
        for bad in [
            json!("a@x.test"),
            json!([{"email": "nobody"}]),
            json!([{"email": "a@x", "extra": 1}]),
        ] {
            assert_eq!(
                addresses("bcc", &bad).unwrap_err()["type"],
                "invalidProperties",
                "{bad}"
            );
        }
    }

    #[test]
    fn only_settable_properties_apply_and_the_email_stays() {
        let mut identity = Identity {
            slot: 1,
            email: "ann@x.test".into(),
            ..Identity::default()
        };
        let patch = json!({"name": "Ann", "htmlSignature": "<b>A</b>", "email": "ANN@x.test"});
        apply(&mut identity, patch.as_object().unwrap(), false).unwrap();
        assert_eq!(
            (identity.name.as_str(), identity.html_signature.as_str()),
            ("Ann", "<b>A</b>")
        );
        for bad in [
            json!({"email": "other@x.test"}),
            json!({"mayDelete": true}),
            json!({"colour": 1}),
            json!({"name": 7}),
        ] {
            let error = apply(&mut identity, bad.as_object().unwrap(), false).unwrap_err();
            assert_eq!(error["type"], "invalidProperties", "{bad}");
        }
    }
}
