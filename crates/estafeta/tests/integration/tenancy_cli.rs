//! `estafeta tenant` and `estafeta suppression`, end to end on a data dir.

use crate::common::*;

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

#[test]
fn pools_give_tenants_their_source_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_in(d, &["tenant", "add", "acme"], None).ok();
    run_in(d, &["tenant", "add", "globex"], None).ok();
    assert_eq!(
        run_in(d, &["pool", "add", "shared"], None).ok(),
        "added shared pool shared\n"
    );
    assert_eq!(
        run_in(d, &["pool", "add", "vip", "--dedicated"], None).ok(),
        "added dedicated pool vip\n"
    );
    run_in(d, &["pool", "add", "vip"], None).refused("pool vip already exists");
    run_in(d, &["pool", "add", "bad name"], None).refused("pool names are");
    let add = |pool: &str, ip: &str, ehlo: &str, extra: &[&str]| {
        let mut args = vec!["pool", "address", "add", pool, ip, "--ehlo", ehlo];
        args.extend_from_slice(extra);
        run_in(d, &args, None)
    };
    // 127.0.0.x is an address of every host; 192.0.2.x (documentation) is
    // not, which is allowed (the server may run elsewhere) with a warning.
    assert_eq!(
        add("shared", "127.0.0.61", "mta61.example.com", &[]).ok(),
        "added 127.0.0.61 (mta61.example.com) to pool shared\n"
    );
    let elsewhere = add(
        "shared",
        "192.0.2.62",
        "mta62.example.com",
        &["--weight", "3", "--warm"],
    );
    assert!(
        elsewhere.stderr.contains("is not an address of this host"),
        "{}",
        elsewhere.stderr
    );
    elsewhere.ok();
    add("vip", "127.0.0.63", "mta63.example.com", &[]).ok();
    add("vip", "127.0.0.61", "mta61.example.com", &[]).refused("in pool shared");
    add("vip", "127.0.0.64", "localhost", &[]).refused("not a fully qualified host name");
    add("none", "127.0.0.64", "mta64.example.com", &[]).refused("pool none not found");
    // clap's own usage error: exit code 2, the value named.
    let bad = add("vip", "not-an-ip", "mta64.example.com", &[]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.starts_with("error: invalid value 'not-an-ip'"),
        "{}",
        bad.stderr
    );

    assert_eq!(
        run_in(d, &["pool", "assign", "shared", "--tenant", "acme"], None).ok(),
        "tenant acme sends from pool shared\n"
    );
    run_in(d, &["pool", "assign", "shared", "--tenant", "globex"], None).ok();
    run_in(d, &["pool", "assign", "vip", "--tenant", "default"], None).ok();
    run_in(d, &["pool", "assign", "vip", "--tenant", "acme"], None).refused("dedicated to tenant default");
    run_in(d, &["pool", "remove", "shared"], None).refused("still serves 2 tenant(s)");

    let list = run_in(d, &["pool", "list"], None).ok().to_owned();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines[0], "shared\tshared\ttenants: acme globex", "{list}");
    assert!(
        lines[1].starts_with("  127.0.0.61\tmta61.example.com\tweight 1\twarm-up day 1: 50 a day per provider\tin use"),
        "{list}"
    );
    assert_eq!(
        lines[2], "  192.0.2.62\tmta62.example.com\tweight 3\twarm\tin use",
        "{list}"
    );
    assert_eq!(lines[3], "vip\tdedicated\ttenants: default", "{list}");

    let reputation = run_in(d, &["reputation"], None).ok().to_owned();
    assert!(reputation.contains("source address"), "{reputation}");
    assert!(
        reputation
            .lines()
            .any(|l| l.starts_with("vip") && l.contains("127.0.0.63") && l.contains("sending")),
        "{reputation}"
    );

    run_in(d, &["pool", "unassign", "--tenant", "acme"], None).ok();
    run_in(d, &["pool", "unassign", "--tenant", "globex"], None).ok();
    run_in(d, &["pool", "address", "remove", "127.0.0.61"], None).ok();
    run_in(d, &["pool", "address", "remove", "127.0.0.61"], None).refused("pool address 127.0.0.61 not found");
    assert_eq!(
        run_in(d, &["pool", "remove", "shared"], None).ok(),
        "removed pool shared\n"
    );
    assert!(!run_in(d, &["pool", "list"], None).ok().contains("shared"));
}
