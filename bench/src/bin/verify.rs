//! List verification: `estafeta verify --input list.csv --output out.csv`
//! over `addresses` addresses at `domains` simulated domains, each with
//! its own fake MTA on 127.0.1.x and MX records in a local DNS. Most
//! domains know nine addresses in ten; a few take anything (catch-all)
//! and a few refuse everyone. The politeness limits keep their defaults
//! except the per-host RCPT rate (off: these hosts are loopback).
//!
//! Prints addresses per second, the verdict counts and the verifier's
//! peak RSS (from wait4, the whole run).
//!
//! The peer: swaks, one SMTP session per address up to RCPT (how a script
//! checks a list), 20 at once, on an evenly spaced sample of the list;
//! its rate beside Estafeta's, and how often the two agree on addresses
//! both call deliverable or undeliverable.
//!
//!   cargo build --release -p estafeta -p estafeta-bench
//!   target/release/verify [--smoke] [--addresses N] [--domains N] [--peer-sample N]

use estafeta_bench::server::estafeta_binary;
use estafeta_bench::{arg, flag, progress};
use estafeta_testkit::dns::TestDns;
use estafeta_testkit::mta::{Behaviour, FakeMta, common_port};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

fn host(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8))
}

/// Waits for `child`, returning its exit status and peak RSS in KiB.
fn wait_with_rss(child: &std::process::Child) -> (i32, u64) {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    // ru_maxrss is in KiB on Linux.
    (libc::WEXITSTATUS(status), usage.ru_maxrss as u64)
}

/// Whether the MX of `address` (domain `d`N`.test`, host `host(N)`)
/// accepts it at RCPT, asked by swaks in a session of its own.
fn swaks_accepts(address: &str, port: u16) -> bool {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    let n: usize = domain
        .trim_start_matches('d')
        .trim_end_matches(".test")
        .parse()
        .unwrap();
    let status = std::process::Command::new("swaks")
        .args([
            "--to",
            address,
            "--from",
            "check@verifier.bench",
            "--helo",
            "verifier.bench",
        ])
        .args(["--server", &host(n).to_string(), "--port", &port.to_string()])
        .args(["--quit-after", "RCPT", "--hide-all", "--timeout", "10"])
        .status()
        .expect("swaks (Debian package swaks)");
    // swaks: 0 when every step passed; 24 when RCPT was refused.
    match status.code() {
        Some(0) => true,
        Some(24) => false,
        other => panic!("swaks to {address} failed ({other:?})"),
    }
}

fn main() {
    let smoke = flag("--smoke");
    let addresses: usize = arg("--addresses", if smoke { 400 } else { 20_000 });
    let domains: usize = arg("--domains", if smoke { 10 } else { 200 });
    let binary = estafeta_binary();
    assert!(binary.exists(), "build estafeta first: {}", binary.display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (dns, mtas, port) = runtime.block_on(async {
        let hosts: Vec<IpAddr> = (0..domains).map(host).collect();
        let port = common_port(&hosts).await;
        let dns = TestDns::start().await;
        let per_domain = addresses.div_ceil(domains);
        let mut mtas = Vec::new();
        for (d, ip) in hosts.iter().enumerate() {
            let domain = format!("d{d}.test");
            dns.mx(&domain, 10, &format!("mx.{domain}"));
            dns.ip(&format!("mx.{domain}"), *ip);
            let behaviour = match d % 20 {
                0 => Behaviour::Accept,
                1 => Behaviour::Reject,
                _ => Behaviour::Mailboxes(
                    (0..per_domain)
                        .filter(|u| u % 10 != 9)
                        .map(|u| format!("user{u}@{domain}"))
                        .collect(),
                ),
            };
            mtas.push(FakeMta::start(SocketAddr::new(*ip, port), behaviour).await);
        }
        (dns, mtas, port)
    });
    let mut list = String::from("email\n");
    for n in 0..addresses {
        list.push_str(&format!("user{}@d{}.test\n", n / domains, n % domains));
    }
    let input = dir.path().join("list.csv");
    let output = dir.path().join("results.csv");
    std::fs::write(&input, list).unwrap();
    let config = dir.path().join("estafeta.toml");
    std::fs::write(
        &config,
        format!(
            "hostname = \"verifier.bench\"\n[dns]\nnameservers = [\"{}\"]\n[verify]\nsmtp_port = {port}\nhost_rate = 0\n",
            dns.addr()
        ),
    )
    .unwrap();

    progress(format!("estafeta verify: {addresses} addresses"));
    let started = Instant::now();
    // Reaped by wait4 (for its rusage), which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    let child = std::process::Command::new(&binary)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["verify", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The fake MTAs and DNS keep serving on the runtime's threads.
    let (code, rss) = wait_with_rss(&child);
    let elapsed = started.elapsed();
    let mut summary = String::new();
    use std::io::Read;
    child.stdout.unwrap().read_to_string(&mut summary).unwrap();
    assert_eq!(code, 0, "estafeta verify failed");
    let rows = std::fs::read_to_string(&output).unwrap().lines().count() - 1;
    assert_eq!(rows, addresses, "one result per address");
    println!(
        "verify: {addresses} addresses over {domains} domains (fake MTAs on loopback), defaults but host_rate = 0"
    );
    println!("{summary}");
    println!(
        "  addresses/second:   {:>9.0}  ({:.2} s)",
        addresses as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!("  peak RSS:           {rss:>9} KiB");
    let connections: u32 = mtas.iter().map(FakeMta::connections).sum();
    let busiest = mtas.iter().map(FakeMta::peak_connections).max().unwrap_or(0);
    let rcpts: usize = mtas.iter().map(|m| m.rcpt_times().len()).sum();
    println!(
        "  SMTP connections:   {connections:>9}  ({:.1} RCPTs each; at most {busiest} at once to one host)",
        rcpts as f64 / connections.max(1) as f64
    );

    // The peer, on a sample: about every `step`th address, moved along
    // by one each time so that every domain is sampled.
    let sample: usize = arg("--peer-sample", if smoke { 40 } else { 1_000 }).min(addresses);
    let step = addresses / sample.max(1);
    let picked: Vec<String> = (0..sample)
        .map(|i| {
            let n = (i * step + i % step.max(1)) % addresses;
            format!("user{}@d{}.test", n / domains, n % domains)
        })
        .collect();
    progress(format!("swaks: {sample} addresses, one session each, 20 at once"));
    let peer_started = Instant::now();
    let accepted: Vec<bool> = std::thread::scope(|scope| {
        let workers: Vec<_> = picked
            .chunks(sample.div_ceil(20).max(1))
            .map(|chunk| scope.spawn(move || chunk.iter().map(|a| swaks_accepts(a, port)).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let peer_secs = peer_started.elapsed().as_secs_f64();
    let verdicts: std::collections::HashMap<String, String> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split(',');
            Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
        })
        .collect();
    let (mut compared, mut agreed) = (0, 0);
    for (address, accepts) in picked.iter().zip(&accepted) {
        let said = match verdicts.get(address).map(String::as_str) {
            Some("deliverable") => true,
            Some("undeliverable") => false,
            _ => continue,
        };
        compared += 1;
        agreed += usize::from(said == *accepts);
    }
    let estafeta_rate = addresses as f64 / elapsed.as_secs_f64();
    let peer_rate = sample as f64 / peer_secs;
    println!(
        "  swaks (a session per address, 20 at once, {sample} sampled): {peer_rate:>9.0} addresses/s  ({peer_secs:.2} s)"
    );
    println!(
        "  ratio estafeta / swaks:                   {:>9.1}x",
        estafeta_rate / peer_rate
    );
    println!(
        "  agreement with swaks:                     {agreed} of {compared} addresses both judged (catch-all and risky ones aside)"
    );
    assert!(
        compared > 0 && agreed == compared,
        "estafeta and swaks disagree on {} addresses",
        compared - agreed
    );
}
