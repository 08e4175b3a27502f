//! Identities on both backends: slots per account, the next free one for
//! a new identity, updates in place, removal, a cap, and all of them gone
//! with the account.

use crate::common::*;
use estafeta_store::identity::MAX_IDENTITIES;
use estafeta_store::{Identity, StoreError};

fn identity(slot: i64, name: &str, email: &str) -> Identity {
    Identity {
        slot,
        name: name.into(),
        email: email.into(),
        reply_to: r#"[{"name":null,"email":"desk@id.test"}]"#.into(),
        bcc: String::new(),
        text_signature: "-- \nAnn".into(),
        html_signature: "<p>Ann</p>".into(),
    }
}

#[tokio::test]
async fn identities_take_slots_per_account_and_go_with_it() {
    for backend in backends().await {
        let (store, name) = (backend.store.as_ref(), backend.name);
        let ann = account(store, "ann@id.test").await;
        let bob = account(store, "bob@id.test").await;
        assert!(store.identities(ann.id).await.unwrap().is_empty(), "{name}");

        // New ones take the next slot above 0; slot 0 is written in place.
        let first = store
            .identity_put(ann.id, &identity(-1, "Ann", "ann@id.test"))
            .await
            .unwrap();
        let second = store
            .identity_put(ann.id, &identity(-1, "Sales", "sales@id.test"))
            .await
            .unwrap();
        assert_eq!((first, second), (1, 2), "{name}");
        assert_eq!(
            store
                .identity_put(ann.id, &identity(0, "Ann S.", "ann@id.test"))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .identity_put(bob.id, &identity(-1, "Bob", "bob@id.test"))
                .await
                .unwrap(),
            1
        );

        let mut changed = identity(second, "Sales team", "sales@id.test");
        changed.bcc = r#"[{"name":null,"email":"archive@id.test"}]"#.into();
        assert_eq!(store.identity_put(ann.id, &changed).await.unwrap(), second);
        let held = store.identities(ann.id).await.unwrap();
        assert_eq!(held.iter().map(|i| i.slot).collect::<Vec<_>>(), [0, 1, 2], "{name}");
        assert_eq!(held[2], changed, "{name}");
        assert_eq!(held[0].name, "Ann S.", "{name}");

        assert!(store.identity_delete(ann.id, second).await.unwrap(), "{name}");
        assert!(!store.identity_delete(ann.id, second).await.unwrap(), "{name}");
        // Bob's slot 1 is his own: untouched by Ann's writes and removals.
        let bobs = store.identities(bob.id).await.unwrap();
        assert_eq!((bobs.len(), bobs[0].name.as_str()), (1, "Bob"), "{name}");
        assert!(store.identity_delete(bob.id, first).await.unwrap(), "{name}");
        assert_eq!(store.identities(ann.id).await.unwrap().len(), 2, "{name}");

        // A cap on how many.
        for n in store.identities(ann.id).await.unwrap().len()..MAX_IDENTITIES {
            store
                .identity_put(ann.id, &identity(-1, &format!("n{n}"), "ann@id.test"))
                .await
                .unwrap();
        }
        let over = store
            .identity_put(ann.id, &identity(-1, "one more", "ann@id.test"))
            .await;
        assert!(matches!(over, Err(StoreError::Invalid(_))), "{name}: {over:?}");

        store.account_remove("ann@id.test").await.unwrap();
        let again = account(store, "ann@id.test").await;
        assert!(store.identities(again.id).await.unwrap().is_empty(), "{name}");
    }
}
