//! The API request (RFC 8620 3.3): check it, run its method calls in order
//! with result references resolved (3.7), and gather the responses.

use crate::error::{MethodError, RequestError};
use crate::{
    CAPABILITY_CORE, CAPABILITY_MAIL, CAPABILITY_SUBMISSION, Context, LIMITS, core, email, identity, mailbox,
    mailbox_set, submission,
};
use serde_json::{Map, Value, json};

/// One method call: name, arguments, call id.
struct Invocation {
    name: String,
    arguments: Map<String, Value>,
    id: String,
}

/// A request checked for shape (RFC 8620 3.3), not yet run.
pub struct Request {
    using: Vec<String>,
    calls: Vec<Invocation>,
    created_ids: Option<Value>,
    /// The response carries `createdIds` only if the request did.
    echo_created: bool,
}

impl Request {
    pub fn parse(body: &[u8]) -> Result<Request, RequestError> {
        if body.len() > LIMITS.max_size_request {
            return Err(RequestError::Limit {
                limit: "maxSizeRequest",
            });
        }
        let value: Value = serde_json::from_slice(body).map_err(|error| RequestError::NotJson(error.to_string()))?;
        let Value::Object(mut request) = value else {
            return Err(RequestError::NotRequest("not a JSON object".into()));
        };
        let using = match request.remove("using") {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(capability) => Ok(capability),
                    _ => Err(RequestError::NotRequest("`using` holds a non-string".into())),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(RequestError::NotRequest("`using` must be an array of strings".into())),
        };
        if let Some(unknown) = using
            .iter()
            .find(|c| ![CAPABILITY_CORE, CAPABILITY_MAIL, CAPABILITY_SUBMISSION].contains(&c.as_str()))
        {
            return Err(RequestError::UnknownCapability(unknown.clone()));
        }
        let Some(Value::Array(method_calls)) = request.remove("methodCalls") else {
            return Err(RequestError::NotRequest("`methodCalls` must be an array".into()));
        };
        if method_calls.len() > LIMITS.max_calls_in_request {
            return Err(RequestError::Limit {
                limit: "maxCallsInRequest",
            });
        }
        let calls = method_calls
            .into_iter()
            .map(|call| match call {
                Value::Array(parts) => match <[Value; 3]>::try_from(parts) {
                    Ok([Value::String(name), Value::Object(arguments), Value::String(id)]) => {
                        Ok(Invocation { name, arguments, id })
                    }
                    _ => Err(RequestError::NotRequest(
                        "a method call is [name, arguments object, call id]".into(),
                    )),
                },
                _ => Err(RequestError::NotRequest("a method call must be an array".into())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let created_ids = match request.remove("createdIds") {
            None => None,
            Some(ids @ Value::Object(_)) => Some(ids),
            Some(_) => return Err(RequestError::NotRequest("`createdIds` must be an object".into())),
        };
        Ok(Request {
            using,
            calls,
            echo_created: created_ids.is_some(),
            created_ids,
        })
    }

    /// Runs every call in order (RFC 8620 3.3: each sees what the ones
    /// before it did) and returns the Response object.
    pub async fn run(mut self, context: &Context<'_>) -> Value {
        let calls = std::mem::take(&mut self.calls);
        let mut responses: Vec<Value> = Vec::with_capacity(calls.len());
        // RFC 8620 3.3, 5.3: creation ids given and made so far.
        let mut created_ids = match self.created_ids.take() {
            Some(Value::Object(ids)) => ids,
            _ => Map::new(),
        };
        let echo_created = self.echo_created;
        for call in calls {
            let answer = match resolve_references(call.arguments, &responses) {
                Ok(arguments) => {
                    let arguments = resolve_creation_ids(arguments, &created_ids);
                    self.call(context, &call.name, arguments, &mut created_ids).await
                }
                Err(error) => Err(error),
            };
            match answer {
                Ok((name, mut arguments)) => {
                    // RFC 8621 7.5: the Email/set that EmailSubmission/set's
                    // onSuccess arguments ran answers next, with the same id.
                    let implicit = arguments.as_object_mut().and_then(|a| a.remove(IMPLICIT_EMAIL_SET));
                    responses.push(json!([name, arguments, call.id]));
                    if let Some(email_set) = implicit {
                        responses.push(json!(["Email/set", email_set, call.id]));
                    }
                }
                Err(error) => responses.push(json!(["error", error.arguments(), call.id])),
            }
        }
        let mut response = json!({
            "methodResponses": responses,
            "sessionState": context.session_state(),
        });
        if echo_created {
            response["createdIds"] = Value::Object(created_ids);
        }
        response
    }

    /// One call, by name; a method of a capability the request did not
    /// ask for is unknown to it (RFC 8620 3.3).
    async fn call(
        &self,
        context: &Context<'_>,
        name: &str,
        arguments: Map<String, Value>,
        created_ids: &mut Map<String, Value>,
    ) -> Result<(&'static str, Value), MethodError> {
        let uses = |capability: &str| self.using.iter().any(|c| c == capability);
        match name {
            "Core/echo" if uses(CAPABILITY_CORE) => Ok(("Core/echo", core::echo(arguments))),
            "Mailbox/get" if uses(CAPABILITY_MAIL) => Ok(("Mailbox/get", mailbox::get(context, arguments).await?)),
            "Mailbox/query" if uses(CAPABILITY_MAIL) => {
                Ok(("Mailbox/query", mailbox::query(context, arguments).await?))
            }
            "Mailbox/changes" if uses(CAPABILITY_MAIL) => {
                Ok(("Mailbox/changes", mailbox::changes(context, arguments).await?))
            }
            "Mailbox/queryChanges" if uses(CAPABILITY_MAIL) => Ok((
                "Mailbox/queryChanges",
                mailbox::query_changes(context, arguments).await?,
            )),
            "Mailbox/set" if uses(CAPABILITY_MAIL) => {
                Ok(("Mailbox/set", mailbox_set::set(context, arguments, created_ids).await?))
            }
            "Email/get" if uses(CAPABILITY_MAIL) => Ok(("Email/get", email::get::get(context, arguments).await?)),
            "Email/query" if uses(CAPABILITY_MAIL) => {
                Ok(("Email/query", email::query::query(context, arguments).await?))
            }
            "Email/changes" if uses(CAPABILITY_MAIL) => {
                Ok(("Email/changes", email::changes::changes(context, arguments).await?))
            }
            "Email/queryChanges" if uses(CAPABILITY_MAIL) => Ok((
                "Email/queryChanges",
                email::query::query_changes(context, arguments).await?,
            )),
            "Email/import" if uses(CAPABILITY_MAIL) => Ok((
                "Email/import",
                email::import::import(context, arguments, created_ids).await?,
            )),
            "Email/set" if uses(CAPABILITY_MAIL) => {
                Ok(("Email/set", email::set::set(context, arguments, created_ids).await?))
            }
            "SearchSnippet/get" if uses(CAPABILITY_MAIL) => {
                Ok(("SearchSnippet/get", email::snippet::get(context, arguments).await?))
            }
            "Thread/changes" if uses(CAPABILITY_MAIL) => {
                Ok(("Thread/changes", email::thread::changes(context, arguments).await?))
            }
            "Thread/get" if uses(CAPABILITY_MAIL) => Ok(("Thread/get", email::thread::get(context, arguments).await?)),
            "Identity/get" if uses(CAPABILITY_SUBMISSION) => {
                Ok(("Identity/get", identity::get(context, arguments).await?))
            }
            "Identity/changes" if uses(CAPABILITY_SUBMISSION) => {
                Ok(("Identity/changes", identity::changes(context, arguments).await?))
            }
            "Identity/set" if uses(CAPABILITY_SUBMISSION) => {
                Ok(("Identity/set", identity::set(context, arguments, created_ids).await?))
            }
            "EmailSubmission/get" if uses(CAPABILITY_SUBMISSION) => {
                Ok(("EmailSubmission/get", submission::get(context, arguments).await?))
            }
            "EmailSubmission/query" if uses(CAPABILITY_SUBMISSION) => {
                Ok(("EmailSubmission/query", submission::query(context, arguments).await?))
            }
            "EmailSubmission/changes" if uses(CAPABILITY_SUBMISSION) => Ok((
                "EmailSubmission/changes",
                submission::changes(context, arguments).await?,
            )),
            "EmailSubmission/queryChanges" if uses(CAPABILITY_SUBMISSION) => Ok((
                "EmailSubmission/queryChanges",
                submission::query_changes(context, arguments).await?,
            )),
            "EmailSubmission/set" if uses(CAPABILITY_SUBMISSION) => {
                let (mut response, implicit) = submission::set(context, arguments, created_ids).await?;
                if let Some(email_set) = implicit {
                    response[IMPLICIT_EMAIL_SET] = email_set;
                }
                Ok(("EmailSubmission/set", response))
            }
            _ => Err(MethodError::described("unknownMethod", format!("no method {name}"))),
        }
    }
}

/// Where a method's response carries a second one to follow it; never a
/// JMAP property name (they have no spaces).
const IMPLICIT_EMAIL_SET: &str = "implicit Email/set";

/// RFC 8620 5.3: a record made earlier in the request may be named by its
/// creation id with `#` in front; here in `ids` and `anchor`, which every
/// method reads alike (a /set resolves its own keys and properties).
fn resolve_creation_ids(mut arguments: Map<String, Value>, created_ids: &Map<String, Value>) -> Map<String, Value> {
    let made = |value: &mut Value| {
        if let Some(id) = value
            .as_str()
            .and_then(|v| v.strip_prefix('#'))
            .and_then(|c| created_ids.get(c))
        {
            *value = id.clone();
        }
    };
    if let Some(Value::Array(ids)) = arguments.get_mut("ids") {
        ids.iter_mut().for_each(made);
    }
    if let Some(anchor) = arguments.get_mut("anchor") {
        made(anchor);
    }
    arguments
}

/// Replaces each `#name` argument by the value its result reference points
/// at (RFC 8620 3.7).
fn resolve_references(arguments: Map<String, Value>, responses: &[Value]) -> Result<Map<String, Value>, MethodError> {
    let mut resolved = Map::with_capacity(arguments.len());
    let plain: Vec<String> = arguments.keys().filter(|k| !k.starts_with('#')).cloned().collect();
    for (key, value) in arguments {
        let Some(name) = key.strip_prefix('#') else {
            resolved.insert(key, value);
            continue;
        };
        if plain.iter().any(|p| p == name) {
            return Err(MethodError::invalid_arguments(format!(
                "both {name} and #{name} are given"
            )));
        }
        let reference = |field: &str| value.get(field).and_then(Value::as_str);
        let (Some(result_of), Some(method), Some(path)) = (reference("resultOf"), reference("name"), reference("path"))
        else {
            return Err(MethodError::described(
                "invalidResultReference",
                format!("#{name} is not a ResultReference"),
            ));
        };
        let response = responses
            .iter()
            .find(|r| r[2] == result_of)
            .filter(|r| r[0] == method)
            .ok_or_else(|| {
                MethodError::described(
                    "invalidResultReference",
                    format!("no {method} response with call id {result_of}"),
                )
            })?;
        let found = evaluate_pointer(&response[1], path).ok_or_else(|| {
            MethodError::described("invalidResultReference", format!("{path} names nothing in {result_of}"))
        })?;
        resolved.insert(name.to_owned(), found);
    }
    Ok(resolved)
}

/// A JSON Pointer (RFC 6901) with JMAP's `*` (RFC 8620 3.7): on an array
/// it applies the rest of the path to every item, and arrays the items
/// give are flattened into one.
fn evaluate_pointer(value: &Value, path: &str) -> Option<Value> {
    if path.is_empty() {
        return Some(value.clone());
    }
    let rest = path.strip_prefix('/')?;
    let (token, remainder) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, ""),
    };
    let token = token.replace("~1", "/").replace("~0", "~");
    match value {
        Value::Array(items) if token == "*" => {
            let mut out = Vec::new();
            for item in items {
                match evaluate_pointer(item, remainder)? {
                    Value::Array(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            Some(Value::Array(out))
        }
        Value::Array(items) => {
            let index: usize = token.parse().ok().filter(|_| token == "0" || !token.starts_with('0'))?;
            evaluate_pointer(items.get(index)?, remainder)
        }
        Value::Object(fields) => evaluate_pointer(fields.get(&token)?, remainder),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_with_the_jmap_wildcard_flatten_arrays() {
        let value = json!({"list": [{"ids": ["a", "b"]}, {"ids": ["c"]}], "x/y": {"~": 1}});
        assert_eq!(evaluate_pointer(&value, "/list/*/ids"), Some(json!(["a", "b", "c"])));
        assert_eq!(evaluate_pointer(&value, "/list/1/ids/0"), Some(json!("c")));
        assert_eq!(evaluate_pointer(&value, "/x~1y/~0"), Some(json!(1)));
        assert_eq!(evaluate_pointer(&value, ""), Some(value.clone()));
        for missing in ["/list/2", "/list/01", "/nothing", "list", "/list/*/none"] {
            assert_eq!(evaluate_pointer(&value, missing), None, "{missing}");
        }
    }

    #[test]
    fn malformed_requests_are_refused_with_their_kind() {
        let kind = |body: &str| {
            Request::parse(body.as_bytes())
                .err()
                .map(|e| e.problem()["type"].clone())
        };
        assert_eq!(kind("{"), Some(json!("urn:ietf:params:jmap:error:notJSON")));
        assert_eq!(kind("[]"), Some(json!("urn:ietf:params:jmap:error:notRequest")));
        assert_eq!(
            kind(r#"{"using": [], "methodCalls": [["Core/echo", [], "c"]]}"#),
            Some(json!("urn:ietf:params:jmap:error:notRequest"))
        );
        assert_eq!(
            kind(r#"{"using": ["urn:example:nope"], "methodCalls": []}"#),
            Some(json!("urn:ietf:params:jmap:error:unknownCapability"))
        );
        let many = format!(
            r#"{{"using": [], "methodCalls": [{}]}}"#,
            vec![r#"["Core/echo", {}, "c"]"#; LIMITS.max_calls_in_request + 1].join(",")
        );
        let problem = Request::parse(many.as_bytes()).err().unwrap().problem();
        assert_eq!(
            (problem["type"].as_str(), problem["limit"].as_str()),
            (Some("urn:ietf:params:jmap:error:limit"), Some("maxCallsInRequest"))
        );
        assert!(Request::parse(br#"{"using": [], "methodCalls": []}"#).is_ok());
    }

    #[test]
    fn references_resolve_against_earlier_responses_only_by_id_and_name() {
        let responses = vec![json!(["Mailbox/query", {"ids": ["m1", "m2"]}, "q"])];
        let arguments = |value: Value| value.as_object().unwrap().clone();
        let resolved = resolve_references(
            arguments(json!({"#ids": {"resultOf": "q", "name": "Mailbox/query", "path": "/ids"}, "accountId": "a1"})),
            &responses,
        )
        .unwrap();
        assert_eq!(resolved["ids"], json!(["m1", "m2"]));
        assert_eq!(resolved["accountId"], json!("a1"));
        for wrong in [
            json!({"#ids": {"resultOf": "q", "name": "Mailbox/get", "path": "/ids"}}),
            json!({"#ids": {"resultOf": "nope", "name": "Mailbox/query", "path": "/ids"}}),
            json!({"#ids": {"resultOf": "q", "name": "Mailbox/query", "path": "/list"}}),
            json!({"#ids": "q"}),
        ] {
            let error = resolve_references(arguments(wrong.clone()), &responses).unwrap_err();
            assert_eq!(error.kind, "invalidResultReference", "{wrong}");
        }
        let both = json!({"ids": [], "#ids": {"resultOf": "q", "name": "Mailbox/query", "path": "/ids"}});
        assert_eq!(
            resolve_references(arguments(both), &responses).unwrap_err().kind,
            "invalidArguments"
        );
    }
}
