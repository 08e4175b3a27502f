//! Shared helpers for the benchmark binaries.

pub mod http;
pub mod imap;
pub mod people_mail;
pub mod server;
pub mod social;
pub mod spam_peers;

/// `--name VALUE` from the command line, or `default`.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("bad value for {name}")))
        .unwrap_or(default)
}

/// A fixed shuffle (xorshift from `seed`), so every run splits alike.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed.max(1);
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Peak resident memory of this process, in KiB (Linux VmHWM).
pub fn peak_rss_kib() -> u64 {
    peak_rss_kib_of("self")
}

/// Peak resident memory of process `pid` ("self" for this one), in KiB.
pub fn peak_rss_kib_of(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A message of about `size` bytes, distinct per `n`.
pub fn message(n: usize, size: usize) -> Vec<u8> {
    let head = format!(
        "From: sender@bench.test\r\nTo: user@bench.test\r\nSubject: bench {n}\r\nMessage-ID: <{n}@bench.test>\r\n\r\n"
    );
    let line = "The quick brown fox jumps over the lazy dog 0123456789.\r\n";
    let mut body = head.into_bytes();
    while body.len() < size {
        body.extend_from_slice(line.as_bytes());
    }
    body.truncate(size.max(1));
    body
}

/// Current resident memory of process `pid`, in KiB (Linux VmRSS).
pub fn rss_kib_of(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Raises this process's open-file limit to its hard limit (children
/// inherit it), for benchmarks with thousands of connections.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
    limit.rlim_cur
}

/// `--postgres ADMIN_URL`: the `[store]` table for a fresh database made on
/// that PostgreSQL (so Estafeta runs on its scale-out backend), and a
/// label for the figures; without the flag, the embedded store.
pub async fn store_section() -> (String, &'static str) {
    let admin: String = arg("--postgres", String::new());
    if admin.is_empty() {
        return (String::new(), "sqlite");
    }
    let name = format!("estafeta_bench_{}", std::process::id());
    let url = estafeta_testkit::fresh_database(&admin, &name).await;
    (
        format!("[store]\nbackend = \"postgres\"\nurl = \"{url}\"\n"),
        "postgres",
    )
}

/// A progress line on stderr, with the time since the bench started, so a
/// long run shows where it is and a stuck one shows where it stuck.
pub fn progress(what: impl std::fmt::Display) {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    eprintln!("[{:>7.1}s] {what}", start.elapsed().as_secs_f64());
}

/// Waits until `done()` reaches `target`, printing progress every few
/// seconds. Gives up, with what `log()` tells (the peer's log), once
/// `stall` passes without any progress: a peer that cannot deliver fails
/// the bench instead of hanging it.
pub fn wait_progress(
    what: &str,
    target: usize,
    stall: std::time::Duration,
    mut done: impl FnMut() -> usize,
    log: impl Fn() -> String,
) {
    use std::time::{Duration, Instant};
    let (mut last, mut moved, mut shown) = (usize::MAX, Instant::now(), Instant::now());
    loop {
        let now = done();
        if now >= target {
            return;
        }
        if now != last {
            (last, moved) = (now, Instant::now());
        }
        if shown.elapsed() >= Duration::from_secs(5) {
            progress(format!("{what}: {now} of {target}"));
            shown = Instant::now();
        }
        if moved.elapsed() >= stall {
            let log = log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "{what}: stuck at {now} of {target} for {}s; the peer's log ends:\n{}",
                stall.as_secs(),
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Postfix's smtp-sink on loopback: accepts every message and keeps
/// nothing (the ceiling of SMTP ingest on this machine).
pub struct Sink(std::process::Child);

impl Sink {
    pub fn start(port: u16) -> Sink {
        let child = std::process::Command::new("smtp-sink")
            .args(["-u", "postfix", &format!("127.0.0.1:{port}"), "1000"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("smtp-sink (Debian package postfix)");
        server::wait_port(port);
        Sink(child)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs smtp-source and returns the seconds it took. Gives up (killing
/// it) after a bound that grows with the load: a server that stops
/// answering fails the bench, it does not hang it.
pub fn smtp_source(port: u16, sessions: usize, messages: usize, size: usize, to: &str) -> f64 {
    use std::io::{Read, Seek};
    use std::time::{Duration, Instant};
    // A file, not a pipe: a chatty failure cannot block it while we wait.
    let mut errors = tempfile::tempfile().expect("a temp file");
    let started = Instant::now();
    let mut child = std::process::Command::new("smtp-source")
        .args([
            "-d",
            "-s",
            &sessions.to_string(),
            "-m",
            &messages.to_string(),
            "-l",
            &size.to_string(),
        ])
        .args(["-f", "sender@bench.test", "-t", to, "-M", "client.bench.test"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(errors.try_clone().expect("a second handle"))
        .spawn()
        .expect("smtp-source (Debian package postfix)");
    let bound = Duration::from_secs(120) + Duration::from_millis(20) * messages as u32;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for smtp-source") {
            break status;
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "smtp-source to port {port} did not finish {messages} messages in {}s",
                bound.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    let _ = errors.rewind();
    let _ = errors.read_to_string(&mut stderr);
    assert!(status.success(), "smtp-source to port {port} failed: {stderr}");
    started.elapsed().as_secs_f64()
}
