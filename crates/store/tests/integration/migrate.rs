//! `estafeta migrate`: an embedded installation copied to PostgreSQL is
//! the same store to a client (ids, UIDs, MODSEQs, UIDVALIDITY, flags,
//! content, tombstones, queue).

use crate::common::*;
use estafeta_core::model::{Flags, SystemFlags};
use estafeta_store::postgres::PostgresStore;
use estafeta_store::sqlite::SqliteStore;
use estafeta_store::{DavKind, DavPrecondition, DavProps, FlagOperation, NewQueuedMessage, QueueRecipient, Store};

async fn snapshot(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    for account in store.account_list().await.unwrap() {
        out.push(format!("{account:?}"));
        for mailbox in store.mailbox_list(account.id).await.unwrap() {
            out.push(format!("{mailbox:?}"));
            let changes = store.changes_since(mailbox.id, 0).await.unwrap();
            out.push(format!(
                "vanished {:?} highest {}",
                changes.vanished, changes.highest_modseq
            ));
            for message in store.messages(mailbox.id).await.unwrap() {
                let content = store.message_content(&message.blob).await.unwrap();
                out.push(format!("{message:?} {}", content.len()));
            }
        }
    }
    out.push(format!("{:?}", store.alias_list().await.unwrap()));
    out.push(format!("{:?}", store.domain_list().await.unwrap()));
    out.push(format!("{:?}", store.queue_list().await.unwrap()));
    out.push(format!("{:?}", store.pool_list().await.unwrap()));
    out.push(format!("{:?}", store.source_stats_sum("192.0.2.7", 0).await.unwrap()));
    for tenant in store.tenant_list().await.unwrap() {
        // The default tenant is made by each backend's own migration;
        // what it was given comes over.
        out.push(format!("{} {} {:?}", tenant.id, tenant.name, tenant.paused));
        out.push(format!("{:?}", store.suppression_list(tenant.id, 0).await.unwrap()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_over_several_accounts_move_unchanged() {
    let Some(url) = estafeta_testkit::postgres_url().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = SqliteStore::open(dir.path()).await.unwrap();
    let mut accounts = Vec::new();
    for name in ["ann@one.test", "bob@one.test", "cy@two.test"] {
        accounts.push(account(&source, name).await);
    }
    source
        .alias_add(
            &estafeta_core::Address::parse("sales@one.test").unwrap(),
            &estafeta_core::Address::parse("ann@one.test").unwrap(),
        )
        .await
        .unwrap();
    for n in 0..1000 {
        let owner = &accounts[n % 3];
        let inbox = inbox(&source, owner).await;
        // A few too large for the database: their contents come from files.
        let content = if n % 200 == 9 { large_message(n) } else { message(n) };
        source
            .deliver(&content, 1_700_000_000 + n as i64, &[to(&inbox)])
            .await
            .unwrap();
    }
    let ann_inbox = inbox(&source, &accounts[0]).await;
    let flagged = Flags::new(SystemFlags::FLAGGED.union(SystemFlags::SEEN), ["$Work".to_owned()]);
    source
        .store_flags(ann_inbox.id, &[1, 2, 3], FlagOperation::Add, &flagged, None)
        .await
        .unwrap();
    source
        .store_flags(
            ann_inbox.id,
            &[4, 5],
            FlagOperation::Add,
            &Flags::new(SystemFlags::DELETED, []),
            None,
        )
        .await
        .unwrap();
    source.expunge(ann_inbox.id, None).await.unwrap();
    source.mailbox_create(accounts[1].id, "Projects/2026").await.unwrap();
    let bob_inbox = inbox(&source, &accounts[1]).await;
    let projects = source
        .mailbox_get(accounts[1].id, "Projects/2026")
        .await
        .unwrap()
        .unwrap();
    source
        .copy_messages(bob_inbox.id, &[1, 2], projects.id, false)
        .await
        .unwrap();
    let entry = NewQueuedMessage {
        sender: "ann@one.test".into(),
        recipients: vec![QueueRecipient {
            address: "far@remote.test".into(),
            orcpt: Some("rfc822;far@remote.test".into()),
            notify: Some("FAILURE".into()),
        }],
        envid: Some("e1".into()),
        ret: Some("HDRS".into()),
    };
    source.queue_insert(&message(5000), &entry).await.unwrap();
    let tenant = source.tenant_add("two").await.unwrap();
    source.domain_set_tenant("two.test", tenant.id).await.unwrap();
    source
        .suppression_add(&estafeta_store::Suppression {
            tenant: tenant.id,
            address: "gone@remote.test".into(),
            sender_domain: String::new(),
            reason: estafeta_store::SuppressionReason::HardBounce,
            detail: "550 5.1.1".into(),
            created_at: 1_700_000_000,
            expires_at: Some(1_900_000_000),
        })
        .await
        .unwrap();
    source.pool_add("vip", true).await.unwrap();
    source
        .pool_address_add(
            "vip",
            &estafeta_store::NewPoolAddress {
                address: "192.0.2.7".into(),
                ehlo: "mta7.one.test".into(),
                weight: 3,
                warmup: true,
            },
        )
        .await
        .unwrap();
    source
        .pool_address_listed("192.0.2.7", Some("bl.test (127.0.0.2)"), 1_800_000_000)
        .await
        .unwrap();
    source.pool_assign(Some("vip"), "default").await.unwrap();
    source
        .tenant_pause(estafeta_store::DEFAULT_TENANT, Some("bounce rate 4%"))
        .await
        .unwrap();
    source
        .source_stats_add("192.0.2.7", 1_800_000_000, &[(estafeta_store::StatKind::Sent, 42)])
        .await
        .unwrap();
    // Taken on the first day of its warm-up: the count carries over.
    assert_eq!(
        source.warmup_take("192.0.2.7", "gmail", 20_000, 40, 50).await.unwrap(),
        40
    );
    // A calendar with two events, one of them replaced and one removed, so
    // contents, change numbers and a tombstone all cross over.
    let calendar = source
        .dav_collection_create(
            accounts[0].id,
            DavKind::Calendar,
            "work",
            &DavProps {
                display_name: "Work".into(),
                color: "#3366ff".into(),
                dead: "<calendar-order xmlns=\"http://apple.com/ns/ical/\">2</calendar-order>".into(),
                ..DavProps::default()
            },
        )
        .await
        .unwrap();
    for (name, uid) in [("a.ics", "a"), ("b.ics", "b"), ("a.ics", "a")] {
        let body = format!("BEGIN:VCALENDAR\r\nUID:{uid}\r\nEND:VCALENDAR\r\n");
        source
            .dav_put(calendar.id, name, uid, &body, &DavPrecondition::None)
            .await
            .unwrap();
    }
    source.dav_delete(calendar.id, "b.ics", None).await.unwrap();
    // The file space, with bytes that are not text.
    for (path, collection, content) in [
        ("photos", true, &b""[..]),
        ("photos/p.bin", false, &[0u8, 255, 10, 13][..]),
    ] {
        source
            .dav_file_write(
                accounts[0].id,
                path,
                collection,
                content,
                "image/x-test",
                &DavPrecondition::None,
            )
            .await
            .unwrap();
    }
    source
        .dav_file_set_dead(accounts[0].id, "photos/p.bin", "<a xmlns=\"urn:x\">1</a>")
        .await
        .unwrap();
    let files_before = source.dav_file(accounts[0].id, "photos/p.bin").await.unwrap();
    let dav_before = (
        source.dav_collections(accounts[0].id, DavKind::Calendar).await.unwrap(),
        source.dav_objects(calendar.id).await.unwrap(),
        source.dav_changes(calendar.id, 1).await.unwrap(),
    );
    let before = snapshot(&source).await;
    source.shutdown();
    drop(source);

    let report = estafeta_store::migrate::sqlite_to_postgres(dir.path(), &url)
        .await
        .unwrap();
    assert_eq!(report.messages, 1000 - 2 + 2);
    assert_eq!(
        (report.accounts, report.domains, report.aliases, report.queued),
        (3, 2, 1, 1)
    );
    assert!(report.verified.is_healthy(), "{report:?}");

    let target = PostgresStore::open(&url).await.unwrap();
    assert_eq!(snapshot(&target).await, before);
    assert_eq!(
        target.warmup_take("192.0.2.7", "gmail", 20_000, 40, 50).await.unwrap(),
        10
    );
    let dav_after = (
        target.dav_collections(accounts[0].id, DavKind::Calendar).await.unwrap(),
        target.dav_objects(calendar.id).await.unwrap(),
        target.dav_changes(calendar.id, 1).await.unwrap(),
    );
    assert_eq!(dav_after, dav_before);
    assert_eq!(
        target.dav_file(accounts[0].id, "photos/p.bin").await.unwrap(),
        files_before
    );
    assert_eq!(target.dav_file_tree(accounts[0].id, "").await.unwrap().len(), 2);
    assert_eq!(dav_after.2.removed, ["b.ics"]);
    let address_book = target
        .dav_collection_create(accounts[0].id, DavKind::AddressBook, "contacts", &DavProps::default())
        .await
        .unwrap();
    assert!(
        address_book.id > calendar.id,
        "new collections continue after the copied ids"
    );
    // New mail continues where the old store left off.
    let delivered = target.deliver(&message(9999), 0, &[to(&ann_inbox)]).await.unwrap();
    assert_eq!(delivered[0].uid, ann_inbox.uid_next);
    let migrated = target.mailbox_list(accounts[2].id).await.unwrap();
    let created = target.mailbox_create(accounts[2].id, "Fresh").await.unwrap();
    assert!(
        migrated
            .iter()
            .all(|m| m.id.0 < created.id.0 && m.uid_validity < created.uid_validity)
    );

    // A second migration into the same database is refused, not doubled.
    let again = estafeta_store::migrate::sqlite_to_postgres(dir.path(), &url)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("empty database"), "{again}");
}
