//! Foo/queryChanges (RFC 8620 5.6) for a type whose /query state is its
//! /changes state: the query is run again now, /changes says which records
//! were created, updated or destroyed since the old state, and the two
//! together say how the results moved. Filters and sorts may read mutable
//! properties (keywords, mailboxes, names), so every record updated since
//! is reported removed and, if it is in the results now, added again at
//! its index; that is what 5.6 asks of a server that does not keep old
//! results ("the server MUST include all records that are in the results
//! or that may have been in the old results").

use crate::error::MethodError;
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// The /query arguments of a /queryChanges call: the same filter and sort,
/// all of the results.
pub(crate) fn query_arguments(arguments: &Map<String, Value>) -> Map<String, Value> {
    arguments
        .iter()
        .filter(|(name, _)| matches!(name.as_str(), "accountId" | "filter" | "sort" | "collapseThreads"))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The old query state asked about, and the /changes arguments that ask
/// what happened since.
pub(crate) fn since(arguments: &Map<String, Value>) -> Result<(String, Map<String, Value>), MethodError> {
    let Some(Value::String(since)) = arguments.get("sinceQueryState") else {
        return Err(MethodError::invalid_arguments("sinceQueryState is required"));
    };
    if let Some(max) = arguments.get("maxChanges")
        && !max.is_null()
        && max.as_u64().is_none_or(|m| m == 0)
    {
        return Err(MethodError::invalid_arguments("maxChanges must be a positive integer"));
    }
    let mut changes = Map::new();
    if let Some(account) = arguments.get("accountId") {
        changes.insert("accountId".into(), account.clone());
    }
    changes.insert("sinceState".into(), Value::String(since.clone()));
    Ok((since.clone(), changes))
}

fn ids(value: &Value, name: &str) -> Vec<String> {
    value[name]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The answer from the query run now (`now`, all results) and the
/// /changes answer since the old state (`changes`). A write between the
/// two (their states differ) or more changes than `maxChanges` is an
/// error the client answers by querying again.
pub(crate) fn answer(
    arguments: &Map<String, Value>,
    since: &str,
    now: &Value,
    changes: &Value,
) -> Result<Value, MethodError> {
    let new_state = now["queryState"].as_str().unwrap_or_default();
    if changes["newState"].as_str() != Some(new_state) || changes["hasMoreChanges"] == Value::Bool(true) {
        return Err(MethodError::new("cannotCalculateChanges"));
    }
    let created: HashSet<String> = ids(changes, "created").into_iter().collect();
    let updated = ids(changes, "updated");
    let destroyed = ids(changes, "destroyed");
    let touched: HashSet<&String> = created.iter().chain(&updated).collect();
    let removed: Vec<&String> = updated.iter().chain(&destroyed).collect();
    let added: Vec<Value> = ids(now, "ids")
        .into_iter()
        .enumerate()
        .filter(|(_, id)| touched.contains(id))
        .map(|(index, id)| json!({"id": id, "index": index}))
        .collect();
    let max = arguments.get("maxChanges").and_then(Value::as_u64).unwrap_or(u64::MAX);
    if (removed.len() + added.len()) as u64 > max {
        return Err(MethodError::new("tooManyChanges"));
    }
    let mut response = json!({
        "accountId": now["accountId"],
        "oldQueryState": since,
        "newQueryState": new_state,
        "removed": removed,
        "added": added,
    });
    if arguments.get("calculateTotal") == Some(&Value::Bool(true)) {
        response["total"] = json!(now["ids"].as_array().map_or(0, Vec::len));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn results_move_by_what_changed() {
        let now = json!({"accountId": "a", "queryState": "s2", "ids": ["m4", "m1", "m3"]});
        let changes = json!({"newState": "s2", "hasMoreChanges": false,
            "created": ["m4"], "updated": ["m3", "m9"], "destroyed": ["m2"]});
        let asked = arguments(json!({"sinceQueryState": "s1", "calculateTotal": true}));
        let answer = answer(&asked, "s1", &now, &changes).unwrap();
        assert_eq!(answer["oldQueryState"], "s1");
        assert_eq!(answer["newQueryState"], "s2");
        assert_eq!(answer["removed"], json!(["m3", "m9", "m2"]));
        assert_eq!(
            answer["added"],
            json!([{"id": "m4", "index": 0}, {"id": "m3", "index": 2}])
        );
        assert_eq!(answer["total"], 3);
    }

    #[test]
    fn a_write_in_between_or_too_many_changes_is_an_error() {
        let now = json!({"queryState": "s3", "ids": ["m1", "m2"]});
        let moved_on = json!({"newState": "s2", "created": [], "updated": [], "destroyed": []});
        assert_eq!(
            answer(&Map::new(), "s1", &now, &moved_on).unwrap_err().kind,
            "cannotCalculateChanges"
        );
        let many = json!({"newState": "s3", "created": ["m1", "m2"], "updated": [], "destroyed": ["m0"]});
        let asked = arguments(json!({"maxChanges": 2}));
        assert_eq!(answer(&asked, "s1", &now, &many).unwrap_err().kind, "tooManyChanges");
        assert!(answer(&Map::new(), "s1", &now, &many).is_ok());
    }

    #[test]
    fn the_call_is_read_for_its_query_and_its_changes() {
        let asked = arguments(json!({"accountId": "a", "filter": {"inMailbox": "m1"}, "sort": [],
            "sinceQueryState": "s1", "maxChanges": 5, "upToId": "x", "calculateTotal": true}));
        let query = query_arguments(&asked);
        assert_eq!(query.keys().collect::<Vec<_>>(), ["accountId", "filter", "sort"]);
        let (old, changes) = since(&asked).unwrap();
        assert_eq!(old, "s1");
        assert_eq!(Value::Object(changes), json!({"accountId": "a", "sinceState": "s1"}));
        assert_eq!(since(&Map::new()).unwrap_err().kind, "invalidArguments");
        let zero = arguments(json!({"sinceQueryState": "s1", "maxChanges": 0}));
        assert_eq!(since(&zero).unwrap_err().kind, "invalidArguments");
    }
}
