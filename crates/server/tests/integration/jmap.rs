//! JMAP on a running server, over real sockets: the session resource, the
//! request and its errors (RFC 8620 3.6), result references (3.7), and
//! the Mailbox methods (RFC 8621 2) seeing what the store (and so IMAP)
//! holds.

use base64::Engine;
use estafeta_core::config::Service;
use estafeta_core::model::{Flags, MailboxRole, SystemFlags};
use estafeta_store::{DeliveryTarget, FlagOperation};
use estafeta_testkit::{HttpResponse, TestServer, http_request};
use serde_json::{Value, json};

pub(crate) const ANN: &str = "ann@example.com:ann's password";

pub(crate) struct Jmap {
    pub server: TestServer,
    pub account: estafeta_store::Account,
}

impl Jmap {
    pub async fn start() -> Jmap {
        let server = TestServer::start().await;
        let account = server.add_account("ann@example.com", "ann's password").await;
        server.add_account("bob@example.com", "bob's password").await;
        Jmap { server, account }
    }

    pub async fn send(&self, method: &str, path: &str, credentials: Option<&str>, body: &str) -> HttpResponse {
        let authorization =
            credentials.map(|c| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(c)));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(authorization) = &authorization {
            headers.push(("Authorization", authorization));
        }
        http_request(self.server.addr(Service::Http), method, path, &headers, body.as_bytes()).await
    }

    pub async fn api(&self, request: Value) -> Value {
        let response = self.send("POST", "/jmap/api/", Some(ANN), &request.to_string()).await;
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.header("content-type"), Some("application/json"));
        serde_json::from_str(&response.body).unwrap()
    }

    pub fn account_id(&self) -> String {
        format!("a{}", self.account.id.0)
    }
}

async fn get_all(jmap: &Jmap) -> Value {
    let request = calls(json!([["Mailbox/get", {"accountId": jmap.account_id(), "ids": null}, "all"]]));
    jmap.api(request).await["methodResponses"][0][1].clone()
}

pub(crate) fn calls(calls: Value) -> Value {
    json!({
        "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
        "methodCalls": calls,
    })
}

#[tokio::test]
async fn the_session_names_the_account_and_needs_a_login() {
    let jmap = Jmap::start().await;
    let refused = jmap.send("GET", "/.well-known/jmap", None, "").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        refused
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Basic"))
    );
    let wrong = jmap
        .send("GET", "/.well-known/jmap", Some("ann@example.com:nope"), "")
        .await;
    assert_eq!(wrong.status, 401);

    for path in ["/.well-known/jmap", "/jmap/session"] {
        let response = jmap.send("GET", path, Some(ANN), "").await;
        assert_eq!(response.status, 200, "{path}: {}", response.body);
        let session: Value = serde_json::from_str(&response.body).unwrap();
        let id = jmap.account_id();
        assert_eq!(session["username"], "ann@example.com");
        assert_eq!(session["primaryAccounts"]["urn:ietf:params:jmap:mail"], json!(id));
        assert_eq!(session["accounts"][&id]["name"], "ann@example.com");
        assert_eq!(session["accounts"][&id]["isPersonal"], true);
        // Built from the Host the client asked for.
        let host = jmap.server.addr(Service::Http);
        assert_eq!(session["apiUrl"], format!("http://{host}/jmap/api/"));
        assert_eq!(
            session["capabilities"]["urn:ietf:params:jmap:core"]["maxCallsInRequest"],
            json!(estafeta_jmap::LIMITS.max_calls_in_request)
        );
        assert_eq!(
            session["accounts"].as_object().unwrap().len(),
            1,
            "only the caller's own"
        );
    }
}

#[tokio::test]
async fn requests_that_are_no_jmap_get_a_problem_document() {
    let jmap = Jmap::start().await;
    for (body, kind) in [
        ("{not json", "notJSON"),
        (r#"{"using": [], "methodCalls": {}}"#, "notRequest"),
        (
            r#"{"using": ["urn:ietf:params:jmap:calendars"], "methodCalls": []}"#,
            "unknownCapability",
        ),
    ] {
        let response = jmap.send("POST", "/jmap/api/", Some(ANN), body).await;
        assert_eq!(response.status, 400, "{body}: {}", response.body);
        assert_eq!(response.header("content-type"), Some("application/problem+json"));
        let problem: Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(problem["type"], format!("urn:ietf:params:jmap:error:{kind}"), "{body}");
        assert_eq!(problem["status"], 400);
    }
    let anonymous = jmap
        .send("POST", "/jmap/api/", None, r#"{"using": [], "methodCalls": []}"#)
        .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn method_errors_answer_in_place_and_later_calls_still_run() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    let response = jmap
        .api(json!({
            "using": ["urn:ietf:params:jmap:core"],
            "methodCalls": [
                ["Core/echo", {"hello": [1, true, null]}, "e"],
                ["Mailbox/get", {"accountId": id}, "not-asked-for"],
                ["Nothing/here", {}, "unknown"],
            ],
            "createdIds": {"k1": "x"},
        }))
        .await;
    let answers = response["methodResponses"].as_array().unwrap();
    assert_eq!(answers[0], json!(["Core/echo", {"hello": [1, true, null]}, "e"]));
    // The mail capability was not in `using`: its methods are unknown.
    assert_eq!(answers[1][0], "error");
    assert_eq!(answers[1][1]["type"], "unknownMethod");
    assert_eq!(answers[1][2], "not-asked-for");
    assert_eq!(answers[2][1]["type"], "unknownMethod");
    assert_eq!(response["createdIds"], json!({"k1": "x"}));
    assert!(response["sessionState"].is_string());

    let response = jmap
        .api(calls(json!([
            ["Mailbox/get", {"accountId": "a999999"}, "0"],
            ["Mailbox/get", {}, "1"],
            ["Mailbox/get", {"accountId": id, "properties": ["name", "colour"]}, "2"],
            ["Mailbox/get", {"accountId": id, "#ids": {"resultOf": "nope", "name": "Mailbox/query", "path": "/ids"}}, "3"],
            ["Mailbox/query", {"accountId": id, "sort": [{"property": "colour"}]}, "4"],
            ["Mailbox/query", {"accountId": id, "filter": {"colour": "red"}}, "5"],
            ["Mailbox/query", {"accountId": id, "anchor": "m999999"}, "6"],
            ["Mailbox/changes", {"accountId": id, "sinceState": "old"}, "7"],
        ])))
        .await;
    let kinds: Vec<&str> = response["methodResponses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|answer| answer[1]["type"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        kinds,
        [
            "accountNotFound",
            "invalidArguments",
            "invalidArguments",
            "invalidResultReference",
            "unsupportedSort",
            "unsupportedFilter",
            "anchorNotFound",
            "cannotCalculateChanges",
        ]
    );
    // Bob's account is not Ann's to read.
    let bob = jmap
        .server
        .store()
        .account_get("bob@example.com")
        .await
        .unwrap()
        .unwrap();
    let other = jmap
        .api(calls(
            json!([["Mailbox/get", {"accountId": format!("a{}", bob.id.0)}, "b"]]),
        ))
        .await;
    assert_eq!(other["methodResponses"][0][1]["type"], "accountNotFound");
}

#[tokio::test]
async fn mailboxes_as_the_store_holds_them_with_counts_and_a_state_that_moves() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    let store = jmap.server.store();
    let account = jmap.account.id;
    store.mailbox_create(account, "Projects").await.unwrap();
    store.mailbox_create(account, "Projects/2026").await.unwrap();
    store.mailbox_create(account, "Lone/Leaf").await.unwrap();
    let inbox = store
        .mailbox_by_role(account, MailboxRole::Inbox)
        .await
        .unwrap()
        .unwrap();
    let to_inbox = DeliveryTarget {
        mailbox: inbox.id,
        flags: Flags::default(),
    };
    for n in 0..3 {
        let message = format!("From: x@example.net\r\nSubject: {n}\r\n\r\nhello\r\n");
        store
            .deliver(message.as_bytes(), 0, std::slice::from_ref(&to_inbox))
            .await
            .unwrap();
    }
    store
        .store_flags(
            inbox.id,
            &[1],
            FlagOperation::Add,
            &Flags::new(SystemFlags::SEEN, []),
            None,
        )
        .await
        .unwrap();

    // A query for the children of Projects feeds a get of just those, by
    // a result reference.
    let projects = store.mailbox_get(account, "Projects").await.unwrap().unwrap();
    let response = jmap
        .api(calls(json!([
            ["Mailbox/query", {"accountId": id, "filter": {"parentId": format!("m{}", projects.id.0)}, "calculateTotal": true}, "q"],
            ["Mailbox/get", {"accountId": id, "#ids": {"resultOf": "q", "name": "Mailbox/query", "path": "/ids"},
                             "properties": ["name", "parentId"]}, "g"],
        ])))
        .await;
    let query = &response["methodResponses"][0][1];
    assert_eq!(query["total"], 1);
    let child = &response["methodResponses"][1][1]["list"][0];
    assert_eq!(child["name"], "2026");
    assert_eq!(child["parentId"], json!(format!("m{}", projects.id.0)));
    assert_eq!(
        child.as_object().unwrap().len(),
        3,
        "id and the properties asked for: {child}"
    );

    let all = get_all(&jmap).await;
    let by_name = |name: &str| {
        all["list"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {all}"))
    };
    let inbox_object = by_name("INBOX");
    assert_eq!(inbox_object["role"], "inbox");
    assert_eq!(
        (
            inbox_object["totalEmails"].clone(),
            inbox_object["unreadEmails"].clone()
        ),
        (json!(3), json!(2))
    );
    assert_eq!(inbox_object["myRights"]["mayDelete"], false);
    assert_eq!(by_name("Junk")["role"], "junk");
    assert_eq!(by_name("Projects")["parentId"], Value::Null);
    // No mailbox `Lone`: the leaf sits at the top under its whole name.
    assert_eq!(by_name("Lone/Leaf")["parentId"], Value::Null);
    assert!(all["notFound"].as_array().unwrap().is_empty());

    // Nothing changed: changes says so; reading a message (as IMAP would)
    // moves the state and makes the old one too old to answer from.
    let state = all["state"].as_str().unwrap().to_owned();
    let same = jmap
        .api(calls(
            json!([["Mailbox/changes", {"accountId": id, "sinceState": state}, "c"]]),
        ))
        .await;
    assert_eq!(same["methodResponses"][0][1]["newState"], json!(state));
    assert_eq!(same["methodResponses"][0][1]["hasMoreChanges"], false);
    store
        .store_flags(
            inbox.id,
            &[2],
            FlagOperation::Add,
            &Flags::new(SystemFlags::SEEN, []),
            None,
        )
        .await
        .unwrap();
    let after = get_all(&jmap).await;
    assert_ne!(after["state"], json!(state));
    let moved = jmap
        .api(calls(
            json!([["Mailbox/changes", {"accountId": id, "sinceState": state}, "c"]]),
        ))
        .await;
    assert_eq!(
        moved["methodResponses"][0][1]["updated"],
        json!([format!("m{}", inbox.id.0)])
    );

    // Unknown ids come back as not found, and an id asked for twice is
    // answered once; query sorts, pages and anchors.
    let inbox_id = format!("m{}", inbox.id.0);
    let asked = json!(["m999999", inbox_id, "junk!", "m999999", inbox_id]);
    let missing = jmap
        .api(calls(json!([
            ["Mailbox/get", {"accountId": id, "ids": asked, "properties": ["role"]}, "m"]
        ])))
        .await;
    let answer = &missing["methodResponses"][0][1];
    assert_eq!(answer["notFound"], json!(["m999999", "junk!"]));
    assert_eq!(answer["list"], json!([{"id": inbox_id, "role": "inbox"}]));
    let sorted = jmap
        .api(calls(json!([
            ["Mailbox/query", {"accountId": id, "sort": [{"property": "sortOrder"}, {"property": "name"}]}, "s"],
        ])))
        .await;
    let ids = sorted["methodResponses"][0][1]["ids"].as_array().unwrap().clone();
    assert_eq!(ids[0], json!(format!("m{}", inbox.id.0)), "the inbox first");
    let page = jmap
        .api(calls(json!([
            ["Mailbox/query", {"accountId": id, "sort": [{"property": "sortOrder"}, {"property": "name"}],
                               "anchor": ids[2], "anchorOffset": -1, "limit": 2}, "p"],
            ["Mailbox/query", {"accountId": id, "sort": [{"property": "sortOrder"}, {"property": "name"}],
                               "position": -1}, "last"],
        ])))
        .await;
    assert_eq!(page["methodResponses"][0][1]["ids"], json!(ids[1..3]));
    assert_eq!(page["methodResponses"][0][1]["position"], 1);
    assert_eq!(page["methodResponses"][1][1]["ids"], json!([ids.last().unwrap()]));
    let subscribed_roles = jmap
        .api(calls(json!([
            ["Mailbox/query", {"accountId": id, "filter": {"operator": "AND", "conditions": [
                {"hasAnyRole": true}, {"operator": "NOT", "conditions": [{"role": "inbox"}]}]}}, "r"],
        ])))
        .await;
    let role_ids = subscribed_roles["methodResponses"][0][1]["ids"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(role_ids, 5, "sent, drafts, trash, archive, junk: {subscribed_roles}");
}

#[tokio::test]
async fn mailboxes_are_made_renamed_moved_and_destroyed_with_imaps_rules() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    let store = jmap.server.store();
    let account = jmap.account.id;
    let response = jmap
        .api(json!({
            "using": ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"],
            "methodCalls": [["Mailbox/set", {"accountId": id, "create": {
                "work": {"name": "Work", "isSubscribed": true},
                "reports": {"name": "Reports", "parentId": "#work"},
                "slash": {"name": "a/b"},
                "role": {"name": "Mine", "role": "inbox"},
                "orphan": {"name": "Lost", "parentId": "m999999"},
            }}, "s"]],
            "createdIds": {},
        }))
        .await;
    let set = &response["methodResponses"][0][1];
    let work_id = set["created"]["work"]["id"].as_str().unwrap().to_owned();
    let reports_id = set["created"]["reports"]["id"].as_str().unwrap().to_owned();
    assert_eq!(set["created"]["work"]["isSubscribed"], true);
    assert_eq!(set["created"]["reports"]["totalEmails"], 0);
    for (creation, property) in [("slash", "name"), ("role", "role"), ("orphan", "parentId")] {
        assert_eq!(
            set["notCreated"][creation]["type"], "invalidProperties",
            "{creation}: {set}"
        );
        assert_eq!(
            set["notCreated"][creation]["properties"],
            json!([property]),
            "{creation}"
        );
    }
    assert_eq!(response["createdIds"], json!({"work": work_id, "reports": reports_id}));
    assert_ne!(set["oldState"], set["newState"]);
    // What IMAP would LIST: the store names the child by its path.
    let reports = store.mailbox_get(account, "Work/Reports").await.unwrap().unwrap();
    assert_eq!(format!("m{}", reports.id.0), reports_id);
    assert!(store.mailbox_get(account, "Work").await.unwrap().unwrap().subscribed);

    // Rename and move to the top in one update; INBOX stays put; a stale
    // state is refused as a whole.
    let inbox = store
        .mailbox_by_role(account, MailboxRole::Inbox)
        .await
        .unwrap()
        .unwrap();
    let inbox_id = format!("m{}", inbox.id.0);
    let response = jmap
        .api(calls(json!([
            ["Mailbox/set", {"accountId": id, "ifInState": "stale"}, "0"],
            ["Mailbox/set", {"accountId": id, "update": {
                reports_id.clone(): {"name": "Reports 2026", "parentId": null, "isSubscribed": true},
                inbox_id.clone(): {"name": "Elsewhere"},
                "m999999": {"name": "x"},
            }}, "1"],
            ["Mailbox/set", {"accountId": id, "update": {work_id.clone(): {"parentId": reports_id}}}, "2"],
            ["Mailbox/set", {"accountId": id, "update": {reports_id.clone(): {"parentId": work_id}}}, "3"],
        ])))
        .await;
    assert_eq!(response["methodResponses"][0][1]["type"], "stateMismatch");
    let set = &response["methodResponses"][1][1];
    assert_eq!(set["updated"][&reports_id], Value::Null);
    assert!(set["updated"].as_object().unwrap().contains_key(&reports_id));
    assert_eq!(set["notUpdated"][&inbox_id]["type"], "forbidden");
    assert_eq!(set["notUpdated"]["m999999"]["type"], "notFound");
    let moved = store.mailbox_get(account, "Reports 2026").await.unwrap().unwrap();
    assert_eq!((moved.id, moved.subscribed), (reports.id, true), "renamed, not remade");
    // Work went below Reports 2026 once Reports 2026 had left it; and
    // Reports 2026 cannot then go below its own child.
    assert!(store.mailbox_get(account, "Reports 2026/Work").await.unwrap().is_some());
    assert!(
        response["methodResponses"][2][1]["updated"]
            .as_object()
            .unwrap()
            .contains_key(&work_id)
    );
    let cycle = &response["methodResponses"][3][1]["notUpdated"][&reports_id];
    assert_eq!(
        (cycle["type"].as_str(), cycle["properties"].clone()),
        (Some("invalidProperties"), json!(["parentId"]))
    );

    // Destroy: not with children, not with mail unless asked, never INBOX.
    let reports_2026 = store.mailbox_get(account, "Reports 2026").await.unwrap().unwrap();
    let target = DeliveryTarget {
        mailbox: reports_2026.id,
        flags: Flags::default(),
    };
    let work = store.mailbox_get(account, "Reports 2026/Work").await.unwrap().unwrap();
    let in_work = DeliveryTarget {
        mailbox: work.id,
        flags: Flags::default(),
    };
    store
        .deliver(b"Subject: keep\r\n\r\nx\r\n", 0, &[target])
        .await
        .unwrap();
    store
        .deliver(b"Subject: work\r\n\r\ny\r\n", 0, &[in_work])
        .await
        .unwrap();
    let response = jmap
        .api(calls(json!([
            ["Mailbox/set", {"accountId": id, "destroy": [reports_id, inbox_id, work_id, "m999999"]}, "d"],
        ])))
        .await;
    let set = &response["methodResponses"][0][1];
    assert_eq!(set["notDestroyed"][&reports_id]["type"], "mailboxHasChild");
    assert_eq!(set["notDestroyed"][&inbox_id]["type"], "forbidden");
    assert_eq!(set["notDestroyed"][&work_id]["type"], "mailboxHasEmail");
    assert_eq!(set["notDestroyed"]["m999999"]["type"], "notFound");
    assert_eq!(set["destroyed"], Value::Null);
    let response = jmap
        .api(calls(json!([
            ["Mailbox/set", {"accountId": id, "destroy": [work_id, reports_id], "onDestroyRemoveEmails": true}, "d"],
        ])))
        .await;
    assert_eq!(
        response["methodResponses"][0][1]["destroyed"],
        json!([work_id, reports_id])
    );
    assert!(store.mailbox_get(account, "Reports 2026").await.unwrap().is_none());
}

async fn mailbox_changes(jmap: &Jmap, since: &str, max: Option<u64>) -> Value {
    let mut arguments = json!({"accountId": jmap.account_id(), "sinceState": since});
    if let Some(max) = max {
        arguments["maxChanges"] = json!(max);
    }
    jmap.api(calls(json!([["Mailbox/changes", arguments, "c"]]))).await["methodResponses"][0][1].clone()
}

#[tokio::test]
async fn mailbox_changes_say_what_was_made_renamed_counted_and_removed() {
    let jmap = Jmap::start().await;
    let store = jmap.server.store();
    let account = jmap.account.id;
    let start = get_all(&jmap).await["state"].as_str().unwrap().to_owned();
    let nothing = mailbox_changes(&jmap, &start, None).await;
    assert_eq!(nothing["newState"], json!(start));
    assert_eq!(nothing["updated"], json!([]));

    // Only a count moves: the client is told so.
    let inbox = store
        .mailbox_by_role(account, MailboxRole::Inbox)
        .await
        .unwrap()
        .unwrap();
    let target = DeliveryTarget {
        mailbox: inbox.id,
        flags: Flags::default(),
    };
    store.deliver(b"Subject: hi\r\n\r\nhi\r\n", 0, &[target]).await.unwrap();
    let counted = mailbox_changes(&jmap, &start, None).await;
    assert_eq!(counted["updated"], json!([format!("m{}", inbox.id.0)]), "{counted}");
    assert_eq!(
        counted["updatedProperties"],
        json!(["totalEmails", "unreadEmails", "totalThreads", "unreadThreads"])
    );

    // Made, renamed and removed (by IMAP's operations on the store).
    let made = store.mailbox_create(account, "Projects").await.unwrap();
    let junk = store
        .mailbox_by_role(account, MailboxRole::Junk)
        .await
        .unwrap()
        .unwrap();
    let archive = store
        .mailbox_by_role(account, MailboxRole::Archive)
        .await
        .unwrap()
        .unwrap();
    store
        .mailbox_rename(account, &archive.name, "Old things")
        .await
        .unwrap();
    store.mailbox_delete(account, &junk.name).await.unwrap();
    let all = mailbox_changes(&jmap, &start, None).await;
    assert_eq!(all["created"], json!([format!("m{}", made.id.0)]), "{all}");
    let mut updated: Vec<String> = serde_json::from_value(all["updated"].clone()).unwrap();
    updated.sort();
    let mut expected = vec![format!("m{}", inbox.id.0), format!("m{}", archive.id.0)];
    expected.sort();
    assert_eq!(updated, expected);
    assert_eq!(all["destroyed"], json!([format!("m{}", junk.id.0)]));
    assert_eq!(all["updatedProperties"], Value::Null, "a name changed, not only counts");
    assert_eq!(all["newState"], get_all(&jmap).await["state"]);

    // One at a time: each step a real state, the last one today's.
    let (mut state, mut seen, mut steps) = (start, 0, 0);
    loop {
        let step = mailbox_changes(&jmap, &state, Some(1)).await;
        seen += ["created", "updated", "destroyed"]
            .iter()
            .map(|l| step[l].as_array().unwrap().len())
            .sum::<usize>();
        state = step["newState"].as_str().unwrap().to_owned();
        steps += 1;
        if step["hasMoreChanges"] == false || steps > 10 {
            break;
        }
    }
    assert_eq!((seen, steps), (4, 4));
    assert_eq!(json!(state), get_all(&jmap).await["state"]);
}

#[tokio::test]
async fn a_remembered_password_stops_working_when_it_is_changed() {
    let jmap = Jmap::start().await;
    let request = calls(json!([["Core/echo", {}, "e"]])).to_string();
    for _ in 0..2 {
        let ok = jmap.send("POST", "/jmap/api/", Some(ANN), &request).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
    }
    let hash = estafeta_core::auth::hash_password("a new password").unwrap();
    jmap.server
        .store()
        .account_set_password("ann@example.com", &hash)
        .await
        .unwrap();
    let old = jmap.send("POST", "/jmap/api/", Some(ANN), &request).await;
    assert_eq!(
        old.status, 401,
        "the old password is not taken from memory: {}",
        old.body
    );
    let new = jmap
        .send("POST", "/jmap/api/", Some("ann@example.com:a new password"), &request)
        .await;
    assert_eq!(new.status, 200, "{}", new.body);
}
