//! Deliverability end to end on the simulated internet: a tenant sends a
//! bulk message to a list with 5% unknown users; the synchronous bounce
//! (550 at RCPT) and the asynchronous one (a DSN to the VERP address, as
//! a remote server sends it later) put exactly those two addresses on the
//! tenant's suppression list, the bounce rate passes 3% and the tenant's
//! bulk sending pauses; sent again, the list reaches nobody suppressed.

use crate::common::world::*;
use crate::common::*;
use estafeta_core::config::{Service, SuppressedAction};
use estafeta_store::SuppressionReason;
use estafeta_testkit::mta::Behaviour;

fn bulk(subject: &str) -> String {
    format!(
        "From: {ALICE}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.com>\r\nPrecedence: bulk\r\n\
         List-Unsubscribe: <mailto:leave@example.com>\r\n\r\nOur news.\r\n"
    )
}

/// The list: 20 at sync.test (one unknown there, refused at RCPT) and 20
/// at late.test (which takes all, then bounces one later).
fn list() -> Vec<String> {
    let mut list: Vec<String> = (0..20).map(|i| format!("s{i}@sync.test")).collect();
    list.extend((0..20).map(|i| format!("l{i}@late.test")));
    list
}

async fn world(adjust: impl FnOnce(&mut estafeta_core::Config)) -> World {
    let world = World::start(|config| {
        // Judged on the whole list, not on its first few.
        config.deliverability.min_volume = 40;
        adjust(config);
    })
    .await;
    let store = world.server.store();
    let acme = store.tenant_add("acme").await.unwrap();
    store.domain_set_tenant("example.com", acme.id).await.unwrap();
    world.mx("sync.test", 2);
    world.mx("late.test", 3);
    world
}

/// The DSN late.test's server sends afterwards to the return path it got.
fn late_bounce(return_path: &str, recipient: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx1.late.test\r\nTo: {return_path}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nThe mailbox went away.\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx1.late.test\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown\r\n\
         --b--\r\n"
    )
}

#[tokio::test]
async fn bounces_suppress_exactly_the_bad_addresses_and_pause_the_tenant() {
    let world = world(|_| {}).await;
    let store = world.server.store();
    let acme = store.tenant_get("acme").await.unwrap().unwrap().id;
    let known: Vec<String> = (0..20).filter(|i| *i != 7).map(|i| format!("s{i}@sync.test")).collect();
    let sync = world.mta(2, Behaviour::Mailboxes(known)).await;
    let late = world.mta(3, Behaviour::Accept).await;

    let replies = world.send_message(&list(), &bulk("news-1")).await;
    assert!(replies.iter().all(|r| r.code == 250));
    world
        .eventually("the first send done", async || world.queue_len().await == 0)
        .await;
    // VERP: one transaction per recipient, each its own signed return path.
    let transactions = late.received();
    assert_eq!(transactions.len(), 20);
    let paths: Vec<String> = transactions
        .iter()
        .map(|t| {
            let from = t.mail_from.trim_start_matches("MAIL FROM:<");
            from[..from.find('>').unwrap()].to_owned()
        })
        .collect();
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with("bounces+") && p.ends_with("@example.com"))
    );
    let distinct: std::collections::BTreeSet<&String> = paths.iter().collect();
    assert_eq!(distinct.len(), 20);
    assert_eq!(sync.attempts("s7@sync.test"), 1);

    // The synchronous bounce is on the list; a 2.5% rate does not pause.
    let listed =
        |entries: Vec<estafeta_store::Suppression>| -> Vec<String> { entries.into_iter().map(|e| e.address).collect() };
    assert_eq!(listed(store.suppression_list(acme, 0).await.unwrap()), ["s7@sync.test"]);
    assert_eq!(store.tenant_get("acme").await.unwrap().unwrap().paused, None);

    // Later, late.test bounces l3: a DSN to l3's return path.
    let l3 = transactions
        .iter()
        .position(|t| t.recipients() == ["l3@late.test"])
        .unwrap();
    let mut mx = Client::ready(&world.server, Service::Smtp).await;
    mx.cmd("MAIL FROM:<>").await.expect(250, "2.1.0");
    mx.cmd(&format!("RCPT TO:<{}>", paths[l3])).await.expect(250, "2.1.5");
    mx.data(&late_bounce(&paths[l3], "l3@late.test"))
        .await
        .expect(250, "2.0.0");
    // A forged token is nobody.
    let forged = paths[l3].replacen("bounces+", "bounces+1", 1);
    mx.cmd("MAIL FROM:<>").await.expect(250, "2.1.0");
    mx.cmd(&format!("RCPT TO:<{forged}>")).await.expect(550, "5.1.1");

    let mut entries = store.suppression_list(acme, 0).await.unwrap();
    entries.sort_by(|a, b| a.address.cmp(&b.address));
    assert_eq!(listed(entries.clone()), ["l3@late.test", "s7@sync.test"]);
    assert!(entries.iter().all(|e| e.reason == SuppressionReason::HardBounce));
    assert!(entries[0].detail.contains("unknown-user"), "{}", entries[0].detail);
    // 2 of 40: 5% passes the 3% limit; the tenant's bulk mail pauses.
    let paused = store.tenant_get("acme").await.unwrap().unwrap().paused.unwrap();
    assert!(paused.contains("bounce rate 5.0%"), "{paused}");
    let (_, metrics) = world.server.http_get("/metrics").await;
    assert!(
        metrics.contains("estafeta_sending_events_total{tenant=\"acme\",kind=\"hard_bounce\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("estafeta_sending_events_total{tenant=\"acme\",kind=\"delivered\"} 39"),
        "{metrics}"
    );
    assert!(
        metrics.contains("estafeta_tenant_paused{tenant=\"acme\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("estafeta_tenant_paused{tenant=\"default\"} 0"),
        "{metrics}"
    );
    // Alice, who sent it, still sees the late bounce.
    world
        .eventually("the bounce in Alice's INBOX", async || {
            world
                .reports()
                .await
                .iter()
                .any(|m| m.contains("The mailbox went away"))
        })
        .await;

    // Sent again: the suppressed are refused at RCPT...
    let replies = world.send_message(&list(), &bulk("news-2")).await;
    let refused: Vec<usize> = (0..40).filter(|i| replies[*i].code != 250).collect();
    assert_eq!(refused, [7, 23]);
    assert_eq!(replies[7].code, 550);
    assert!(
        replies[7].text().contains("on your suppression list (hard-bounce)"),
        "{}",
        replies[7].text()
    );
    // ...and the rest waits while the tenant is paused.
    world
        .eventually("the held message looked at", async || {
            store.queue_list().await.unwrap().iter().any(|m| m.attempts >= 1)
        })
        .await;
    assert_eq!(late.received().len(), 20, "nothing sent while paused");
    store.tenant_pause(acme, None).await.unwrap();
    store.queue_retry(None).await.unwrap();
    world
        .eventually("the second send done", async || world.queue_len().await == 0)
        .await;
    assert_eq!(late.received().len(), 39);
    assert_eq!(late.attempts("l3@late.test"), 1);
    assert_eq!(sync.attempts("s7@sync.test"), 1);
    assert_eq!(sync.attempts("s8@sync.test"), 2);
}

#[tokio::test]
async fn in_bounce_mode_a_suppressed_recipient_gets_a_dsn_and_no_mail() {
    let world = world(|config| config.deliverability.suppressed = SuppressedAction::Bounce).await;
    let store = world.server.store();
    let acme = store.tenant_get("acme").await.unwrap().unwrap().id;
    store
        .suppression_add(&estafeta_store::Suppression {
            tenant: acme,
            address: "l1@late.test".into(),
            sender_domain: String::new(),
            reason: SuppressionReason::Complaint,
            detail: "reported as spam".into(),
            created_at: 0,
            expires_at: None,
        })
        .await
        .unwrap();
    let late = world.mta(3, Behaviour::Accept).await;
    let replies = world
        .send_message(&["l1@late.test".into(), "l2@late.test".into()], &bulk("news-3"))
        .await;
    assert!(replies.iter().all(|r| r.code == 250));
    world
        .eventually("the send done", async || world.queue_len().await == 0)
        .await;
    assert_eq!(late.attempts("l1@late.test"), 0);
    assert_eq!(late.attempts("l2@late.test"), 1);
    world
        .eventually("a DSN for l1", async || {
            world
                .reports()
                .await
                .iter()
                .any(|m| m.contains("suppression list (complaint)"))
        })
        .await;
    // Not counted as sent or bounced: it never left.
    let rates = store.stats_sum(acme, None, 0).await.unwrap();
    assert_eq!(rates.get(&estafeta_store::StatKind::Sent), Some(&1));
    assert_eq!(rates.get(&estafeta_store::StatKind::HardBounce), None);
}

/// The return path and content one recipient's transaction carried.
fn transaction_of(mta: &estafeta_testkit::mta::FakeMta, recipient: &str) -> (String, String) {
    let received = mta.received();
    let transaction = received
        .iter()
        .find(|t| t.recipients() == [recipient])
        .expect("a transaction for the recipient");
    let from = transaction.mail_from.trim_start_matches("MAIL FROM:<");
    let path = from[..from.find('>').unwrap()].to_owned();
    (path, String::from_utf8_lossy(&transaction.data).into_owned())
}

#[tokio::test]
async fn a_complaint_and_a_one_click_unsubscribe_each_suppress_their_recipient() {
    let world = world(|_| {}).await;
    let store = world.server.store();
    let acme = store.tenant_get("acme").await.unwrap().unwrap().id;
    let late = world.mta(3, Behaviour::Accept).await;
    // Bulk mail without a List-Unsubscribe of its own gets ours.
    let message = format!(
        "From: {ALICE}\r\nSubject: weekly\r\nMessage-ID: <weekly@example.com>\r\nPrecedence: bulk\r\n\r\nOur news.\r\n"
    );
    world
        .send_message(&["l1@late.test".into(), "l2@late.test".into()], &message)
        .await;
    world
        .eventually("the send done", async || world.queue_len().await == 0)
        .await;
    let (_, data) = transaction_of(&late, "l1@late.test");
    assert!(
        data.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
        "{data}"
    );
    let start = data.find("List-Unsubscribe: <https://").expect("a one-click link") + "List-Unsubscribe: <".len();
    let link = &data[start..start + data[start..].find('>').unwrap()];
    let path = &link[link.find("/unsubscribe/").unwrap()..];
    let (_, other) = transaction_of(&late, "l2@late.test");
    assert!(!other.contains(path), "each recipient its own link");

    let http = world.server.addr(Service::Http);
    let page = estafeta_testkit::http_request(http, "GET", path, &[], b"").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<form method=post"), "{}", page.body);
    assert!(
        store.suppression_list(acme, 0).await.unwrap().is_empty(),
        "a GET unsubscribes nobody"
    );
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let empty = estafeta_testkit::http_request(http, "POST", path, &form, b"").await;
    assert_eq!(empty.status, 400);
    let forged = path.replacen("/unsubscribe/", "/unsubscribe/1", 1);
    let bad = estafeta_testkit::http_request(http, "POST", &forged, &form, b"List-Unsubscribe=One-Click").await;
    assert_eq!(bad.status, 404);
    let done = estafeta_testkit::http_request(http, "POST", path, &form, b"List-Unsubscribe=One-Click").await;
    assert_eq!((done.status, done.body.as_str()), (200, "Unsubscribed.\n"));
    // Suppressed by the time the click is answered, for that sender domain.
    let entries = store.suppression_list(acme, 0).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (
            entries[0].address.as_str(),
            entries[0].sender_domain.as_str(),
            entries[0].reason
        ),
        ("l1@late.test", "example.com", SuppressionReason::Unsubscribe)
    );

    // The provider's feedback loop reports l2 to our postmaster (RFC 5965).
    let (l2_path, _) = transaction_of(&late, "l2@late.test");
    let report = format!(
        "From: <fbl@late.test>\r\nTo: <postmaster@example.com>\r\nSubject: complaint\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"arf\"\r\n\r\n\
         --arf\r\nContent-Type: text/plain\r\n\r\nA user marked this as spam.\r\n\
         --arf\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: LateFBL/1.0\r\n\
         Version: 1\r\nOriginal-Mail-From: <{l2_path}>\r\n\r\n\
         --arf\r\nContent-Type: text/rfc822-headers\r\n\r\nReturn-Path: <{l2_path}>\r\nSubject: weekly\r\n\r\n--arf--\r\n"
    );
    let mut mx = Client::ready(&world.server, Service::Smtp).await;
    mx.cmd("MAIL FROM:<fbl@late.test>").await.expect(250, "2.1.0");
    mx.cmd("RCPT TO:<postmaster@example.com>").await.expect(250, "2.1.5");
    mx.data(&report).await.expect(250, "2.0.0");
    let complaint = store
        .suppression_check(acme, "news.other.example", "l2@late.test", i64::MAX / 2)
        .await
        .unwrap()
        .expect("suppressed when the report was taken");
    assert_eq!(complaint.reason, SuppressionReason::Complaint);
    assert_eq!(
        complaint.sender_domain, "",
        "a complaint stops all the tenant's mail to them"
    );
    assert!(complaint.detail.contains("LateFBL/1.0"), "{}", complaint.detail);
    let counted = store.stats_sum(acme, None, 0).await.unwrap();
    assert_eq!(counted.get(&estafeta_store::StatKind::Complaint), Some(&1));
    assert_eq!(counted.get(&estafeta_store::StatKind::Unsubscribe), Some(&1));
}

#[tokio::test]
async fn a_mailbox_full_three_times_is_suppressed_for_a_while() {
    let world = world(|_| {}).await;
    let store = world.server.store();
    let acme = store.tenant_get("acme").await.unwrap().unwrap().id;
    let _full = world.mta(3, Behaviour::Full).await;
    for n in 0..3 {
        let replies = world
            .send_message(&["stuffed@late.test".into()], &bulk(&format!("full-{n}")))
            .await;
        assert_eq!(replies[0].code, 250, "not suppressed before the third");
        world
            .eventually("the send done", async || world.queue_len().await == 0)
            .await;
    }
    let entry = store
        .suppression_check(acme, "example.com", "stuffed@late.test", estafeta_core::time::now())
        .await
        .unwrap()
        .expect("suppressed after three");
    assert_eq!(entry.reason, SuppressionReason::SoftBounce);
    assert!(entry.detail.starts_with("3 temporary failures"), "{}", entry.detail);
    let expires = entry.expires_at.expect("for a while, not for ever");
    assert_eq!(expires - entry.created_at, 30 * 86_400);
    let replies = world.send_message(&["stuffed@late.test".into()], &bulk("full-3")).await;
    assert_eq!(replies[0].code, 550);
}

#[tokio::test]
async fn a_bounce_to_the_sender_is_matched_by_the_original_it_quotes() {
    let world = world(|_| {}).await;
    let store = world.server.store();
    let acme = store.tenant_get("acme").await.unwrap().unwrap().id;
    let late = world.mta(3, Behaviour::Accept).await;
    world
        .send_message(&["l1@late.test".into(), "l2@late.test".into()], &bulk("quoted"))
        .await;
    world
        .eventually("the send done", async || world.queue_len().await == 0)
        .await;
    // A bounce that comes to Alice herself (a forwarder rewrote the return
    // path), quoting the original's headers.
    let quoting = |path: &str, recipient: &str| {
        format!(
            "From: MAILER-DAEMON@forwarder.test\r\nTo: {ALICE}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"q\"\r\n\r\n\
             --q\r\nContent-Type: text/plain\r\n\r\nForwarding failed.\r\n\
             --q\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; forwarder.test\r\n\r\n\
             Final-Recipient: rfc822; old-{recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
             Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\
             --q\r\nContent-Type: text/rfc822-headers\r\n\r\nReturn-Path: <{path}>\r\nSubject: quoted\r\n\r\n--q--\r\n"
        )
    };
    let (path, _) = transaction_of(&late, "l1@late.test");
    let forged = path.replacen("bounces+", "bounces+9", 1);
    let mut mx = Client::ready(&world.server, Service::Smtp).await;
    for (path, recipient) in [(forged.as_str(), "l2@late.test"), (path.as_str(), "l1@late.test")] {
        mx.cmd("MAIL FROM:<>").await.expect(250, "2.1.0");
        mx.cmd(&format!("RCPT TO:<{ALICE}>")).await.expect(250, "2.1.5");
        mx.data(&quoting(path, recipient)).await.expect(250, "2.0.0");
    }
    let entries = store.suppression_list(acme, 0).await.unwrap();
    let listed: Vec<(&str, SuppressionReason)> = entries.iter().map(|e| (e.address.as_str(), e.reason)).collect();
    // The signed path names l1 (whatever the forwarder calls it); the
    // forged one names nobody.
    assert_eq!(listed, [("l1@late.test", SuppressionReason::HardBounce)]);
}

#[tokio::test]
async fn without_verp_a_bounce_is_matched_by_the_message_id_it_quotes() {
    let world = world(|config| config.deliverability.verp = false).await;
    let store = world.server.store();
    let acme = store.tenant_get("acme").await.unwrap().unwrap().id;
    let late = world.mta(3, Behaviour::Accept).await;
    let recipients: Vec<String> = ["l1", "l2", "l3"].iter().map(|l| format!("{l}@late.test")).collect();
    world.send_message(&recipients, &bulk("by-id")).await;
    // A message sent without a Message-ID gets one from us (RFC 6409 8.3).
    let bare = format!("From: {ALICE}\r\nSubject: no id\r\n\r\nHi.\r\n");
    world.send_message(&["l4@late.test".into()], &bare).await;
    world
        .eventually("the sends done", async || world.queue_len().await == 0)
        .await;
    // VERP off: the mail left with Alice's own address as return path.
    assert!(
        late.received()
            .iter()
            .all(|t| t.mail_from.starts_with(&format!("MAIL FROM:<{ALICE}>")))
    );
    let added = late
        .received()
        .into_iter()
        .find(|t| t.recipients() == ["l4@late.test"])
        .unwrap();
    let head = String::from_utf8_lossy(&added.data).into_owned();
    let added_id = head
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: <"))
        .map(|id| id.trim_end_matches('>').to_owned())
        .expect("a Message-ID added");
    assert!(added_id.ends_with("@mx.test"), "{added_id}");
    assert!(head.lines().any(|l| l.starts_with("Date: ")), "{head}");

    // RFC 3464 with the original's headers (no return path of ours in them).
    let standard = |message_id: &str, recipient: &str| {
        format!(
            "From: MAILER-DAEMON@mx1.late.test\r\nTo: {ALICE}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"q\"\r\n\r\n\
             --q\r\nContent-Type: text/plain\r\n\r\nThe mailbox went away.\r\n\
             --q\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx1.late.test\r\n\r\n\
             Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
             Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\
             --q\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {ALICE}\r\nMessage-ID: <{message_id}>\r\n\
             Subject: by-id\r\n\r\n--q--\r\n"
        )
    };
    // A qmail-style text bounce quoting the original below its text.
    let text = |message_id: &str, recipient: &str| {
        format!(
            "From: MAILER-DAEMON@mx1.late.test\r\nTo: {ALICE}\r\nSubject: failure notice\r\n\r\n\
             Hi. This is the qmail-send program at mx1.late.test.\r\n\
             I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\
             This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n\
             <{recipient}>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n\
             --- Below this line is a copy of the message.\r\n\r\n\
             Return-Path: <{ALICE}>\r\nMessage-ID: <{message_id}>\r\nSubject: no id\r\n\r\nHi.\r\n"
        )
    };
    let mut mx = Client::ready(&world.server, Service::Smtp).await;
    for bounce in [
        standard("by-id@example.com", "l2@late.test"),
        // Not ours: the id of another message, or a recipient it never had.
        standard("someone-else@example.com", "l1@late.test"),
        standard("by-id@example.com", "stranger@late.test"),
        text(&added_id, "l4@late.test"),
    ] {
        mx.cmd("MAIL FROM:<>").await.expect(250, "2.1.0");
        mx.cmd(&format!("RCPT TO:<{ALICE}>")).await.expect(250, "2.1.5");
        mx.data(&bounce).await.expect(250, "2.0.0");
    }
    let entries = store.suppression_list(acme, 0).await.unwrap();
    let listed: Vec<&str> = entries.iter().map(|e| e.address.as_str()).collect();
    assert_eq!(listed, ["l2@late.test", "l4@late.test"]);
}
