//! Core/echo (RFC 8620 4): the arguments come back unchanged, so a client
//! can test its connection and its authentication.

use serde_json::{Map, Value};

pub fn echo(arguments: Map<String, Value>) -> Value {
    Value::Object(arguments)
}
