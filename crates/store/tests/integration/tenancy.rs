//! Tenants and suppression lists on both backends: the default tenant,
//! domains changing hands, one tenant's list invisible to another, entries
//! for one sender domain or all, expiry, and removal rules.

use crate::common::*;
use estafeta_store::{DEFAULT_TENANT, Suppression, SuppressionReason};

fn entry(tenant: estafeta_core::model::TenantId, address: &str, sender_domain: &str) -> Suppression {
    Suppression {
        tenant,
        address: address.into(),
        sender_domain: sender_domain.into(),
        reason: SuppressionReason::HardBounce,
        detail: "550 5.1.1 user unknown".into(),
        created_at: 1_000,
        expires_at: None,
    }
}

#[tokio::test]
async fn tenants_own_domains() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let tenants = store.tenant_list().await.unwrap();
        assert_eq!(tenants.len(), 1, "{}", backend.name);
        assert_eq!((tenants[0].id, tenants[0].name.as_str()), (DEFAULT_TENANT, "default"));

        store.domain_add("shop.example").await.unwrap();
        assert_eq!(store.domain_tenant("shop.example").await.unwrap(), Some(DEFAULT_TENANT));
        assert_eq!(store.domain_tenant("elsewhere.example").await.unwrap(), None);
        let acme = store.tenant_add("acme").await.unwrap();
        assert_ne!(acme.id, DEFAULT_TENANT);
        assert!(store.tenant_add("acme").await.is_err(), "names are unique");
        store.domain_set_tenant("SHOP.example", acme.id).await.unwrap();
        assert_eq!(store.domain_tenant("shop.example").await.unwrap(), Some(acme.id));
        assert_eq!(store.domain_list().await.unwrap()[0].tenant, acme.id);
        assert!(store.domain_set_tenant("none.example", acme.id).await.is_err());

        let refusal = store.tenant_remove("acme").await.unwrap_err().to_string();
        assert!(refusal.contains("owns 1 domain"), "{refusal}");
        assert!(store.tenant_remove("default").await.is_err());
        store.domain_set_tenant("shop.example", DEFAULT_TENANT).await.unwrap();
        store.suppression_add(&entry(acme.id, "x@y.example", "")).await.unwrap();
        store.tenant_remove("acme").await.unwrap();
        assert!(store.tenant_get("acme").await.unwrap().is_none());
        // A new tenant of the same name starts with an empty list.
        let again = store.tenant_add("acme").await.unwrap();
        assert!(store.suppression_list(again.id, 0).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn suppression_lists_are_per_tenant_and_sender_domain() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let acme = store.tenant_add("acme").await.unwrap().id;
        let other = store.tenant_add("other").await.unwrap().id;
        store
            .suppression_add(&entry(acme, "Gone@Example.com", ""))
            .await
            .unwrap();
        let mut news = entry(acme, "reader@example.com", "news.acme.example");
        news.reason = SuppressionReason::Unsubscribe;
        store.suppression_add(&news).await.unwrap();
        let mut soft = entry(acme, "full@example.com", "");
        soft.reason = SuppressionReason::SoftBounce;
        soft.expires_at = Some(5_000);
        store.suppression_add(&soft).await.unwrap();

        // Lowercased, any sender domain of the tenant.
        let found = store
            .suppression_check(acme, "shop.acme.example", "gone@EXAMPLE.com", 2_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.address, "gone@example.com", "{}", backend.name);
        assert_eq!(found.reason, SuppressionReason::HardBounce);
        assert_eq!(found.detail, "550 5.1.1 user unknown");
        // Another tenant sees none of it.
        assert!(
            store
                .suppression_check(other, "", "gone@example.com", 2_000)
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.suppression_list(other, 2_000).await.unwrap().is_empty());
        // One sender domain's unsubscribe does not stop the others.
        assert!(
            store
                .suppression_check(acme, "news.acme.example", "reader@example.com", 2_000)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .suppression_check(acme, "shop.acme.example", "reader@example.com", 2_000)
                .await
                .unwrap()
                .is_none()
        );
        // Expiry.
        assert!(
            store
                .suppression_check(acme, "", "full@example.com", 4_999)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .suppression_check(acme, "", "full@example.com", 5_000)
                .await
                .unwrap()
                .is_none()
        );
        let listed: Vec<String> = store
            .suppression_list(acme, 6_000)
            .await
            .unwrap()
            .into_iter()
            .map(|s| format!("{} {} {}", s.address, s.sender_domain, s.reason.code()))
            .collect();
        assert_eq!(
            listed,
            [
                "gone@example.com  hard-bounce",
                "reader@example.com news.acme.example unsubscribe"
            ]
        );
        // Replaced, not doubled.
        let mut complaint = entry(acme, "gone@example.com", "");
        complaint.reason = SuppressionReason::Complaint;
        store.suppression_add(&complaint).await.unwrap();
        assert_eq!(store.suppression_list(acme, 6_000).await.unwrap().len(), 2);
        assert_eq!(
            store
                .suppression_check(acme, "", "gone@example.com", 6_000)
                .await
                .unwrap()
                .unwrap()
                .reason,
            SuppressionReason::Complaint
        );

        assert_eq!(
            store
                .suppression_remove(acme, Some("other.example"), "reader@example.com")
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .suppression_remove(acme, None, "READER@example.com")
                .await
                .unwrap(),
            1
        );
        assert_eq!(store.suppression_list(acme, 6_000).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn deliveries_counters_and_pauses() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let acme = store.tenant_add("acme").await.unwrap().id;
        let record = estafeta_store::DeliveryRecord {
            id: 0,
            queue_id: 7,
            queued_at: 1_000,
            recipient: "a@remote.example".into(),
            sender: "news@shop.example".into(),
            tenant: acme,
            sender_domain: "shop.example".into(),
            sent_at: 1_001,
            message_id: "news-7@shop.example".into(),
        };
        let id = store.delivery_record(&record).await.unwrap();
        // The same recipient of the same message again: the same record.
        assert_eq!(store.delivery_record(&record).await.unwrap(), id, "{}", backend.name);
        let other = store
            .delivery_record(&estafeta_store::DeliveryRecord {
                recipient: "b@remote.example".into(),
                ..record.clone()
            })
            .await
            .unwrap();
        assert_ne!(other, id);
        let found = store.delivery_get(id).await.unwrap().unwrap();
        assert_eq!(found, estafeta_store::DeliveryRecord { id, ..record.clone() });
        // Found again by the Message-ID a bounce quotes and its recipient.
        let quoted = store
            .delivery_find("news-7@shop.example", "B@remote.example")
            .await
            .unwrap();
        assert_eq!(quoted.map(|d| d.id), Some(other), "{}", backend.name);
        assert!(
            store
                .delivery_find("news-7@shop.example", "c@remote.example")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .delivery_find("other@shop.example", "a@remote.example")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.deliveries_expire(1_001).await.unwrap(), 0);
        assert_eq!(store.deliveries_expire(1_002).await.unwrap(), 2);
        assert!(store.delivery_get(id).await.unwrap().is_none());

        use estafeta_store::StatKind::*;
        let hour = 3_600 * 500_000;
        store
            .stats_add(acme, "shop.example", hour + 10, &[(Sent, 100), (Delivered, 95)])
            .await
            .unwrap();
        store
            .stats_add(acme, "Shop.example", hour + 3_599, &[(HardBounce, 5)])
            .await
            .unwrap();
        store
            .stats_add(acme, "news.example", hour + 3_600, &[(Sent, 10), (Complaint, 1)])
            .await
            .unwrap();
        store
            .stats_add(acme, "shop.example", hour - 1, &[(Sent, 1_000)])
            .await
            .unwrap();
        let all = store.stats_sum(acme, None, hour).await.unwrap();
        assert_eq!(
            (all[&Sent], all[&Delivered], all[&HardBounce], all[&Complaint]),
            (110, 95, 5, 1)
        );
        let shop = store.stats_sum(acme, Some("shop.example"), hour + 5).await.unwrap();
        assert_eq!((shop[&Sent], shop.get(&Complaint)), (100, None));
        let default = store.stats_sum(DEFAULT_TENANT, None, 0).await.unwrap();
        assert!(default.is_empty());

        store
            .tenant_pause(acme, Some("bounce rate 5.0% over 3%"))
            .await
            .unwrap();
        assert_eq!(
            store.tenant_get("acme").await.unwrap().unwrap().paused.as_deref(),
            Some("bounce rate 5.0% over 3%")
        );
        store.tenant_pause(acme, None).await.unwrap();
        assert_eq!(store.tenant_get("acme").await.unwrap().unwrap().paused, None);
    }
}

#[tokio::test]
async fn soft_bounces_are_counted_in_a_window() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let count = |at, since| store.soft_bounce(DEFAULT_TENANT, "Full@Example.com", at, since, false);
        assert_eq!(count(100, 0).await.unwrap(), 1, "{}", backend.name);
        assert_eq!(count(200, 0).await.unwrap(), 2);
        // The first falls out of the window.
        assert_eq!(count(300, 150).await.unwrap(), 2);
        // Another tenant's failures are its own.
        let acme = store.tenant_add("acme").await.unwrap().id;
        assert_eq!(
            store
                .soft_bounce(acme, "full@example.com", 300, 0, false)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .soft_bounce(DEFAULT_TENANT, "full@example.com", 400, 0, true)
                .await
                .unwrap(),
            0
        );
        assert_eq!(count(500, 0).await.unwrap(), 1, "cleared");
    }
}
