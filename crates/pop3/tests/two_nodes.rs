//! Two Estafeta nodes on one PostgreSQL: the maildrop lock holds across
//! nodes, and what a POP3 QUIT on one node removes is gone on the other.
//! Skipped (with a message) without ESTAFETA_TEST_POSTGRES.

mod common;

use common::{PASSWORD, Pop3, USER, message};
use estafeta_core::config::Service;
use estafeta_testkit::TestServer;

#[tokio::test]
async fn the_maildrop_lock_holds_across_nodes() {
    let Some(url) = estafeta_testkit::postgres_url().await else {
        return;
    };
    let (a, b) = (
        TestServer::start_on_postgres(&url).await,
        TestServer::start_on_postgres(&url).await,
    );
    a.add_account(USER, PASSWORD).await;
    common::deliver(&a, &message("one", "x")).await;
    common::deliver(&a, &message("two", "x")).await;

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
}
