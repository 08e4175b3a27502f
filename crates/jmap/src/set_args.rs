//! What every /set method (RFC 8620 5.3) reads and answers alike: the
//! state it must start from, its create/update maps and destroy list, and
//! the SetError objects.

use crate::error::MethodError;
use serde_json::{Map, Value, json};

/// A SetError (RFC 8620 5.3).
pub(crate) fn set_error(kind: &str, description: impl Into<String>) -> Value {
    json!({ "type": kind, "description": description.into() })
}

/// An `invalidProperties` SetError naming the property.
pub(crate) fn invalid(property: &str, description: impl Into<String>) -> Value {
    json!({ "type": "invalidProperties", "properties": [property], "description": description.into() })
}

/// RFC 8620 5.3 `ifInState`: the call goes on only from that state.
pub(crate) fn check_state(arguments: &Map<String, Value>, state: &str) -> Result<(), MethodError> {
    match arguments.get("ifInState") {
        Some(expected) if !expected.is_null() && *expected != json!(state) => Err(MethodError::new("stateMismatch")),
        _ => Ok(()),
    }
}

/// `create` or `update`: an object of objects, empty when absent.
pub(crate) fn objects(arguments: &Map<String, Value>, name: &str) -> Result<Map<String, Value>, MethodError> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(objects)) => Ok(objects.clone()),
        Some(_) => Err(MethodError::invalid_arguments(format!("{name} must be an object"))),
    }
}

/// `destroy`: a list of ids, empty when absent.
pub(crate) fn ids(arguments: &Map<String, Value>, name: &str) -> Result<Vec<String>, MethodError> {
    match arguments.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| id.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| MethodError::invalid_arguments(format!("{name} must list ids"))),
        Some(_) => Err(MethodError::invalid_arguments(format!("{name} must be an array"))),
    }
}

/// A map of the response, or null when empty (RFC 8620 5.3 allows both;
/// null says "none" plainly).
pub(crate) fn or_null(map: Map<String, Value>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}
