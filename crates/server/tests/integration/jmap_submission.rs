//! Sending with JMAP (RFC 8621 6, 7) over real sockets: a draft made in
//! Drafts is submitted through the submission port's own path (local
//! recipients get it, remote ones are queued, Bcc is not shown), then moved
//! to Sent by onSuccessUpdateEmail; what the submission port refuses, JMAP
//! refuses too.

use crate::jmap::{Jmap, calls};
use estafeta_core::model::MailboxRole;
use serde_json::{Value, json};

fn answers(response: &Value) -> Vec<Value> {
    response["methodResponses"].as_array().unwrap().clone()
}

const USING: [&str; 3] = [
    "urn:ietf:params:jmap:core",
    "urn:ietf:params:jmap:mail",
    "urn:ietf:params:jmap:submission",
];

async fn role_id(jmap: &Jmap, role: MailboxRole) -> String {
    let store = jmap.server.store();
    let mailbox = store.mailbox_by_role(jmap.account.id, role).await.unwrap().unwrap();
    format!("m{}", mailbox.id.0)
}

#[tokio::test]
async fn a_draft_is_sent_to_local_and_remote_recipients_and_moved_to_sent() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    let (drafts, sent) = (
        role_id(&jmap, MailboxRole::Drafts).await,
        role_id(&jmap, MailboxRole::Sent).await,
    );
    let session = jmap
        .send("GET", "/jmap/session", Some("ann@example.com:ann's password"), "")
        .await;
    let session: Value = serde_json::from_str(&session.body).unwrap();
    assert_eq!(session["primaryAccounts"]["urn:ietf:params:jmap:submission"], json!(id));

    let request = json!({"using": USING, "methodCalls": [
        ["Identity/get", {"accountId": id}, "i"],
        ["Email/set", {"accountId": id, "create": {"draft": {
            "mailboxIds": {&drafts: true},
            "keywords": {"$draft": true, "$seen": true},
            "from": [{"name": "Ann", "email": "ann@example.com"}],
            "to": [{"name": "Bob", "email": "bob@example.com"}],
            "bcc": [{"email": "carol@remote.test"}],
            "subject": "Dinner",
            "textBody": [{"partId": "1"}],
            "bodyValues": {"1": {"value": "At eight?"}},
        }}}, "e"],
        ["EmailSubmission/set", {"accountId": id,
            "create": {"send": {"identityId": format!("i{}", jmap.account.id.0), "emailId": "#draft"}},
            "onSuccessUpdateEmail": {"#send": {
                format!("mailboxIds/{drafts}"): null, format!("mailboxIds/{sent}"): true, "keywords/$draft": null}},
        }, "s"],
    ]});
    let response = jmap.api(request).await;
    let answers = answers(&response);
    assert_eq!(answers[0][1]["list"][0]["email"], "ann@example.com", "{response}");
    let submission = &answers[2];
    assert_eq!(submission[0], "EmailSubmission/set", "{response}");
    let made = &submission[1]["created"]["send"];
    assert_eq!(made["undoStatus"], "final", "{response}");
    assert_eq!(made["envelope"]["mailFrom"]["email"], "ann@example.com");
    let recipients: Vec<&str> = made["envelope"]["rcptTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["email"].as_str().unwrap())
        .collect();
    assert_eq!(recipients, ["bob@example.com", "carol@remote.test"]);
    // The implicit Email/set follows, under the same call id.
    assert_eq!(answers[3][0], "Email/set", "{response}");
    assert_eq!(answers[3][2], "s");
    let email_id = made["emailId"].as_str().unwrap();
    assert_eq!(answers[3][1]["updated"], json!({email_id: null}));

    let got = jmap
        .api(calls(
            json!([["Email/get", {"accountId": id, "ids": [email_id], "properties": ["mailboxIds", "keywords"]}, "g"]]),
        ))
        .await;
    let email = &got["methodResponses"][0][1]["list"][0];
    assert_eq!(email["mailboxIds"], json!({&sent: true}), "moved to Sent");
    assert_eq!(email["keywords"], json!({"$seen": true}));

    // Bob has it, without the Bcc line; Carol's copy is queued, also without.
    let store = jmap.server.store();
    let bob = store.account_get("bob@example.com").await.unwrap().unwrap();
    let inbox = store
        .mailbox_by_role(bob.id, MailboxRole::Inbox)
        .await
        .unwrap()
        .unwrap();
    let messages = store.messages(inbox.id).await.unwrap();
    assert_eq!(messages.len(), 1);
    let delivered = String::from_utf8(store.message_content(&messages[0].blob).await.unwrap()).unwrap();
    assert!(
        delivered.contains("Subject: Dinner") && delivered.contains("At eight?"),
        "{delivered}"
    );
    assert!(!delivered.to_ascii_lowercase().contains("bcc:"), "{delivered}");
    assert!(
        delivered.contains("with HTTP"),
        "the trace says how it came: {delivered}"
    );
    let queued = store.queue_list().await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].recipients[0].recipient.address, "carol@remote.test");
    assert_eq!(queued[0].sender, "ann@example.com");
}

#[tokio::test]
async fn what_the_submission_port_refuses_jmap_refuses() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    let drafts = role_id(&jmap, MailboxRole::Drafts).await;
    let draft = |from: &str, to: Value| json!({"mailboxIds": {&drafts: true}, "from": [{"email": from}], "to": to, "subject": "x"});
    let request = json!({"using": USING, "methodCalls": [
        ["Email/set", {"accountId": id, "create": {
            "forged": draft("mallory@example.com", json!([{"email": "bob@example.com"}])),
            "nobody": draft("ann@example.com", json!([])),
            "fine": draft("ann@example.com", json!([{"email": "bob@example.com"}])),
        }}, "e"],
        ["EmailSubmission/set", {"accountId": id, "create": {
            "forged": {"identityId": format!("i{}", jmap.account.id.0), "emailId": "#forged"},
            "nobody": {"identityId": format!("i{}", jmap.account.id.0), "emailId": "#nobody"},
            "stranger": {"identityId": "i999999", "emailId": "#fine"},
            "missing": {"identityId": format!("i{}", jmap.account.id.0), "emailId": "e00"},
        }}, "s"],
        ["EmailSubmission/get", {"accountId": id, "ids": ["s1"]}, "g"],
    ]});
    let response = jmap.api(request).await;
    let not = &response["methodResponses"][1][1]["notCreated"];
    assert_eq!(not["forged"]["type"], "forbiddenFrom", "{response}");
    assert_eq!(not["nobody"]["type"], "noRecipients");
    assert_eq!(not["stranger"]["properties"], json!(["identityId"]));
    assert_eq!(not["missing"]["properties"], json!(["emailId"]));
    assert_eq!(response["methodResponses"][2][1]["notFound"], json!(["s1"]));
    let store = jmap.server.store();
    let bob = store.account_get("bob@example.com").await.unwrap().unwrap();
    let inbox = store
        .mailbox_by_role(bob.id, MailboxRole::Inbox)
        .await
        .unwrap()
        .unwrap();
    assert!(store.messages(inbox.id).await.unwrap().is_empty(), "nothing was sent");

    // Without the submission capability, its methods are unknown.
    let response = jmap.api(calls(json!([["Identity/get", {"accountId": id}, "i"]]))).await;
    assert_eq!(response["methodResponses"][0][1]["type"], "unknownMethod");
}

#[tokio::test]
async fn submissions_are_queried_and_followed_though_none_is_kept() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    let request = json!({"using": USING, "methodCalls": [
        ["EmailSubmission/query", {"accountId": id, "filter": {"undoStatus": "final"},
            "sort": [{"property": "sentAt", "isAscending": false}], "calculateTotal": true}, "q"],
        ["EmailSubmission/query", {"accountId": id, "filter": {"subject": "x"}}, "bad-filter"],
        ["EmailSubmission/query", {"accountId": id, "sort": [{"property": "subject"}]}, "bad-sort"],
    ]});
    let response = jmap.api(request).await;
    let query = &response["methodResponses"][0][1];
    assert_eq!(
        (query["ids"].clone(), query["total"].clone()),
        (json!([]), json!(0)),
        "{response}"
    );
    assert_eq!(response["methodResponses"][1][1]["type"], "unsupportedFilter");
    assert_eq!(response["methodResponses"][2][1]["type"], "unsupportedSort");
    let state = query["queryState"].clone();

    let request = json!({"using": USING, "methodCalls": [
        ["EmailSubmission/changes", {"accountId": id, "sinceState": state}, "c"],
        ["EmailSubmission/queryChanges", {"accountId": id, "sinceQueryState": state}, "qc"],
        ["EmailSubmission/changes", {"accountId": id, "sinceState": "s0"}, "old"],
        ["EmailSubmission/queryChanges", {"accountId": id}, "missing"],
    ]});
    let response = jmap.api(request).await;
    let changes = &response["methodResponses"][0][1];
    assert_eq!(changes["newState"], state, "{response}");
    assert_eq!(changes["created"], json!([]));
    let query_changes = &response["methodResponses"][1][1];
    assert_eq!(query_changes["newQueryState"], state, "{response}");
    assert_eq!(query_changes["added"], json!([]));
    assert_eq!(response["methodResponses"][2][1]["type"], "cannotCalculateChanges");
    assert_eq!(response["methodResponses"][3][1]["type"], "invalidArguments");
}

#[tokio::test]
async fn identities_are_made_changed_and_destroyed_for_addresses_the_user_may_send_as() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    let store = jmap.server.store();
    let address = |a: &str| estafeta_core::Address::parse(a).unwrap();
    store
        .alias_add(&address("sales@example.com"), &address("ann@example.com"))
        .await
        .unwrap();
    store
        .alias_add(&address("bobs@example.com"), &address("bob@example.com"))
        .await
        .unwrap();
    let own = format!("i{}", jmap.account.id.0);
    let call = |calls: Value| json!({"using": USING, "methodCalls": calls});

    let response = jmap.api(call(json!([["Identity/get", {"accountId": id}, "g"]]))).await;
    let start = response["methodResponses"][0][1].clone();
    assert_eq!(start["list"].as_array().unwrap().len(), 1, "{start}");
    assert_eq!(start["list"][0]["id"], own);
    assert_eq!(start["list"][0]["mayDelete"], false);
    let state = start["state"].clone();

    let response = jmap
        .api(call(json!([
            ["Identity/set", {"accountId": id, "ifInState": state, "create": {
                "sales": {"name": "Ann at Sales", "email": "sales@example.com",
                          "replyTo": [{"name": "Sales", "email": "sales@example.com"}],
                          "textSignature": "-- \nAnn, Sales"},
                "tagged": {"email": "ann+lists@example.com"},
                "bobs": {"email": "bobs@example.com"},
                "stranger": {"email": "ceo@elsewhere.test"},
                "garbled": {"email": "not an address"},
                "bad": {"email": "sales@example.com", "mayDelete": false},
            }, "update": {&own: {"name": "Ann Souza", "htmlSignature": "<p>Ann</p>"}}}, "s"],
            ["EmailSubmission/set", {"accountId": id, "create": {
                "x": {"identityId": "#sales", "emailId": "e00"}}}, "sub"],
            ["Identity/get", {"accountId": id}, "g"],
        ])))
        .await;
    let set = &response["methodResponses"][0][1];
    let sales = set["created"]["sales"]["id"].as_str().unwrap().to_owned();
    assert_eq!(set["created"]["sales"]["mayDelete"], true, "{set}");
    assert!(set["created"]["tagged"]["id"].is_string(), "{set}");
    assert_eq!(set["notCreated"]["bobs"]["type"], "forbiddenFrom", "{set}");
    assert_eq!(set["notCreated"]["stranger"]["type"], "forbiddenFrom");
    assert_eq!(set["notCreated"]["garbled"]["properties"], json!(["email"]), "{set}");
    assert_eq!(set["notCreated"]["bad"]["properties"], json!(["mayDelete"]));
    assert!(set["updated"].as_object().unwrap().contains_key(&own), "{set}");
    // A submission by the new identity gets past the identity check (the
    // Email is what is missing).
    let submission = &response["methodResponses"][1][1];
    assert_eq!(
        submission["notCreated"]["x"]["properties"],
        json!(["emailId"]),
        "{submission}"
    );
    let got = &response["methodResponses"][2][1];
    let by_id = |wanted: &str| {
        got["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == wanted)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id(&sales)["textSignature"], "-- \nAnn, Sales");
    assert_eq!(by_id(&sales)["replyTo"][0]["email"], "sales@example.com");
    assert_eq!(by_id(&sales)["bcc"], Value::Null);
    assert_eq!(by_id(&own)["name"], "Ann Souza");
    assert_eq!(got["list"].as_array().unwrap().len(), 3);

    // Changes name exactly what happened; the email cannot change, the
    // own identity cannot go, a stale state is refused.
    let response = jmap
        .api(call(json!([
            ["Identity/changes", {"accountId": id, "sinceState": state}, "c"],
            ["Identity/set", {"accountId": id, "update": {&sales: {"email": "other@example.com"}},
                "destroy": [own, "i999-1"]}, "s"],
            ["Identity/set", {"accountId": id, "ifInState": state, "destroy": [sales]}, "stale"],
        ])))
        .await;
    let changes = &response["methodResponses"][0][1];
    assert_eq!(changes["created"].as_array().unwrap().len(), 2, "{changes}");
    assert_eq!(changes["updated"], json!([own]), "{changes}");
    assert_eq!(changes["destroyed"], json!([]));
    let set = &response["methodResponses"][1][1];
    assert_eq!(set["notUpdated"][&sales]["properties"], json!(["email"]), "{set}");
    assert_eq!(set["notDestroyed"][&own]["type"], "forbidden");
    assert_eq!(set["notDestroyed"]["i999-1"]["type"], "notFound");
    assert_eq!(response["methodResponses"][2][1]["type"], "stateMismatch");

    let before = changes["newState"].clone();
    let response = jmap
        .api(call(json!([
            ["Identity/set", {"accountId": id, "destroy": [sales]}, "s"],
            ["Identity/changes", {"accountId": id, "sinceState": before}, "c"],
        ])))
        .await;
    assert_eq!(response["methodResponses"][0][1]["destroyed"], json!([sales]));
    assert_eq!(response["methodResponses"][1][1]["destroyed"], json!([sales]));
}
