//! Durable deliveries per second through the store: `writers` concurrent
//! tasks deliver `messages` distinct 2 KiB messages into one mailbox, each
//! acknowledged only once fsynced. Then the same into a mailbox already
//! holding `prefill` messages: the cost per message must not grow with the
//! mailbox.
//!
//!   cargo run --release -p estafeta-bench --bin store-deliver
//!   cargo run --release -p estafeta-bench --bin store-deliver -- --smoke

use estafeta_bench::{arg, flag, message, peak_rss_kib};
use estafeta_core::Address;
use estafeta_core::model::{MailboxId, MailboxRole};
use estafeta_store::sqlite::SqliteStore;
use estafeta_store::{DeliveryTarget, Store};
use std::sync::Arc;
use std::time::Instant;

async fn run(store: &Arc<SqliteStore>, mailbox: MailboxId, writers: usize, messages: usize, offset: usize) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let target = [DeliveryTarget {
                    mailbox,
                    flags: Default::default(),
                }];
                for n in (w..messages).step_by(writers) {
                    store
                        .deliver(&message(offset + n, 2048), 0, &target)
                        .await
                        .expect("deliver");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    messages as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let smoke = flag("--smoke");
    let writers = arg("--writers", 20usize);
    let messages = arg("--messages", if smoke { 200 } else { 20_000 });
    let prefill = arg("--prefill", if smoke { 1_000 } else { 100_000 });
    let dir = match std::env::var_os("BENCH_DIR") {
        Some(base) => tempfile::tempdir_in(base),
        None => tempfile::tempdir(),
    }
    .unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    store.domain_add("bench.test").await.unwrap();
    let mut inboxes = Vec::new();
    for user in ["empty", "full", "fresh"] {
        let account = store
            .account_add(&Address::parse(&format!("{user}@bench.test")).unwrap(), "x")
            .await
            .unwrap();
        inboxes.push(
            store
                .mailbox_by_role(account.id, MailboxRole::Inbox)
                .await
                .unwrap()
                .unwrap()
                .id,
        );
    }

    let empty = run(&store, inboxes[0], writers, messages, 0).await;
    let filled = Instant::now();
    run(&store, inboxes[1], 64, prefill, 10_000_000).await;
    let prefill_secs = filled.elapsed().as_secs_f64();
    let full = run(&store, inboxes[1], writers, messages, 20_000_000).await;
    // An empty mailbox in the now-large store: tells mailbox size apart
    // from store size (blob directories, database pages).
    let fresh = run(&store, inboxes[2], writers, messages, 30_000_000).await;

    println!("store-deliver: {messages} x 2 KiB, {writers} concurrent writers, fsync per acknowledged delivery");
    println!("  empty mailbox:             {empty:>9.0} msg/s");
    println!(
        "  mailbox with {prefill:>7} msgs: {full:>9.0} msg/s  ({:+.1}% vs empty)",
        (full / empty - 1.0) * 100.0
    );
    println!(
        "  empty mailbox, large store: {fresh:>8.0} msg/s  ({:+.1}% vs empty)",
        (fresh / empty - 1.0) * 100.0
    );
    println!(
        "  prefill rate (64 writers): {:>9.0} msg/s",
        prefill as f64 / prefill_secs
    );
    println!("  peak RSS:                  {:>9} KiB", peak_rss_kib());
    let report = store.verify(false).await.unwrap();
    assert!(report.is_healthy(), "{report:?}");
    assert_eq!(report.messages_checked as usize, 3 * messages + prefill);
}
