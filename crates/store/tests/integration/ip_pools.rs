//! IP pools on both backends: pools and their addresses, tenants given a
//! pool (a dedicated one to one tenant only), blocklist listings, warm-up
//! counts taken against a cap by several senders at once, and counters
//! per source address.

use crate::common::*;
use estafeta_store::{NewPoolAddress, StatKind};

fn address(ip: &str) -> NewPoolAddress {
    NewPoolAddress {
        address: ip.into(),
        ehlo: format!("mta.{ip}.example"),
        weight: 2,
        warmup: true,
    }
}

#[tokio::test]
async fn pools_addresses_and_tenants() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let name = backend.name;
        store.tenant_add("acme").await.unwrap();
        store.tenant_add("globex").await.unwrap();
        store.pool_add("shared", false).await.unwrap();
        store.pool_add("vip", true).await.unwrap();
        assert!(store.pool_add("vip", false).await.is_err(), "{name}: names are unique");
        store.pool_address_add("shared", &address("192.0.2.1")).await.unwrap();
        store.pool_address_add("shared", &address("192.0.2.2")).await.unwrap();
        store.pool_address_add("vip", &address("2001:db8::1")).await.unwrap();
        let twice = store.pool_address_add("vip", &address("192.0.2.1")).await.unwrap_err();
        assert!(twice.to_string().contains("in pool shared"), "{name}: {twice}");
        assert!(store.pool_address_add("none", &address("192.0.2.9")).await.is_err());

        store.pool_assign(Some("shared"), "acme").await.unwrap();
        store.pool_assign(Some("shared"), "globex").await.unwrap();
        store.pool_assign(Some("vip"), "default").await.unwrap();
        let refused = store.pool_assign(Some("vip"), "acme").await.unwrap_err().to_string();
        assert!(refused.contains("dedicated to tenant default"), "{name}: {refused}");
        // Assigning it again to its own tenant is no change, not a refusal.
        store.pool_assign(Some("vip"), "default").await.unwrap();
        assert!(store.pool_assign(Some("shared"), "nobody").await.is_err());

        let pools = store.pool_list().await.unwrap();
        let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["shared", "vip"], "{name}");
        let shared = &pools[0];
        assert!(!shared.dedicated && pools[1].dedicated);
        let tenants: Vec<&str> = shared.tenants.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(tenants, ["acme", "globex"], "{name}");
        assert_eq!(shared.addresses.len(), 2);
        let first = &shared.addresses[0];
        assert_eq!(
            (first.address.as_str(), first.ehlo.as_str(), first.weight),
            ("192.0.2.1", "mta.192.0.2.1.example", 2)
        );
        assert!(first.warmup_start.is_some() && first.listed.is_none());

        // A listing takes the address out of what the pool can use; a
        // clean check puts it back. Saying the same again changes nothing.
        assert!(
            store
                .pool_address_listed("192.0.2.1", Some("bl.example (127.0.0.2)"), 500)
                .await
                .unwrap()
        );
        assert!(
            !store
                .pool_address_listed("192.0.2.1", Some("bl.example (127.0.0.2)"), 600)
                .await
                .unwrap()
        );
        let pools = store.pool_list().await.unwrap();
        assert_eq!(pools[0].addresses[0].listed.as_deref(), Some("bl.example (127.0.0.2)"));
        assert_eq!(pools[0].addresses[0].listed_at, Some(500));
        let usable: Vec<&str> = pools[0].usable().map(|a| a.address.as_str()).collect();
        assert_eq!(usable, ["192.0.2.2"], "{name}");
        assert!(store.pool_address_listed("192.0.2.1", None, 700).await.unwrap());
        assert_eq!(store.pool_list().await.unwrap()[0].usable().count(), 2);

        let in_use = store.pool_remove("shared").await.unwrap_err().to_string();
        assert!(in_use.contains("serves 2 tenant(s)"), "{name}: {in_use}");
        store.pool_assign(None, "acme").await.unwrap();
        store.pool_assign(None, "globex").await.unwrap();
        store.pool_address_remove("192.0.2.2").await.unwrap();
        assert!(store.pool_address_remove("192.0.2.2").await.is_err());
        store.pool_remove("shared").await.unwrap();
        let pools = store.pool_list().await.unwrap();
        assert_eq!(pools.len(), 1);
        // Its addresses went with it: free for another pool.
        store.pool_address_add("vip", &address("192.0.2.1")).await.unwrap();
    }
}

#[tokio::test]
async fn warmup_counts_hold_their_cap_and_stats_add_up() {
    for backend in backends().await {
        let store = backend.store.clone();
        let name = backend.name;
        // Ten senders at once take 3 each against a cap of 20: 20 granted.
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store.warmup_take("192.0.2.1", "gmail", 100, 3, 20).await.unwrap()
            }));
        }
        let mut granted = 0;
        for task in tasks {
            granted += task.await.unwrap();
        }
        assert_eq!(granted, 20, "{name}");
        assert_eq!(store.warmup_take("192.0.2.1", "gmail", 100, 5, 20).await.unwrap(), 0);
        // Another provider, another day, another address: their own counts.
        assert_eq!(store.warmup_take("192.0.2.1", "yahoo", 100, 5, 20).await.unwrap(), 5);
        assert_eq!(store.warmup_take("192.0.2.1", "gmail", 101, 5, 20).await.unwrap(), 5);
        assert_eq!(store.warmup_take("192.0.2.2", "gmail", 100, 25, 20).await.unwrap(), 20);

        store
            .source_stats_add("192.0.2.1", 7_200, &[(StatKind::Sent, 3), (StatKind::Delivered, 2)])
            .await
            .unwrap();
        store
            .source_stats_add("192.0.2.1", 10_900, &[(StatKind::Sent, 1), (StatKind::Deferred, 4)])
            .await
            .unwrap();
        store
            .source_stats_add("192.0.2.2", 7_200, &[(StatKind::Sent, 9)])
            .await
            .unwrap();
        let stats = store.source_stats_sum("192.0.2.1", 0).await.unwrap();
        assert_eq!(stats.get(&StatKind::Sent), Some(&4), "{name}");
        assert_eq!(stats.get(&StatKind::Deferred), Some(&4));
        // Whole hours: from 10,800 on, only the second bucket.
        let recent = store.source_stats_sum("192.0.2.1", 10_800).await.unwrap();
        assert_eq!(recent.get(&StatKind::Sent), Some(&1), "{name}");
    }
}
