//! Store operations shaped for IMAP: COPY/MOVE with UIDPLUS mappings,
//! CONDSTORE/QRESYNC change queries, RENAME, DELETE, SUBSCRIBE.

use crate::common::*;
use estafeta_core::model::{Flags, SystemFlags};
use estafeta_store::{BlobId, FlagOperation, StoreError};

#[tokio::test]
async fn copy_keeps_flags_and_shares_blobs() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let inbox = inbox(store, &alice).await;
        let archive = store.mailbox_get(alice.id, "Archive").await.unwrap().unwrap();
        for n in 0..3 {
            store
                .deliver(&message(n), 1_700_000_000 + n as i64, &[to(&inbox)])
                .await
                .unwrap();
        }
        let flagged = Flags::new(SystemFlags::FLAGGED, ["$Work".to_owned()]);
        store
            .store_flags(inbox.id, &[2], FlagOperation::Add, &flagged, None)
            .await
            .unwrap();

        // UID 9 does not exist: it is simply not in the mapping.
        let copied = store
            .copy_messages(inbox.id, &[3, 2, 9], archive.id, false)
            .await
            .unwrap();
        assert_eq!(copied.uid_validity, archive.uid_validity);
        assert_eq!((copied.source, copied.target), (vec![2, 3], vec![1, 2]));
        let in_archive = store.messages(archive.id).await.unwrap();
        assert_eq!(in_archive[0].flags, flagged);
        assert_eq!(in_archive[0].internal_date, 1_700_000_001);
        assert_eq!(
            store.messages(inbox.id).await.unwrap().len(),
            3,
            "COPY leaves the originals"
        );
        assert_eq!(blob_count(&backend).await, 3, "copies share blobs");

        // Expunging an original keeps the copy's content.
        let deleted = Flags::new(SystemFlags::DELETED, []);
        store
            .store_flags(inbox.id, &[2], FlagOperation::Add, &deleted, None)
            .await
            .unwrap();
        store.expunge(inbox.id, None).await.unwrap();
        assert!(store.message_content(&in_archive[0].blob).await.is_ok());
        assert!(store.verify(false).await.unwrap().is_healthy());
    }
}

#[tokio::test]
async fn move_is_copy_and_expunge_in_one() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let inbox = inbox(store, &alice).await;
        let junk = store.mailbox_get(alice.id, "Junk").await.unwrap().unwrap();
        for n in 0..3 {
            store.deliver(&message(n), 0, &[to(&inbox)]).await.unwrap();
        }
        let before = store.mailbox_by_id(inbox.id).await.unwrap().unwrap().highest_modseq;
        let moved = store.copy_messages(inbox.id, &[1, 3], junk.id, true).await.unwrap();
        assert_eq!((moved.source, moved.target), (vec![1, 3], vec![1, 2]));
        let left: Vec<u32> = store.messages(inbox.id).await.unwrap().iter().map(|m| m.uid).collect();
        assert_eq!(left, vec![2]);
        let changes = store.changes_since(inbox.id, before).await.unwrap();
        assert_eq!(changes.vanished, vec![1, 3], "QRESYNC clients learn what left");
        assert!(changes.highest_modseq > before);
        assert_eq!(store.messages(junk.id).await.unwrap().len(), 2);
        assert_eq!(blob_count(&backend).await, 3);
        assert!(
            store.verify(false).await.unwrap().is_healthy(),
            "reference counts unchanged by a move"
        );
    }
}

#[tokio::test]
async fn changes_since_reports_additions_flag_changes_and_expunges() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let inbox = inbox(store, &alice).await;
        for n in 0..3 {
            store.deliver(&message(n), 0, &[to(&inbox)]).await.unwrap();
        }
        let mark = store.mailbox_by_id(inbox.id).await.unwrap().unwrap().highest_modseq;
        assert!(store.changes_since(inbox.id, mark).await.unwrap().changed.is_empty());
        store
            .store_flags(inbox.id, &[1], FlagOperation::Add, &Flags::seen(), None)
            .await
            .unwrap();
        store.deliver(&message(9), 0, &[to(&inbox)]).await.unwrap();
        store
            .store_flags(
                inbox.id,
                &[3],
                FlagOperation::Add,
                &Flags::new(SystemFlags::DELETED, []),
                None,
            )
            .await
            .unwrap();
        store.expunge(inbox.id, None).await.unwrap();
        let changes = store.changes_since(inbox.id, mark).await.unwrap();
        let changed: Vec<u32> = changes.changed.iter().map(|m| m.uid).collect();
        assert_eq!(changed, vec![1, 4]);
        assert_eq!(changes.vanished, vec![3]);
        assert!(
            changes
                .changed
                .iter()
                .all(|m| m.modseq > mark && m.modseq <= changes.highest_modseq)
        );
        // What left names its content too (for JMAP's Email/changes), and
        // so does a message moved away.
        let gone = store.vanished_since(inbox.id, mark).await.unwrap();
        assert_eq!(gone.len(), 1);
        assert_eq!((gone[0].uid, gone[0].blob.clone()), (3, Some(BlobId::of(&message(2)))));
        assert_eq!(gone[0].modseq, changes.highest_modseq);
        let archive = store.mailbox_create(alice.id, "Kept").await.unwrap();
        store.copy_messages(inbox.id, &[4], archive.id, true).await.unwrap();
        let gone = store.vanished_since(inbox.id, changes.highest_modseq).await.unwrap();
        assert_eq!(gone.len(), 1);
        assert_eq!((gone[0].uid, gone[0].blob.clone()), (4, Some(BlobId::of(&message(9)))));
        assert!(store.vanished_since(inbox.id, gone[0].modseq).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn rename_carries_children_and_keeps_uidvalidity() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let work = store.mailbox_create(alice.id, "Work").await.unwrap();
        let child = store.mailbox_create(alice.id, "Work/2026").await.unwrap();
        store.mailbox_create(alice.id, "Workshop").await.unwrap();
        store.mailbox_create(alice.id, "100%_sure").await.unwrap();
        store.mailbox_rename(alice.id, "Work", "Jobs").await.unwrap();
        let jobs = store.mailbox_get(alice.id, "Jobs").await.unwrap().unwrap();
        assert_eq!((jobs.id, jobs.uid_validity), (work.id, work.uid_validity));
        assert_eq!(
            store.mailbox_get(alice.id, "Jobs/2026").await.unwrap().unwrap().id,
            child.id
        );
        assert!(
            store.mailbox_get(alice.id, "Workshop").await.unwrap().is_some(),
            "not a child of Work"
        );
        assert!(store.mailbox_get(alice.id, "Work").await.unwrap().is_none());
        store.mailbox_rename(alice.id, "100%_sure", "sure").await.unwrap();

        assert!(matches!(
            store.mailbox_rename(alice.id, "Jobs", "Sent").await,
            Err(StoreError::AlreadyExists(_))
        ));
        assert!(matches!(
            store.mailbox_rename(alice.id, "Jobs", "Jobs/inner").await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.mailbox_rename(alice.id, "Nope", "Other").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store.mailbox_rename(alice.id, "Jobs", "inbox").await,
            Err(StoreError::Invalid(_))
        ));
    }
}

#[tokio::test]
async fn renaming_inbox_moves_its_messages_and_leaves_it_empty() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let inbox = inbox(store, &alice).await;
        for n in 0..2 {
            store.deliver(&message(n), 0, &[to(&inbox)]).await.unwrap();
        }
        store.mailbox_rename(alice.id, "INBOX", "Old mail").await.unwrap();
        let old = store.mailbox_get(alice.id, "Old mail").await.unwrap().unwrap();
        assert_ne!(old.uid_validity, inbox.uid_validity);
        assert_eq!(store.messages(old.id).await.unwrap().len(), 2);
        assert!(store.messages(inbox.id).await.unwrap().is_empty());
        assert_eq!(store.changes_since(inbox.id, 1).await.unwrap().vanished, vec![1, 2]);
        let contents: Vec<_> = store
            .vanished_since(inbox.id, 1)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.blob)
            .collect();
        assert_eq!(contents, [Some(BlobId::of(&message(0))), Some(BlobId::of(&message(1)))]);
        // INBOX never reuses those UIDs.
        let next = store.deliver(&message(5), 0, &[to(&inbox)]).await.unwrap();
        assert_eq!(next[0].uid, 3);
        assert!(store.verify(false).await.unwrap().is_healthy());
    }
}

#[tokio::test]
async fn delete_and_subscribe() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let lists = store.mailbox_create(alice.id, "Lists").await.unwrap();
        store.deliver(&message(1), 0, &[to(&lists)]).await.unwrap();
        store.mailbox_subscribe(alice.id, "Lists", false).await.unwrap();
        assert!(!store.mailbox_get(alice.id, "Lists").await.unwrap().unwrap().subscribed);
        store.mailbox_delete(alice.id, "Lists").await.unwrap();
        assert!(store.mailbox_get(alice.id, "Lists").await.unwrap().is_none());
        assert_eq!(blob_count(&backend).await, 0, "its messages' blobs went with it");
        assert!(matches!(
            store.mailbox_delete(alice.id, "INBOX").await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.mailbox_delete(alice.id, "Lists").await,
            Err(StoreError::NotFound(_))
        ));
        // A name may be subscribed without a mailbox (RFC 9051 6.3.7).
        store.mailbox_subscribe(alice.id, "Lists", true).await.unwrap();
        assert_eq!(store.dangling_subscriptions(alice.id).await.unwrap(), ["Lists"]);
        // Recreated, the name gets a new UIDVALIDITY (RFC 9051 2.3.1.1).
        let again = store.mailbox_create(alice.id, "Lists").await.unwrap();
        assert!(again.uid_validity > lists.uid_validity);
    }
}

/// A session may still hold a deleted mailbox or account by id (another
/// session deleted it); if a new one could take that id, the old session
/// would read and write someone else's messages. SQLite hands a deleted
/// table's highest rowid out again unless told otherwise.
#[tokio::test]
async fn ids_of_deleted_mailboxes_and_accounts_are_never_given_again() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let newest = store.mailbox_create(alice.id, "Newest").await.unwrap();
        store.mailbox_delete(alice.id, "Newest").await.unwrap();
        let next = store.mailbox_create(alice.id, "Next").await.unwrap();
        assert!(
            next.id.0 > newest.id.0,
            "{}: mailbox id {} given again",
            backend.name,
            newest.id.0
        );

        let bob = account(store, "bob@example.com").await;
        let bobs_last = store
            .mailbox_list(bob.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id.0)
            .max()
            .unwrap();
        store.account_remove("bob@example.com").await.unwrap();
        let carol = account(store, "carol@example.com").await;
        assert!(
            carol.id.0 > bob.id.0,
            "{}: account id {} given again",
            backend.name,
            bob.id.0
        );
        for mailbox in store.mailbox_list(carol.id).await.unwrap() {
            assert!(
                mailbox.id.0 > bobs_last,
                "{}: a deleted account's mailbox id came back",
                backend.name
            );
        }
    }
}

#[tokio::test]
async fn append_messages_is_one_transaction_in_order() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let inbox = inbox(store, &alice).await;
        let batch = |n: usize| {
            (0..n)
                .map(|i| estafeta_store::NewMessage {
                    data: message(i),
                    internal_date: 1_700_000_000 + i as i64,
                    date_zone: if i == 2 { -420 } else { 0 },
                    flags: if i == 1 { Flags::seen() } else { Flags::default() },
                })
                .collect::<Vec<_>>()
        };
        let uids = store.append_messages(inbox.id, batch(3)).await.unwrap();
        assert_eq!(uids, [1, 2, 3]);
        let stored = store.messages(inbox.id).await.unwrap();
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[1].flags, Flags::seen());
        assert_eq!(stored[2].internal_date, 1_700_000_002);
        // The zone APPEND gave stays with the message, and with its copies.
        assert_eq!((stored[0].date_zone, stored[2].date_zone), (0, -420));
        let archive = store.mailbox_get(alice.id, "Archive").await.unwrap().unwrap();
        store.copy_messages(inbox.id, &[3], archive.id, false).await.unwrap();
        assert_eq!(
            store.messages(archive.id).await.unwrap()[0].date_zone,
            -420,
            "{}",
            backend.name
        );
        // Into a mailbox that does not exist: nothing at all is stored.
        let missing = estafeta_core::model::MailboxId(9_999);
        assert!(store.append_messages(missing, batch(2)).await.is_err());
        assert_eq!(store.messages(inbox.id).await.unwrap().len(), 3);
        assert!(store.verify(false).await.unwrap().is_healthy());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_moves_at_once_keep_every_message_once() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let inbox = inbox(store, &alice).await;
        let archive = store.mailbox_get(alice.id, "Archive").await.unwrap().unwrap();
        for n in 0..20 {
            let target = if n % 2 == 0 { &inbox } else { &archive };
            store.deliver(&message(n), 0, &[to(target)]).await.unwrap();
        }
        // Each task moves everything from one mailbox to the other, both at
        // once: the databases lock the two mailboxes in opposite orders.
        let mut tasks = Vec::new();
        for (from, into) in [(inbox.id, archive.id), (archive.id, inbox.id)] {
            let store = backend.store.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    let uids: Vec<u32> = store.messages(from).await.unwrap().iter().map(|m| m.uid).collect();
                    store.copy_messages(from, &uids, into, true).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let total = store.messages(inbox.id).await.unwrap().len() + store.messages(archive.id).await.unwrap().len();
        assert_eq!(total, 20, "{}: no message lost or doubled", backend.name);
        assert!(store.verify(false).await.unwrap().is_healthy(), "{}", backend.name);
    }
}

#[tokio::test]
async fn recent_is_claimed_once_however_many_sessions_ask_at_once() {
    // RFC 3501 2.3.2: one session, and only one, is first to see a message.
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let inbox = inbox(store, &alice).await;
        assert_eq!(store.recent_mark(inbox.id).await.unwrap(), 0);
        let claims: Vec<_> = (0..8)
            .map(|_| {
                let store = std::sync::Arc::clone(&backend.store);
                tokio::spawn(async move { store.recent_claim(inbox.id, 5).await.unwrap() })
            })
            .collect();
        let mut found = Vec::new();
        for claim in claims {
            found.push(claim.await.unwrap());
        }
        // Each claim saw the mark before it: exactly one saw 0.
        assert_eq!(found.iter().filter(|&&before| before == 0).count(), 1, "{found:?}");
        assert_eq!(store.recent_mark(inbox.id).await.unwrap(), 5);
        // The mark never goes down.
        assert_eq!(store.recent_claim(inbox.id, 3).await.unwrap(), 5);
        assert_eq!(store.recent_mark(inbox.id).await.unwrap(), 5);
    }
}

#[tokio::test]
async fn a_subscription_may_come_before_its_mailbox_and_outlive_it() {
    // RFC 9051 6.3.7: any name may be subscribed; 6.3.4: deleting a
    // mailbox does not unsubscribe it.
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        store.mailbox_subscribe(alice.id, "Later", true).await.unwrap();
        assert_eq!(store.dangling_subscriptions(alice.id).await.unwrap(), ["Later"]);
        // Created, the mailbox takes the subscription over.
        let later = store.mailbox_create(alice.id, "Later").await.unwrap();
        assert!(later.subscribed);
        assert!(store.dangling_subscriptions(alice.id).await.unwrap().is_empty());
        store.mailbox_delete(alice.id, "Later").await.unwrap();
        assert_eq!(store.dangling_subscriptions(alice.id).await.unwrap(), ["Later"]);
        // An unsubscribed mailbox leaves nothing behind.
        store.mailbox_create(alice.id, "Gone").await.unwrap();
        store.mailbox_subscribe(alice.id, "Gone", false).await.unwrap();
        store.mailbox_delete(alice.id, "Gone").await.unwrap();
        assert_eq!(store.dangling_subscriptions(alice.id).await.unwrap(), ["Later"]);
        // A mailbox of no role is created unsubscribed; renamed onto a
        // subscribed name, it takes that subscription over too.
        let plain = store.mailbox_create(alice.id, "Plain").await.unwrap();
        assert!(!plain.subscribed);
        store.mailbox_rename(alice.id, "Plain", "Later").await.unwrap();
        let renamed = store.mailbox_get(alice.id, "Later").await.unwrap().unwrap();
        assert!(renamed.subscribed, "{}", backend.name);
        assert!(store.dangling_subscriptions(alice.id).await.unwrap().is_empty());
        store.mailbox_subscribe(alice.id, "Later", false).await.unwrap();
        store.mailbox_delete(alice.id, "Later").await.unwrap();
        assert!(store.dangling_subscriptions(alice.id).await.unwrap().is_empty());
        assert!(matches!(
            store.mailbox_subscribe(alice.id, "Never", false).await,
            Err(StoreError::NotFound(_))
        ));
        // Removing the account removes its subscriptions.
        store.mailbox_subscribe(alice.id, "Elsewhere", true).await.unwrap();
        store.account_remove("alice@example.com").await.unwrap();
        let again = account(store, "alice@example.com").await;
        assert!(store.dangling_subscriptions(again.id).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_message_without_a_last_line_break_is_known_by_its_blob() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let inbox = inbox(store, &alice).await;
        let bodies: [&[u8]; 3] = [b"Subject: a\r\n\r\nends\r\n", b"Subject: b\r\n\r\nno end", b""];
        let new = bodies
            .iter()
            .map(|data| estafeta_store::NewMessage {
                data: data.to_vec(),
                internal_date: 1_700_000_000,
                date_zone: 0,
                flags: Flags::default(),
            })
            .collect();
        store.append_messages(inbox.id, new).await.unwrap();
        let blobs: Vec<_> = store
            .messages(inbox.id)
            .await
            .unwrap()
            .into_iter()
            .map(|meta| meta.blob)
            .collect();
        assert_eq!(
            store.messages_lacking_final_line_break(&blobs).await,
            [false, true, false],
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn messages_holding_a_content_are_the_accounts_own() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let bob = account(store, "bob@example.com").await;
        let (alice_inbox, bob_inbox) = (inbox(store, &alice).await, inbox(store, &bob).await);
        let kept = store.mailbox_create(alice.id, "Kept").await.unwrap();
        let shared = message(1);
        store
            .deliver(&shared, 7, &[to(&alice_inbox), to(&kept), to(&bob_inbox)])
            .await
            .unwrap();
        store.deliver(&message(2), 8, &[to(&alice_inbox)]).await.unwrap();
        let blob = BlobId::of(&shared);
        let mut found: Vec<_> = store
            .messages_holding(alice.id, std::slice::from_ref(&blob))
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.mailbox, m.blob, m.internal_date))
            .collect();
        found.sort();
        let mut expected = vec![(alice_inbox.id, blob.clone(), 7), (kept.id, blob.clone(), 7)];
        expected.sort();
        assert_eq!(found, expected);
        assert_eq!(
            store
                .messages_holding(bob.id, std::slice::from_ref(&blob))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            store
                .messages_holding(bob.id, &[BlobId::of(&message(2))])
                .await
                .unwrap()
                .is_empty()
        );
    }
}
