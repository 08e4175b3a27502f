use crate::common::*;
use estafeta_store::Store;
use estafeta_store::sqlite::{SqliteStore, schema};

#[tokio::test]
async fn verify_finds_and_repairs_damage() {
    let (dir, store) = store().await;
    let alice = account(&store, "alice@example.com").await;
    let inbox = inbox(&store, &alice).await;
    store.deliver(&message(1), 0, &[to(&inbox)]).await.unwrap();
    store.deliver(&message(2), 0, &[to(&inbox)]).await.unwrap();
    let report = store.verify(false).await.unwrap();
    assert!(report.is_healthy(), "{report:?}");
    assert_eq!((report.messages_checked, report.blobs_checked), (2, 2));

    let messages = store.messages(inbox.id).await.unwrap();
    let blob_path = |n: usize| {
        let id = messages[n].blob.as_str();
        dir.path().join("blobs").join(&id[..2]).join(id)
    };
    std::fs::write(blob_path(0), b"tampered").unwrap();
    std::fs::remove_file(blob_path(1)).unwrap();
    std::fs::create_dir_all(dir.path().join("blobs/ab")).unwrap();
    let orphan = format!("ab{}", "0".repeat(62));
    std::fs::write(dir.path().join("blobs/ab").join(&orphan), b"x").unwrap();
    let db = dir.path().join("estafeta.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("UPDATE mailboxes SET uidnext = 1 WHERE id = ?1", [inbox.id.0])
            .unwrap();
        conn.execute(
            "UPDATE blobs SET refcount = 5 WHERE id = ?1",
            [messages[0].blob.as_str()],
        )
        .unwrap();
    }

    let report = store.verify(false).await.unwrap();
    assert!(!report.is_healthy());
    assert_eq!(report.corrupt_blobs, vec![messages[0].blob.to_string()]);
    assert_eq!(report.missing_blobs, vec![messages[1].blob.to_string()]);
    assert_eq!(report.orphan_files, vec![orphan.clone()]);
    assert_eq!(report.counter_errors.len(), 1);
    assert_eq!(report.refcount_mismatches.len(), 1);

    let repaired = store.verify(true).await.unwrap();
    assert_eq!(repaired.repaired, 3, "{repaired:?}");
    let after = store.verify(false).await.unwrap();
    assert!(after.counter_errors.is_empty() && after.refcount_mismatches.is_empty() && after.orphan_files.is_empty());
    // Lost content cannot be repaired, only reported.
    assert_eq!(after.missing_blobs.len(), 1);
    assert_eq!(store.mailbox_by_id(inbox.id).await.unwrap().unwrap().uid_next, 3);
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
