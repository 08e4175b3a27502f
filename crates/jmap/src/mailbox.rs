//! Mailbox/get, Mailbox/query and Mailbox/changes (RFC 8621 2, with the
//! standard methods of RFC 8620 5.1, 5.5 and 5.2). The store's mailboxes
//! are IMAP's: a name like `Projects/2026` is the child `2026` of the
//! mailbox `Projects`, when there is one.

use crate::error::MethodError;
use crate::{Context, LIMITS};
use estafeta_core::model::{MailboxId, MailboxRole, SystemFlags};
use estafeta_store::Mailbox;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const PROPERTIES: &[&str] = &[
    "id",
    "name",
    "parentId",
    "role",
    "sortOrder",
    "totalEmails",
    "unreadEmails",
    "totalThreads",
    "unreadThreads",
    "myRights",
    "isSubscribed",
];
pub(crate) const DELIMITER: char = '/';

pub fn mailbox_id(id: MailboxId) -> String {
    format!("m{}", id.0)
}

pub(crate) fn parse_mailbox_id(id: &str) -> Option<MailboxId> {
    let digits = id.strip_prefix('m')?;
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse().ok().map(MailboxId))?
}

/// RFC 8621 2: roles from the IANA registry of IMAP mailbox name
/// attributes (RFC 8457). The tabs have none there.
fn role(role: Option<MailboxRole>) -> Option<&'static str> {
    match role? {
        MailboxRole::Inbox => Some("inbox"),
        MailboxRole::Sent => Some("sent"),
        MailboxRole::Drafts => Some("drafts"),
        MailboxRole::Trash => Some("trash"),
        MailboxRole::Archive => Some("archive"),
        MailboxRole::Junk => Some("junk"),
        MailboxRole::Promotions | MailboxRole::Social | MailboxRole::Updates => None,
    }
}

/// The account's mailboxes at one moment, with each one's parent.
pub(crate) struct Tree {
    pub mailboxes: Vec<Mailbox>,
    /// Index in `mailboxes` of each one's parent, and the name below it.
    pub parents: Vec<(Option<usize>, String)>,
    pub state: String,
}

impl Tree {
    pub async fn load(context: &Context<'_>) -> Result<Tree, MethodError> {
        let mailboxes = context.store.mailbox_list(context.account.id).await?;
        let by_name: HashMap<&str, usize> = mailboxes
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.as_str(), i))
            .collect();
        // The nearest existing ancestor is the parent; without one the
        // mailbox is at the top, named by its whole path.
        let parents = mailboxes
            .iter()
            .map(|mailbox| {
                let name = mailbox.name.as_str();
                name.char_indices()
                    .rev()
                    .filter(|(_, c)| *c == DELIMITER)
                    .find_map(|(at, _)| by_name.get(&name[..at]).map(|&parent| (Some(parent), &name[at + 1..])))
                    .map_or((None, name.to_owned()), |(parent, leaf)| (parent, leaf.to_owned()))
            })
            .collect();
        let state = state_of(&mailboxes);
        Ok(Tree {
            mailboxes,
            parents,
            state,
        })
    }

    pub fn find(&self, id: &str) -> Option<usize> {
        let id = parse_mailbox_id(id)?;
        self.mailboxes.iter().position(|m| m.id == id)
    }
}

/// What a state remembers of one mailbox: its HIGHESTMODSEQ, which moves
/// with every change to its messages and so its counts (RFC 7162 3.1.1),
/// and a digest of its name and subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark {
    modseq: u64,
    digest: u32,
}

fn mark(mailbox: &Mailbox) -> Mark {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in mailbox.name.bytes().chain([0, u8::from(mailbox.subscribed)]) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    Mark {
        modseq: mailbox.highest_modseq,
        digest: hash,
    }
}

/// `m` and each mailbox as `id-modseq-digest`: Mailbox/changes reads the
/// old state back to say what changed.
fn encode(marks: &BTreeMap<MailboxId, Mark>) -> String {
    let parts: Vec<String> = marks
        .iter()
        .map(|(id, mark)| format!("{}-{}-{:08x}", id.0, mark.modseq, mark.digest))
        .collect();
    format!("m{}", parts.join("."))
}

fn decode(state: &str) -> Option<BTreeMap<MailboxId, Mark>> {
    let body = state.strip_prefix('m')?;
    if body.is_empty() {
        return Some(BTreeMap::new());
    }
    body.split('.')
        .map(|part| {
            let mut fields = part.split('-');
            let id = MailboxId(fields.next()?.parse().ok()?);
            let modseq = fields.next()?.parse().ok()?;
            let digest = u32::from_str_radix(fields.next()?, 16).ok()?;
            fields.next().is_none().then_some((id, Mark { modseq, digest }))
        })
        .collect()
}

pub(crate) fn state_of(mailboxes: &[Mailbox]) -> String {
    encode(&mailboxes.iter().map(|m| (m.id, mark(m))).collect())
}

/// The properties asked for: every one when `properties` is null.
fn properties(arguments: &Map<String, Value>) -> Result<Vec<&'static str>, MethodError> {
    match arguments.get("properties") {
        None | Some(Value::Null) => Ok(PROPERTIES.to_vec()),
        Some(Value::Array(asked)) => {
            let mut wanted = vec!["id"];
            for property in asked {
                let known = property
                    .as_str()
                    .and_then(|p| PROPERTIES.iter().find(|known| **known == p))
                    .ok_or_else(|| MethodError::invalid_arguments(format!("unknown property {property}")))?;
                if !wanted.contains(known) {
                    wanted.push(known);
                }
            }
            Ok(wanted)
        }
        Some(_) => Err(MethodError::invalid_arguments("properties must be an array or null")),
    }
}

fn string_list(value: &Value, what: &str) -> Result<Vec<String>, MethodError> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| MethodError::invalid_arguments(format!("{what} must hold strings")))
            })
            .collect(),
        _ => Err(MethodError::invalid_arguments(format!("{what} must be an array"))),
    }
}

pub async fn get(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let wanted = properties(&arguments)?;
    let ids = match arguments.get("ids") {
        None | Some(Value::Null) => None,
        Some(value) => Some(string_list(value, "ids")?),
    };
    if ids.as_ref().is_some_and(|ids| ids.len() > LIMITS.max_objects_in_get) {
        return Err(MethodError::new("requestTooLarge"));
    }
    let tree = Tree::load(context).await?;
    let (chosen, not_found): (Vec<usize>, Vec<String>) = match ids {
        None => ((0..tree.mailboxes.len()).collect(), Vec::new()),
        Some(ids) => {
            let mut chosen = Vec::new();
            let mut not_found = Vec::new();
            for id in ids {
                // RFC 8620 5.1: an id asked for twice is answered once.
                match tree.find(&id) {
                    Some(index) if !chosen.contains(&index) => chosen.push(index),
                    Some(_) => {}
                    None if !not_found.contains(&id) => not_found.push(id),
                    None => {}
                }
            }
            (chosen, not_found)
        }
    };
    let counted = wanted.iter().any(|p| p.ends_with("Emails") || p.ends_with("Threads"));
    let mut list = Vec::with_capacity(chosen.len());
    for index in chosen {
        let counts = if counted {
            counts(context, tree.mailboxes[index].id).await?
        } else {
            (0, 0)
        };
        list.push(describe(&tree, index, &wanted, counts));
    }
    Ok(json!({
        "accountId": account_id,
        "state": tree.state,
        "list": list,
        "notFound": not_found,
    }))
}

/// (all, unread) messages of a mailbox.
pub(crate) async fn counts(context: &Context<'_>, mailbox: MailboxId) -> Result<(usize, usize), MethodError> {
    let messages = context.store.messages(mailbox).await?;
    let unread = messages
        .iter()
        .filter(|m| !m.flags.system.contains(SystemFlags::SEEN))
        .count();
    Ok((messages.len(), unread))
}

fn describe(tree: &Tree, index: usize, wanted: &[&str], (total, unread): (usize, usize)) -> Value {
    let mailbox = &tree.mailboxes[index];
    let (parent, name) = &tree.parents[index];
    let inbox = mailbox.role == Some(MailboxRole::Inbox);
    let mut object = Map::new();
    for property in wanted {
        let value = match *property {
            "id" => json!(mailbox_id(mailbox.id)),
            "name" => json!(name),
            "parentId" => json!(parent.map(|p| mailbox_id(tree.mailboxes[p].id))),
            "role" => json!(role(mailbox.role)),
            "sortOrder" => json!(sort_order(mailbox)),
            "totalEmails" => json!(total),
            "unreadEmails" => json!(unread),
            // Until threads are kept, each message is a thread of its own.
            "totalThreads" => json!(total),
            "unreadThreads" => json!(unread),
            "myRights" => rights(inbox),
            "isSubscribed" => json!(mailbox.subscribed),
            _ => continue,
        };
        object.insert((*property).to_owned(), value);
    }
    Value::Object(object)
}

/// RFC 8621 2.4: what the account's owner may do; INBOX stays where and
/// what it is (RFC 9051 6.3.4, 6.3.6).
pub(crate) fn rights(inbox: bool) -> Value {
    json!({
        "mayReadItems": true,
        "mayAddItems": true,
        "mayRemoveItems": true,
        "maySetSeen": true,
        "maySetKeywords": true,
        "mayCreateChild": true,
        "mayRename": !inbox,
        "mayDelete": !inbox,
        "maySubmit": true,
    })
}

/// RFC 8621 2: lower sorts first; the inbox leads, the rest go by name.
pub(crate) fn sort_order(mailbox: &Mailbox) -> u32 {
    if mailbox.role == Some(MailboxRole::Inbox) {
        0
    } else {
        10
    }
}

/// A FilterCondition or FilterOperator (RFC 8620 5.5, RFC 8621 2.3).
fn matches(tree: &Tree, index: usize, filter: &Value) -> Result<bool, MethodError> {
    let Value::Object(filter) = filter else {
        return Err(MethodError::described(
            "unsupportedFilter",
            "a filter must be an object",
        ));
    };
    if let Some(operator) = filter.get("operator") {
        let Some(Value::Array(conditions)) = filter.get("conditions") else {
            return Err(MethodError::described(
                "unsupportedFilter",
                "an operator needs conditions",
            ));
        };
        let results = conditions
            .iter()
            .map(|condition| matches(tree, index, condition))
            .collect::<Result<Vec<bool>, _>>()?;
        return match operator.as_str() {
            Some("AND") => Ok(results.iter().all(|r| *r)),
            Some("OR") => Ok(results.iter().any(|r| *r)),
            Some("NOT") => Ok(!results.iter().any(|r| *r)),
            _ => Err(MethodError::described(
                "unsupportedFilter",
                format!("operator {operator}"),
            )),
        };
    }
    let mailbox = &tree.mailboxes[index];
    let (parent, name) = &tree.parents[index];
    for (property, wanted) in filter {
        let unsupported = || MethodError::described("unsupportedFilter", format!("{property}: {wanted}"));
        let holds = match (property.as_str(), wanted) {
            ("parentId", Value::Null) => parent.is_none(),
            ("parentId", Value::String(id)) => parent.is_some_and(|p| mailbox_id(tree.mailboxes[p].id) == *id),
            ("name", Value::String(part)) => name.to_lowercase().contains(&part.to_lowercase()),
            ("role", Value::Null) => role(mailbox.role).is_none(),
            ("role", Value::String(wanted)) => role(mailbox.role) == Some(wanted.as_str()),
            ("hasAnyRole", Value::Bool(wanted)) => role(mailbox.role).is_some() == *wanted,
            ("isSubscribed", Value::Bool(wanted)) => mailbox.subscribed == *wanted,
            _ => return Err(unsupported()),
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn query(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    for unsupported in ["sortAsTree", "filterAsTree"] {
        if arguments.get(unsupported).is_some_and(|v| *v == Value::Bool(true)) {
            return Err(MethodError::invalid_arguments(format!(
                "{unsupported} is not supported"
            )));
        }
    }
    let tree = Tree::load(context).await?;
    let mut found = Vec::new();
    for index in 0..tree.mailboxes.len() {
        let keep = match arguments.get("filter") {
            None | Some(Value::Null) => true,
            Some(filter) => matches(&tree, index, filter)?,
        };
        if keep {
            found.push(index);
        }
    }
    sort(&tree, &mut found, arguments.get("sort"))?;
    let ids: Vec<String> = found.iter().map(|&i| mailbox_id(tree.mailboxes[i].id)).collect();
    let total = ids.len();
    let integer = |name: &str| -> Result<Option<i64>, MethodError> {
        match arguments.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_i64()
                .map(Some)
                .ok_or_else(|| MethodError::invalid_arguments(format!("{name} must be an integer"))),
        }
    };
    let start = match arguments.get("anchor") {
        None | Some(Value::Null) => {
            let position = integer("position")?.unwrap_or(0);
            if position < 0 {
                (total as i64 + position).max(0) as usize
            } else {
                (position as usize).min(total)
            }
        }
        Some(Value::String(anchor)) => {
            let at = ids
                .iter()
                .position(|id| id == anchor)
                .ok_or(MethodError::new("anchorNotFound"))?;
            (at as i64 + integer("anchorOffset")?.unwrap_or(0)).clamp(0, total as i64) as usize
        }
        Some(_) => return Err(MethodError::invalid_arguments("anchor must be an id")),
    };
    let limit = match integer("limit")? {
        Some(limit) if limit < 0 => return Err(MethodError::invalid_arguments("limit must not be negative")),
        Some(limit) => Some(limit as usize),
        None => None,
    };
    let end = limit.map_or(total, |limit| start.saturating_add(limit).min(total));
    let mut response = json!({
        "accountId": account_id,
        "queryState": tree.state,
        "canCalculateChanges": true,
        "position": start,
        "ids": ids[start..end],
    });
    if arguments.get("calculateTotal") == Some(&Value::Bool(true)) {
        response["total"] = json!(total);
    }
    Ok(response)
}

/// Mailbox/queryChanges (RFC 8620 5.6): the query run again, against
/// Mailbox/changes since the old state.
pub async fn query_changes(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    context.check_account(&arguments)?;
    let (since, changes_arguments) = crate::query_changes::since(&arguments)?;
    let now = query(context, crate::query_changes::query_arguments(&arguments)).await?;
    let changes = changes(context, changes_arguments).await?;
    crate::query_changes::answer(&arguments, &since, &now, &changes)
}

/// RFC 8621 2.3: by sortOrder or name; ties keep the store's order.
fn sort(tree: &Tree, found: &mut [usize], comparators: Option<&Value>) -> Result<(), MethodError> {
    let comparators = match comparators {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(comparators)) => comparators,
        Some(_) => return Err(MethodError::invalid_arguments("sort must be an array")),
    };
    let mut keys = Vec::new();
    for comparator in comparators {
        let ascending = comparator
            .get("isAscending")
            .map_or(Some(true), Value::as_bool)
            .ok_or_else(|| MethodError::invalid_arguments("isAscending must be a boolean"))?;
        match comparator.get("property").and_then(Value::as_str) {
            Some(property @ ("sortOrder" | "name")) => keys.push((property, ascending)),
            other => {
                return Err(MethodError::described(
                    "unsupportedSort",
                    format!("cannot sort by {}", other.unwrap_or("nothing")),
                ));
            }
        }
    }
    found.sort_by(|&a, &b| {
        keys.iter()
            .map(|(property, ascending)| {
                let order = match *property {
                    "sortOrder" => sort_order(&tree.mailboxes[a]).cmp(&sort_order(&tree.mailboxes[b])),
                    _ => tree.parents[a].1.to_lowercase().cmp(&tree.parents[b].1.to_lowercase()),
                };
                if *ascending { order } else { order.reverse() }
            })
            .find(|order| order.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(())
}

/// RFC 8620 5.2. What changed since an older state is not kept yet, so
/// only "nothing since" is answered; for anything older the client is
/// told to fetch the mailboxes again (`cannotCalculateChanges`).
pub async fn changes(context: &Context<'_>, arguments: Map<String, Value>) -> Result<Value, MethodError> {
    let account_id = context.check_account(&arguments)?;
    let Some(Value::String(since)) = arguments.get("sinceState") else {
        return Err(MethodError::invalid_arguments("sinceState is required"));
    };
    if let Some(max) = arguments.get("maxChanges")
        && !max.is_null()
        && max.as_u64().is_none_or(|m| m == 0)
    {
        return Err(MethodError::invalid_arguments("maxChanges must be a positive integer"));
    }
    let max_changes = arguments
        .get("maxChanges")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |m| m as usize);
    let old = decode(since).ok_or_else(|| MethodError::new("cannotCalculateChanges"))?;
    let tree = Tree::load(context).await?;
    let now: BTreeMap<MailboxId, Mark> = tree.mailboxes.iter().map(|m| (m.id, mark(m))).collect();
    let ids: BTreeSet<MailboxId> = old.keys().chain(now.keys()).copied().collect();
    let (mut created, mut updated, mut destroyed) = (Vec::new(), Vec::new(), Vec::new());
    let mut counts_only = true;
    // In id order, so that `maxChanges` stops at a state in between.
    let mut reached = old.clone();
    let mut more = false;
    let mut listed = 0;
    for id in ids {
        if listed == max_changes && old.get(&id) != now.get(&id) {
            more = true;
            break;
        }
        let list = match (old.get(&id), now.get(&id)) {
            (None, Some(_)) => &mut created,
            (Some(_), None) => &mut destroyed,
            (Some(before), Some(after)) if before != after => {
                counts_only &= before.digest == after.digest;
                &mut updated
            }
            _ => continue,
        };
        list.push(mailbox_id(id));
        listed += 1;
        match now.get(&id) {
            Some(mark) => reached.insert(id, *mark),
            None => reached.remove(&id),
        };
    }
    // RFC 8621 2.2: when only counts moved, the client need fetch only them.
    let updated_properties = if counts_only && !updated.is_empty() {
        json!(["totalEmails", "unreadEmails", "totalThreads", "unreadThreads"])
    } else {
        Value::Null
    };
    Ok(json!({
        "accountId": account_id,
        "oldState": since,
        "newState": if more { encode(&reached) } else { tree.state },
        "hasMoreChanges": more,
        "created": created,
        "updated": updated,
        "destroyed": destroyed,
        "updatedProperties": updated_properties,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_name_each_mailbox_and_read_back() {
        let mut marks = BTreeMap::new();
        marks.insert(
            MailboxId(2),
            Mark {
                modseq: 7,
                digest: 0xdead_beef,
            },
        );
        marks.insert(MailboxId(1), Mark { modseq: 1, digest: 1 });
        let state = encode(&marks);
        assert_eq!(state, "m1-1-00000001.2-7-deadbeef");
        assert_eq!(decode(&state), Some(marks));
        for bad in ["", "e1-1-1", "m1-1", "m1-1-zz", "m1-1-1-1", "m."] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn mailbox_ids_are_the_letter_and_the_store_id_only() {
        assert_eq!(parse_mailbox_id("m42"), Some(MailboxId(42)));
        for bad in ["42", "m", "m-1", "m+1", "mx", "a42", "m 1"] {
            assert_eq!(parse_mailbox_id(bad), None, "{bad}");
        }
    }
}
