//! SMTP ingest, Estafeta beside Postfix, on the same machine in one run.
//!
//! Postfix's smtp-source sends `messages` messages of `size` bytes over
//! `sessions` concurrent sessions (`-d`: connections are reused) to:
//! 1. Estafeta, each message delivered durably into one mailbox before 250;
//! 2. Postfix, delivering into a Maildir (timed until the last file lands);
//! 3. Estafeta again after `prefill` more messages into that mailbox:
//!    alternately into the full mailbox and into a fresh one (twice each),
//!    so both see the same disk state and only the mailbox size differs.
//!
//! Prints messages per second, the ratio, and Estafeta's peak RSS.
//!
//!   cargo build --release -p estafeta -p estafeta-bench
//!   target/release/smtp-ingest [--smoke] [--estafeta PATH] [--postgres postgres://user@host:port/db]

use estafeta_bench::server::{Server, estafeta, estafeta_binary};
use estafeta_bench::{arg, flag, peak_rss_kib_of, smtp_source, store_section};
use estafeta_interop::postfix::Postfix;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn messages_in_store(binary: &Path, config: &Path) -> usize {
    let report = estafeta(binary, config, &["verify-data"]);
    report
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let smoke = flag("--smoke");
    let messages = arg("--messages", if smoke { 200 } else { 20_000 });
    let sessions = arg("--sessions", 20usize);
    let size = arg("--size", 2048usize);
    let prefill = arg("--prefill", if smoke { 1_000 } else { 100_000 });
    let binary = estafeta_binary();
    assert!(
        binary.exists(),
        "{} not built (cargo build -p estafeta)",
        binary.display()
    );

    let work = tempfile::Builder::new().prefix("estafeta-bench").tempdir().unwrap();
    estafeta_interop::open_up(work.path());
    let port = estafeta_interop::free_port();
    let config = work.path().join("estafeta.toml");
    let (store_section, backend) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(store_section());
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nhostname = \"mx.bench.test\"\n[listen]\nsmtp = \"127.0.0.1:{port}\"\n\
             [limits]\nconnections_per_ip = 1000\n[smtp]\nverify_sender = false\nmax_errors = 1000000\n{store_section}",
            work.path().join("data").display()
        ),
    )
    .unwrap();
    estafeta(&binary, &config, &["domain", "add", "bench.test"]);
    estafeta(&binary, &config, &["account", "add", "user@bench.test"]);
    estafeta(&binary, &config, &["account", "add", "fresh@bench.test"]);
    let server = Server::start(&binary, &config, port);

    // 1. Estafeta, empty mailbox.
    let estafeta_secs = smtp_source(port, sessions, messages, size, "user@bench.test");
    assert_eq!(
        messages_in_store(&binary, &config),
        messages,
        "every 250 is a stored message"
    );

    // 2. Postfix into a Maildir (virtual delivery; fsync on, its default).
    let maildir_base = work.path().join("maildirs");
    std::fs::create_dir_all(&maildir_base).unwrap();
    Command::new("chown")
        .arg("postfix")
        .arg(&maildir_base)
        .status()
        .unwrap();
    // Looked up, not assumed: the postfix user's ids differ between machines.
    let (uid, gid) = Postfix::ids();
    let extra = format!(
        "virtual_mailbox_domains = bench.test\nvirtual_mailbox_base = {}\n\
         virtual_mailbox_maps = inline:{{ user@bench.test=user/ }}\n\
         virtual_uid_maps = static:{uid}\nvirtual_gid_maps = static:{gid}\nvirtual_minimum_uid = 100\n\
         smtpd_client_connection_count_limit = 1000\ndefault_process_limit = 200\n",
        maildir_base.display()
    );
    let postfix = Postfix::start("127.0.0.1:9".parse().unwrap(), &extra);
    let new_dir = maildir_base.join("user/new");
    let started = Instant::now();
    let postfix_accept_secs = smtp_source(postfix.smtp_port, sessions, messages, size, "user@bench.test");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let delivered = std::fs::read_dir(&new_dir).map(|d| d.count()).unwrap_or(0);
        if delivered >= messages {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "postfix delivered only {delivered}:\n{}",
            postfix.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let postfix_secs = started.elapsed().as_secs_f64();
    drop(postfix);

    // 3. Full mailbox against a fresh one, alternating (ABAB) to cancel drift.
    smtp_source(port, 50, prefill, size, "user@bench.test");
    let half = messages / 2;
    let (mut full_secs, mut fresh_secs) = (0.0, 0.0);
    for _ in 0..2 {
        full_secs += smtp_source(port, sessions, half, size, "user@bench.test");
        fresh_secs += smtp_source(port, sessions, half, size, "fresh@bench.test");
    }
    assert_eq!(messages_in_store(&binary, &config), messages + prefill + 4 * half);
    let rss = peak_rss_kib_of(&server.0.id().to_string());
    drop(server);

    let rate = |secs: f64| messages as f64 / secs;
    println!(
        "smtp-ingest: {messages} messages x {size} B, {sessions} sessions (smtp-source -d), loopback; \
         estafeta store: {backend}"
    );
    println!(
        "  estafeta  (250 = fsynced in mailbox):        {:>8.0} msg/s",
        rate(estafeta_secs)
    );
    println!(
        "  postfix   (queued, 250):                     {:>8.0} msg/s",
        rate(postfix_accept_secs)
    );
    println!(
        "  postfix   (until delivered to Maildir):      {:>8.0} msg/s",
        rate(postfix_secs)
    );
    println!(
        "  ratio estafeta / postfix-to-Maildir:         {:>8.2}x",
        postfix_secs / estafeta_secs
    );
    let rate_of = |secs: f64| (2 * half) as f64 / secs;
    println!(
        "  estafeta, mailbox holding {prefill:>7} msgs:     {:>8.0} msg/s  ({:+.1}% vs a fresh mailbox in the same run)",
        rate_of(full_secs),
        (fresh_secs / full_secs - 1.0) * 100.0
    );
    println!(
        "  estafeta, fresh mailbox, same disk state:    {:>8.0} msg/s",
        rate_of(fresh_secs)
    );
    println!("  estafeta peak RSS:                          {:>8} KiB", rss);
}
