//! JMAP Email and Thread (RFC 8621 3, 4) on a running server, over real
//! sockets: mail that came in over SMTP, read, queried, flagged, moved and
//! destroyed through JMAP, with an IMAP client idling on the same
//! mailbox seeing each change, and JMAP seeing IMAP's.

use crate::jmap::{Jmap, calls};
use estafeta_testkit::imap::ImapProbe;
use estafeta_testkit::smtp::smtp_deliver;
use serde_json::{Value, json};

const PLAIN: &str = "From: Carla Dias <carla@remote.test>\r\n\
To: Ann <ann@example.com>\r\n\
Subject: Lunch on Friday\r\n\
Date: Mon, 7 Dec 2026 09:00:00 -0300\r\n\
Message-ID: <lunch@remote.test>\r\n\
\r\n\
Shall we meet at the usual place at noon?\r\n";

const WITH_ATTACHMENT: &str = "From: Bruno <bruno@remote.test>\r\n\
To: ann@example.com\r\n\
Subject: =?utf-8?q?Relat=C3=B3rio?= of November\r\n\
Date: Sun, 6 Dec 2026 18:30:00 +0000\r\n\
Message-ID: <report@remote.test>\r\n\
In-Reply-To: <ask@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"cut\"\r\n\
\r\n\
--cut\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
The figures are attached, as promised. Ol=C3=A1!\r\n\
--cut\r\n\
Content-Type: application/pdf; name=\"november.pdf\"\r\n\
Content-Disposition: attachment; filename=\"november.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--cut--\r\n";

async fn arrive_over_smtp(jmap: &Jmap) {
    smtp_deliver(&jmap.server, "carla@remote.test", "ann@example.com", PLAIN).await;
    smtp_deliver(&jmap.server, "bruno@remote.test", "ann@example.com", WITH_ATTACHMENT).await;
}

fn answers(response: &Value) -> Vec<Value> {
    response["methodResponses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|answer| answer[1].clone())
        .collect()
}

/// The id of the one Email whose subject holds `subject`.
async fn email_with_subject(jmap: &Jmap, subject: &str) -> String {
    let id = jmap.account_id();
    let response = jmap
        .api(calls(
            json!([["Email/query", {"accountId": id, "filter": {"subject": subject}}, "q"]]),
        ))
        .await;
    let ids = answers(&response)[0]["ids"].clone();
    assert_eq!(ids.as_array().map(Vec::len), Some(1), "{subject}: {response}");
    ids[0].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn mail_from_smtp_is_queried_and_read_with_its_headers_and_parts() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    arrive_over_smtp(&jmap).await;

    // Newest first, and the first page of one fed into a get by reference.
    let response = jmap
        .api(calls(json!([
            ["Email/query", {"accountId": id, "sort": [{"property": "sentAt", "isAscending": false}],
                             "limit": 1, "calculateTotal": true}, "q"],
            ["Email/get", {"accountId": id, "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                           "properties": ["subject", "from", "to", "sentAt", "messageId", "preview", "keywords",
                                          "mailboxIds", "size", "receivedAt", "threadId", "blobId",
                                          "header:X-Missing", "header:Subject:asRaw"]}, "g"],
        ])))
        .await;
    let [query, get] = <[Value; 2]>::try_from(answers(&response)).unwrap();
    assert_eq!(query["total"], 2, "{query}");
    assert_eq!(query["position"], 0);
    let email = &get["list"][0];
    assert_eq!(email["id"], query["ids"][0]);
    assert_eq!(email["subject"], "Lunch on Friday");
    assert_eq!(
        email["from"],
        json!([{"name": "Carla Dias", "email": "carla@remote.test"}])
    );
    assert_eq!(email["to"], json!([{"name": "Ann", "email": "ann@example.com"}]));
    assert_eq!(email["sentAt"], "2026-12-07T09:00:00-03:00");
    assert_eq!(email["messageId"], json!(["lunch@remote.test"]));
    assert_eq!(email["preview"], "Shall we meet at the usual place at noon?");
    assert_eq!(email["keywords"], json!({}));
    assert_eq!(email["mailboxIds"].as_object().unwrap().len(), 1);
    assert!(
        email["size"].as_u64().unwrap() > PLAIN.len() as u64,
        "with the Received field: {email}"
    );
    assert!(email["receivedAt"].as_str().unwrap().ends_with('Z'));
    assert!(email["threadId"].as_str().unwrap().starts_with('t'));
    assert!(email["blobId"].as_str().unwrap().starts_with('b'));
    assert_eq!(email["header:X-Missing"], Value::Null);
    assert_eq!(email["header:Subject:asRaw"], " Lunch on Friday");
    assert_eq!(get["state"], query["queryState"]);

    // The multipart one: body structure, text values and the attachment.
    let report = email_with_subject(&jmap, "relatório").await;
    let response = jmap
        .api(calls(json!([["Email/get", {"accountId": id, "ids": [report, "e0000", "nonsense"],
            "properties": ["subject", "inReplyTo", "hasAttachment", "textBody", "attachments", "bodyValues", "bodyStructure"],
            "fetchTextBodyValues": true, "bodyProperties": ["partId", "type", "name", "size", "charset", "disposition"]}, "g"]])))
        .await;
    let get = &answers(&response)[0];
    assert_eq!(get["notFound"], json!(["e0000", "nonsense"]));
    let email = &get["list"][0];
    assert_eq!(email["subject"], "Relatório of November");
    assert_eq!(email["inReplyTo"], json!(["ask@example.com"]));
    assert_eq!(email["hasAttachment"], true);
    let text = &email["textBody"][0];
    assert_eq!(text["type"], "text/plain");
    assert_eq!(text["charset"], "utf-8");
    let value = &email["bodyValues"][text["partId"].as_str().unwrap()];
    assert_eq!(
        value["value"], "The figures are attached, as promised. Olá!",
        "the line end before a boundary is the boundary's"
    );
    assert_eq!(value["isTruncated"], false);
    let attachment = &email["attachments"][0];
    assert_eq!(attachment["name"], "november.pdf");
    assert_eq!(attachment["type"], "application/pdf");
    assert_eq!(attachment["disposition"], "attachment");
    assert_eq!(attachment["size"], 9, "%PDF-1.4 and a line feed, decoded from base64");
    assert_eq!(email["bodyStructure"]["type"], "multipart/mixed");
    assert_eq!(email["bodyStructure"]["subParts"].as_array().unwrap().len(), 2);

    // Filters on text, addresses, attachments and size; paging by anchor.
    for (filter, expected) in [
        (json!({"from": "carla"}), 1),
        (json!({"text": "figures"}), 1),
        (json!({"body": "usual place"}), 1),
        (json!({"hasAttachment": true}), 1),
        (json!({"header": ["In-Reply-To"]}), 1),
        (json!({"operator": "NOT", "conditions": [{"from": "carla"}]}), 1),
        (
            json!({"operator": "OR", "conditions": [{"from": "carla"}, {"from": "bruno"}]}),
            2,
        ),
        (json!({"notKeyword": "$seen", "minSize": 10}), 2),
        (json!({"maxSize": 10}), 0),
        (json!({"before": "2000-01-01T00:00:00Z"}), 0),
        (json!({"subject": "nothing like it"}), 0),
    ] {
        let response = jmap
            .api(calls(
                json!([["Email/query", {"accountId": id, "filter": filter, "calculateTotal": true}, "q"]]),
            ))
            .await;
        assert_eq!(answers(&response)[0]["total"], expected, "{filter}: {response}");
    }
    let by_subject = jmap
        .api(calls(json!([
            ["Email/query", {"accountId": id, "sort": [{"property": "subject"}]}, "all"],
            ["Email/query", {"accountId": id, "sort": [{"property": "subject"}], "anchor": report, "anchorOffset": -1}, "from"],
        ])))
        .await;
    let [all, from] = <[Value; 2]>::try_from(answers(&by_subject)).unwrap();
    assert_eq!(all["ids"][1], json!(report), "Lunch sorts before Relatório: {all}");
    assert_eq!(from["position"], 0);
    assert_eq!(from["ids"], all["ids"]);
}

#[tokio::test]
async fn a_flag_set_in_jmap_reaches_imap_idle_and_imaps_reach_jmap() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    arrive_over_smtp(&jmap).await;
    let lunch = email_with_subject(&jmap, "Lunch").await;
    let response = jmap
        .api(calls(
            json!([["Email/get", {"accountId": id, "ids": [lunch], "properties": ["mailboxIds"]}, "e"]]),
        ))
        .await;
    let mailbox_id = answers(&response)[0]["list"][0]["mailboxIds"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let mailbox = jmap
        .api(calls(
            json!([["Mailbox/get", {"accountId": id, "ids": [mailbox_id], "properties": ["name"]}, "m"]]),
        ))
        .await;
    let mailbox_name = answers(&mailbox)[0]["list"][0]["name"].as_str().unwrap().to_owned();

    let mut imap = ImapProbe::login(&jmap.server, "ann@example.com", "ann's password").await;
    imap.command(&format!("SELECT \"{mailbox_name}\"")).await;
    imap.idle().await;
    let response = jmap
        .api(calls(json!([["Email/set", {"accountId": id, "update": {&lunch: {"keywords/$seen": true, "keywords/Work": true}}}, "s"]])))
        .await;
    let set = &answers(&response)[0];
    assert_eq!(set["updated"], json!({&lunch: null}), "{set}");
    assert_ne!(set["oldState"], set["newState"]);
    let seen = imap.idle_until("\\Seen").await;
    assert!(
        seen.iter().any(|l| l.contains("FETCH") && l.contains("work")),
        "{seen:?}"
    );
    imap.done().await;

    // IMAP's flag is JMAP's keyword.
    let search = imap.command("UID SEARCH SUBJECT Lunch").await;
    let uid = search[0].trim_start_matches("* SEARCH ").trim().to_owned();
    imap.command(&format!("UID STORE {uid} +FLAGS (\\Flagged)")).await;
    let response = jmap
        .api(calls(
            json!([["Email/get", {"accountId": id, "ids": [lunch], "properties": ["keywords"]}, "g"]]),
        ))
        .await;
    assert_eq!(
        answers(&response)[0]["list"][0]["keywords"],
        json!({"$flagged": true, "$seen": true, "work": true})
    );

    // Moved to a mailbox made in the same request, named by its creation
    // id: IMAP sees it leave, and the id stays.
    imap.idle().await;
    let response = jmap
        .api(calls(json!([
            ["Mailbox/set", {"accountId": id, "create": {"k": {"name": "Kept"}}}, "c"],
            ["Email/set", {"accountId": id, "update": {&lunch: {"mailboxIds": {"#k": true}}}}, "u"],
        ])))
        .await;
    let [created, set] = <[Value; 2]>::try_from(answers(&response)).unwrap();
    assert_eq!(set["updated"], json!({&lunch: null}), "{set}");
    let kept = created["created"]["k"]["id"].as_str().unwrap().to_owned();
    imap.idle_until("EXPUNGE").await;
    imap.done().await;
    let response = jmap
        .api(calls(
            json!([["Email/get", {"accountId": id, "ids": [lunch], "properties": ["mailboxIds", "keywords"]}, "g"]]),
        ))
        .await;
    let email = &answers(&response)[0]["list"][0];
    assert_eq!(email["mailboxIds"], json!({&kept: true}));
    assert_eq!(email["keywords"]["$flagged"], true, "flags travel with the move");
    let listed = imap.command("SELECT Kept").await;
    assert!(listed.iter().any(|l| l == "* 1 EXISTS"), "{listed:?}");

    // In two mailboxes at once: one Email, two IMAP messages.
    let response = jmap
        .api(calls(json!([
            ["Email/set", {"accountId": id, "update": {&lunch: {format!("mailboxIds/{mailbox_id}"): true}}}, "u"],
            ["Email/get", {"accountId": id, "ids": [lunch], "properties": ["mailboxIds"]}, "g"],
            ["Email/query", {"accountId": id, "filter": {"inMailbox": kept}, "calculateTotal": true}, "q"],
        ])))
        .await;
    let [_, get, query] = <[Value; 3]>::try_from(answers(&response)).unwrap();
    assert_eq!(get["list"][0]["mailboxIds"].as_object().unwrap().len(), 2, "{get}");
    assert_eq!(query["total"], 1);

    // Destroyed: gone from both mailboxes, and IMAP sees it go.
    imap.idle().await;
    let response = jmap
        .api(calls(json!([
            ["Email/set", {"accountId": id, "destroy": [lunch, "e00"]}, "d"],
            ["Email/get", {"accountId": id, "ids": [lunch]}, "g"],
        ])))
        .await;
    let [destroy, get] = <[Value; 2]>::try_from(answers(&response)).unwrap();
    assert_eq!(destroy["destroyed"], json!([lunch]));
    assert_eq!(destroy["notDestroyed"]["e00"]["type"], "notFound");
    assert_eq!(get["notFound"], json!([lunch]));
    imap.idle_until("EXPUNGE").await;
    imap.done().await;
    let status = imap.command(&format!("STATUS \"{mailbox_name}\" (MESSAGES)")).await;
    assert!(status[0].contains("MESSAGES 1"), "only the report is left: {status:?}");
}

#[tokio::test]
async fn email_method_errors_are_answered_in_place() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    arrive_over_smtp(&jmap).await;
    let lunch = email_with_subject(&jmap, "Lunch").await;
    let response = jmap
        .api(calls(json!([
            ["Email/get", {"accountId": id, "properties": ["subject", "colour"]}, "0"],
            ["Email/get", {"accountId": id, "properties": ["header:Subject:asAddresses"]}, "1"],
            ["Email/query", {"accountId": id, "filter": {"colour": "red"}}, "2"],
            ["Email/query", {"accountId": id, "sort": [{"property": "colour"}]}, "3"],
            ["Email/query", {"accountId": id, "anchor": "e00"}, "4"],
            ["Email/query", {"accountId": id, "limit": -1}, "5"],
            ["Email/queryChanges", {"accountId": id, "sinceQueryState": "x"}, "6"],
            ["Email/set", {"accountId": id, "ifInState": "old", "destroy": [lunch]}, "7"],
            ["Thread/get", {"accountId": "a0", "ids": []}, "8"],
        ])))
        .await;
    let kinds: Vec<String> = answers(&response)
        .iter()
        .map(|a| a["type"].as_str().unwrap_or("none").to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "invalidArguments",
            "invalidArguments",
            "unsupportedFilter",
            "unsupportedSort",
            "anchorNotFound",
            "invalidArguments",
            "cannotCalculateChanges",
            "stateMismatch",
            "accountNotFound",
        ]
    );

    // SetErrors name what is wrong, and the Email is untouched.
    let response = jmap
        .api(calls(json!([
            ["Email/set", {"accountId": id,
                "create": {"draft": {"subject": "new"}},
                "update": {&lunch: {"subject": "changed"}, "e1": {"keywords/$seen": true}},
            }, "s"],
            ["Email/get", {"accountId": id, "ids": [lunch], "properties": ["subject", "keywords"]}, "g"],
            ["Thread/get", {"accountId": id, "ids": ["t00"]}, "t"],
        ])))
        .await;
    let [set, get, thread] = <[Value; 3]>::try_from(answers(&response)).unwrap();
    assert_eq!(set["notUpdated"][&lunch]["type"], "invalidProperties");
    assert_eq!(set["notUpdated"][&lunch]["properties"], json!(["subject"]));
    assert_eq!(set["notUpdated"]["e1"]["type"], "notFound");
    assert_eq!(set["notCreated"]["draft"]["type"], "invalidProperties");
    assert_eq!(set["notCreated"]["draft"]["properties"], json!(["mailboxIds"]));
    assert_eq!(get["list"][0]["subject"], "Lunch on Friday");
    assert_eq!(thread["notFound"], json!(["t00"]));

    // Each Email is a thread of its own, which Thread/get agrees with.
    let response = jmap
        .api(calls(json!([
            ["Email/get", {"accountId": id, "ids": [lunch], "properties": ["threadId"]}, "e"],
            ["Thread/get", {"accountId": id, "#ids": {"resultOf": "e", "name": "Email/get", "path": "/list/*/threadId"}}, "t"],
        ])))
        .await;
    assert_eq!(answers(&response)[1]["list"][0]["emailIds"], json!([lunch]));

    // Another account's Email is not found, not shown.
    let bob = jmap
        .send(
            "POST",
            "/jmap/api/",
            Some("bob@example.com:bob's password"),
            &calls(json!([
                ["Email/get", {"accountId": format!("a{}", jmap.account.id.0), "ids": [lunch]}, "g"]
            ]))
            .to_string(),
        )
        .await;
    assert!(bob.body.contains("accountNotFound"), "{}", bob.body);
}

async fn thread_of(jmap: &Jmap, email: &str) -> String {
    let response = jmap
        .api(calls(
            json!([["Email/get", {"accountId": jmap.account_id(), "ids": [email], "properties": ["threadId"]}, "g"]]),
        ))
        .await;
    answers(&response)[0]["list"][0]["threadId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn email_state(jmap: &Jmap) -> String {
    let response = jmap
        .api(calls(
            json!([["Email/get", {"accountId": jmap.account_id(), "ids": [], "properties": ["id"]}, "g"]]),
        ))
        .await;
    answers(&response)[0]["state"].as_str().unwrap().to_owned()
}

async fn changes_since(jmap: &Jmap, state: &str, max: Option<u64>) -> Value {
    let mut arguments = json!({"accountId": jmap.account_id(), "sinceState": state});
    if let Some(max) = max {
        arguments["maxChanges"] = json!(max);
    }
    let response = jmap.api(calls(json!([["Email/changes", arguments, "c"]]))).await;
    answers(&response)[0].clone()
}

fn sorted(ids: &Value) -> Vec<String> {
    let mut ids: Vec<String> = ids
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn email_changes_name_what_was_made_changed_and_destroyed_by_either_protocol() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    arrive_over_smtp(&jmap).await;
    let lunch = email_with_subject(&jmap, "Lunch").await;
    let report = email_with_subject(&jmap, "relatório").await;
    let report_thread = thread_of(&jmap, &report).await;
    let start = email_state(&jmap).await;
    let nothing = changes_since(&jmap, &start, None).await;
    assert_eq!(nothing["newState"], json!(start));
    assert_eq!(
        (nothing["created"].clone(), nothing["hasMoreChanges"].clone()),
        (json!([]), json!(false))
    );

    // Over IMAP: one flagged; over SMTP: one new; one that comes and goes.
    let mut imap = ImapProbe::login(&jmap.server, "ann@example.com", "ann's password").await;
    imap.command("CREATE Later").await;
    imap.append("Later", b"Subject: passing through\r\n\r\nbye\r\n").await;
    imap.command("SELECT Later").await;
    imap.command("STORE 1 +FLAGS (\\Deleted)").await;
    imap.command("EXPUNGE").await;
    let mailbox_of_lunch = {
        let response = jmap
            .api(calls(
                json!([["Email/get", {"accountId": id, "ids": [lunch], "properties": ["mailboxIds"]}, "g"]]),
            ))
            .await;
        let ids = answers(&response)[0]["list"][0]["mailboxIds"].clone();
        ids.as_object().unwrap().keys().next().unwrap().clone()
    };
    let mailbox = jmap
        .api(calls(
            json!([["Mailbox/get", {"accountId": id, "ids": [mailbox_of_lunch], "properties": ["name"]}, "m"]]),
        ))
        .await;
    let name = answers(&mailbox)[0]["list"][0]["name"].as_str().unwrap().to_owned();
    imap.command(&format!("SELECT \"{name}\"")).await;
    imap.command("UID STORE 1:* +FLAGS (\\Flagged)").await;
    smtp_deliver(
        &jmap.server,
        "dora@remote.test",
        "ann@example.com",
        "From: dora@remote.test\r\nTo: ann@example.com\r\nSubject: New one\r\nMessage-ID: <new@remote.test>\r\n\r\nHi\r\n",
    )
    .await;
    let new = email_with_subject(&jmap, "New one").await;
    let new_thread = thread_of(&jmap, &new).await;
    // Over JMAP: the report is destroyed.
    jmap.api(calls(
        json!([["Email/set", {"accountId": id, "destroy": [report]}, "d"]]),
    ))
    .await;

    let all = changes_since(&jmap, &start, None).await;
    assert_eq!(sorted(&all["created"]), [new.as_str()], "{all}");
    assert_eq!(sorted(&all["updated"]), [lunch.as_str()], "{all}");
    assert_eq!(sorted(&all["destroyed"]), [report.as_str()], "{all}");
    assert_eq!(all["newState"], json!(email_state(&jmap).await));
    assert_eq!(all["hasMoreChanges"], false);

    // A move keeps the Email: it is updated, not destroyed and made.
    let moved_from = all["newState"].as_str().unwrap().to_owned();
    imap.command("UID MOVE 1:* Later").await;
    let moved = changes_since(&jmap, &moved_from, None).await;
    assert_eq!(moved["created"], json!([]), "{moved}");
    assert_eq!(moved["destroyed"], json!([]), "{moved}");
    assert!(sorted(&moved["updated"]).contains(&lunch), "{moved}");

    // At most one change a call: the walk stops at a state in between,
    // and following it ends where one call would.
    let mut state = start.clone();
    let mut seen = Vec::new();
    let mut steps = 0;
    for _ in 0..10 {
        let step = changes_since(&jmap, &state, Some(2)).await;
        assert!(step["type"].is_null(), "{step}");
        steps += 1;
        assert!(
            step["created"].as_array().unwrap().len()
                + step["updated"].as_array().unwrap().len()
                + step["destroyed"].as_array().unwrap().len()
                <= 2,
            "{step}"
        );
        for list in ["created", "updated", "destroyed"] {
            seen.extend(sorted(&step[list]));
        }
        state = step["newState"].as_str().unwrap().to_owned();
        if step["hasMoreChanges"] == false {
            break;
        }
    }
    assert_eq!(state, email_state(&jmap).await, "the walk reached today's state");
    assert!(steps >= 2, "{steps} steps");
    for email in [&new, &lunch, &report] {
        assert!(seen.contains(email), "{email} in {seen:?}");
    }

    // Thread/changes follows: each of these Threads is made and goes with
    // its one Email (the report's content is gone; its Thread is known).
    let threads = jmap
        .api(calls(
            json!([["Thread/changes", {"accountId": id, "sinceState": start}, "t"]]),
        ))
        .await;
    let threads = &answers(&threads)[0];
    assert_eq!(sorted(&threads["created"]), [new_thread]);
    assert_eq!(sorted(&threads["destroyed"]), [report_thread]);

    for bad in ["nonsense", "e999999-1-1"] {
        assert_eq!(
            changes_since(&jmap, bad, None).await["type"],
            "cannotCalculateChanges",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_message_and_its_attachment_download_for_their_account_only() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    arrive_over_smtp(&jmap).await;
    let report = email_with_subject(&jmap, "relatório").await;
    let response = jmap
        .api(calls(
            json!([["Email/get", {"accountId": id, "ids": [report], "properties": ["blobId", "attachments"]}, "g"]]),
        ))
        .await;
    let email = &answers(&response)[0]["list"][0];
    let message_blob = email["blobId"].as_str().unwrap();
    let part_blob = email["attachments"][0]["blobId"].as_str().unwrap();

    let ann = "ann@example.com:ann's password";
    let whole = jmap
        .send(
            "GET",
            &format!("/jmap/download/{id}/{message_blob}/m.eml?accept=message/rfc822"),
            Some(ann),
            "",
        )
        .await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    assert_eq!(whole.header("content-type"), Some("message/rfc822"));
    assert!(
        whole.body.contains("Subject: =?utf-8?q?Relat=C3=B3rio?= of November"),
        "{}",
        whole.body
    );
    assert!(
        whole.body.contains("Received: from"),
        "as stored, with the trace SMTP added: {}",
        whole.body
    );

    let part = jmap
        .send(
            "GET",
            &format!("/jmap/download/{id}/{part_blob}/relat%C3%B3rio.pdf?accept=application/pdf"),
            Some(ann),
            "",
        )
        .await;
    assert_eq!(part.status, 200, "{}", part.body);
    assert_eq!(part.body, "%PDF-1.4\n", "decoded from base64");
    assert_eq!(part.header("content-type"), Some("application/pdf"));
    assert_eq!(
        part.header("content-disposition"),
        Some("attachment; filename*=UTF-8''relat%C3%B3rio.pdf")
    );

    // Bob holds no such message; Ann's account id is not his to name.
    let bob = "bob@example.com:bob's password";
    let bob_id = format!(
        "a{}",
        jmap.server
            .store()
            .account_get("bob@example.com")
            .await
            .unwrap()
            .unwrap()
            .id
            .0
    );
    for (path, who) in [
        (format!("/jmap/download/{bob_id}/{message_blob}/m.eml"), bob),
        (format!("/jmap/download/{id}/{message_blob}/m.eml"), bob),
        (format!("/jmap/download/{id}/{message_blob}_99/x"), ann),
        (format!("/jmap/download/{id}/bnothing/x"), ann),
    ] {
        let refused = jmap.send("GET", &path, Some(who), "").await;
        assert_eq!(refused.status, 404, "{path}: {}", refused.body);
    }
    let anonymous = jmap
        .send("GET", &format!("/jmap/download/{id}/{message_blob}/m.eml"), None, "")
        .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn a_draft_is_made_from_its_parts_and_imap_finds_it_in_drafts() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    arrive_over_smtp(&jmap).await;
    let report = email_with_subject(&jmap, "relatório").await;
    let response = jmap
        .api(calls(json!([
            ["Email/get", {"accountId": id, "ids": [report], "properties": ["attachments"]}, "r"],
            ["Mailbox/query", {"accountId": id, "filter": {"role": "drafts"}}, "d"],
        ])))
        .await;
    let [got, drafts] = <[Value; 2]>::try_from(answers(&response)).unwrap();
    let pdf = got["list"][0]["attachments"][0]["blobId"].as_str().unwrap().to_owned();
    let drafts = drafts["ids"][0].as_str().unwrap().to_owned();

    let draft = json!({
        "mailboxIds": {&drafts: true},
        "keywords": {"$draft": true, "$seen": true},
        "from": [{"name": "Ann", "email": "ann@example.com"}],
        "to": [{"name": "Bruno", "email": "bruno@remote.test"}],
        "subject": "Re: Relatório of November",
        "inReplyTo": ["report@remote.test"],
        "references": ["report@remote.test"],
        "textBody": [{"partId": "t", "type": "text/plain"}],
        "htmlBody": [{"partId": "h", "type": "text/html"}],
        "bodyValues": {"t": {"value": "Thanks, olá!"}, "h": {"value": "<p>Thanks, <b>olá</b>!</p>"}},
        "attachments": [{"blobId": pdf, "type": "application/pdf", "name": "november.pdf"}],
    });
    let response = jmap
        .api(calls(json!([
            ["Email/set", {"accountId": id, "create": {"draft": draft}}, "c"],
            ["Email/get", {"accountId": id, "ids": ["#draft"], "properties": ["subject", "from", "to", "inReplyTo", "keywords",
                "mailboxIds", "messageId", "sentAt", "textBody", "htmlBody", "attachments", "bodyValues"],
                "fetchAllBodyValues": true}, "g"],
            ["Email/set", {"accountId": id, "update": {"#draft": {"keywords/$flagged": true}}}, "u"],
        ])))
        .await;
    let [set, get, update] = <[Value; 3]>::try_from(answers(&response)).unwrap();
    let made = &set["created"]["draft"];
    let made_id = made["id"].as_str().unwrap_or_else(|| panic!("{set}")).to_owned();
    assert!(made["blobId"].is_string() && made["threadId"].is_string() && made["size"].as_u64() > Some(100));
    let email = &get["list"][0];
    assert_eq!(email["id"], json!(made_id), "{get}");
    assert_eq!(email["subject"], "Re: Relatório of November");
    assert_eq!(email["from"], json!([{"name": "Ann", "email": "ann@example.com"}]));
    assert_eq!(email["inReplyTo"], json!(["report@remote.test"]));
    assert_eq!(email["keywords"], json!({"$draft": true, "$seen": true}));
    assert_eq!(email["mailboxIds"], json!({&drafts: true}));
    assert!(
        email["messageId"][0].as_str().unwrap().ends_with("@example.com"),
        "made one: {email}"
    );
    assert!(email["sentAt"].is_string());
    let text_part = email["textBody"][0]["partId"].as_str().unwrap();
    let html_part = email["htmlBody"][0]["partId"].as_str().unwrap();
    assert_eq!(
        email["bodyValues"][text_part]["value"].as_str().unwrap().trim_end(),
        "Thanks, olá!"
    );
    assert!(
        email["bodyValues"][html_part]["value"]
            .as_str()
            .unwrap()
            .contains("<b>olá</b>")
    );
    assert_eq!(email["attachments"][0]["name"], "november.pdf");
    assert_eq!(email["attachments"][0]["size"], 9);
    assert_eq!(update["updated"], json!({&made_id: null}), "{update}");

    // IMAP finds it in Drafts, flagged as a draft.
    let mut imap = ImapProbe::login(&jmap.server, "ann@example.com", "ann's password").await;
    let listed = imap.command("SELECT Drafts").await;
    assert!(listed.iter().any(|l| l == "* 1 EXISTS"), "{listed:?}");
    let fetched = imap
        .command("FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT IN-REPLY-TO)])")
        .await;
    let all = fetched.join("\n");
    assert!(all.contains("\\Draft") && all.contains("\\Flagged"), "{all}");
    assert!(all.contains("<report@remote.test>"), "{all}");

    // What cannot be made says why.
    let response = jmap
        .api(calls(json!([["Email/set", {"accountId": id, "create": {
            "lost": {"mailboxIds": {&drafts: true}, "attachments": [{"blobId": "bnothing", "type": "text/plain"}]},
            "tree": {"mailboxIds": {&drafts: true}, "bodyStructure": {"type": "text/plain", "partId": "1"}},
            "nowhere": {"mailboxIds": {"m999999": true}},
            "badaddress": {"mailboxIds": {&drafts: true}, "to": [{"name": "x"}]},
        }}, "c"]])))
        .await;
    let not = &answers(&response)[0]["notCreated"];
    assert_eq!(not["lost"]["type"], "blobNotFound", "{not}");
    assert_eq!(not["lost"]["notFound"], json!(["bnothing"]));
    assert_eq!(not["tree"]["properties"], json!(["bodyStructure"]));
    assert_eq!(not["nowhere"]["properties"], json!(["mailboxIds"]));
    assert_eq!(not["badaddress"]["properties"], json!(["to"]));
}

#[tokio::test]
async fn an_uploaded_message_is_imported_and_an_upload_attaches_to_a_draft() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    let ann = "ann@example.com:ann's password";
    // Bare LF line ends, as a file on disk often has them.
    let eml = "From: Old Friend <friend@remote.test>\nTo: ann@example.com\nSubject: From the archive\n\
Date: Tue, 1 Jan 2019 10:00:00 +0000\nMessage-ID: <archive@remote.test>\n\nKept for years.\n";
    let uploaded = jmap.send("POST", &format!("/jmap/upload/{id}/"), Some(ann), eml).await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    let uploaded: Value = serde_json::from_str(&uploaded.body).unwrap();
    assert_eq!(uploaded["accountId"], json!(id));
    assert_eq!(uploaded["size"], eml.len());
    assert_eq!(uploaded["type"], "application/json", "the type the request said");
    let blob = uploaded["blobId"].as_str().unwrap().to_owned();
    let back = jmap
        .send("GET", &format!("/jmap/download/{id}/{blob}/a.eml"), Some(ann), "")
        .await;
    assert_eq!((back.status, back.body.as_str()), (200, eml));

    let inbox = {
        let response = jmap
            .api(calls(
                json!([["Mailbox/query", {"accountId": id, "filter": {"role": "inbox"}}, "q"]]),
            ))
            .await;
        answers(&response)[0]["ids"][0].as_str().unwrap().to_owned()
    };
    let response = jmap
        .api(calls(json!([
            ["Email/import", {"accountId": id, "emails": {
                "old": {"blobId": blob, "mailboxIds": {&inbox: true}, "keywords": {"$seen": true},
                        "receivedAt": "2019-01-01T10:00:05Z"},
                "lost": {"blobId": "u0000", "mailboxIds": {&inbox: true}},
            }}, "i"],
            ["Email/get", {"accountId": id, "ids": ["#old"], "properties": ["subject", "receivedAt", "keywords", "size", "preview"]}, "g"],
        ])))
        .await;
    let [import, get] = <[Value; 2]>::try_from(answers(&response)).unwrap();
    assert_eq!(import["notCreated"]["lost"]["type"], "blobNotFound", "{import}");
    let email = &get["list"][0];
    assert_eq!(email["subject"], "From the archive", "{get}");
    assert_eq!(email["receivedAt"], "2019-01-01T10:00:05Z");
    assert_eq!(email["keywords"], json!({"$seen": true}));
    assert_eq!(
        email["size"],
        eml.len() + eml.matches('\n').count(),
        "stored with CRLF line ends"
    );
    assert_eq!(email["preview"], "Kept for years.");
    assert_ne!(import["oldState"], import["newState"]);

    // An upload as an attachment of a draft.
    let pdf = jmap
        .send("POST", &format!("/jmap/upload/{id}/"), Some(ann), "%PDF-1.4 tiny")
        .await;
    let pdf: Value = serde_json::from_str(&pdf.body).unwrap();
    let response = jmap
        .api(calls(json!([
            ["Email/set", {"accountId": id, "create": {"d": {"mailboxIds": {&inbox: true}, "subject": "with a file",
                "attachments": [{"blobId": pdf["blobId"], "type": "application/pdf", "name": "tiny.pdf"}]}}}, "c"],
            ["Email/get", {"accountId": id, "ids": ["#d"], "properties": ["attachments"]}, "g"],
        ])))
        .await;
    let attachment = &answers(&response)[1]["list"][0]["attachments"][0];
    assert_eq!(
        (attachment["name"].clone(), attachment["size"].clone()),
        (json!("tiny.pdf"), json!(13)),
        "{response}"
    );

    // Not another account's: neither its uploads nor its upload URL.
    let bob = "bob@example.com:bob's password";
    let theirs = jmap
        .send("GET", &format!("/jmap/download/{id}/{blob}/a.eml"), Some(bob), "")
        .await;
    assert_eq!(theirs.status, 404);
    let wrong = jmap.send("POST", &format!("/jmap/upload/{id}/"), Some(bob), "x").await;
    assert_eq!(wrong.status, 404);
    let response = jmap
        .api(calls(json!([["Email/import", {"accountId": id, "emails": {"x": {"blobId": pdf["blobId"], "mailboxIds": {&inbox: true}}}}, "i"]])))
        .await;
    assert_eq!(
        answers(&response)[0]["notCreated"]["x"]["type"],
        "invalidEmail",
        "{response}"
    );
}

#[tokio::test]
async fn search_snippets_mark_the_words_a_query_found() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    arrive_over_smtp(&jmap).await;
    let response = jmap
        .api(calls(json!([
            ["Email/query", {"accountId": id, "filter": {"text": "usual"}}, "q"],
            ["SearchSnippet/get", {"accountId": id, "filter": {"text": "usual"},
                "#emailIds": {"resultOf": "q", "name": "Email/query", "path": "/ids"}}, "s"],
            ["SearchSnippet/get", {"accountId": id, "filter": {"subject": "lunch"}, "emailIds": ["e00"]}, "n"],
            ["SearchSnippet/get", {"accountId": id}, "bad"],
        ])))
        .await;
    let [query, snippets, missing, bad] = <[Value; 4]>::try_from(answers(&response)).unwrap();
    assert_eq!(query["ids"].as_array().unwrap().len(), 1);
    let snippet = &snippets["list"][0];
    assert_eq!(snippet["emailId"], query["ids"][0]);
    assert_eq!(snippet["subject"], Value::Null, "the word is not in the subject");
    assert_eq!(
        snippet["preview"],
        "Shall we meet at the <mark>usual</mark> place at noon?"
    );
    assert_eq!(missing["notFound"], json!(["e00"]));
    assert_eq!(bad["type"], "invalidArguments");
}

/// RFC 8620 5.6 as a client applies it: the removed taken out, then each
/// added put in at its index, lowest first.
fn apply(old: &Value, changes: &Value) -> Vec<String> {
    let removed = sorted(&changes["removed"]);
    let mut ids: Vec<String> = old
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .filter(|id| !removed.contains(id))
        .collect();
    for added in changes["added"].as_array().unwrap() {
        let index = added["index"].as_u64().unwrap() as usize;
        ids.insert(index.min(ids.len()), added["id"].as_str().unwrap().to_owned());
    }
    ids
}

fn strings(ids: &Value) -> Vec<String> {
    ids.as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn query_changes_bring_a_clients_results_up_to_date() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    arrive_over_smtp(&jmap).await;
    let lunch = email_with_subject(&jmap, "Lunch").await;
    let report = email_with_subject(&jmap, "relatório").await;
    let unflagged_newest_first = json!({
        "accountId": id,
        "filter": {"notKeyword": "$flagged"},
        "sort": [{"property": "receivedAt", "isAscending": false}],
    });
    let query = |arguments: &Value| {
        let arguments = arguments.clone();
        let jmap = &jmap;
        async move { answers(&jmap.api(calls(json!([["Email/query", arguments, "q"]]))).await)[0].clone() }
    };
    let before = query(&unflagged_newest_first).await;
    assert_eq!(before["canCalculateChanges"], true);
    assert_eq!(before["ids"].as_array().unwrap().len(), 2, "{before}");

    // Flagged over IMAP (it leaves these results), a new one over SMTP,
    // one destroyed over JMAP.
    let mut imap = ImapProbe::login(&jmap.server, "ann@example.com", "ann's password").await;
    imap.command("SELECT INBOX").await;
    let found = imap.command("UID SEARCH SUBJECT Lunch").await;
    let uid = found
        .iter()
        .find_map(|l| l.strip_prefix("* SEARCH "))
        .unwrap()
        .trim()
        .to_owned();
    imap.command(&format!("UID STORE {uid} +FLAGS (\\Flagged)")).await;
    smtp_deliver(
        &jmap.server,
        "dora@remote.test",
        "ann@example.com",
        "From: dora@remote.test\r\nTo: ann@example.com\r\nSubject: Newer\r\nMessage-ID: <newer@remote.test>\r\n\r\nHi\r\n",
    )
    .await;
    let newer = email_with_subject(&jmap, "Newer").await;
    jmap.api(calls(
        json!([["Email/set", {"accountId": id, "destroy": [report]}, "d"]]),
    ))
    .await;

    let mut asked = unflagged_newest_first.clone();
    asked["sinceQueryState"] = before["queryState"].clone();
    asked["calculateTotal"] = json!(true);
    let changes = answers(&jmap.api(calls(json!([["Email/queryChanges", asked, "c"]]))).await)[0].clone();
    let after = query(&unflagged_newest_first).await;
    assert_eq!(changes["oldQueryState"], before["queryState"], "{changes}");
    assert_eq!(changes["newQueryState"], after["queryState"], "{changes}");
    assert_eq!(apply(&before["ids"], &changes), strings(&after["ids"]), "{changes}");
    assert_eq!(strings(&after["ids"]), [newer]);
    assert_eq!(changes["total"], 1);
    for gone in [&lunch, &report] {
        assert!(sorted(&changes["removed"]).contains(gone), "{gone}: {changes}");
    }

    // Nothing since the new state; too many changes for maxChanges.
    let mut again = unflagged_newest_first.clone();
    again["sinceQueryState"] = after["queryState"].clone();
    let mut capped = unflagged_newest_first.clone();
    capped["sinceQueryState"] = before["queryState"].clone();
    capped["maxChanges"] = json!(1);
    let response = jmap
        .api(calls(json!([
            ["Email/queryChanges", again, "a"],
            ["Email/queryChanges", capped, "b"],
        ])))
        .await;
    let [again, capped] = <[Value; 2]>::try_from(answers(&response)).unwrap();
    assert_eq!(
        (again["removed"].clone(), again["added"].clone()),
        (json!([]), json!([]))
    );
    assert_eq!(capped["type"], "tooManyChanges");

    // Mailboxes by name: one made and one renamed over IMAP.
    let by_name = json!({"accountId": id, "sort": [{"property": "name"}]});
    let mailboxes = answers(&jmap.api(calls(json!([["Mailbox/query", by_name.clone(), "m"]]))).await)[0].clone();
    assert_eq!(mailboxes["canCalculateChanges"], true);
    imap.command("CREATE Aardvark").await;
    imap.command("RENAME Drafts Zebra").await;
    let mut asked = by_name.clone();
    asked["sinceQueryState"] = mailboxes["queryState"].clone();
    let response = jmap
        .api(calls(json!([
            ["Mailbox/queryChanges", asked, "c"],
            ["Mailbox/query", by_name, "m"],
        ])))
        .await;
    let [changes, now] = <[Value; 2]>::try_from(answers(&response)).unwrap();
    assert_eq!(apply(&mailboxes["ids"], &changes), strings(&now["ids"]), "{changes}");
    assert_eq!(changes["added"].as_array().unwrap().len(), 2, "{changes}");
}

fn in_conversation(id: &str, subject: &str, references: &str) -> String {
    let mut message = format!(
        "From: carla@remote.test\r\nTo: ann@example.com\r\nSubject: {subject}\r\nMessage-ID: <{id}@remote.test>\r\n"
    );
    if let Some(parent) = references.split_whitespace().last() {
        message.push_str(&format!("In-Reply-To: {parent}\r\nReferences: {references}\r\n"));
    }
    message.push_str("\r\nHello.\r\n");
    message
}

#[tokio::test]
async fn replies_form_a_thread_that_queries_collapse_and_changes_follow() {
    let jmap = Jmap::start().await;
    let id = jmap.account_id();
    let deliver = |message: String| {
        let jmap = &jmap;
        async move { smtp_deliver(&jmap.server, "carla@remote.test", "ann@example.com", &message).await }
    };
    deliver(in_conversation("plan", "Trip plan", "")).await;
    deliver(in_conversation("b", "Re: Trip plan", "<plan@remote.test>")).await;
    deliver(in_conversation("other", "Trip plan", "")).await;
    let all = answers(
        &jmap
            .api(calls(json!([
                ["Email/query", {"accountId": id, "sort": [{"property": "receivedAt"}]}, "q"],
                ["Email/get", {"accountId": id, "#ids": {"resultOf": "q", "name": "Email/query", "path": "/ids"},
                    "properties": ["id", "threadId", "messageId", "receivedAt"]}, "g"],
            ])))
            .await,
    );
    let emails = all[1]["list"].as_array().unwrap().clone();
    let by_message_id = |wanted: &str| {
        emails
            .iter()
            .find(|e| e["messageId"][0] == wanted)
            .unwrap_or_else(|| panic!("{wanted} in {emails:?}"))
            .clone()
    };
    let (plan, reply, other) = (
        by_message_id("plan@remote.test"),
        by_message_id("b@remote.test"),
        by_message_id("other@remote.test"),
    );
    assert_eq!(plan["threadId"], reply["threadId"], "a reply joins its thread");
    assert_ne!(
        plan["threadId"], other["threadId"],
        "the same subject is another conversation"
    );
    let thread = plan["threadId"].as_str().unwrap().to_owned();
    let before_third = email_state(&jmap).await;

    // A reply to the reply (References keeps the first) joins it too.
    deliver(in_conversation(
        "c",
        "Re: Re: Trip plan",
        "<plan@remote.test> <b@remote.test>",
    ))
    .await;
    let third = email_with_subject(&jmap, "Re: Re: Trip").await;
    assert_eq!(thread_of(&jmap, &third).await, thread);
    let response = jmap
        .api(calls(json!([
            ["Thread/get", {"accountId": id, "ids": [thread, "tnope"]}, "t"],
            ["Thread/changes", {"accountId": id, "sinceState": before_third}, "c"],
            ["Email/query", {"accountId": id, "collapseThreads": true, "calculateTotal": true,
                "sort": [{"property": "receivedAt", "isAscending": false}]}, "q"],
        ])))
        .await;
    let [got, changes, collapsed] = <[Value; 3]>::try_from(answers(&response)).unwrap();
    let ids = got["list"][0]["emailIds"].as_array().unwrap().clone();
    let mut expected = vec![plan["id"].clone(), reply["id"].clone(), json!(third)];
    // Oldest first; within one second, in the order they arrived.
    assert_eq!(ids, expected, "{got}");
    expected.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(got["notFound"], json!(["tnope"]));
    assert_eq!(changes["updated"], json!([thread]), "{changes}");
    assert_eq!(changes["created"], json!([]), "{changes}");
    assert_eq!(collapsed["total"], 2, "{collapsed}");
    let shown = sorted(&collapsed["ids"]);
    assert!(shown.contains(&other["id"].as_str().unwrap().to_owned()), "{collapsed}");
    assert!(
        shown.iter().any(|id| expected.contains(&json!(id))),
        "one Email of the thread stands for it: {collapsed}"
    );

    // Thread keyword filters: one flagged, then all.
    let mut imap = ImapProbe::login(&jmap.server, "ann@example.com", "ann's password").await;
    imap.command("SELECT INBOX").await;
    imap.command("UID STORE 2 +FLAGS (\\Flagged)").await;
    let query = |filter: Value| {
        let jmap = &jmap;
        let id = id.clone();
        async move {
            let response = jmap
                .api(calls(
                    json!([["Email/query", {"accountId": id, "filter": filter}, "q"]]),
                ))
                .await;
            sorted(&answers(&response)[0]["ids"]).len()
        }
    };
    assert_eq!(query(json!({"someInThreadHaveKeyword": "$flagged"})).await, 3);
    assert_eq!(query(json!({"allInThreadHaveKeyword": "$flagged"})).await, 0);
    assert_eq!(query(json!({"noneInThreadHaveKeyword": "$flagged"})).await, 1);
    imap.command("UID STORE 1:* +FLAGS (\\Flagged)").await;
    assert_eq!(query(json!({"allInThreadHaveKeyword": "$flagged"})).await, 4);

    // The thread loses one Email (updated), then the rest (destroyed).
    let members: Vec<String> = ids.iter().map(|i| i.as_str().unwrap().to_owned()).collect();
    let state = email_state(&jmap).await;
    jmap.api(calls(
        json!([["Email/set", {"accountId": id, "destroy": [members[2]]}, "d"]]),
    ))
    .await;
    let response = jmap
        .api(calls(
            json!([["Thread/changes", {"accountId": id, "sinceState": state}, "c"]]),
        ))
        .await;
    assert_eq!(answers(&response)[0]["updated"], json!([thread]), "{response}");
    let state = email_state(&jmap).await;
    jmap.api(calls(
        json!([["Email/set", {"accountId": id, "destroy": [members[0], members[1]]}, "d"]]),
    ))
    .await;
    let response = jmap
        .api(calls(
            json!([["Thread/changes", {"accountId": id, "sinceState": state}, "c"]]),
        ))
        .await;
    assert_eq!(answers(&response)[0]["destroyed"], json!([thread]), "{response}");
}
