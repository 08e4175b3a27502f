//! Mailbox/set (RFC 8621 2.5, RFC 8620 5.3): create, rename or move,
//! (un)subscribe and destroy mailboxes, each through the same store
//! operations IMAP's CREATE, RENAME, SUBSCRIBE and DELETE use, so both
//! protocols keep the same rules (INBOX stays; a rename carries the
//! mailboxes below).

use crate::error::MethodError;
use crate::mailbox::{DELIMITER, Tree, counts, mailbox_id, rights, sort_order};
use crate::set_args::{check_state, ids, invalid, objects, or_null, set_error};
use crate::{Context, LIMITS};
use estafeta_core::model::MailboxRole;
use estafeta_store::StoreError;
use serde_json::{Map, Value, json};

fn store_error(error: StoreError) -> Value {
    match error {
        StoreError::AlreadyExists(what) => invalid("name", format!("{what} exists already")),
        StoreError::NotFound(what) => set_error("notFound", what),
        StoreError::Invalid(why) => set_error("forbidden", why),
        other => set_error("serverFail", other.to_string()),
    }
}

/// A name may not hold the hierarchy's delimiter: the parent is named by
/// `parentId`, not by a path.
fn check_name(name: &Value) -> Result<String, Value> {
    match name.as_str() {
        Some(name) if name.is_empty() || name.chars().count() > 255 => {
            Err(invalid("name", "a name has 1 to 255 characters"))
        }
        Some(name) if name.contains(DELIMITER) || name.chars().any(char::is_control) => Err(invalid(
            "name",
            format!("a name may not hold {DELIMITER} or control characters"),
        )),
        Some(name) => Ok(name.to_owned()),
        None => Err(invalid("name", "name must be a string")),
    }
}

/// The store name of a mailbox `name` under `parent` (an id, a creation
/// id `#...` of this request, or null for the top).
fn full_name(tree: &Tree, created: &Map<String, Value>, parent: Option<&Value>, name: &str) -> Result<String, Value> {
    let parent = match parent {
        None | Some(Value::Null) => return Ok(name.to_owned()),
        Some(Value::String(id)) => match id.strip_prefix('#') {
            Some(creation) => created
                .get(creation)
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("parentId", format!("no mailbox was created as {id}")))?
                .to_owned(),
            None => id.clone(),
        },
        Some(_) => return Err(invalid("parentId", "parentId must be an id or null")),
    };
    let index = tree
        .find(&parent)
        .ok_or_else(|| invalid("parentId", format!("no mailbox {parent}")))?;
    Ok(format!("{}{DELIMITER}{name}", tree.mailboxes[index].name))
}

fn check_settable(object: &Map<String, Value>) -> Result<(), Value> {
    for (property, value) in object {
        match property.as_str() {
            "name" | "parentId" | "isSubscribed" => {}
            // Roles are the store's to give; a client may only say "none".
            "role" if value.is_null() => {}
            // Every mailbox sorts by its kind (INBOX first), not by number.
            "sortOrder" if value.is_u64() => {}
            "id" | "role" | "sortOrder" | "totalEmails" | "unreadEmails" | "totalThreads" | "unreadThreads"
            | "myRights" => return Err(invalid(property, format!("{property} cannot be set"))),
            _ => return Err(invalid(property, format!("no property {property}"))),
        }
    }
    Ok(())
}

/// The creates in an order that makes each parent before a child that
/// names it by creation id (`"parentId": "#work"`); a cycle or a missing
/// one is left to fail on its own.
fn parents_first(create: Map<String, Value>) -> Vec<(String, Value)> {
    let mut pending: Vec<(String, Value)> = create.into_iter().collect();
    let mut ordered = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let waits_for = |object: &Value| {
            object
                .get("parentId")
                .and_then(Value::as_str)
                .and_then(|parent| parent.strip_prefix('#'))
                .is_some_and(|parent| pending.iter().any(|(other, _)| other == parent))
        };
        let ready = pending.iter().position(|(_, object)| !waits_for(object)).unwrap_or(0);
        ordered.push(pending.remove(ready));
    }
    ordered
}

pub async fn set(
    context: &Context<'_>,
    arguments: Map<String, Value>,
    created_ids: &mut Map<String, Value>,
) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let account = context.account.id;
    let old = Tree::load(context).await?;
    check_state(&arguments, &old.state)?;
    let (create, update) = (objects(&arguments, "create")?, objects(&arguments, "update")?);
    let destroy = ids(&arguments, "destroy")?;
    if create.len() + update.len() + destroy.len() > LIMITS.max_objects_in_set {
        return Err(MethodError::new("requestTooLarge"));
    }
    let remove_emails = arguments.get("onDestroyRemoveEmails") == Some(&Value::Bool(true));

    // RFC 8620 5.3: creates, then updates, then destroys, each seeing the
    // ones before.
    let (mut created, mut not_created) = (Map::new(), Map::new());
    for (creation_id, object) in parents_first(create) {
        let tree = Tree::load(context).await?;
        let outcome = async {
            let Value::Object(object) = object else {
                return Err(invalid("name", "a mailbox to create is an object"));
            };
            check_settable(&object)?;
            let name = check_name(object.get("name").unwrap_or(&Value::Null))?;
            let full = full_name(&tree, created_ids, object.get("parentId"), &name)?;
            let mut mailbox = context
                .store
                .mailbox_create(account, &full)
                .await
                .map_err(store_error)?;
            if let Some(subscribed) = object.get("isSubscribed").and_then(Value::as_bool) {
                context
                    .store
                    .mailbox_subscribe(account, &full, subscribed)
                    .await
                    .map_err(store_error)?;
                mailbox.subscribed = subscribed;
            }
            Ok(mailbox)
        }
        .await;
        match outcome {
            Ok(mailbox) => {
                let id = mailbox_id(mailbox.id);
                created_ids.insert(creation_id.clone(), json!(id));
                // The server-set properties (RFC 8620 5.3): a new mailbox is empty.
                created.insert(
                    creation_id,
                    json!({"id": id, "role": null, "sortOrder": sort_order(&mailbox), "isSubscribed": mailbox.subscribed,
                           "totalEmails": 0, "unreadEmails": 0, "totalThreads": 0, "unreadThreads": 0,
                           "myRights": rights(false)}),
                );
            }
            Err(error) => {
                not_created.insert(creation_id, error);
            }
        }
    }

    let (mut updated, mut not_updated) = (Map::new(), Map::new());
    for (id, patch) in update {
        let tree = Tree::load(context).await?;
        let outcome = async {
            let index = tree
                .find(&id)
                .ok_or_else(|| set_error("notFound", format!("no mailbox {id}")))?;
            let Value::Object(patch) = patch else {
                return Err(invalid("name", "an update is a patch object"));
            };
            check_settable(&patch)?;
            let mailbox = &tree.mailboxes[index];
            let (parent, leaf) = &tree.parents[index];
            let mut name_now = mailbox.name.clone();
            if patch.contains_key("name") || patch.contains_key("parentId") {
                if mailbox.role == Some(MailboxRole::Inbox) {
                    return Err(set_error("forbidden", "INBOX keeps its name and place"));
                }
                let name = match patch.get("name") {
                    Some(name) => check_name(name)?,
                    None => leaf.clone(),
                };
                let current_parent = parent.map(|p| json!(mailbox_id(tree.mailboxes[p].id)));
                let parent_id = patch.get("parentId").cloned().or(current_parent);
                let to = full_name(&tree, created_ids, parent_id.as_ref(), &name)?;
                // A mailbox cannot go below itself.
                if to.starts_with(&format!("{}{DELIMITER}", mailbox.name)) {
                    return Err(invalid("parentId", "a mailbox cannot be its own descendant"));
                }
                if to != mailbox.name {
                    context
                        .store
                        .mailbox_rename(account, &mailbox.name, &to)
                        .await
                        .map_err(store_error)?;
                    name_now = to;
                }
            }
            if let Some(subscribed) = patch.get("isSubscribed").and_then(Value::as_bool) {
                context
                    .store
                    .mailbox_subscribe(account, &name_now, subscribed)
                    .await
                    .map_err(store_error)?;
            }
            Ok(())
        }
        .await;
        match outcome {
            Ok(()) => {
                updated.insert(id, Value::Null);
            }
            Err(error) => {
                not_updated.insert(id, error);
            }
        }
    }

    let (mut destroyed, mut not_destroyed) = (Vec::new(), Map::new());
    for id in destroy {
        let tree = Tree::load(context).await?;
        let outcome = async {
            let index = tree
                .find(&id)
                .ok_or_else(|| set_error("notFound", format!("no mailbox {id}")))?;
            let mailbox = &tree.mailboxes[index];
            if mailbox.role == Some(MailboxRole::Inbox) {
                return Err(set_error("forbidden", "INBOX cannot be destroyed"));
            }
            if tree.parents.iter().any(|(parent, _)| *parent == Some(index)) {
                return Err(set_error("mailboxHasChild", "destroy the mailboxes below it first"));
            }
            let (total, _) = counts(context, mailbox.id)
                .await
                .map_err(|e| set_error("serverFail", e.kind))?;
            if total > 0 && !remove_emails {
                return Err(set_error(
                    "mailboxHasEmail",
                    format!("it holds {total} messages (onDestroyRemoveEmails removes them)"),
                ));
            }
            context
                .store
                .mailbox_delete(account, &mailbox.name)
                .await
                .map_err(store_error)
        }
        .await;
        match outcome {
            Ok(()) => destroyed.push(id),
            Err(error) => {
                not_destroyed.insert(id, error);
            }
        }
    }

    let new = Tree::load(context).await?;
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
