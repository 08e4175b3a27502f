use crate::common::*;
use estafeta_core::model::{Flags, SystemFlags};
use estafeta_store::sqlite::{SqliteStore, schema};
use estafeta_store::{FlagOperation, Store};

#[tokio::test]
async fn verify_finds_and_repairs_damage() {
    let (dir, store) = store().await;
    let alice = account(&store, "alice@example.com").await;
    let inbox = inbox(&store, &alice).await;
    store.deliver(&message(1), 0, &[to(&inbox)]).await.unwrap();
    store.deliver(&message(2), 0, &[to(&inbox)]).await.unwrap();
    store.deliver(&large_message(3), 0, &[to(&inbox)]).await.unwrap();
    store.deliver(&large_message(4), 0, &[to(&inbox)]).await.unwrap();
    let report = store.verify(false).await.unwrap();
    assert!(report.is_healthy(), "{report:?}");
    assert_eq!((report.messages_checked, report.blobs_checked), (4, 4));
    assert_eq!((blob_files(dir.path()), blob_contents_in_database(dir.path())), (2, 2));

    let messages = store.messages(inbox.id).await.unwrap();
    let blob = |n: usize| messages[n].blob.to_string();
    let blob_path = |n: usize| {
        let id = messages[n].blob.as_str();
        dir.path().join("blobs").join(&id[..2]).join(id)
    };
    // Damage to contents in the database and in files alike.
    std::fs::write(blob_path(2), b"tampered").unwrap();
    std::fs::remove_file(blob_path(3)).unwrap();
    std::fs::create_dir_all(dir.path().join("blobs/ab")).unwrap();
    let orphan_file = format!("ab{}", "0".repeat(62));
    std::fs::write(dir.path().join("blobs/ab").join(&orphan_file), b"x").unwrap();

    let db = dir.path().join("estafeta.db");
    let orphan_row;
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let content_of = "(SELECT content FROM blobs WHERE id = ?1)";
        conn.execute(
            &format!("UPDATE blob_contents SET data = x'00' WHERE rowid = {content_of}"),
            [blob(0)],
        )
        .unwrap();
        conn.execute(
            &format!("DELETE FROM blob_contents WHERE rowid = {content_of}"),
            [blob(1)],
        )
        .unwrap();
        conn.execute("INSERT INTO blob_contents (data) VALUES (x'01')", [])
            .unwrap();
        orphan_row = format!("blob_contents row {}", conn.last_insert_rowid());
        conn.execute("UPDATE mailboxes SET uidnext = 1 WHERE id = ?1", [inbox.id.0])
            .unwrap();
        conn.execute("UPDATE blobs SET refcount = 5 WHERE id = ?1", [blob(0)])
            .unwrap();
    }

    let report = store.verify(false).await.unwrap();
    assert!(!report.is_healthy());
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert_eq!(sorted(report.corrupt_blobs.clone()), sorted(vec![blob(0), blob(2)]));
    assert_eq!(sorted(report.missing_blobs.clone()), sorted(vec![blob(1), blob(3)]));
    assert_eq!(sorted(report.orphan_files.clone()), vec![orphan_file, orphan_row]);
    assert_eq!(report.counter_errors.len(), 1);
    assert_eq!(report.refcount_mismatches.len(), 1);

    let repaired = store.verify(true).await.unwrap();
    assert_eq!(repaired.repaired, 4, "{repaired:?}");
    let after = store.verify(false).await.unwrap();
    assert!(after.counter_errors.is_empty() && after.refcount_mismatches.is_empty() && after.orphan_files.is_empty());
    // Lost content cannot be repaired, only reported.
    assert_eq!(after.missing_blobs.len(), 2);
    assert_eq!(store.mailbox_by_id(inbox.id).await.unwrap().unwrap().uid_next, 5);
}

#[tokio::test]
async fn small_contents_are_in_the_database_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (small, large) = (message(1), large_message(2));
    {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let alice = account(&store, "alice@example.com").await;
        let inbox = inbox(&store, &alice).await;
        store.deliver(&small, 0, &[to(&inbox)]).await.unwrap();
        store.deliver(&large, 0, &[to(&inbox)]).await.unwrap();
        store.shutdown();
    }
    // Only the large one needed a file (and its fsyncs).
    assert_eq!((blob_files(dir.path()), blob_contents_in_database(dir.path())), (1, 1));
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let alice = store.account_get("alice@example.com").await.unwrap().unwrap();
    let inbox = inbox(&store, &alice).await;
    let listed = store.messages(inbox.id).await.unwrap();
    let blobs: Vec<_> = listed.iter().map(|m| m.blob.clone()).collect();
    let contents: Vec<Vec<u8>> = store
        .message_contents(&blobs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(contents, vec![small, large]);
    // Expunging the last references takes the row's content and the file.
    let uids: Vec<u32> = listed.iter().map(|m| m.uid).collect();
    let deleted = Flags::new(SystemFlags::DELETED, []);
    store
        .store_flags(inbox.id, &uids, FlagOperation::Add, &deleted, None)
        .await
        .unwrap();
    store.expunge(inbox.id, None).await.unwrap();
    assert_eq!((blob_files(dir.path()), blob_contents_in_database(dir.path())), (0, 0));
}

#[tokio::test]
async fn migrations_apply_once_and_refuse_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        account(&store, "a@example.com").await;
    }
    // Reopening applies nothing twice and keeps the data.
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert!(store.account_get("a@example.com").await.unwrap().is_some());
    let conn = rusqlite::Connection::open(store.database_path()).unwrap();
    assert_eq!(schema::current_version(&conn).unwrap(), schema::latest());
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, schema::MIGRATIONS.len() as i64);
    drop(store);

    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)",
        [],
    )
    .unwrap();
    let error = SqliteStore::open(dir.path()).await.err().unwrap().to_string();
    assert!(
        error.contains("schema version 999") && error.contains("newer"),
        "{error}"
    );
}

#[tokio::test]
async fn every_earlier_schema_upgrades_to_the_latest() {
    for start in 0..schema::latest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("estafeta.db");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            assert_eq!(schema::migrate_to(&mut conn, start).unwrap(), start);
        }
        let store = SqliteStore::open(dir.path()).await.unwrap();
        account(&store, "a@example.com").await;
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(
            schema::current_version(&conn).unwrap(),
            schema::latest(),
            "from version {start}"
        );
    }
}
