//! Two Estafeta nodes on one PostgreSQL: the maildrop lock holds across
//! nodes, and what a POP3 QUIT on one node removes is gone on the other,
//! where an IMAP session sees the EXPUNGE.
//! Skipped (with a message) without ESTAFETA_TEST_POSTGRES.

use crate::common;

use crate::common::{PASSWORD, Pop3, USER, message};
use estafeta_core::config::Service;
use estafeta_testkit::TestServer;

#[tokio::test]
async fn the_maildrop_lock_holds_across_nodes() {
    let Some((_, a, b)) = TestServer::two_on_postgres().await else {
        return;
    };
    a.add_account(USER, PASSWORD).await;
    common::deliver(&a, &message("one", "x")).await;
    common::deliver(&a, &message("two", "x")).await;

    // An IMAP session on A watches what POP3 on B does.
    let mut imap_on_a = estafeta_testkit::imap::ImapProbe::login(&a, USER, PASSWORD).await;
    imap_on_a.command("SELECT INBOX").await;

    let mut on_a = Pop3::login(&a).await;
    let mut on_b = Pop3::connect(&b, Service::Pop3s).await;
    on_b.ok(&format!("USER {USER}")).await;
    let reply = on_b.err(&format!("PASS {PASSWORD}")).await;
    assert!(reply.starts_with("-ERR [IN-USE] "), "{reply}");

    on_a.ok("DELE 1").await;
    on_a.ok("QUIT").await;
    assert!(on_a.closed().await);
    on_b.ok(&format!("USER {USER}")).await;
    on_b.ok(&format!("PASS {PASSWORD}")).await;
    assert!(on_b.ok("STAT").await.starts_with("+OK 1 "));
    on_b.ok("TOP 1 0").await;
    assert!(String::from_utf8(on_b.body().await).unwrap().contains("Subject: two"));

    // POP3 on B deletes the other one; IMAP on A sees the EXPUNGE.
    on_b.ok("DELE 1").await;
    on_b.ok("QUIT").await;
    assert!(on_b.closed().await);
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen.extend(imap_on_a.command("NOOP").await);
        if seen.iter().filter(|l| l.ends_with(" EXPUNGE")).count() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen.iter().filter(|l| l.ends_with(" EXPUNGE")).count(), 2, "{seen:?}");
}

#[tokio::test]
async fn failed_logins_on_either_node_lock_the_account_on_both() {
    let Some(url) = estafeta_testkit::postgres_url().await else {
        return;
    };
    let node = |url: String| {
        TestServer::start_with(move |config| {
            config.store.backend = estafeta_core::config::Backend::Postgres;
            config.store.url = url;
            config.auth.max_failures = 3;
        })
    };
    let (a, b) = (node(url.clone()).await, node(url).await);
    a.add_account(USER, PASSWORD).await;
    for (server, failures) in [(&a, 2), (&b, 1)] {
        let mut pop3 = Pop3::connect(server, Service::Pop3s).await;
        for _ in 0..failures {
            pop3.ok(&format!("USER {USER}")).await;
            assert!(pop3.err("PASS wrong").await.starts_with("-ERR [AUTH] "));
        }
    }
    // Neither node alone saw three, but together they did.
    let mut pop3 = Pop3::connect(&a, Service::Pop3s).await;
    pop3.ok(&format!("USER {USER}")).await;
    let reply = pop3.err(&format!("PASS {PASSWORD}")).await;
    assert!(reply.starts_with("-ERR [SYS/TEMP] "), "{reply}");
}
