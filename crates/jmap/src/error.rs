//! The two kinds of JMAP error (RFC 8620 3.6): a request the server cannot
//! take at all is answered with an HTTP problem document (RFC 7807); a
//! method call that fails is answered in place, as an `error` response, and
//! the calls after it still run.

use serde_json::{Value, json};

/// A request refused as a whole (RFC 8620 3.6.1).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("the request uses an unknown capability: {0}")]
    UnknownCapability(String),
    #[error("the request is not JSON: {0}")]
    NotJson(String),
    #[error("the request is not a JMAP Request object: {0}")]
    NotRequest(String),
    #[error("the request exceeds the server's {limit}")]
    Limit { limit: &'static str },
}

impl RequestError {
    fn kind(&self) -> &'static str {
        match self {
            RequestError::UnknownCapability(_) => "unknownCapability",
            RequestError::NotJson(_) => "notJSON",
            RequestError::NotRequest(_) => "notRequest",
            RequestError::Limit { .. } => "limit",
        }
    }

    /// The problem details document (RFC 7807), sent with status 400.
    pub fn problem(&self) -> Value {
        let mut problem = json!({
            "type": format!("urn:ietf:params:jmap:error:{}", self.kind()),
            "status": 400,
            "detail": self.to_string(),
        });
        if let RequestError::Limit { limit } = self {
            problem["limit"] = json!(limit);
        }
        problem
    }
}

/// A method call that failed (RFC 8620 3.6.2 and the methods' own errors).
#[derive(Debug, Clone, PartialEq)]
pub struct MethodError {
    pub kind: &'static str,
    pub description: Option<String>,
}

impl MethodError {
    pub fn new(kind: &'static str) -> MethodError {
        MethodError {
            kind,
            description: None,
        }
    }

    pub fn described(kind: &'static str, description: impl Into<String>) -> MethodError {
        MethodError {
            kind,
            description: Some(description.into()),
        }
    }

    pub fn invalid_arguments(description: impl Into<String>) -> MethodError {
        MethodError::described("invalidArguments", description)
    }

    pub fn arguments(&self) -> Value {
        let mut arguments = json!({ "type": self.kind });
        if let Some(description) = &self.description {
            arguments["description"] = json!(description);
        }
        arguments
    }
}

impl From<estafeta_store::StoreError> for MethodError {
    fn from(error: estafeta_store::StoreError) -> MethodError {
        MethodError::described("serverFail", error.to_string())
    }
}
