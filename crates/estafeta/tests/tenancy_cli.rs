//! `estafeta tenant` and `estafeta suppression`, end to end on a data dir.

mod common;

use common::*;

#[test]
fn tenants_own_domains_and_keep_their_own_suppression_lists() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run_in(d, &["tenant", "add", "acme"], None).ok(), "added tenant acme\n");
    run_in(d, &["tenant", "add", "acme"], None).refused("tenant acme already exists");
    run_in(d, &["tenant", "add", "no spaces"], None).refused("tenant names are");
    run_in(d, &["domain", "add", "shop.example", "--tenant", "nobody"], None).refused("no tenant nobody");
    let added = run_in(d, &["domain", "add", "shop.example", "--tenant", "acme"], None);
    assert_eq!(
        added.ok(),
        "added domain shop.example\ndomain shop.example belongs to tenant acme\n"
    );
    run_in(d, &["domain", "add", "other.example"], None).ok();
    assert_eq!(
        run_in(d, &["domain", "list"], None).ok(),
        "other.example\nshop.example (tenant acme)\n"
    );
    assert_eq!(
        run_in(d, &["tenant", "list"], None).ok(),
        "default\tother.example\nacme\tshop.example\n"
    );
    run_in(d, &["tenant", "remove", "acme"], None).refused("still owns 1 domain");
    run_in(d, &["tenant", "resume", "acme"], None).refused("tenant acme is not paused");
    run_in(d, &["tenant", "remove", "default"], None).refused("default tenant");

    let add = run_in(
        d,
        &[
            "suppression",
            "add",
            "Gone@Remote.example",
            "--tenant",
            "acme",
            "--reason",
            "complaint",
        ],
        None,
    );
    assert_eq!(add.ok(), "suppressed gone@remote.example for tenant acme\n");
    run_in(
        d,
        &["suppression", "add", "x@remote.example", "--reason", "angry"],
        None,
    )
    .refused("unknown reason `angry`");
    run_in(d, &["suppression", "add", "not-an-address"], None).refused("is not an address");
    let listed = run_in(d, &["suppression", "list", "--tenant", "acme"], None);
    assert!(
        listed.ok().starts_with("gone@remote.example\t*\tcomplaint\t"),
        "{}",
        listed.stdout
    );
    assert!(listed.stdout.contains("expires never"), "{}", listed.stdout);
    // The default tenant's list is another list.
    assert_eq!(run_in(d, &["suppression", "list"], None).ok(), "");

    let exported = run_in(d, &["suppression", "export", "--tenant", "acme"], None);
    let csv = exported.ok().to_owned();
    assert!(csv.starts_with("address,sender_domain,reason,detail,created_at,expires_at\ngone@remote.example,,complaint,added by the operator,"), "{csv}");
    assert_eq!(
        run_in(
            d,
            &["suppression", "remove", "gone@remote.example", "--tenant", "acme"],
            None
        )
        .ok(),
        "removed gone@remote.example from tenant acme's suppression list\n"
    );
    run_in(
        d,
        &["suppression", "remove", "gone@remote.example", "--tenant", "acme"],
        None,
    )
    .refused("is not on tenant acme's suppression list");
    let file = d.join("export.csv");
    std::fs::write(&file, &csv).unwrap();
    let imported = run_in(
        d,
        &["suppression", "import", file.to_str().unwrap(), "--tenant", "acme"],
        None,
    );
    assert_eq!(imported.ok(), "imported 1 entries for tenant acme\n");
    assert_eq!(
        run_in(d, &["suppression", "export", "--tenant", "acme"], None).ok(),
        csv
    );
    let plain = d.join("plain.txt");
    std::fs::write(&plain, "a@remote.example\nb@remote.example\n").unwrap();
    let imported = run_in(
        d,
        &[
            "suppression",
            "import",
            plain.to_str().unwrap(),
            "--reason",
            "unsubscribe",
        ],
        None,
    );
    assert_eq!(imported.ok(), "imported 2 entries for tenant default\n");
    assert!(
        run_in(d, &["suppression", "list"], None)
            .ok()
            .contains("b@remote.example\t*\tunsubscribe")
    );
}

#[test]
fn a_paused_tenant_is_shown_and_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_in(d, &["tenant", "add", "acme"], None).ok();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use estafeta_store::Store;
        let store = estafeta_store::sqlite::SqliteStore::open(d).await.unwrap();
        let acme = store.tenant_get("acme").await.unwrap().unwrap();
        store
            .tenant_pause(acme.id, Some("bounce rate 5.0% over the 3.0% limit"))
            .await
            .unwrap();
        store.domain_add("shop.example").await.unwrap();
        store.domain_set_tenant("shop.example", acme.id).await.unwrap();
        let now = estafeta_core::time::now();
        use estafeta_store::StatKind::*;
        let counts = [(Sent, 200), (Delivered, 190), (HardBounce, 10), (Complaint, 1)];
        store.stats_add(acme.id, "shop.example", now, &counts).await.unwrap();
        store.shutdown();
    });
    assert_eq!(
        run_in(d, &["tenant", "list"], None).ok(),
        "default\t\nacme\tshop.example\tpaused: bounce rate 5.0% over the 3.0% limit\n"
    );
    let table = run_in(d, &["reputation"], None);
    let row = table
        .ok()
        .lines()
        .find(|l| l.starts_with("acme"))
        .expect("acme's row")
        .to_owned();
    let cells: Vec<&str> = row.split_whitespace().collect();
    // 10 of 200 bounced (5%, past 3%: -50), 1 of 190 complained (0.53%, past 0.3%: -50).
    assert_eq!(
        cells[..11],
        [
            "acme",
            "shop.example",
            "200",
            "190",
            "10",
            "0",
            "1",
            "0",
            "5.00%",
            "0.526%",
            "0"
        ],
        "{row}"
    );
    assert!(row.ends_with("paused: bounce rate 5.0% over the 3.0% limit"), "{row}");
    assert_eq!(
        run_in(d, &["tenant", "resume", "acme"], None).ok(),
        "resumed tenant acme's bulk mail\n"
    );
    assert_eq!(
        run_in(d, &["tenant", "list"], None).ok(),
        "default\t\nacme\tshop.example\n"
    );
}
