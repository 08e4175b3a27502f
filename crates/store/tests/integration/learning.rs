//! The filter's knowledge on both backends: token counts per classifier
//! and scope, taking training back, correspondents, greylisting, and an
//! account's erasure taking its knowledge along.

use crate::common::*;
use estafeta_store::{Classifier, Greylisting, ModelScope, Training};

const SERVER_SPAM: ModelScope = ModelScope {
    classifier: Classifier::Spam,
    account: None,
};

#[tokio::test]
async fn token_counts_add_up_per_class_and_scope() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let mut training = Training::new();
        training.add(1, &[10, 20, u64::MAX], false);
        training.add(1, &[10], false);
        training.add(0, &[20, 30], false);
        store.tokens_learn(SERVER_SPAM, &training).await.unwrap();

        let counts = store
            .tokens_get(SERVER_SPAM, &[10, 20, 30, 40, u64::MAX])
            .await
            .unwrap();
        assert_eq!(counts.totals.get(&1), Some(&2), "{}", backend.name);
        assert_eq!(counts.totals.get(&0), Some(&1));
        assert_eq!(counts.tokens[&10].get(&1), Some(&2));
        assert_eq!(counts.tokens[&10].get(&0), None);
        assert_eq!((counts.tokens[&20][&1], counts.tokens[&20][&0]), (1, 1));
        assert_eq!(counts.tokens[&u64::MAX][&1], 1, "tokens use all 64 bits");
        assert!(!counts.tokens.contains_key(&40));

        // Another scope and another classifier see nothing of it.
        let own = ModelScope {
            classifier: Classifier::Spam,
            account: Some(alice.id),
        };
        assert!(store.tokens_get(own, &[10]).await.unwrap().tokens.is_empty());
        let tabs = ModelScope {
            classifier: Classifier::Tabs,
            account: None,
        };
        assert!(store.tokens_get(tabs, &[10]).await.unwrap().totals.is_empty());

        // Forgetting takes a message back out; counts stop at zero.
        let mut forget = Training::new();
        forget.add(1, &[10, 20], true);
        forget.add(0, &[30], true);
        forget.add(0, &[30], true);
        store.tokens_learn(SERVER_SPAM, &forget).await.unwrap();
        let counts = store.tokens_get(SERVER_SPAM, &[10, 20, 30]).await.unwrap();
        assert_eq!(counts.totals.get(&1), Some(&1));
        assert_eq!(counts.totals.get(&0).copied().unwrap_or(0), 0);
        assert_eq!(counts.tokens[&10].get(&1), Some(&1));
        assert_eq!(counts.tokens[&20].get(&1), None);
        assert!(!counts.tokens.contains_key(&30));
    }
}

#[tokio::test]
async fn erasing_an_account_erases_what_was_learned_from_it() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let own = ModelScope {
            classifier: Classifier::Spam,
            account: Some(alice.id),
        };
        let mut training = Training::new();
        training.add(1, &[7], false);
        store.tokens_learn(own, &training).await.unwrap();
        store.tokens_learn(SERVER_SPAM, &training).await.unwrap();
        store
            .correspondents_add(alice.id, &["Bob@Example.NET".into()], 100)
            .await
            .unwrap();
        assert!(store.correspondent_known(alice.id, "bob@example.net").await.unwrap());
        assert!(!store.correspondent_known(alice.id, "carol@example.net").await.unwrap());
        store
            .sent_ids_add(alice.id, &["a1@example.com".into(), "a2@example.com".into()], 100)
            .await
            .unwrap();
        let asks = |ids: &[&str]| ids.iter().map(|id| (*id).to_owned()).collect::<Vec<String>>();
        assert!(
            store
                .sent_id_known(alice.id, &asks(&["x@y", "a2@example.com"]))
                .await
                .unwrap()
        );
        assert!(!store.sent_id_known(alice.id, &asks(&["x@y"])).await.unwrap());
        assert!(!store.sent_id_known(alice.id, &[]).await.unwrap());

        store.account_remove("alice@example.com").await.unwrap();
        assert!(
            store.tokens_get(own, &[7]).await.unwrap().tokens.is_empty(),
            "{}",
            backend.name
        );
        assert!(!store.correspondent_known(alice.id, "bob@example.net").await.unwrap());
        assert!(!store.sent_id_known(alice.id, &asks(&["a1@example.com"])).await.unwrap());
        // The server's model is not the account's data.
        assert_eq!(store.tokens_get(SERVER_SPAM, &[7]).await.unwrap().tokens[&7][&1], 1);
    }
}

#[tokio::test]
async fn greylisting_defers_then_passes_a_patient_retry() {
    let rules = Greylisting {
        delay: 300,
        retry_window: 4 * 3600,
        lifetime: 36 * 86400,
    };
    for backend in backends().await {
        let store = backend.store.as_ref();
        let key = "192.0.2.0/24 a@x.test b@y.test";
        assert!(
            !store.greylist_check(key, 1000, rules).await.unwrap(),
            "{}",
            backend.name
        );
        assert!(!store.greylist_check(key, 1100, rules).await.unwrap(), "too early");
        assert!(store.greylist_check(key, 1300, rules).await.unwrap(), "after the delay");
        assert!(
            store.greylist_check(key, 1301 + 86400, rules).await.unwrap(),
            "remembered"
        );
        assert!(
            !store
                .greylist_check(key, 1301 + 86400 + rules.lifetime + 1, rules)
                .await
                .unwrap(),
            "forgotten"
        );

        // A retry that comes too late starts over.
        let late = "198.51.100.0/24 c@x.test d@y.test";
        assert!(!store.greylist_check(late, 1000, rules).await.unwrap());
        assert!(
            !store
                .greylist_check(late, 1000 + rules.retry_window + 1, rules)
                .await
                .unwrap()
        );
        assert!(
            store
                .greylist_check(late, 1000 + rules.retry_window + 301, rules)
                .await
                .unwrap()
        );
    }
}
