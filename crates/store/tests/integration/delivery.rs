use crate::common::*;
use estafeta_core::bus::Change;
use estafeta_core::model::{Flags, SystemFlags};
use estafeta_store::{DeliveryTarget, FlagOperation, StoreError};
use std::collections::BTreeSet;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_get_unique_increasing_uids_and_modseqs() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let inbox = inbox(store, &alice).await;
        let store = backend.store.clone();
        let tasks: Vec<_> = (0..50)
            .map(|task| {
                let (store, target) = (Arc::clone(&store), to(&inbox));
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    for n in 0..20 {
                        let delivered = store
                            .deliver(&message(task * 100 + n), 1_700_000_000, std::slice::from_ref(&target))
                            .await
                            .unwrap();
                        got.push(delivered[0]);
                    }
                    got
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            let got = task.await.unwrap();
            // Within one task, later deliveries get later UIDs and MODSEQs.
            assert!(got.windows(2).all(|w| w[0].uid < w[1].uid && w[0].modseq < w[1].modseq));
            all.extend(got);
        }
        let uids: BTreeSet<u32> = all.iter().map(|d| d.uid).collect();
        assert_eq!(uids.len(), 1000, "every UID unique");
        assert_eq!(
            uids,
            (1..=1000).collect(),
            "no gaps: each transaction took exactly its UIDs"
        );
        let modseqs: BTreeSet<u64> = all.iter().map(|d| d.modseq).collect();
        assert_eq!(modseqs.len(), 1000, "every MODSEQ unique");
        all.sort_by_key(|d| d.uid);
        assert!(
            all.windows(2).all(|w| w[0].modseq < w[1].modseq),
            "MODSEQ follows UID order"
        );

        let mailbox = store.mailbox_by_id(inbox.id).await.unwrap().unwrap();
        assert_eq!(mailbox.uid_next, 1001);
        assert_eq!(mailbox.highest_modseq, all.last().unwrap().modseq);
        let listed = store.messages(inbox.id).await.unwrap();
        assert_eq!(listed.len(), 1000);
        assert!(store.verify(false).await.unwrap().is_healthy());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_to_fifty_recipients_stores_one_blob() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let mut targets = Vec::new();
        for n in 0..50 {
            let account = account(store, &format!("user{n}@example.com")).await;
            targets.push(to(&inbox(store, &account).await));
        }
        let delivered = store.deliver(&message(1), 1_700_000_000, &targets).await.unwrap();
        assert_eq!(delivered.len(), 50);
        assert!(delivered.iter().all(|d| d.uid == 1));
        assert_eq!(blob_count(&backend).await, 1);
        let first = store.messages(targets[0].mailbox).await.unwrap();
        let last = store.messages(targets[49].mailbox).await.unwrap();
        assert_eq!(first[0].blob, last[0].blob);
        assert_eq!(store.message_content(&first[0].blob).await.unwrap(), message(1));
    }
}

#[tokio::test]
async fn expunging_the_last_reference_removes_the_blob() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let bob = account(store, "bob@example.com").await;
        let carol = account(store, "carol@example.com").await;
        let (bob_inbox, carol_inbox) = (inbox(store, &bob).await, inbox(store, &carol).await);
        store
            .deliver(&message(7), 0, &[to(&bob_inbox), to(&carol_inbox)])
            .await
            .unwrap();
        let blob = store.messages(bob_inbox.id).await.unwrap()[0].blob.clone();
        let deleted = Flags::new(SystemFlags::DELETED, []);

        store
            .store_flags(bob_inbox.id, &[1], FlagOperation::Add, &deleted, None)
            .await
            .unwrap();
        assert_eq!(store.expunge(bob_inbox.id, None).await.unwrap(), vec![1]);
        assert_eq!(blob_count(&backend).await, 1, "carol still refers to it");
        assert!(store.message_content(&blob).await.is_ok());

        store
            .store_flags(carol_inbox.id, &[1], FlagOperation::Add, &deleted, None)
            .await
            .unwrap();
        assert_eq!(store.expunge(carol_inbox.id, Some(&[1])).await.unwrap(), vec![1]);
        assert_eq!(blob_count(&backend).await, 0, "last reference gone, file gone");
        assert!(matches!(
            store.message_content(&blob).await,
            Err(StoreError::BlobMissing(_))
        ));

        // The same content delivered again is written again.
        store.deliver(&message(7), 0, &[to(&bob_inbox)]).await.unwrap();
        assert_eq!(blob_count(&backend).await, 1);
        assert!(store.verify(false).await.unwrap().is_healthy());
    }
}

#[tokio::test]
async fn expunge_takes_only_deleted_messages_in_the_set() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let dave = account(store, "dave@example.com").await;
        let inbox = inbox(store, &dave).await;
        for n in 0..4 {
            store.deliver(&message(n), 0, &[to(&inbox)]).await.unwrap();
        }
        let deleted = Flags::new(SystemFlags::DELETED, []);
        store
            .store_flags(inbox.id, &[1, 2, 3], FlagOperation::Add, &deleted, None)
            .await
            .unwrap();
        // RFC 4315 UID EXPUNGE: only the given UIDs, and only if \Deleted.
        assert_eq!(store.expunge(inbox.id, Some(&[2, 4])).await.unwrap(), vec![2]);
        assert_eq!(store.expunge(inbox.id, None).await.unwrap(), vec![1, 3]);
        let left: Vec<u32> = store.messages(inbox.id).await.unwrap().iter().map(|m| m.uid).collect();
        assert_eq!(left, vec![4]);
        // UIDs are never reused.
        let again = store.deliver(&message(9), 0, &[to(&inbox)]).await.unwrap();
        assert_eq!(again[0].uid, 5);
    }
}

#[tokio::test]
async fn flags_add_remove_replace_and_unchangedsince() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let erin = account(store, "erin@example.com").await;
        let inbox = inbox(store, &erin).await;
        let delivered = store
            .deliver(
                &message(1),
                0,
                &[DeliveryTarget {
                    mailbox: inbox.id,
                    flags: Flags::seen(),
                }],
            )
            .await
            .unwrap();
        let start = delivered[0].modseq;

        let flagged = Flags::new(SystemFlags::FLAGGED, ["$Work".to_owned()]);
        let changes = store
            .store_flags(inbox.id, &[1], FlagOperation::Add, &flagged, None)
            .await
            .unwrap();
        assert_eq!(changes.len(), 1);
        assert!(changes[0].modseq > start);
        assert!(changes[0].flags.system.contains(SystemFlags::SEEN));
        assert!(changes[0].flags.system.contains(SystemFlags::FLAGGED));
        assert_eq!(changes[0].flags.keywords, vec!["$Work"]);

        // Adding what is already there changes nothing and takes no MODSEQ.
        assert!(
            store
                .store_flags(inbox.id, &[1], FlagOperation::Add, &flagged, None)
                .await
                .unwrap()
                .is_empty()
        );

        // RFC 7162 3.1.3: modified since `start`, so UNCHANGEDSINCE start skips it.
        let none = store
            .store_flags(inbox.id, &[1], FlagOperation::Remove, &flagged, Some(start))
            .await
            .unwrap();
        assert!(none.is_empty());

        let replaced = store
            .store_flags(inbox.id, &[1], FlagOperation::Replace, &Flags::default(), None)
            .await
            .unwrap();
        assert_eq!(replaced[0].flags, Flags::default());
        let stored = &store.messages(inbox.id).await.unwrap()[0];
        assert_eq!(stored.flags, Flags::default());
        assert_eq!(stored.modseq, replaced[0].modseq);
    }
}

#[tokio::test]
async fn changes_are_published_after_commit() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let frank = account(store, "frank@example.com").await;
        let inbox = inbox(store, &frank).await;
        let mut changes = store.changes().subscribe();
        let delivered = store.deliver(&message(1), 0, &[to(&inbox)]).await.unwrap();
        let change = changes.recv().await.unwrap();
        assert_eq!(
            change,
            Change::Mailbox {
                account: frank.id,
                mailbox: inbox.id,
                highest_modseq: delivered[0].modseq
            }
        );
    }
}

#[tokio::test]
async fn a_failed_write_does_not_spoil_its_batch() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let gina = account(store, "gina@example.com").await;
        let inbox = inbox(store, &gina).await;
        let store = backend.store.clone();
        let bogus = DeliveryTarget {
            mailbox: estafeta_core::model::MailboxId(999_999),
            flags: Flags::default(),
        };
        let mut tasks = Vec::new();
        for n in 0..40usize {
            let store = Arc::clone(&store);
            let target = if n.is_multiple_of(4) { bogus.clone() } else { to(&inbox) };
            tasks.push(tokio::spawn(
                async move { store.deliver(&message(n), 0, &[target]).await },
            ));
        }
        let mut ok = 0;
        for (n, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(error) => assert!(
                    n.is_multiple_of(4) && matches!(error, StoreError::NotFound(_)),
                    "{n}: {error}"
                ),
            }
        }
        assert_eq!(ok, 30);
        assert_eq!(store.messages(inbox.id).await.unwrap().len(), 30);
        let report = store.verify(false).await.unwrap();
        assert!(report.is_healthy(), "{report:?}");
    }
}

#[tokio::test]
async fn queue_keeps_envelope_and_dsn_parameters() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let entry = estafeta_store::NewQueuedMessage {
            sender: "alice@example.com".into(),
            recipients: vec![
                estafeta_store::QueueRecipient {
                    address: "x@remote.test".into(),
                    orcpt: Some("rfc822;x@remote.test".into()),
                    notify: Some("SUCCESS,FAILURE".into()),
                },
                estafeta_store::QueueRecipient {
                    address: "y@remote.test".into(),
                    ..Default::default()
                },
            ],
            envid: Some("QQ314159".into()),
            ret: Some("HDRS".into()),
        };
        let id = store.queue_insert(&message(1), &entry).await.unwrap();
        let queued = store.queue_list().await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].id, id);
        assert_eq!(queued[0].sender, "alice@example.com");
        assert_eq!(queued[0].envid.as_deref(), Some("QQ314159"));
        assert_eq!(queued[0].recipients[0].recipient, entry.recipients[0]);
        assert_eq!(queued[0].recipients[1].status, estafeta_store::RecipientStatus::Pending);
        assert_eq!(store.message_content(&queued[0].blob).await.unwrap(), message(1));
        assert_eq!(blob_count(&backend).await, 1);

        let twice = estafeta_store::NewQueuedMessage {
            recipients: vec![entry.recipients[1].clone(); 2],
            ..entry.clone()
        };
        assert!(matches!(
            store.queue_insert(&message(2), &twice).await,
            Err(StoreError::Invalid(_))
        ));
        let empty = estafeta_store::NewQueuedMessage {
            recipients: vec![],
            ..entry
        };
        assert!(matches!(
            store.queue_insert(&message(3), &empty).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(store.queue_list().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn an_acceptance_is_written_whole_or_not_at_all() {
    use estafeta_store::{Acceptance, Composed, LocalCopy, NewQueuedMessage, QueueRecipient, QueuedCopy};
    // Each copy is its own head before the content the copies share.
    let composed = |n: usize| {
        Composed::new(
            format!("Return-Path: <x{n}@remote.test>\r\n").into_bytes(),
            std::sync::Arc::new(message(n)),
        )
    };
    for backend in backends().await {
        let store = backend.store.as_ref();
        let hana = account(store, "hana@example.com").await;
        let inbox = inbox(store, &hana).await;
        let queued = || {
            Some(QueuedCopy {
                message: composed(3),
                entry: NewQueuedMessage {
                    sender: "x@remote.test".into(),
                    recipients: vec![QueueRecipient {
                        address: "far@remote.test".into(),
                        ..Default::default()
                    }],
                    envid: None,
                    ret: None,
                },
            })
        };
        let copy = |n, target| LocalCopy {
            message: composed(n),
            targets: vec![target],
        };
        let bogus = DeliveryTarget {
            mailbox: estafeta_core::model::MailboxId(999_999),
            flags: Flags::default(),
        };
        // The second verdict group fails: the first group's copy and the
        // queue entry must not stay behind (a retry would duplicate them).
        let failing = Acceptance {
            internal_date: 0,
            local: vec![copy(1, to(&inbox)), copy(2, bogus)],
            queued: queued(),
        };
        let error = store.accept(failing).await.unwrap_err();
        assert!(matches!(error, StoreError::NotFound(_)), "{}: {error}", backend.name);
        assert!(store.messages(inbox.id).await.unwrap().is_empty(), "{}", backend.name);
        assert!(store.queue_list().await.unwrap().is_empty(), "{}", backend.name);
        let whole = Acceptance {
            internal_date: 0,
            local: vec![copy(1, to(&inbox))],
            queued: queued(),
        };
        let id = store.accept(whole).await.unwrap().expect("a queue id");
        let stored = store.messages(inbox.id).await.unwrap();
        assert_eq!(stored.len(), 1);
        let content = store.message_content(&stored[0].blob).await.unwrap();
        assert_eq!(
            content,
            composed(1).to_vec(),
            "{}: head, then the shared content",
            backend.name
        );
        assert_eq!(stored[0].blob, estafeta_store::BlobId::of(&content), "{}", backend.name);
        let queued = store.queue_get(id).await.unwrap().unwrap();
        assert_eq!(queued.recipients.len(), 1);
        assert_eq!(
            store.message_content(&queued.blob).await.unwrap(),
            composed(3).to_vec(),
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn a_conversation_is_numbered_from_its_first_message_id_and_large_mail_too() {
    for backend in backends().await {
        let (store, name) = (backend.store.as_ref(), backend.name);
        let ann = account(store, "ann@threads.test").await;
        let bob = account(store, "bob@threads.test").await;
        let (ann_inbox, bob_inbox) = (inbox(store, &ann).await, inbox(store, &bob).await);
        let first = b"Message-ID: <root@x.test>\r\nSubject: plan\r\n\r\nhi\r\n".to_vec();
        let reply = b"Message-ID: <r1@y.test>\r\nReferences: <root@x.test>\r\n\r\nok\r\n".to_vec();
        // Past what is kept in the database: its header is read all the same.
        let mut large = b"Message-ID: <r2@y.test>\r\nIn-Reply-To: <root@x.test>\r\n\r\n".to_vec();
        large.extend(std::iter::repeat_n(b'x', 300 * 1024));
        let other = b"Message-ID: <other@x.test>\r\nSubject: plan\r\n\r\nhi\r\n".to_vec();
        let mut blobs = Vec::new();
        for message in [&first, &reply, &large, &other] {
            store.deliver(message, 1_700_000_000, &[to(&ann_inbox)]).await.unwrap();
            blobs.push(estafeta_store::BlobId::of(message));
        }
        store.deliver(&reply, 1_700_000_000, &[to(&bob_inbox)]).await.unwrap();
        let roots = store.thread_roots(&blobs).await.unwrap();
        assert_ne!(roots[0], 0, "{name}");
        assert_eq!(
            &roots[..3],
            &[roots[0]; 3],
            "{name}: the conversation shares one number"
        );
        assert_ne!(roots[3], roots[0], "{name}");
        let mut held = store.account_thread_roots(ann.id).await.unwrap();
        held.sort();
        let mut expected: Vec<_> = blobs.iter().cloned().zip(roots.iter().copied()).collect();
        expected.sort();
        assert_eq!(held, expected, "{name}");
        assert_eq!(store.account_thread_roots(bob.id).await.unwrap().len(), 1, "{name}");
        let gone = estafeta_store::BlobId::of(b"never stored");
        assert_eq!(store.thread_roots(&[gone]).await.unwrap(), [0], "{name}");
    }
}

#[tokio::test]
async fn a_messages_conversation_is_remembered_after_its_content_is_gone() {
    for backend in backends().await {
        let (store, name) = (backend.store.as_ref(), backend.name);
        let ann = account(store, "ann@gone.test").await;
        let ann_inbox = inbox(store, &ann).await;
        let reply = b"Message-ID: <r1@y.test>\r\nReferences: <root@x.test>\r\n\r\nok\r\n".to_vec();
        let blob = estafeta_store::BlobId::of(&reply);
        store.deliver(&reply, 1_700_000_000, &[to(&ann_inbox)]).await.unwrap();
        let root = store.thread_roots(std::slice::from_ref(&blob)).await.unwrap()[0];
        assert_ne!(root, 0, "{name}");
        let deleted = Flags::new(SystemFlags::DELETED, Vec::<String>::new());
        store
            .store_flags(ann_inbox.id, &[1], FlagOperation::Add, &deleted, None)
            .await
            .unwrap();
        assert_eq!(store.expunge(ann_inbox.id, None).await.unwrap(), vec![1], "{name}");
        assert_eq!(blob_count(&backend).await, 0, "{name}: the content is gone");
        assert_eq!(store.thread_roots(&[blob]).await.unwrap(), [root], "{name}");
    }
}
