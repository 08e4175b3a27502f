//! Calendars and address books on both backends: collections per account
//! and kind, resources written under preconditions, UIDs unique in a
//! collection, change numbers and tombstones for sync-collection, and
//! everything gone with its collection or its account.

use crate::common::*;
use estafeta_store::{DavDelete, DavKind, DavPrecondition, DavProps, DavPut, Store, StoreError};

fn event(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

#[tokio::test]
async fn collections_belong_to_an_account_and_a_kind() {
    for backend in backends().await {
        let (store, name) = (backend.store.as_ref(), backend.name);
        let ann = account(store, "ann@dav.test").await;
        let bob = account(store, "bob@dav.test").await;
        let props = DavProps {
            display_name: "Work".into(),
            description: "Meetings".into(),
            color: "#ff0000".into(),
            components: "VEVENT,VTODO".into(),
            dead: "<x xmlns=\"urn:test\">1</x>".into(),
        };
        let work = store
            .dav_collection_create(ann.id, DavKind::Calendar, "work", &props)
            .await
            .unwrap();
        assert_eq!((work.sync, &work.props), (0, &props), "{name}");
        let again = store
            .dav_collection_create(ann.id, DavKind::Calendar, "work", &props)
            .await
            .unwrap_err();
        assert!(matches!(again, StoreError::AlreadyExists(_)), "{name}: {again}");
        // The same name is free for another kind and another account.
        store
            .dav_collection_create(ann.id, DavKind::AddressBook, "work", &DavProps::default())
            .await
            .unwrap();
        store
            .dav_collection_create(bob.id, DavKind::Calendar, "work", &DavProps::default())
            .await
            .unwrap();
        store
            .dav_collection_create(ann.id, DavKind::Calendar, "home", &DavProps::default())
            .await
            .unwrap();
        let calendars = store.dav_collections(ann.id, DavKind::Calendar).await.unwrap();
        let names: Vec<&str> = calendars.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["home", "work"], "{name}");
        assert!(
            calendars
                .iter()
                .all(|c| c.account == ann.id && c.kind == DavKind::Calendar)
        );

        let renamed = DavProps {
            display_name: "Office".into(),
            ..props.clone()
        };
        store.dav_collection_update(work.id, &renamed).await.unwrap();
        let found = store
            .dav_collection(ann.id, DavKind::Calendar, "work")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.props, renamed, "{name}");
        assert_eq!(
            store
                .dav_collection(bob.id, DavKind::AddressBook, "work")
                .await
                .unwrap(),
            None
        );

        store.dav_collection_delete(work.id).await.unwrap();
        assert!(
            store
                .dav_collection(ann.id, DavKind::Calendar, "work")
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.dav_collection_delete(work.id).await.is_err(), "{name}");
    }
}

#[tokio::test]
async fn writes_keep_their_preconditions_and_uids() {
    for backend in backends().await {
        let (store, name) = (backend.store.as_ref(), backend.name);
        let ann = account(store, "ann@dav.test").await;
        let calendar = store
            .dav_collection_create(ann.id, DavKind::Calendar, "default", &DavProps::default())
            .await
            .unwrap();
        let id = calendar.id;
        let first = event("u1", "Lunch");
        let DavPut::Written { etag, created } = store
            .dav_put(id, "u1.ics", "u1", &first, &DavPrecondition::IfNoneMatch)
            .await
            .unwrap()
        else {
            panic!("{name}: not written")
        };
        assert!(
            created && etag.starts_with('"') && etag.ends_with('"'),
            "{name}: {etag}"
        );
        // If-None-Match: * refuses to overwrite; a stale If-Match too.
        let refused = store
            .dav_put(id, "u1.ics", "u1", &event("u1", "x"), &DavPrecondition::IfNoneMatch)
            .await
            .unwrap();
        assert_eq!(refused, DavPut::PreconditionFailed, "{name}");
        let stale = DavPrecondition::IfMatch("\"other\"".into());
        assert_eq!(
            store.dav_put(id, "u1.ics", "u1", &first, &stale).await.unwrap(),
            DavPut::PreconditionFailed
        );
        assert_eq!(
            store.dav_put(id, "new.ics", "n", &first, &stale).await.unwrap(),
            DavPut::PreconditionFailed,
            "{name}: If-Match on nothing"
        );
        // The right tag replaces it, and the tag follows the content.
        let second = event("u1", "Lunch at one");
        let DavPut::Written { etag: etag2, created } = store
            .dav_put(id, "u1.ics", "u1", &second, &DavPrecondition::IfMatch(etag.clone()))
            .await
            .unwrap()
        else {
            panic!("{name}: not replaced")
        };
        assert!(!created && etag2 != etag, "{name}");
        let stored = store.dav_object(id, "u1.ics").await.unwrap().unwrap();
        assert_eq!(
            (stored.content.as_str(), stored.etag.as_str()),
            (second.as_str(), etag2.as_str())
        );
        // A second resource may not take the first one's UID.
        assert_eq!(
            store
                .dav_put(id, "copy.ics", "u1", &second, &DavPrecondition::None)
                .await
                .unwrap(),
            DavPut::UidConflict("u1.ics".into()),
            "{name}"
        );
        assert_eq!(store.dav_objects(id).await.unwrap().len(), 1);
        // Refusals took no change number.
        let now = store
            .dav_collection(ann.id, DavKind::Calendar, "default")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(now.sync, 2, "{name}");

        assert_eq!(
            store.dav_delete(id, "u1.ics", Some("\"other\"")).await.unwrap(),
            DavDelete::PreconditionFailed
        );
        assert_eq!(
            store.dav_delete(id, "u1.ics", Some(&etag2)).await.unwrap(),
            DavDelete::Removed
        );
        assert_eq!(
            store.dav_delete(id, "u1.ics", None).await.unwrap(),
            DavDelete::NotFound,
            "{name}"
        );
        // Once removed, its UID is free again.
        assert!(matches!(
            store
                .dav_put(id, "copy.ics", "u1", &second, &DavPrecondition::None)
                .await
                .unwrap(),
            DavPut::Written { created: true, .. }
        ));
    }
}

#[tokio::test]
async fn changes_since_a_number_name_what_was_written_and_removed() {
    for backend in backends().await {
        let (store, name) = (backend.store.as_ref(), backend.name);
        let ann = account(store, "ann@dav.test").await;
        let book = store
            .dav_collection_create(ann.id, DavKind::AddressBook, "contacts", &DavProps::default())
            .await
            .unwrap();
        let id = book.id;
        for n in 0..3 {
            let card = format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c{n}\r\nFN:Person {n}\r\nEND:VCARD\r\n");
            store
                .dav_put(
                    id,
                    &format!("c{n}.vcf"),
                    &format!("c{n}"),
                    &card,
                    &DavPrecondition::None,
                )
                .await
                .unwrap();
        }
        let all = store.dav_changes(id, 0).await.unwrap();
        assert_eq!(all.sync, 3, "{name}");
        assert_eq!(all.written, ["c0.vcf", "c1.vcf", "c2.vcf"]);
        assert!(all.removed.is_empty());

        let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c1\r\nFN:Renamed\r\nEND:VCARD\r\n";
        store
            .dav_put(id, "c1.vcf", "c1", card, &DavPrecondition::None)
            .await
            .unwrap();
        store.dav_delete(id, "c0.vcf", None).await.unwrap();
        let since = store.dav_changes(id, all.sync).await.unwrap();
        assert_eq!(
            (since.sync, since.written.as_slice(), since.removed.as_slice()),
            (5, &["c1.vcf".to_owned()][..], &["c0.vcf".to_owned()][..]),
            "{name}"
        );
        // Written again after its removal, it is no longer listed as removed.
        store
            .dav_put(
                id,
                "c0.vcf",
                "c0",
                card.replace("c1", "c0").as_str(),
                &DavPrecondition::None,
            )
            .await
            .unwrap();
        let again = store.dav_changes(id, all.sync).await.unwrap();
        assert_eq!(again.written, ["c1.vcf", "c0.vcf"], "{name}");
        assert!(again.removed.is_empty(), "{name}");
        assert!(store.dav_changes(id, again.sync).await.unwrap().written.is_empty());
        // A number the collection never gave is refused (RFC 6578 3.2).
        assert!(matches!(
            store.dav_changes(id, again.sync + 1).await,
            Err(StoreError::Invalid(_))
        ));
    }
}

#[tokio::test]
async fn an_accounts_collections_go_with_it() {
    for backend in backends().await {
        let (store, name) = (backend.store.as_ref(), backend.name);
        let ann = account(store, "ann@dav.test").await;
        let calendar = store
            .dav_collection_create(ann.id, DavKind::Calendar, "default", &DavProps::default())
            .await
            .unwrap();
        store
            .dav_put(calendar.id, "e.ics", "e", &event("e", "x"), &DavPrecondition::None)
            .await
            .unwrap();
        store.dav_delete(calendar.id, "e.ics", None).await.unwrap();
        store
            .dav_put(calendar.id, "f.ics", "f", &event("f", "y"), &DavPrecondition::None)
            .await
            .unwrap();
        store.account_remove("ann@dav.test").await.unwrap();
        assert!(
            store.dav_objects(calendar.id).await.unwrap().is_empty(),
            "{name}: resources removed with the account"
        );
        assert!(store.dav_changes(calendar.id, 0).await.is_err(), "{name}");
        // The address can be made again, with nothing of the old calendars.
        let again = account(store, "ann@dav.test").await;
        assert!(
            store
                .dav_collections(again.id, DavKind::Calendar)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn verify_finds_and_repairs_a_resource_whose_tag_or_number_is_wrong() {
    let (dir, store) = store().await;
    let ann = account(&store, "ann@dav.test").await;
    let calendar = store
        .dav_collection_create(ann.id, DavKind::Calendar, "default", &DavProps::default())
        .await
        .unwrap();
    for uid in ["a", "b"] {
        store
            .dav_put(
                calendar.id,
                &format!("{uid}.ics"),
                uid,
                &event(uid, uid),
                &DavPrecondition::None,
            )
            .await
            .unwrap();
    }
    assert!(store.verify(false).await.unwrap().is_healthy());
    let conn = rusqlite::Connection::open(dir.path().join("estafeta.db")).unwrap();
    // Content changed behind the server's back, and a number from the future.
    conn.execute(
        "UPDATE dav_objects SET content = 'BEGIN:VCALENDAR' WHERE name = 'a.ics'",
        [],
    )
    .unwrap();
    conn.execute("UPDATE dav_objects SET sync = 40 WHERE name = 'b.ics'", [])
        .unwrap();
    drop(conn);
    let report = store.verify(false).await.unwrap();
    assert!(!report.is_healthy());
    assert_eq!(report.dav_errors.len(), 2, "{report:?}");
    let repaired = store.verify(true).await.unwrap();
    assert_eq!(repaired.repaired, 2, "{repaired:?}");
    assert!(store.verify(false).await.unwrap().is_healthy());
    // The repaired resource is listed as changed for clients past the damage.
    let changes = store.dav_changes(calendar.id, 2).await.unwrap();
    assert!(changes.written.contains(&"a.ics".to_owned()), "{changes:?}");
    assert!(changes.sync >= 40);
}

/// The paths of a tree listing.
async fn paths(store: &dyn Store, account: estafeta_core::model::AccountId, under: &str) -> Vec<String> {
    store
        .dav_file_tree(account, under)
        .await
        .unwrap()
        .into_iter()
        .map(|file| file.path)
        .collect()
}

#[tokio::test]
async fn the_file_space_is_a_tree_copied_moved_and_removed_by_subtree() {
    for backend in backends().await {
        let (store, name) = (backend.store.as_ref(), backend.name);
        let ann = account(store, "ann@files.test").await;
        let bob = account(store, "bob@files.test").await;
        let write = |path: &'static str, collection: bool, content: &'static [u8]| {
            store.dav_file_write(
                ann.id,
                path,
                collection,
                content,
                "application/octet-stream",
                &DavPrecondition::None,
            )
        };
        // A parent must be a collection made before.
        assert!(
            matches!(write("docs/a.txt", false, b"x").await, Err(StoreError::NotFound(_))),
            "{name}"
        );
        assert!(matches!(
            write("docs", true, b"").await,
            Ok(DavPut::Written { created: true, .. })
        ));
        let binary: &[u8] = &[0, 159, 146, 150, 255];
        let Ok(DavPut::Written { etag, created: true }) = write("docs/a.bin", false, binary).await else {
            panic!("{name}: first write");
        };
        write("docs/sub", true, b"").await.unwrap();
        write("docs/sub/b.txt", false, b"bee").await.unwrap();
        write("docs0", true, b"").await.unwrap();
        write("docs-x", false, b"beside").await.unwrap();
        assert!(matches!(
            write("docs/a.bin/c", false, b"").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(write("docs", false, b"").await, Err(StoreError::Invalid(_))));

        let found = store.dav_file(ann.id, "docs/a.bin").await.unwrap().unwrap();
        assert_eq!(
            (found.content.as_slice(), found.length, &found.etag),
            (binary, 5, &etag),
            "{name}"
        );
        assert_eq!(
            paths(store, ann.id, "docs").await,
            ["docs", "docs/a.bin", "docs/sub", "docs/sub/b.txt"],
            "{name}: a subtree holds neither docs0 nor docs-x"
        );
        assert_eq!(paths(store, ann.id, "").await.len(), 6);
        assert!(paths(store, bob.id, "").await.is_empty(), "{name}");

        // Preconditions, and properties kept across a rewrite.
        let stale = store
            .dav_file_write(
                ann.id,
                "docs/a.bin",
                false,
                b"new",
                "text/plain",
                &DavPrecondition::IfMatch("\"x\"".into()),
            )
            .await
            .unwrap();
        assert_eq!(stale, DavPut::PreconditionFailed);
        store
            .dav_file_set_dead(ann.id, "docs/a.bin", "<p xmlns=\"urn:x\">1</p>")
            .await
            .unwrap();
        store
            .dav_file_write(
                ann.id,
                "docs/a.bin",
                false,
                b"new",
                "text/plain",
                &DavPrecondition::IfMatch(etag),
            )
            .await
            .unwrap();
        let rewritten = store.dav_file(ann.id, "docs/a.bin").await.unwrap().unwrap();
        assert_eq!(
            (rewritten.content.as_slice(), rewritten.content_type.as_str()),
            (&b"new"[..], "text/plain")
        );
        assert_eq!(rewritten.dead, "<p xmlns=\"urn:x\">1</p>", "{name}");

        // Copy a subtree (properties come along), then move it.
        assert!(!store.dav_file_copy(ann.id, "docs", "copy", true, false).await.unwrap());
        assert_eq!(
            paths(store, ann.id, "copy").await,
            ["copy", "copy/a.bin", "copy/sub", "copy/sub/b.txt"]
        );
        assert_eq!(
            store.dav_file(ann.id, "copy/a.bin").await.unwrap().unwrap().dead,
            rewritten.dead
        );
        assert!(
            !store
                .dav_file_copy(ann.id, "docs", "shallow", false, false)
                .await
                .unwrap()
        );
        assert_eq!(paths(store, ann.id, "shallow").await, ["shallow"], "{name}");
        assert!(
            store
                .dav_file_copy(ann.id, "copy", "shallow", true, true)
                .await
                .unwrap()
        );
        assert!(paths(store, ann.id, "copy").await.is_empty(), "{name}");
        assert_eq!(paths(store, ann.id, "shallow").await.len(), 4);
        assert!(matches!(
            store.dav_file_copy(ann.id, "docs", "nowhere/x", true, false).await,
            Err(StoreError::NotFound(_))
        ));

        assert!(store.dav_file_delete(ann.id, "docs").await.unwrap());
        assert!(!store.dav_file_delete(ann.id, "docs").await.unwrap());
        assert_eq!(
            paths(store, ann.id, "").await,
            [
                "docs-x",
                "docs0",
                "shallow",
                "shallow/a.bin",
                "shallow/sub",
                "shallow/sub/b.txt"
            ],
            "{name}"
        );
    }
}
