//! JMAP (RFC 8620) over the store, for the HTTP listener to serve: the
//! session resource and the API request. So far Core/echo and the
//! Mailbox methods of JMAP Mail (RFC 8621 2: get, query, changes, set);
//! Email, Thread, submission, uploads, downloads and push come next.
//!
//! Ids are the store's, with a letter for their kind (`a` account, `m`
//! mailbox): the store never gives an id twice, as RFC 8620 1.2 requires.

pub mod blob;
mod core;
mod email;
pub mod error;
pub mod identity;
mod mailbox;
mod mailbox_set;
mod query_changes;
mod request;
mod set_args;
pub mod submission;
pub mod upload;

pub use email::describe_message;
pub use error::{MethodError, RequestError};
pub use request::Request;

use estafeta_store::{Account, Store, StoreError};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const CAPABILITY_CORE: &str = "urn:ietf:params:jmap:core";
pub const CAPABILITY_MAIL: &str = "urn:ietf:params:jmap:mail";
pub const CAPABILITY_SUBMISSION: &str = "urn:ietf:params:jmap:submission";

/// What the server takes (RFC 8620 2, the core capability's object).
pub struct Limits {
    pub max_size_upload: usize,
    pub max_concurrent_upload: usize,
    pub max_size_request: usize,
    pub max_concurrent_requests: usize,
    pub max_calls_in_request: usize,
    pub max_objects_in_get: usize,
    pub max_objects_in_set: usize,
}

pub const LIMITS: Limits = Limits {
    max_size_upload: 50_000_000,
    max_concurrent_upload: 4,
    max_size_request: 10_000_000,
    max_concurrent_requests: 4,
    max_calls_in_request: 32,
    max_objects_in_get: 1_000,
    max_objects_in_set: 1_000,
};

/// Who a request acts for.
pub struct Context<'a> {
    pub store: &'a dyn Store,
    pub account: &'a Account,
    pub uploads: &'a upload::Uploads,
    /// How mail is sent (the server's submission path); `None` sends none.
    pub sender: Option<&'a dyn submission::Sender>,
}

impl Context<'_> {
    pub fn account_id(&self) -> String {
        account_id(self.account)
    }

    /// The session object changes only with the account it describes.
    pub fn session_state(&self) -> String {
        format!("s{}", self.account.id.0)
    }

    /// RFC 8620 3.6.2: every method names its account, and only the
    /// caller's own is known here.
    fn check_account(&self, arguments: &serde_json::Map<String, Value>) -> Result<String, MethodError> {
        match arguments.get("accountId") {
            Some(Value::String(id)) if *id == self.account_id() => Ok(id.clone()),
            Some(Value::String(_)) => Err(MethodError::new("accountNotFound")),
            _ => Err(MethodError::invalid_arguments("accountId is required")),
        }
    }
}

pub fn account_id(account: &Account) -> String {
    format!("a{}", account.id.0)
}

/// The session resource (RFC 8620 2) for `account`; `base` is the URL the
/// client reached us at (`https://mail.example.com`), without a slash at
/// the end.
pub fn session(account: &Account, base: &str) -> Value {
    let id = account_id(account);
    json!({
        "capabilities": {
            CAPABILITY_CORE: {
                "maxSizeUpload": LIMITS.max_size_upload,
                "maxConcurrentUpload": LIMITS.max_concurrent_upload,
                "maxSizeRequest": LIMITS.max_size_request,
                "maxConcurrentRequests": LIMITS.max_concurrent_requests,
                "maxCallsInRequest": LIMITS.max_calls_in_request,
                "maxObjectsInGet": LIMITS.max_objects_in_get,
                "maxObjectsInSet": LIMITS.max_objects_in_set,
                "collationAlgorithms": ["i;ascii-casemap", "i;unicode-casemap"],
            },
            CAPABILITY_MAIL: {},
            CAPABILITY_SUBMISSION: {},
        },
        "accounts": {
            id.clone(): {
                "name": account.address,
                "isPersonal": true,
                "isReadOnly": false,
                "accountCapabilities": {
                    CAPABILITY_MAIL: {
                        "maxMailboxesPerEmail": null,
                        "maxMailboxDepth": null,
                        "maxSizeMailboxName": 255,
                        "maxSizeAttachmentsPerEmail": LIMITS.max_size_upload,
                        "emailQuerySortOptions": email::query::SORT_OPTIONS,
                        "mayCreateTopLevelMailbox": true,
                    },
                    // RFC 8621 7: sent at once, so no delay can be asked.
                    CAPABILITY_SUBMISSION: {
                        "maxDelayedSend": 0,
                        "submissionExtensions": {},
                    },
                },
            },
        },
        "primaryAccounts": { CAPABILITY_MAIL: id.clone(), CAPABILITY_SUBMISSION: id },
        "username": account.address,
        "apiUrl": format!("{base}/jmap/api/"),
        "downloadUrl": format!("{base}/jmap/download/{{accountId}}/{{blobId}}/{{name}}?accept={{type}}"),
        "uploadUrl": format!("{base}/jmap/upload/{{accountId}}/"),
        "eventSourceUrl": format!("{base}/jmap/eventsource/?types={{types}}&closeafter={{closeafter}}&ping={{ping}}"),
        "state": format!("s{}", account.id.0),
    })
}

/// Each data type's state for `account` now (RFC 8620 7.1 TypeState), from
/// the mailbox list alone: what a push tells clients when one moves.
pub async fn states(store: &dyn Store, account: &Account) -> Result<BTreeMap<&'static str, String>, StoreError> {
    let mailboxes = store.mailbox_list(account.id).await?;
    let email = email::state_of(&mailboxes);
    Ok(BTreeMap::from([
        ("Mailbox", mailbox::state_of(&mailboxes)),
        ("Thread", email.clone()),
        ("Email", email),
    ]))
}

/// Runs an API request body for `context`: the Response object, or the
/// problem that refuses the whole request.
pub async fn api(context: &Context<'_>, body: &[u8]) -> Result<Value, RequestError> {
    Ok(Request::parse(body)?.run(context).await)
}
