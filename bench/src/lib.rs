//! Shared helpers for the benchmark binaries.

pub mod imap;
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

/// Runs smtp-source and returns the seconds it took.
pub fn smtp_source(port: u16, sessions: usize, messages: usize, size: usize, to: &str) -> f64 {
    let started = std::time::Instant::now();
    let output = std::process::Command::new("smtp-source")
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
        .output()
        .expect("smtp-source (Debian package postfix)");
    assert!(
        output.status.success(),
        "smtp-source failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed().as_secs_f64()
}
