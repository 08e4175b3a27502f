use crate::common::*;
use estafeta_core::auth::verify_password;
use estafeta_store::Store;
use estafeta_store::sqlite::SqliteStore;

async fn hash_of(dir: &std::path::Path, address: &str) -> String {
    let store = SqliteStore::open(dir).await.unwrap();
    store
        .account_get(address)
        .await
        .unwrap()
        .expect("account exists")
        .password_hash
}

#[test]
fn domain_add_list_remove_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        run_in(d, &["domain", "add", "Example.COM"], None).ok(),
        "added domain example.com\n"
    );
    run_in(d, &["domain", "add", "b.test"], None).ok();
    assert_eq!(run_in(d, &["domain", "list"], None).ok(), "b.test\nexample.com\n");
    run_in(d, &["domain", "add", "example.com"], None).refused("domain example.com already exists");
    run_in(d, &["domain", "add", "not a domain"], None).refused("not a valid domain name");
    run_in(d, &["domain", "add", "trailing.dot."], None).refused("not a valid domain name");
    run_in(d, &["domain", "remove", "nowhere.test"], None).refused("domain nowhere.test not found");
    run_in(d, &["account", "add", "a@b.test", "--password-stdin"], Some("pw\n")).ok();
    run_in(d, &["domain", "remove", "b.test"], None).refused("still has 1 account");
    assert_eq!(
        run_in(d, &["domain", "remove", "example.com"], None).ok(),
        "removed domain example.com\n"
    );
    assert_eq!(run_in(d, &["domain", "list"], None).ok(), "b.test\n");
}

#[tokio::test]
async fn account_add_with_given_and_generated_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_in(d, &["domain", "add", "example.com"], None).ok();

    let given = run_in(
        d,
        &["account", "add", "Alice@Example.com", "--password-stdin"],
        Some("s3cret pass\r\n"),
    );
    assert_eq!(given.ok(), "added account alice@example.com\n", "no password echoed");
    assert!(verify_password("s3cret pass", &hash_of(d, "alice@example.com").await));

    let generated = run_in(d, &["account", "add", "bob@example.com"], None);
    let out = generated.ok();
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("password printed once");
    assert!(
        password.len() >= 20 && password.chars().all(|c| c.is_ascii_alphanumeric()),
        "{password}"
    );
    assert!(verify_password(password, &hash_of(d, "bob@example.com").await));

    assert_eq!(
        run_in(d, &["account", "list"], None).ok(),
        "alice@example.com\nbob@example.com\n"
    );
}

#[test]
fn account_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_in(d, &["domain", "add", "example.com"], None).ok();
    run_in(
        d,
        &["account", "add", "a@example.com", "--password-stdin"],
        Some("pw\n"),
    )
    .ok();
    run_in(
        d,
        &["account", "add", "a@example.com", "--password-stdin"],
        Some("pw\n"),
    )
    .refused("account a@example.com already exists");
    run_in(
        d,
        &["account", "add", "A@EXAMPLE.COM", "--password-stdin"],
        Some("pw\n"),
    )
    .refused("already exists");
    run_in(
        d,
        &["account", "add", "x@unknown.test", "--password-stdin"],
        Some("pw\n"),
    )
    .refused("domain unknown.test");
    run_in(d, &["account", "add", "no-at-sign", "--password-stdin"], Some("pw\n")).refused("has no @domain");
    run_in(
        d,
        &["account", "add", "a..b@example.com", "--password-stdin"],
        Some("pw\n"),
    )
    .refused("local part");
    run_in(d, &["account", "add", "c@example.com", "--password-stdin"], Some(""))
        .refused("no password on standard input");
    run_in(d, &["account", "add", "c@example.com", "--password-stdin"], Some("\n")).refused("no password");
    assert_eq!(
        run_in(d, &["account", "list"], None).ok(),
        "a@example.com\n",
        "nothing half-made"
    );
}

#[tokio::test]
async fn account_passwd_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_in(d, &["domain", "add", "example.com"], None).ok();
    run_in(
        d,
        &["account", "add", "a@example.com", "--password-stdin"],
        Some("old\n"),
    )
    .ok();
    assert_eq!(
        run_in(
            d,
            &["account", "passwd", "a@example.com", "--password-stdin"],
            Some("new\n")
        )
        .ok(),
        "changed password of a@example.com\n"
    );
    let hash = hash_of(d, "a@example.com").await;
    assert!(verify_password("new", &hash) && !verify_password("old", &hash));

    run_in(
        d,
        &["account", "passwd", "ghost@example.com", "--password-stdin"],
        Some("x\n"),
    )
    .refused("account ghost@example.com not found");
    run_in(d, &["account", "passwd", "a@example.com", "--password-stdin"], Some("")).refused("no password");
    let no_flag = run_in(d, &["account", "passwd", "a@example.com"], None);
    assert_ne!(no_flag.code, 0);
    assert!(no_flag.stderr.contains("--password-stdin"), "{}", no_flag.stderr);

    assert_eq!(
        run_in(d, &["account", "remove", "a@example.com"], None).ok(),
        "removed account a@example.com and its mail\n"
    );
    run_in(d, &["account", "remove", "a@example.com"], None).refused("account a@example.com not found");
    run_in(d, &["account", "remove", "bad address"], None).refused("no @domain");
    assert_eq!(run_in(d, &["account", "list"], None).ok(), "");
}

#[test]
fn alias_add_list_remove_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_in(d, &["domain", "add", "example.com"], None).ok();
    run_in(
        d,
        &["account", "add", "bob@example.com", "--password-stdin"],
        Some("pw\n"),
    )
    .ok();
    assert_eq!(
        run_in(d, &["alias", "add", "Sales@example.com", "bob@example.com"], None).ok(),
        "added alias sales@example.com -> bob@example.com\n"
    );
    run_in(d, &["alias", "add", "fwd@example.com", "friend@elsewhere.test"], None).ok();
    assert_eq!(
        run_in(d, &["alias", "list"], None).ok(),
        "fwd@example.com -> friend@elsewhere.test\nsales@example.com -> bob@example.com\n"
    );

    run_in(d, &["alias", "add", "sales@example.com", "bob@example.com"], None)
        .refused("alias sales@example.com already exists");
    run_in(d, &["alias", "add", "bob@example.com", "sales@example.com"], None)
        .refused("account bob@example.com already exists");
    run_in(d, &["alias", "add", "x@other.test", "bob@example.com"], None).refused("domain other.test");
    run_in(d, &["alias", "add", "y@example.com", "ghost@example.com"], None)
        .refused("account ghost@example.com not found");
    run_in(d, &["alias", "add", "y@example.com", "not-an-address"], None).refused("no @domain");
    run_in(d, &["alias", "add", "bad alias@example.com", "bob@example.com"], None).refused("local part");

    assert_eq!(
        run_in(d, &["alias", "remove", "SALES@example.com"], None).ok(),
        "removed alias sales@example.com\n"
    );
    run_in(d, &["alias", "remove", "sales@example.com"], None).refused("alias sales@example.com not found");
    assert_eq!(
        run_in(d, &["alias", "list"], None).ok(),
        "fwd@example.com -> friend@elsewhere.test\n"
    );
}

#[tokio::test]
async fn verify_data_reports_damage_and_repairs_counts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_in(d, &["domain", "add", "example.com"], None).ok();
    run_in(
        d,
        &["account", "add", "a@example.com", "--password-stdin"],
        Some("pw\n"),
    )
    .ok();
    {
        let store = SqliteStore::open(d).await.unwrap();
        let account = store.account_get("a@example.com").await.unwrap().unwrap();
        let inbox = store.mailbox_get(account.id, "INBOX").await.unwrap().unwrap();
        let target = estafeta_store::DeliveryTarget {
            mailbox: inbox.id,
            flags: Default::default(),
        };
        store
            .deliver(b"Subject: hi\r\n\r\nhello\r\n", 0, &[target])
            .await
            .unwrap();
    }
    let healthy = run_in(d, &["verify-data"], None);
    assert!(
        healthy.ok().contains("checked 1 messages and 1 blobs") && healthy.stdout.ends_with("ok\n"),
        "{}",
        healthy.stdout
    );

    let conn = rusqlite::Connection::open(d.join("estafeta.db")).unwrap();
    conn.execute("UPDATE mailboxes SET uidnext = 1 WHERE name = 'INBOX'", [])
        .unwrap();
    let damaged = run_in(d, &["verify-data"], None);
    assert_ne!(damaged.code, 0);
    assert!(damaged.stdout.contains("mailbox counter:"), "{}", damaged.stdout);
    assert!(damaged.stderr.contains("--repair"), "{}", damaged.stderr);
    assert!(
        run_in(d, &["verify-data", "--repair"], None)
            .ok()
            .contains("repaired 1")
    );
    run_in(d, &["verify-data"], None).ok();
}
