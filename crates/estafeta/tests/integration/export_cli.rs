//! `estafeta account export`: an account's mail, calendars, contacts and
//! files written out, while the server runs, in formats other programs
//! read back; and the refusals.

use crate::common::run_in;
use estafeta_core::model::{Flags, SystemFlags};
use estafeta_store::{DavKind, DavPrecondition, DavProps, DeliveryTarget};
use estafeta_testkit::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_all_of_an_account_and_nothing_of_others() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_owned();
    let server = TestServer::start_with(|config| config.data_dir = data_dir.clone()).await;
    let ann = server.add_account("ann@example.com", "ann's password").await;
    let bob = server.add_account("bob@example.com", "bob's password").await;
    let store = server.store();
    let inbox = store.mailbox_get(ann.id, "INBOX").await.unwrap().unwrap();
    let projects = store.mailbox_create(ann.id, "Projects/2026").await.unwrap();
    let bobs = store.mailbox_get(bob.id, "INBOX").await.unwrap().unwrap();
    let mail = [
        (
            inbox.id,
            "Subject: hello\r\n\r\nFrom the start, a line to quote.\r\n",
            Flags::seen(),
        ),
        (
            projects.id,
            "Subject: plan\r\n\r\nThe plan.\r\n",
            Flags::new(SystemFlags::FLAGGED, ["$Work".to_owned()]),
        ),
        (bobs.id, "Subject: bob's secret\r\n\r\nnot ann's\r\n", Flags::default()),
    ];
    for (mailbox, message, flags) in mail {
        store
            .deliver(message.as_bytes(), 1_796_000_000, &[DeliveryTarget { mailbox, flags }])
            .await
            .unwrap();
    }
    let props = DavProps {
        display_name: "Work".into(),
        ..DavProps::default()
    };
    let calendar = store
        .dav_collection_create(ann.id, DavKind::Calendar, "work", &props)
        .await
        .unwrap();
    let event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nDTSTART:20261210T090000Z\r\nSUMMARY:Review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    store
        .dav_put(calendar.id, "e1.ics", "e1", event, &DavPrecondition::None)
        .await
        .unwrap();
    let book = store
        .dav_collection_create(ann.id, DavKind::AddressBook, "default", &DavProps::default())
        .await
        .unwrap();
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Carla Dias\r\nEND:VCARD\r\n";
    store
        .dav_put(book.id, "c1.vcf", "c1", card, &DavPrecondition::None)
        .await
        .unwrap();
    let identity = estafeta_store::Identity {
        slot: -1,
        name: "Ann at Sales".into(),
        email: "ann+sales@example.com".into(),
        text_signature: "-- \nAnn".into(),
        ..estafeta_store::Identity::default()
    };
    store.identity_put(ann.id, &identity).await.unwrap();
    store
        .dav_file_write(ann.id, "docs", true, b"", "", &DavPrecondition::None)
        .await
        .unwrap();
    store
        .dav_file_write(
            ann.id,
            "docs/photo.bin",
            false,
            &[0, 1, 2, 255],
            "image/x",
            &DavPrecondition::None,
        )
        .await
        .unwrap();

    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("ann");
    let target_text = target.display().to_string();
    let done = run_in(
        data.path(),
        &["account", "export", "ann@example.com", "--output", &target_text],
        None,
    );
    assert!(done.ok().starts_with("exported ann@example.com into"), "{}", done.ok());
    assert!(
        done.ok().contains("3 messages") || done.ok().contains("2 messages"),
        "{}",
        done.ok()
    );

    let inbox_mbox = std::fs::read_to_string(target.join("mail/INBOX.mbox")).unwrap();
    assert!(inbox_mbox.starts_with("From MAILER-DAEMON "), "{inbox_mbox}");
    assert!(inbox_mbox.contains("Subject: hello\n\n>From the start"), "{inbox_mbox}");
    let projects_mbox = std::fs::read_to_string(target.join("mail/Projects/2026.mbox")).unwrap();
    assert!(projects_mbox.contains("The plan."));
    let everything: String = walk(&target)
        .iter()
        .map(|path| String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned())
        .collect();
    assert!(!everything.contains("bob's secret"), "another account's mail leaked");
    assert_eq!(
        std::fs::read_to_string(target.join("calendars/work/e1.ics")).unwrap(),
        event
    );
    assert_eq!(
        std::fs::read_to_string(target.join("contacts/default/c1.vcf")).unwrap(),
        card
    );
    assert_eq!(
        std::fs::read(target.join("files/docs/photo.bin")).unwrap(),
        [0, 1, 2, 255]
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(target.join("account.json")).unwrap()).unwrap();
    assert_eq!(summary["address"], "ann@example.com");
    assert_eq!(summary["identities"][0]["name"], "Ann at Sales");
    assert_eq!(summary["identities"][0]["text_signature"], "-- \nAnn");
    let projects_entry = summary["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "Projects/2026")
        .unwrap();
    assert_eq!(projects_entry["flags"]["1"], serde_json::json!(["\\Flagged", "$Work"]));
    assert!(
        summary["collections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["display_name"] == "Work")
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o700);

    // A directory with something in it is not written over; nor is
    // there an export of nobody.
    run_in(
        data.path(),
        &["account", "export", "ann@example.com", "--output", &target_text],
        None,
    )
    .refused("is not empty");
    let nobody = out.path().join("nobody").display().to_string();
    run_in(
        data.path(),
        &["account", "export", "zed@example.com", "--output", &nobody],
        None,
    )
    .refused("no account");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
