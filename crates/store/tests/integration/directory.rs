use crate::common::*;
use estafeta_core::Address;
use estafeta_core::model::MailboxRole;
use estafeta_store::StoreError;

fn addr(text: &str) -> Address {
    Address::parse(text).unwrap()
}

#[tokio::test]
async fn domains_add_list_remove() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        store.domain_add("Example.COM").await.unwrap();
        store.domain_add("b.test").await.unwrap();
        let names: Vec<String> = store.domain_list().await.unwrap().into_iter().map(|d| d.name).collect();
        assert_eq!(names, vec!["b.test", "example.com"]);
        assert!(store.domain_is_local("EXAMPLE.com").await.unwrap());
        assert!(matches!(
            store.domain_add("example.com").await,
            Err(StoreError::AlreadyExists(_))
        ));
        assert!(matches!(
            store.domain_add("bad_domain!").await,
            Err(StoreError::Invalid(_))
        ));
        store.domain_remove("b.test").await.unwrap();
        assert!(!store.domain_is_local("b.test").await.unwrap());
        assert!(matches!(
            store.domain_remove("b.test").await,
            Err(StoreError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn a_domain_in_use_cannot_be_removed() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        account(store, "a@example.com").await;
        let error = store.domain_remove("example.com").await.unwrap_err();
        assert!(matches!(error, StoreError::InUse(_)), "{error}");
        assert!(error.to_string().contains("1 account"));
    }
}

#[tokio::test]
async fn new_accounts_get_the_default_mailboxes() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let mailboxes = store.mailbox_list(alice.id).await.unwrap();
        let names: Vec<&str> = mailboxes.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "INBOX",
                "Sent",
                "Drafts",
                "Trash",
                "Archive",
                "Junk",
                "Promotions",
                "Social",
                "Updates"
            ]
        );
        let junk = store
            .mailbox_by_role(alice.id, MailboxRole::Junk)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(junk.role.and_then(MailboxRole::special_use), Some("\\Junk"));
        // UIDVALIDITY differs between mailboxes, even made in the same second.
        let mut validities: Vec<u32> = mailboxes.iter().map(|m| m.uid_validity).collect();
        validities.sort();
        validities.dedup();
        assert_eq!(validities.len(), mailboxes.len());
        assert!(mailboxes.iter().all(|m| m.uid_next == 1));
        // INBOX is case-insensitive, other names are not.
        assert!(store.mailbox_get(alice.id, "inbox").await.unwrap().is_some());
        assert!(store.mailbox_get(alice.id, "sent").await.unwrap().is_none());
        assert!(matches!(
            store.mailbox_create(alice.id, "Sent").await,
            Err(StoreError::AlreadyExists(_))
        ));
        let work = store.mailbox_create(alice.id, "Work").await.unwrap();
        assert!(work.uid_validity > *validities.last().unwrap());
    }
}

#[tokio::test]
async fn account_refusals() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let error = store.account_add(&addr("a@nowhere.test"), "h").await.unwrap_err();
        assert!(
            matches!(error, StoreError::NotFound(_)) && error.to_string().contains("domain nowhere.test"),
            "{error}"
        );
        account(store, "a@example.com").await;
        let error = store.account_add(&addr("A@Example.com"), "h").await.unwrap_err();
        assert!(matches!(error, StoreError::AlreadyExists(_)), "{error}");
        store
            .alias_add(&addr("sales@example.com"), &addr("a@example.com"))
            .await
            .unwrap();
        let error = store.account_add(&addr("sales@example.com"), "h").await.unwrap_err();
        assert!(
            matches!(error, StoreError::AlreadyExists(_)) && error.to_string().contains("alias"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn passwords_change_and_accounts_go_with_their_mail() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        store.account_set_password("alice@example.com", "$new").await.unwrap();
        assert_eq!(
            store
                .account_get("ALICE@example.com")
                .await
                .unwrap()
                .unwrap()
                .password_hash,
            "$new"
        );
        assert!(matches!(
            store.account_set_password("nobody@example.com", "x").await,
            Err(StoreError::NotFound(_))
        ));

        store
            .deliver(&message(1), 0, &[to(&inbox(store, &alice).await)])
            .await
            .unwrap();
        store
            .alias_add(&addr("info@example.com"), &addr("alice@example.com"))
            .await
            .unwrap();
        assert_eq!(blob_count(&backend).await, 1);
        store.account_remove("alice@example.com").await.unwrap();
        assert!(store.account_get("alice@example.com").await.unwrap().is_none());
        assert!(store.mailbox_list(alice.id).await.unwrap().is_empty());
        assert!(
            store.alias_get("info@example.com").await.unwrap().is_none(),
            "alias to it removed"
        );
        assert_eq!(blob_count(&backend).await, 0, "its only message's blob removed");
        assert!(matches!(
            store.account_remove("alice@example.com").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(store.verify(false).await.unwrap().is_healthy());
    }
}

#[tokio::test]
async fn alias_rules() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        account(store, "bob@example.com").await;
        let alias = store
            .alias_add(&addr("Help@Example.com"), &addr("bob@example.com"))
            .await
            .unwrap();
        assert_eq!(
            (alias.address.as_str(), alias.target.as_str()),
            ("help@example.com", "bob@example.com")
        );
        // Forwarding to a remote address is allowed.
        store
            .alias_add(&addr("fwd@example.com"), &addr("someone@elsewhere.test"))
            .await
            .unwrap();
        assert_eq!(store.alias_list().await.unwrap().len(), 2);

        let refusals = [
            (("help@example.com", "bob@example.com"), "already exists"),
            (("bob@example.com", "help@example.com"), "account bob@example.com"),
            (("x@nowhere.test", "bob@example.com"), "domain nowhere.test"),
            (
                ("y@example.com", "ghost@example.com"),
                "account ghost@example.com not found",
            ),
            (("z@example.com", "z@example.com"), "itself"),
        ];
        for ((alias, target), reason) in refusals {
            let error = store
                .alias_add(&addr(alias), &addr(target))
                .await
                .unwrap_err()
                .to_string();
            assert!(error.contains(reason), "{alias} -> {target}: {error}");
        }
        store.alias_remove("HELP@example.com").await.unwrap();
        assert!(matches!(
            store.alias_remove("help@example.com").await,
            Err(StoreError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn the_maildrop_lock_has_one_holder_until_released_or_expired() {
    use std::time::Duration;
    for backend in backends().await {
        let store = backend.store.as_ref();
        let alice = account(store, "alice@example.com").await;
        let bob = account(store, "bob@example.com").await;
        let minute = Duration::from_secs(60);
        assert!(store.maildrop_lock(alice.id, "one", minute).await.unwrap());
        assert!(!store.maildrop_lock(alice.id, "two", minute).await.unwrap());
        assert!(store.maildrop_lock(alice.id, "one", minute).await.unwrap(), "renewal");
        assert!(store.maildrop_lock(bob.id, "two", minute).await.unwrap(), "per account");
        store.maildrop_unlock(alice.id, "two").await.unwrap();
        assert!(
            !store.maildrop_lock(alice.id, "two", minute).await.unwrap(),
            "only the holder releases"
        );
        store.maildrop_unlock(alice.id, "one").await.unwrap();
        // A lease that runs out (a crashed holder) is taken over.
        assert!(store.maildrop_lock(alice.id, "two", Duration::ZERO).await.unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(store.maildrop_lock(alice.id, "three", minute).await.unwrap());
    }
}

#[tokio::test]
async fn dkim_keys_are_kept_per_domain_and_replaced() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let key = |selector: &str, algorithm: &str| estafeta_store::DkimKey {
            domain: "example.com".into(),
            selector: selector.into(),
            algorithm: algorithm.into(),
            private_key: format!("-----BEGIN PRIVATE KEY-----\n{selector}\n-----END PRIVATE KEY-----\n"),
            created_at: 1_764_000_000,
        };
        assert_eq!(store.dkim_key_get("example.com").await.unwrap(), None);
        store.dkim_key_set(&key("s1", "rsa")).await.unwrap();
        store.dkim_key_set(&key("s2", "ed25519")).await.unwrap();
        assert_eq!(
            store.dkim_key_get("EXAMPLE.com").await.unwrap(),
            Some(key("s2", "ed25519"))
        );
        assert_eq!(store.dkim_key_list().await.unwrap(), vec![key("s2", "ed25519")]);
    }
}

/// The cluster-wide count of failed logins (PostgreSQL); the embedded
/// store leaves it to its one node's memory and counts nothing.
#[tokio::test]
async fn failed_logins_lock_a_key_for_every_node() {
    use std::time::Duration;
    for backend in backends().await {
        let store = backend.store.as_ref();
        let keys = ["ip:192.0.2.1".to_owned(), "account:a@example.com".to_owned()];
        let (window, lockout) = (Duration::from_secs(300), Duration::from_secs(600));
        for _ in 0..2 {
            store.login_failure(&keys, 3, window, lockout).await.unwrap();
        }
        assert_eq!(store.login_locked(&keys).await.unwrap(), None, "{}", backend.name);
        store.login_failure(&keys[1..], 3, window, lockout).await.unwrap();
        let locked = store.login_locked(&keys).await.unwrap();
        let other = store.login_locked(&["ip:192.0.2.9".to_owned()]).await.unwrap();
        if backend.name == "postgres" {
            let retry = locked.expect("three failures lock the account");
            assert!(retry > Duration::from_secs(590) && retry <= lockout, "{retry:?}");
            assert_eq!(other, None, "other keys are not locked");
            assert_eq!(store.login_locked(&keys[..1]).await.unwrap(), None, "the IP had two");
            store.login_cleared(&keys[1]).await.unwrap();
            assert_eq!(store.login_locked(&keys).await.unwrap(), None);
        } else {
            assert_eq!(locked, None);
        }
    }
}
