//! SMTP ingest, Estafeta beside Postfix, on the same machine in one run.
//!
//! Postfix's smtp-source sends `messages` messages of `size` bytes over
//! `sessions` concurrent sessions (`-d`: connections are reused) to:
//! 1. Estafeta, each message delivered durably into one mailbox before
//!    250; with `--baseline PATH`, another Estafeta binary too (say, one
//!    built before a change), the two taking half the load in turn, twice
//!    (ABAB), so drift falls on both alike;
//! 2. Postfix's smtp-sink, which accepts and keeps nothing: the ceiling;
//! 3. Postfix, delivering into a Maildir (timed until the last file lands);
//! 4. Estafeta again after `prefill` more messages into that mailbox:
//!    alternately into the full mailbox and into a fresh one (twice each),
//!    so both see the same disk state and only the mailbox size differs.
//!
//! Estafeta's content filter runs, but not its DNS blocklist lookups:
//! Postfix here asks none either, and this machine's resolver is no
//! blocklist's.
//!
//! Prints messages per second, the ratios, and Estafeta's peak RSS.
//! Progress goes to stderr; a peer that stops delivering fails the run
//! with its log instead of hanging it.
//!
//!   cargo build --release -p estafeta -p estafeta-bench
//!   target/release/smtp-ingest [--smoke] [--estafeta PATH] [--baseline PATH]
//!                              [--postgres postgres://user@host:port/db]

use estafeta_bench::server::{Server, estafeta, estafeta_binary};
use estafeta_bench::{Sink, arg, flag, peak_rss_kib_of, progress, smtp_source, store_section, wait_progress};
use estafeta_interop::postfix::Postfix;
use std::path::{Path, PathBuf};
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

/// One Estafeta under test: its own data dir, config and server.
struct Estafeta {
    binary: PathBuf,
    config: PathBuf,
    port: u16,
    server: Server,
}

impl Estafeta {
    fn start(binary: &Path, dir: &Path, store_section: &str) -> Estafeta {
        assert!(
            binary.exists(),
            "{} not built (cargo build -p estafeta)",
            binary.display()
        );
        std::fs::create_dir_all(dir).unwrap();
        let port = estafeta_interop::free_port();
        let config = dir.join("estafeta.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\nhostname = \"mx.bench.test\"\n[listen]\nsmtp = \"127.0.0.1:{port}\"\n\
                 [limits]\nconnections_per_ip = 1000\n[smtp]\nverify_sender = false\nmax_errors = 1000000\n\
                 [filter]\ndnsbl = []\nuribl = []\n{store_section}",
                dir.join("data").display()
            ),
        )
        .unwrap();
        estafeta(binary, &config, &["domain", "add", "bench.test"]);
        estafeta(binary, &config, &["account", "add", "user@bench.test"]);
        estafeta(binary, &config, &["account", "add", "fresh@bench.test"]);
        let server = Server::start(binary, &config, port);
        Estafeta {
            binary: binary.to_owned(),
            config,
            port,
            server,
        }
    }

    fn stored(&self) -> usize {
        messages_in_store(&self.binary, &self.config)
    }
}

fn main() {
    let smoke = flag("--smoke");
    let messages = arg("--messages", if smoke { 200 } else { 20_000 });
    let sessions = arg("--sessions", 20usize);
    let size = arg("--size", 2048usize);
    let prefill = arg("--prefill", if smoke { 1_000 } else { 100_000 });
    let baseline_binary: String = arg("--baseline", String::new());
    let half = messages / 2;
    let messages = 2 * half;

    let work = tempfile::Builder::new().prefix("estafeta-bench").tempdir().unwrap();
    estafeta_interop::open_up(work.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (store_a, backend) = runtime.block_on(store_section());
    progress(format!("starting estafeta ({backend})"));
    let subject = Estafeta::start(&estafeta_binary(), &work.path().join("a"), &store_a);
    let baseline = (!baseline_binary.is_empty()).then(|| {
        let (store_b, _) = runtime.block_on(store_section());
        progress(format!("starting the baseline {baseline_binary}"));
        Estafeta::start(Path::new(&baseline_binary), &work.path().join("b"), &store_b)
    });

    // 1. Estafeta (and the baseline), empty mailbox, ABAB.
    let (mut estafeta_secs, mut baseline_secs) = (0.0, 0.0);
    for round in 1..=2 {
        progress(format!("estafeta: round {round} of 2, {half} messages"));
        estafeta_secs += smtp_source(subject.port, sessions, half, size, "user@bench.test");
        if let Some(baseline) = &baseline {
            progress(format!("baseline: round {round} of 2, {half} messages"));
            baseline_secs += smtp_source(baseline.port, sessions, half, size, "user@bench.test");
        }
    }
    assert_eq!(subject.stored(), messages, "every 250 is a stored message");
    if let Some(baseline) = &baseline {
        assert_eq!(baseline.stored(), messages, "the baseline stored every message too");
    }
    let baseline_label = baseline.as_ref().map(|b| b.binary.display().to_string());
    drop(baseline);

    // 2. smtp-sink: accepts, keeps nothing.
    progress(format!("smtp-sink: {messages} messages"));
    let sink_port = estafeta_interop::free_port();
    let sink = Sink::start(sink_port);
    let sink_secs = smtp_source(sink_port, sessions, messages, size, "user@bench.test");
    drop(sink);

    // 3. Postfix into a Maildir (virtual delivery; fsync on, its default).
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
    progress("starting postfix");
    let postfix = Postfix::start("127.0.0.1:9".parse().unwrap(), &extra);
    let new_dir = maildir_base.join("user/new");
    progress(format!("postfix: {messages} messages"));
    let started = Instant::now();
    let postfix_accept_secs = smtp_source(postfix.smtp_port, sessions, messages, size, "user@bench.test");
    wait_progress(
        "postfix delivered to the Maildir",
        messages,
        Duration::from_secs(60),
        || std::fs::read_dir(&new_dir).map(|d| d.count()).unwrap_or(0),
        || postfix.log(),
    );
    let postfix_secs = started.elapsed().as_secs_f64();
    drop(postfix);

    // 4. Full mailbox against a fresh one, alternating (ABAB) to cancel drift.
    if prefill > 0 {
        progress(format!("estafeta: prefilling {prefill} messages"));
        smtp_source(subject.port, 50, prefill, size, "user@bench.test");
    }
    let (mut full_secs, mut fresh_secs) = (0.0, 0.0);
    for round in 1..=2 {
        progress(format!("estafeta: full against fresh mailbox, round {round} of 2"));
        full_secs += smtp_source(subject.port, sessions, half, size, "user@bench.test");
        fresh_secs += smtp_source(subject.port, sessions, half, size, "fresh@bench.test");
    }
    assert_eq!(subject.stored(), messages + prefill + 4 * half);
    let rss = peak_rss_kib_of(&subject.server.0.id().to_string());
    drop(subject);

    let rate = |secs: f64| messages as f64 / secs;
    println!(
        "smtp-ingest: {messages} messages x {size} B, {sessions} sessions (smtp-source -d), loopback; \
         estafeta store: {backend}; filter on, DNS blocklists off"
    );
    println!(
        "  smtp-sink (accepts, keeps nothing):          {:>8.0} msg/s",
        rate(sink_secs)
    );
    println!(
        "  estafeta  (250 = fsynced in mailbox):        {:>8.0} msg/s",
        rate(estafeta_secs)
    );
    if let Some(label) = &baseline_label {
        println!(
            "  baseline  ({label}):\n             (250 = fsynced in mailbox):        {:>8.0} msg/s",
            rate(baseline_secs)
        );
    }
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
    println!(
        "  ratio estafeta / smtp-sink:                  {:>8.0}%",
        sink_secs / estafeta_secs * 100.0
    );
    if baseline_label.is_some() {
        println!(
            "  ratio baseline / postfix-to-Maildir:         {:>8.2}x",
            postfix_secs / baseline_secs
        );
        println!(
            "  ratio baseline / smtp-sink:                  {:>8.0}%",
            sink_secs / baseline_secs * 100.0
        );
        println!(
            "  ratio estafeta / baseline:                   {:>8.2}x",
            baseline_secs / estafeta_secs
        );
    }
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
