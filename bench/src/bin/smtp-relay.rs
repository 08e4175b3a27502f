//! Outbound relay, Estafeta beside Postfix, on the same machine in one run:
//! `messages` queued messages of `size` bytes delivered to Postfix's
//! smtp-sink on loopback.
//! 1. Estafeta: the messages are put in its queue with the server stopped,
//!    then it is started and timed until the queue is empty (every message
//!    accepted by the sink and marked delivered, durably).
//! 2. Postfix: smtp-source puts the same load in its queue on hold (a
//!    header check); then the hold is released and delivery timed until its
//!    log shows every message sent.
//!
//! Both send with 20 connections at once (Postfix's default destination
//! concurrency). Prints messages per second for each and the ratio.
//!
//!   cargo build --release -p estafeta -p estafeta-bench
//!   target/release/smtp-relay [--smoke] [--messages N] [--size BYTES]

use estafeta_bench::server::estafeta_binary;
use estafeta_bench::{Sink, arg, flag, message, progress, smtp_source, wait_progress};
use estafeta_interop::postfix::Postfix;
use estafeta_store::{NewQueuedMessage, QueueRecipient, Store};
use std::path::Path;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 20;

fn queued(database: &Path) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("SELECT COUNT(*) FROM queue", [], |row| row.get(0))
        .unwrap_or(i64::MAX)
}

fn count(log: &str, needle: &str) -> usize {
    log.matches(needle).count()
}

fn main() {
    let smoke = flag("--smoke");
    let messages = arg("--messages", if smoke { 200 } else { 20_000 });
    let size = arg("--size", 2048usize);
    let binary = estafeta_binary();
    assert!(
        binary.exists(),
        "{} not built (cargo build -p estafeta)",
        binary.display()
    );
    let work = tempfile::Builder::new().prefix("estafeta-relay").tempdir().unwrap();
    estafeta_interop::open_up(work.path());
    let sink_port = estafeta_interop::free_port();
    let _sink = Sink::start(sink_port);
    progress(format!("queueing {messages} messages in estafeta's store"));

    // 1. Estafeta.
    let data = work.path().join("data");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = estafeta_store::sqlite::SqliteStore::open(&data).await.unwrap();
        for n in 0..messages {
            let entry = NewQueuedMessage {
                sender: "sender@bench.test".into(),
                recipients: vec![QueueRecipient {
                    address: format!("user{}@sink.test", n % 100),
                    ..Default::default()
                }],
                envid: None,
                ret: None,
            };
            store.queue_insert(&message(n, size), &entry).await.unwrap();
        }
        store.shutdown();
    });
    let config = work.path().join("estafeta.toml");
    let smtp_port = estafeta_interop::free_port();
    let http_port = estafeta_interop::free_port();
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nhostname = \"mx.bench.test\"\n[listen]\nsmtp = \"127.0.0.1:{smtp_port}\"\nhttp = \"127.0.0.1:{http_port}\"\n\
             [outbound]\nmax_connections_per_domain = {CONCURRENCY}\n\
             [outbound.routes.\"sink.test\"]\nhost = \"127.0.0.1\"\nport = {sink_port}\n",
            data.display()
        ),
    )
    .unwrap();
    let database = data.join("estafeta.db");
    progress(format!("estafeta: delivering {messages} queued messages"));
    let started = Instant::now();
    let server = estafeta_bench::server::Server::start(&binary, &config, smtp_port);
    let metrics = || {
        runtime
            .block_on(estafeta_testkit::http_get(
                format!("127.0.0.1:{http_port}").parse().unwrap(),
                "/metrics",
            ))
            .1
    };
    wait_progress(
        "estafeta delivered from its queue",
        messages,
        Duration::from_secs(60),
        || messages.saturating_sub(queued(&database).max(0) as usize),
        || {
            metrics()
                .lines()
                .filter(|l| l.starts_with("estafeta_outbound"))
                .collect::<Vec<_>>()
                .join("\n")
        },
    );
    let estafeta_secs = started.elapsed().as_secs_f64();
    // Every one accepted by the sink, none failed.
    let metrics = metrics();
    let delivered = format!("estafeta_outbound_recipients_total{{result=\"delivered\"}} {messages}\n");
    assert!(metrics.contains(&delivered), "not all delivered:\n{metrics}");
    drop(server);

    // 2. Postfix relaying the same load to the same sink.
    // Everything smtp-source sends is put on hold as it arrives; releasing
    // the hold starts the timed delivery.
    let hold = work.path().join("hold.regexp");
    std::fs::write(&hold, "/^From:/ HOLD\n").unwrap();
    let extra = format!(
        "default_destination_concurrency_limit = {CONCURRENCY}\nsmtpd_client_connection_count_limit = 1000\n\
         default_process_limit = 200\nheader_checks = regexp:{}\n",
        hold.display()
    );
    progress("starting postfix");
    let postfix = Postfix::start(format!("127.0.0.1:{sink_port}").parse().unwrap(), &extra);
    progress(format!("postfix: queueing {messages} messages on hold"));
    smtp_source(postfix.smtp_port, CONCURRENCY, messages, size, "user@sink.test");
    wait_progress(
        "postfix queued on hold",
        messages,
        Duration::from_secs(60),
        || count(&postfix.log(), ": hold: header From:"),
        || postfix.log(),
    );
    progress("postfix: releasing the hold");
    let started = Instant::now();
    postfix.release_held();
    wait_progress(
        "postfix sent",
        messages,
        Duration::from_secs(60),
        || count(&postfix.log(), "status=sent"),
        || postfix.log(),
    );
    let postfix_secs = started.elapsed().as_secs_f64();
    drop(postfix);

    let rate = |secs: f64| messages as f64 / secs;
    println!(
        "smtp-relay: {messages} messages x {size} B from the queue to smtp-sink, {CONCURRENCY} connections, loopback"
    );
    println!(
        "  estafeta (until every delivery is marked): {:>8.0} msg/s  ({estafeta_secs:.2} s)",
        rate(estafeta_secs)
    );
    println!(
        "  postfix  (until every status=sent):        {:>8.0} msg/s  ({postfix_secs:.2} s)",
        rate(postfix_secs)
    );
    println!(
        "  ratio estafeta / postfix:                  {:>8.2}x",
        postfix_secs / estafeta_secs
    );
}
