//! IMAP, Estafeta beside Dovecot, on the same machine in one run, driven
//! by the same client code over loopback (plaintext on both, so TLS cost
//! does not blur the comparison).
//!
//! 1. load: `--messages` messages appended by 8 clients (LITERAL+);
//! 2. `FETCH 1:* (FLAGS ENVELOPE)`: the first (cold) and the best of three
//!    warm runs;
//! 3. `UID SEARCH TEXT "<word>"`: the median of three runs (both servers
//!    must find the same messages);
//! 4. IDLE wake-up: from one session's APPEND to `EXISTS` in another's
//!    IDLE (the median of 20);
//! 5. 20 clients doing SELECT/FETCH/STORE/APPEND for `--seconds`;
//! 6. `--idle` sessions in IDLE: memory per session (PSS, so shared pages
//!    are not counted once per process), Estafeta freshly restarted.
//!
//!   cargo build --release -p estafeta -p estafeta-bench
//!   target/release/imap [--smoke] [--messages N] [--seconds S] [--idle N]
//!                       [--postgres postgres://user@host:port/db]  (Estafeta on PostgreSQL)

use estafeta_bench::imap::Client;
use estafeta_bench::people_mail::{RARE, Rng, USER, messages};
use estafeta_bench::server::{Server, add_account, estafeta, estafeta_binary, wait_port};
use estafeta_bench::{arg, flag, raise_fd_limit, store_section};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password-1";

struct Target {
    name: &'static str,
    port: u16,
    /// Processes whose memory counts (Estafeta's one, Dovecot's all).
    pids: Box<dyn Fn() -> Vec<u32>>,
}

/// Proportional set size of the processes, in KiB.
fn pss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("Pss:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

async fn load(target: &Target, messages: &[Vec<u8>]) -> f64 {
    let started = Instant::now();
    let clients = 8;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let port = target.port;
        let mine: Vec<Vec<u8>> = messages.iter().skip(c).step_by(clients).cloned().collect();
        tasks.push(tokio::spawn(async move {
            let mut client = Client::login(port, USER, PASSWORD).await.unwrap();
            for message in &mine {
                client.append("INBOX", message).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

async fn fetch_all(target: &Target, expected: usize) -> f64 {
    let mut client = Client::login(target.port, USER, PASSWORD).await.unwrap();
    client.ok("SELECT INBOX").await.unwrap();
    let started = Instant::now();
    let reply = client.ok("FETCH 1:* (FLAGS ENVELOPE)").await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        reply.untagged >= expected,
        "{}: {} FETCH lines",
        target.name,
        reply.untagged
    );
    secs
}

async fn search(target: &Target) -> (f64, String) {
    let mut client = Client::login(target.port, USER, PASSWORD).await.unwrap();
    client.ok("SELECT INBOX").await.unwrap();
    let started = Instant::now();
    let reply = client.ok(&format!("UID SEARCH TEXT \"{RARE}\"")).await.unwrap();
    (started.elapsed().as_secs_f64(), reply.search.join(" "))
}

/// Milliseconds from an APPEND by one session to `EXISTS` in another
/// session's IDLE (median of `rounds`).
async fn idle_wake(target: &Target, rounds: usize) -> f64 {
    let mut idler = Client::login(target.port, USER, PASSWORD).await.unwrap();
    idler.ok("SELECT INBOX").await.unwrap();
    idler.idle().await.unwrap();
    let mut writer = Client::login(target.port, USER, PASSWORD).await.unwrap();
    let extra = messages(1).remove(0);
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        writer.append("INBOX", &extra).await.unwrap();
        while !idler.read_line().await.unwrap().contains("EXISTS") {}
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    median(samples)
}

/// 20 clients, each looping over a random mix; returns operations per second.
async fn mixed(target: &Target, count: usize, seconds: u64, seed: u64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..20u64 {
        let port = target.port;
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(seed + c);
            let mut client = Client::login(port, USER, PASSWORD).await.unwrap();
            client.ok("SELECT INBOX").await.unwrap();
            let extra = messages(1).remove(0);
            let mut operations = 0u64;
            while Instant::now() < deadline {
                let start = 1 + rng.below(count.saturating_sub(20).max(1));
                match rng.below(10) {
                    0 => client.ok("SELECT INBOX").await.map(drop),
                    1..=5 => client
                        .ok(&format!(
                            "FETCH {start}:{} (FLAGS ENVELOPE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])",
                            start + 19
                        ))
                        .await
                        .map(drop),
                    6..=8 => {
                        let sign = if rng.below(2) == 0 { '+' } else { '-' };
                        client
                            .ok(&format!("STORE {start} {sign}FLAGS (\\Seen)"))
                            .await
                            .map(drop)
                    }
                    _ => client.append("INBOX", &extra).await.map(drop),
                }
                .unwrap();
                operations += 1;
            }
            operations
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total as f64 / seconds as f64
}

/// Opens `count` sessions in IDLE; returns KiB of memory per session.
async fn idle(target: &Target, count: usize) -> (f64, Vec<Client>) {
    // Settle allocator arenas with a few logins first, then measure.
    let mut warm = Vec::new();
    for _ in 0..8 {
        let mut client = Client::login(target.port, USER, PASSWORD).await.unwrap();
        client.ok("SELECT INBOX").await.unwrap();
        warm.push(client);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = pss_kib(&(target.pids)());
    let mut sessions = Vec::with_capacity(count);
    let batch = 64;
    let mut opened = 0;
    while opened < count {
        let mut tasks = Vec::new();
        for _ in 0..batch.min(count - opened) {
            let port = target.port;
            tasks.push(tokio::spawn(async move {
                let mut client = Client::login(port, USER, PASSWORD).await.unwrap();
                client.ok("SELECT INBOX").await.unwrap();
                client.idle().await.unwrap();
                client
            }));
        }
        for task in tasks {
            sessions.push(task.await.unwrap());
            opened += 1;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = pss_kib(&(target.pids)());
    sessions.extend(warm);
    (after.saturating_sub(before) as f64 / count as f64, sessions)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// Dovecot from a private config: its own base dir, ports, passwd-file
/// user owning a temp Maildir (PEERS.md).
fn start_dovecot(dir: &Path, port: u16) -> Option<u32> {
    let id = |flag: &str| -> Option<String> {
        let output = Command::new("id").arg(flag).arg("dovecot").output().ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let (uid, gid) = (id("-u")?, id("-g")?);
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    Command::new("chown")
        .arg(format!("{uid}:{gid}"))
        .arg(&home)
        .status()
        .unwrap();
    std::fs::write(
        dir.join("users"),
        format!("{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{}\n", home.display()),
    )
    .unwrap();
    let config = dir.join("dovecot.conf");
    let d = dir.display();
    std::fs::write(
        &config,
        format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {d}/run\nstate_dir = {d}/state\n\
log_path = {d}/dovecot.log\ninfo_log_path = /dev/null\nssl = no\ndisable_plaintext_auth = no\n\
auth_mechanisms = plain login\nmail_location = maildir:~/Maildir\nmail_max_userip_connections = 20000\n\
first_valid_uid = 1\ndefault_internal_user = dovecot\ndefault_login_user = dovenull\ndefault_vsz_limit = 0\n\
passdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\nuserdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\n\
service imap-login {{\n  inet_listener imap {{\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n\
  process_limit = 20000\n  client_limit = 20000\n}}\nservice imap {{\n  process_limit = 20000\n}}\n\
service auth {{\n  client_limit = 40000\n}}\nservice anvil {{\n  client_limit = 40000\n}}\n"
        ),
    )
    .unwrap();
    // Not `output()`: the daemon keeps the pipes open after its parent exits.
    let log = std::fs::File::create(dir.join("start.log")).unwrap();
    let status = Command::new("dovecot")
        .arg("-c")
        .arg(&config)
        .stderr(log)
        .status()
        .ok()?;
    if !status.success() {
        eprintln!(
            "dovecot did not start: {}",
            std::fs::read_to_string(dir.join("start.log")).unwrap_or_default()
        );
        return None;
    }
    wait_port(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(pid) = std::fs::read_to_string(dir.join("run/master.pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            return Some(pid);
        }
        assert!(Instant::now() < deadline, "dovecot wrote no master.pid");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every process below `root` (Dovecot's master and its services).
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1)?.parse::<u32>().ok());
        parents.push((pid, ppid.unwrap_or(0)));
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(parents.iter().filter(|(_, p)| *p == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    tree
}

fn print_row(what: &str, estafeta: f64, dovecot: Option<f64>, unit: &str, lower_is_better: bool) {
    match dovecot {
        Some(dovecot) => {
            let ratio = if lower_is_better {
                dovecot / estafeta
            } else {
                estafeta / dovecot
            };
            println!(
                "  {what:<44} estafeta {estafeta:>10.3} {unit:<10} dovecot {dovecot:>10.3} {unit:<10} estafeta {ratio:.2}x"
            );
        }
        None => println!("  {what:<44} estafeta {estafeta:>10.3} {unit}"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let smoke = flag("--smoke");
    let count = arg("--messages", if smoke { 200 } else { 10_000 });
    let seconds = arg("--seconds", if smoke { 2u64 } else { 30 });
    let idle_sessions = arg("--idle", if smoke { 50 } else { 5_000 });
    let dovecot_idle = arg("--dovecot-idle", idle_sessions.min(1_000));
    raise_fd_limit();
    let binary = estafeta_binary();
    assert!(
        binary.exists(),
        "{} not built (cargo build -p estafeta)",
        binary.display()
    );
    let mail = messages(count);
    let bytes: usize = mail.iter().map(Vec::len).sum();

    let work = tempfile::Builder::new()
        .prefix("estafeta-imap-bench")
        .tempdir()
        .unwrap();
    estafeta_interop::open_up(work.path());
    let port = estafeta_interop::free_port();
    let config = work.path().join("estafeta.toml");
    let (store_section, backend) = store_section().await;
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nhostname = \"mx.bench.test\"\n[listen]\nimap = \"127.0.0.1:{port}\"\n\
[limits]\nconnections_per_ip = 20000\nmax_connections = 20000\n[auth]\nallow_plaintext = true\n{store_section}",
            work.path().join("data").display()
        ),
    )
    .unwrap();
    estafeta(&binary, &config, &["domain", "add", "bench.test"]);
    add_account(&binary, &config, USER, PASSWORD);
    let serve = || Server::start(&binary, &config, port);
    let mut server = serve();
    // The pid is read at each measurement: the server restarts once.
    let pid = Arc::new(AtomicU32::new(server.0.id()));
    let current = Arc::clone(&pid);
    let estafeta = Target {
        name: "estafeta",
        port,
        pids: Box::new(move || vec![current.load(Ordering::Relaxed)]),
    };

    let dovecot_dir = work.path().join("dovecot");
    std::fs::create_dir_all(&dovecot_dir).unwrap();
    let dovecot_port = estafeta_interop::free_port();
    let dovecot = start_dovecot(&dovecot_dir, dovecot_port).map(|master| Target {
        name: "dovecot",
        port: dovecot_port,
        pids: Box::new(move || descendants(master)),
    });
    if dovecot.is_none() {
        assert!(std::env::var_os("CI").is_none(), "dovecot is required under CI");
        eprintln!("dovecot is not installed (apt-get install dovecot-imapd): Estafeta figures only");
    }
    let targets: Vec<&Target> = std::iter::once(&estafeta).chain(dovecot.as_ref()).collect();

    let mut results: Vec<Vec<f64>> = Vec::new();
    // Each phase runs on every server before the next phase starts.
    results.push(futures(targets.iter().map(|t| load(t, &mail))).await);
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for target in &targets {
        cold.push(fetch_all(target, count).await);
    }
    for target in &targets {
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(fetch_all(target, count).await);
        }
        warm.push(runs.into_iter().fold(f64::MAX, f64::min));
    }
    let mut search_secs = Vec::new();
    let mut found = Vec::new();
    for target in &targets {
        let mut runs = Vec::new();
        for _ in 0..3 {
            let (secs, result) = search(target).await;
            runs.push(secs);
            found.push(result.split_whitespace().skip(2).count());
        }
        search_secs.push(median(runs));
    }
    assert!(
        found.windows(2).all(|w| w[0] == w[1]),
        "the servers found different messages: {found:?}"
    );
    let mut wake = Vec::new();
    for target in &targets {
        wake.push(idle_wake(target, 20).await);
    }
    let mut mixed_rates = Vec::new();
    for target in &targets {
        mixed_rates.push(mixed(target, count, seconds, 99).await);
    }
    // IDLE memory on a freshly started Estafeta, so memory freed by the
    // phases before is not reused and hidden.
    drop(server);
    server = serve();
    pid.store(server.0.id(), Ordering::Relaxed);
    let mut idle_kib = Vec::new();
    let mut held = Vec::new();
    for target in &targets {
        let sessions = if target.name == "dovecot" {
            dovecot_idle
        } else {
            idle_sessions
        };
        let (kib, clients) = idle(target, sessions).await;
        idle_kib.push(kib);
        held.push(clients);
    }
    drop(held);

    let other = |values: &[f64]| values.get(1).copied();
    println!(
        "imap: {count} messages ({:.1} MiB), loopback, plaintext, same client for both; estafeta store: {backend}",
        bytes as f64 / 1_048_576.0
    );
    let load_rates: Vec<f64> = results[0].iter().map(|secs| count as f64 / secs).collect();
    print_row(
        "APPEND, 8 clients (load)",
        load_rates[0],
        other(&load_rates),
        "msg/s",
        false,
    );
    print_row(
        "FETCH 1:* (FLAGS ENVELOPE), first run",
        cold[0],
        other(&cold),
        "s",
        true,
    );
    print_row(
        "FETCH 1:* (FLAGS ENVELOPE), best of 3",
        warm[0],
        other(&warm),
        "s",
        true,
    );
    print_row(
        &format!("UID SEARCH TEXT (median of 3, {} hits)", found[0]),
        search_secs[0],
        other(&search_secs),
        "s",
        true,
    );
    print_row(
        "IDLE wake-up after another session's APPEND",
        wake[0],
        other(&wake),
        "ms",
        true,
    );
    print_row(
        &format!("mixed SELECT/FETCH/STORE/APPEND, 20 x {seconds}s"),
        mixed_rates[0],
        other(&mixed_rates),
        "ops/s",
        false,
    );
    println!(
        "  IDLE memory per session: estafeta {:.1} KiB ({idle_sessions} sessions){}",
        idle_kib[0],
        idle_kib
            .get(1)
            .map(|kib| format!(", dovecot {kib:.1} KiB ({dovecot_idle} sessions, a process each)"))
            .unwrap_or_default()
    );
    if dovecot.is_some() {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(dovecot_dir.join("dovecot.conf"))
            .arg("stop")
            .status();
    }
    drop(server);
}

/// Runs the futures one after another (phases are not overlapped).
async fn futures<F: std::future::Future<Output = f64>>(futures: impl Iterator<Item = F>) -> Vec<f64> {
    let mut out = Vec::new();
    for future in futures {
        out.push(future.await);
    }
    out
}
