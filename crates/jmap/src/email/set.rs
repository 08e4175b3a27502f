//! Email/set (RFC 8621 4.6): keywords and mailboxes changed, and Emails
//! destroyed, through the store operations IMAP's STORE, COPY and EXPUNGE
//! use, so an IMAP client idling on the mailbox sees each change at once.

use super::{Email, Emails, flags_of, valid_keyword};
use crate::error::MethodError;
use crate::mailbox::parse_mailbox_id;
use crate::set_args::{check_state, ids, invalid, objects, or_null, set_error};
use crate::{Context, LIMITS};
use estafeta_core::model::{Flags, MailboxId, SystemFlags};
use estafeta_store::FlagOperation;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// RFC 6901 5: `~1` is `/` and `~0` is `~` in a patch path.
fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// An Email's keywords and mailboxes after a patch (RFC 8620 5.3).
struct Wanted {
    keywords: BTreeSet<String>,
    mailboxes: BTreeSet<MailboxId>,
}

fn apply_patch(
    email: &Email,
    patch: &Map<String, Value>,
    emails: &Emails,
    created_ids: &Map<String, Value>,
) -> Result<Wanted, Value> {
    let mut keywords: BTreeSet<String> = email.keywords().into_iter().collect();
    let mut mailboxes: BTreeSet<MailboxId> = email.copies.iter().map(|c| c.mailbox).collect();
    // RFC 8620 5.3: a mailbox made earlier in the request may be named
    // by its creation id.
    let known = |id: &str| {
        let id = match id.strip_prefix('#') {
            Some(creation) => created_ids.get(creation).and_then(Value::as_str).unwrap_or(id),
            None => id,
        };
        parse_mailbox_id(id)
            .filter(|m| emails.mailboxes.iter().any(|known| known.id == *m))
            .ok_or_else(|| invalid("mailboxIds", format!("no mailbox {id}")))
    };
    let keyword = |k: &str| {
        valid_keyword(k)
            .then(|| k.to_ascii_lowercase())
            .ok_or_else(|| invalid("keywords", format!("{k} is not a keyword")))
    };
    for (path, value) in patch {
        match path.split_once('/') {
            None if path == "keywords" => {
                let Value::Object(all) = value else {
                    return Err(invalid("keywords", "keywords is an object"));
                };
                keywords.clear();
                for (k, set) in all {
                    if *set != Value::Bool(true) {
                        return Err(invalid("keywords", "a keyword's value is true"));
                    }
                    keywords.insert(keyword(k)?);
                }
            }
            None if path == "mailboxIds" => {
                let Value::Object(all) = value else {
                    return Err(invalid("mailboxIds", "mailboxIds is an object"));
                };
                mailboxes.clear();
                for (id, set) in all {
                    if *set != Value::Bool(true) {
                        return Err(invalid("mailboxIds", "a mailbox id's value is true"));
                    }
                    mailboxes.insert(known(id)?);
                }
            }
            Some(("keywords", k)) => {
                let k = keyword(&unescape(k))?;
                match value {
                    Value::Bool(true) => keywords.insert(k),
                    Value::Null => keywords.remove(&k),
                    _ => return Err(invalid("keywords", "a keyword is set with true and removed with null")),
                };
            }
            Some(("mailboxIds", id)) => {
                let id = known(&unescape(id))?;
                match value {
                    Value::Bool(true) => mailboxes.insert(id),
                    Value::Null => mailboxes.remove(&id),
                    _ => {
                        return Err(invalid(
                            "mailboxIds",
                            "a mailbox is added with true and removed with null",
                        ));
                    }
                };
            }
            _ => {
                let property = path.split('/').next().unwrap_or(path);
                return Err(invalid(property, format!("{property} cannot be changed")));
            }
        }
    }
    // RFC 8621 4.1.1: an Email is in at least one mailbox.
    if mailboxes.is_empty() {
        return Err(invalid("mailboxIds", "an Email must stay in at least one mailbox"));
    }
    Ok(Wanted { keywords, mailboxes })
}

async fn update(context: &Context<'_>, email: &Email, wanted: Wanted) -> Result<(), Value> {
    let store_error = |e: estafeta_store::StoreError| set_error("serverFail", e.to_string());
    let keywords: Vec<String> = wanted.keywords.into_iter().collect();
    for copy in &email.copies {
        let flags = flags_of(&keywords, &copy.flags);
        if flags != copy.flags {
            context
                .store
                .store_flags(copy.mailbox, &[copy.uid], FlagOperation::Replace, &flags, None)
                .await
                .map_err(store_error)?;
        }
    }
    let source = &email.copies[0];
    for target in &wanted.mailboxes {
        if !email.in_mailbox(*target) {
            context
                .store
                .copy_messages(source.mailbox, &[source.uid], *target, false)
                .await
                .map_err(store_error)?;
        }
    }
    let leaving: Vec<_> = email
        .copies
        .iter()
        .filter(|c| !wanted.mailboxes.contains(&c.mailbox))
        .collect();
    for copy in leaving {
        remove(context, copy.mailbox, copy.uid).await.map_err(store_error)?;
    }
    Ok(())
}

/// IMAP's way to take one message out: `\Deleted`, then EXPUNGE of that
/// UID alone (RFC 4315 UID EXPUNGE), so other deleted messages stay.
async fn remove(context: &Context<'_>, mailbox: MailboxId, uid: u32) -> estafeta_store::Result<()> {
    let deleted = Flags::new(SystemFlags::DELETED, []);
    context
        .store
        .store_flags(mailbox, &[uid], FlagOperation::Add, &deleted, None)
        .await?;
    context.store.expunge(mailbox, Some(&[uid])).await?;
    Ok(())
}

pub async fn set(
    context: &Context<'_>,
    arguments: Map<String, Value>,
    created_ids: &mut Map<String, Value>,
) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let emails = Emails::load(context).await?;
    check_state(&arguments, &emails.state)?;
    let (create, update_patches) = (objects(&arguments, "create")?, objects(&arguments, "update")?);
    let old_state = emails.state.clone();
    let destroy = ids(&arguments, "destroy")?;
    if create.len() + update_patches.len() + destroy.len() > LIMITS.max_objects_in_set {
        return Err(MethodError::new("requestTooLarge"));
    }

    // RFC 8620 5.3: creates first; each made Email's id can be named by
    // its creation id later in the request (`#draft`).
    let (mut created, mut not_created) = (Map::new(), Map::new());
    for (creation_id, object) in create {
        let outcome = match object {
            Value::Object(object) => super::create::create(context, &object, created_ids, &emails).await,
            _ => Err(invalid("mailboxIds", "an Email to create is an object")),
        };
        match outcome {
            Ok(made) => {
                created_ids.insert(creation_id.clone(), made["id"].clone());
                created.insert(creation_id, made);
            }
            Err(error) => {
                not_created.insert(creation_id, error);
            }
        }
    }
    let emails = if created.is_empty() {
        emails
    } else {
        Emails::load(context).await?
    };

    // An Email made above may be named by its creation id (RFC 8620 5.3).
    let resolve = |id: String| match id
        .strip_prefix('#')
        .and_then(|c| created_ids.get(c))
        .and_then(Value::as_str)
    {
        Some(made) => made.to_owned(),
        None => id,
    };
    let (mut updated, mut not_updated) = (Map::new(), Map::new());
    for (id, patch) in update_patches {
        let id = resolve(id);
        let outcome = match (emails.find(&id), patch) {
            (None, _) => Err(set_error("notFound", format!("no Email {id}"))),
            (Some(_), patch) if !patch.is_object() => Err(invalid("keywords", "an update is a patch object")),
            (Some(email), Value::Object(patch)) => match apply_patch(email, &patch, &emails, created_ids) {
                Ok(wanted) => update(context, email, wanted).await,
                Err(error) => Err(error),
            },
            (Some(_), _) => unreachable!("checked to be an object"),
        };
        match outcome {
            Ok(()) => {
                updated.insert(id, Value::Null);
            }
            Err(error) => {
                not_updated.insert(id, error);
            }
        }
    }

    // Destroys see the updates before them (RFC 8620 5.3).
    let now = if destroy.is_empty() {
        None
    } else {
        Some(Emails::load(context).await?)
    };
    let (mut destroyed, mut not_destroyed) = (Vec::new(), Map::new());
    for id in destroy {
        let id = resolve(id);
        let Some(email) = now.as_ref().and_then(|now| now.find(&id)) else {
            not_destroyed.insert(id.clone(), set_error("notFound", format!("no Email {id}")));
            continue;
        };
        let mut failed = None;
        for copy in &email.copies {
            if let Err(error) = remove(context, copy.mailbox, copy.uid).await {
                failed = Some(set_error("serverFail", error.to_string()));
                break;
            }
        }
        match failed {
            None => destroyed.push(json!(id)),
            Some(error) => {
                not_destroyed.insert(id, error);
            }
        }
    }

    let new_state = Emails::load(context).await?.state;
    Ok(json!({
        "accountId": account_id,
        "oldState": old_state,
        "newState": new_state,
        "created": or_null(created),
        "updated": or_null(updated),
        "destroyed": if destroyed.is_empty() { Value::Null } else { Value::Array(destroyed) },
        "notCreated": or_null(not_created),
        "notUpdated": or_null(not_updated),
        "notDestroyed": or_null(not_destroyed),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::Copy;
    use estafeta_store::BlobId;

    fn emails() -> (Email, Emails) {
        let email = Email {
            thread: 0,
            blob: BlobId::of(b"x"),
            size: 1,
            received_at: 0,
            copies: vec![Copy {
                mailbox: MailboxId(1),
                uid: 1,
                flags: Flags::new(SystemFlags::SEEN, ["Work".to_owned()]),
            }],
        };
        let mailbox = |id: i64, name: &str| estafeta_store::Mailbox {
            id: MailboxId(id),
            account: estafeta_core::model::AccountId(1),
            name: name.to_owned(),
            role: None,
            uid_validity: 1,
            uid_next: 2,
            highest_modseq: 1,
            subscribed: true,
        };
        let emails = Emails {
            list: vec![email.clone()],
            index: Default::default(),
            mailboxes: vec![mailbox(1, "INBOX"), mailbox(2, "Archive")],
            state: String::new(),
        };
        (email, emails)
    }

    #[test]
    fn patches_change_keywords_and_mailboxes_by_path_or_whole() {
        let (email, emails) = emails();
        let patch = json!({"keywords/$flagged": true, "keywords/work": null, "mailboxIds/m2": true});
        let wanted = apply_patch(&email, patch.as_object().unwrap(), &emails, &Map::new()).unwrap();
        assert_eq!(wanted.keywords.into_iter().collect::<Vec<_>>(), ["$flagged", "$seen"]);
        assert_eq!(
            wanted.mailboxes.into_iter().collect::<Vec<_>>(),
            [MailboxId(1), MailboxId(2)]
        );
        let whole = json!({"keywords": {}, "mailboxIds": {"m2": true}});
        let wanted = apply_patch(&email, whole.as_object().unwrap(), &emails, &Map::new()).unwrap();
        assert!(wanted.keywords.is_empty());
        assert_eq!(wanted.mailboxes.into_iter().collect::<Vec<_>>(), [MailboxId(2)]);
    }

    #[test]
    fn bad_patches_name_the_property() {
        let (email, emails) = emails();
        for (patch, property) in [
            (json!({"mailboxIds": {}}), "mailboxIds"),
            (json!({"mailboxIds/m1": null}), "mailboxIds"),
            (json!({"mailboxIds/m9": true}), "mailboxIds"),
            (json!({"keywords/a b": true}), "keywords"),
            (json!({"keywords": {"$seen": false}}), "keywords"),
            (json!({"subject": "new"}), "subject"),
            (json!({"bodyStructure/type": "x"}), "bodyStructure"),
        ] {
            let error = apply_patch(&email, patch.as_object().unwrap(), &emails, &Map::new())
                .err()
                .unwrap();
            assert_eq!(error["properties"], json!([property]), "{patch}");
        }
    }
}
