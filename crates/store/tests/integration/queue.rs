//! The outbound queue's life cycle on both backends: claim under a lease,
//! outcomes recorded per recipient, release for a retry or removal, and
//! the administrator's retry and remove.

use crate::common::*;
use estafeta_store::{NewQueuedMessage, QueueRecipient, RecipientOutcome, RecipientStatus, StoreError};
use std::time::Duration;

fn entry(recipients: &[&str]) -> NewQueuedMessage {
    NewQueuedMessage {
        sender: "alice@example.com".into(),
        recipients: recipients
            .iter()
            .map(|address| QueueRecipient {
                address: (*address).into(),
                ..Default::default()
            })
            .collect(),
        envid: None,
        ret: None,
    }
}

fn outcome(address: &str, status: RecipientStatus, reply: &str) -> RecipientOutcome {
    RecipientOutcome {
        address: address.into(),
        status,
        reply: reply.into(),
    }
}

const LEASE: Duration = Duration::from_secs(600);

#[tokio::test]
async fn a_claimed_message_is_leased_to_one_worker() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let first = store
            .queue_insert(&message(1), &entry(&["a@remote.test"]))
            .await
            .unwrap();
        let second = store
            .queue_insert(&message(2), &entry(&["b@remote.test"]))
            .await
            .unwrap();
        let claimed = store.queue_claim("w1", 1, LEASE).await.unwrap();
        assert_eq!(
            claimed.iter().map(|m| m.id).collect::<Vec<_>>(),
            [first],
            "oldest first, up to the limit"
        );
        let claimed = store.queue_claim("w2", 10, LEASE).await.unwrap();
        assert_eq!(
            claimed.iter().map(|m| m.id).collect::<Vec<_>>(),
            [second],
            "the leased one is skipped"
        );
        assert!(store.queue_claim("w3", 10, LEASE).await.unwrap().is_empty());
        // Only the holder may record or release.
        let error = store
            .queue_record(
                first,
                "w2",
                &[outcome("a@remote.test", RecipientStatus::Delivered, "250")],
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::InUse(_)), "{error}");
        assert!(matches!(
            store.queue_release(first, "w2", 0, false).await,
            Err(StoreError::InUse(_))
        ));
    }
}

#[tokio::test]
async fn outcomes_are_kept_and_only_pending_recipients_are_claimed_again() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let id = store
            .queue_insert(
                &message(1),
                &entry(&["a@remote.test", "b@remote.test", "c@remote.test"]),
            )
            .await
            .unwrap();
        let claimed = store.queue_claim("w1", 10, LEASE).await.unwrap();
        assert_eq!(claimed[0].recipients.len(), 3);
        assert_eq!((claimed[0].attempts, claimed[0].warned), (0, false));
        store
            .queue_record(
                id,
                "w1",
                &[
                    outcome("a@remote.test", RecipientStatus::Delivered, "250 2.0.0 ok"),
                    outcome("b@remote.test", RecipientStatus::Failed, "550 5.1.1 no such user"),
                    outcome("c@remote.test", RecipientStatus::Pending, "451 4.7.1 greylisted"),
                ],
            )
            .await
            .unwrap();
        // Due again at once (time 0), one attempt counted, warned kept.
        assert!(!store.queue_release(id, "w1", 0, true).await.unwrap());
        let shown = store.queue_get(id).await.unwrap().unwrap();
        assert_eq!((shown.attempts, shown.warned), (1, true));
        let statuses: Vec<_> = shown
            .recipients
            .iter()
            .map(|r| (r.status, r.attempts, r.last_reply.clone().unwrap()))
            .collect();
        assert_eq!(
            statuses,
            [
                (RecipientStatus::Delivered, 1, "250 2.0.0 ok".to_owned()),
                (RecipientStatus::Failed, 1, "550 5.1.1 no such user".to_owned()),
                (RecipientStatus::Pending, 1, "451 4.7.1 greylisted".to_owned()),
            ]
        );
        let again = store.queue_claim("w2", 10, LEASE).await.unwrap();
        let addresses: Vec<_> = again[0]
            .recipients
            .iter()
            .map(|r| r.recipient.address.as_str())
            .collect();
        assert_eq!(addresses, ["c@remote.test"]);
        store
            .queue_record(id, "w2", &[outcome("c@remote.test", RecipientStatus::Delivered, "250")])
            .await
            .unwrap();
        assert!(
            store.queue_release(id, "w2", 0, false).await.unwrap(),
            "nothing pending: done"
        );
        assert!(store.queue_get(id).await.unwrap().is_none());
        assert_eq!(blob_count(&backend).await, 0, "the content went with it");
    }
}

#[tokio::test]
async fn a_message_scheduled_later_is_not_due_until_retried() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let id = store
            .queue_insert(&message(1), &entry(&["a@remote.test"]))
            .await
            .unwrap();
        store.queue_claim("w1", 10, LEASE).await.unwrap();
        let later = i64::MAX / 2;
        assert!(!store.queue_release(id, "w1", later, false).await.unwrap());
        assert!(store.queue_claim("w1", 10, LEASE).await.unwrap().is_empty());
        assert_eq!(store.queue_retry(Some(id)).await.unwrap(), 1);
        assert_eq!(store.queue_claim("w1", 10, LEASE).await.unwrap().len(), 1);
        store.queue_release(id, "w1", later, false).await.unwrap();
        assert_eq!(store.queue_retry(None).await.unwrap(), 1);
        assert_eq!(store.queue_claim("w1", 10, LEASE).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn an_expired_lease_is_taken_over() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        store
            .queue_insert(&message(1), &entry(&["a@remote.test"]))
            .await
            .unwrap();
        // A one-second lease (the least) from a worker that then died.
        assert_eq!(store.queue_claim("dead", 10, Duration::ZERO).await.unwrap().len(), 1);
        assert!(store.queue_claim("w2", 10, LEASE).await.unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(store.queue_claim("w2", 10, LEASE).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_worker_whose_lease_ran_out_may_not_record_or_renew() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let id = store
            .queue_insert(&message(1), &entry(&["a@remote.test"]))
            .await
            .unwrap();
        assert_eq!(store.queue_claim("w1#1", 10, Duration::ZERO).await.unwrap().len(), 1);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        // Nobody has claimed it again yet, but the lease is over: another
        // claim may start any moment, so the old one is void.
        let delivered = [outcome("a@remote.test", RecipientStatus::Delivered, "250")];
        let error = store.queue_record(id, "w1#1", &delivered).await.unwrap_err();
        assert!(matches!(error, StoreError::InUse(_)), "{}: {error}", backend.name);
        let error = store.queue_renew(id, "w1#1", LEASE).await.unwrap_err();
        assert!(matches!(error, StoreError::InUse(_)), "{}: {error}", backend.name);
        assert!(matches!(
            store.queue_release(id, "w1#1", 0, false).await,
            Err(StoreError::InUse(_))
        ));
        let again = store.queue_claim("w1#2", 10, LEASE).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].recipients.len(), 1, "still pending: nothing was recorded");
    }
}

#[tokio::test]
async fn a_renewed_lease_keeps_other_claims_out() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let id = store
            .queue_insert(&message(1), &entry(&["a@remote.test"]))
            .await
            .unwrap();
        assert_eq!(store.queue_claim("w1#1", 10, Duration::ZERO).await.unwrap().len(), 1);
        for _ in 0..3 {
            store.queue_renew(id, "w1#1", Duration::from_secs(2)).await.unwrap();
            tokio::time::sleep(Duration::from_millis(900)).await;
            assert!(
                store.queue_claim("w2#1", 10, LEASE).await.unwrap().is_empty(),
                "{}: renewed, so not claimable",
                backend.name
            );
        }
        let error = store.queue_renew(id, "w2#1", LEASE).await.unwrap_err();
        assert!(matches!(error, StoreError::InUse(_)), "only the holder renews");
        store
            .queue_record(
                id,
                "w1#1",
                &[outcome("a@remote.test", RecipientStatus::Delivered, "250")],
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn remove_takes_a_message_and_its_content_out() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let id = store
            .queue_insert(&message(1), &entry(&["a@remote.test"]))
            .await
            .unwrap();
        assert!(store.queue_remove(id).await.unwrap());
        assert!(!store.queue_remove(id).await.unwrap());
        assert!(store.queue_list().await.unwrap().is_empty());
        assert_eq!(blob_count(&backend).await, 0);
        let report = store.verify(false).await.unwrap();
        assert!(report.is_healthy(), "{report:?}");
    }
}
