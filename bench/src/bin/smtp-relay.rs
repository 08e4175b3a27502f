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
use estafeta_bench::{arg, flag, message, smtp_source};
use estafeta_interop::postfix::Postfix;
use estafeta_store::{NewQueuedMessage, QueueRecipient, Store};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 20;

struct Sink(Child);

impl Sink {
    fn start(port: u16) -> Sink {
        let child = Command::new("smtp-sink")
            .args(["-u", "postfix", &format!("127.0.0.1:{port}"), "1000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smtp-sink (Debian package postfix)");
        estafeta_bench::server::wait_port(port);
        Sink(child)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
    let started = Instant::now();
    let server = estafeta_bench::server::Server::start(&binary, &config, smtp_port);
    let deadline = Instant::now() + Duration::from_secs(900);
    while queued(&database) > 0 {
        assert!(Instant::now() < deadline, "estafeta left {} queued", queued(&database));
        std::thread::sleep(Duration::from_millis(20));
    }
    let estafeta_secs = started.elapsed().as_secs_f64();
    // Every one accepted by the sink, none failed.
    let (_, metrics) = runtime.block_on(estafeta_testkit::http_get(
        format!("127.0.0.1:{http_port}").parse().unwrap(),
        "/metrics",
    ));
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
    let postfix = Postfix::start(format!("127.0.0.1:{sink_port}").parse().unwrap(), &extra);
    smtp_source(postfix.smtp_port, CONCURRENCY, messages, size, "user@sink.test");
    let deadline = Instant::now() + Duration::from_secs(900);
    while count(&postfix.log(), ": hold: header From:") < messages {
        assert!(
            Instant::now() < deadline,
            "postfix did not queue everything:\n{}",
            postfix.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    postfix.release_held();
    while count(&postfix.log(), "status=sent") < messages {
        assert!(
            Instant::now() < deadline,
            "postfix did not send everything:\n{}",
            postfix.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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
