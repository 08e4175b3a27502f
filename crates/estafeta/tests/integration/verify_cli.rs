//! `estafeta verify` against the testkit's DNS and a fake MTA.

use crate::common::*;
use estafeta_testkit::dns::TestDns;
use estafeta_testkit::mta::{Behaviour, FakeMta, common_port};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[tokio::test]
async fn verify_prints_a_report_per_address_as_text_or_json() {
    let host = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let port = common_port(&[host]).await;
    let dns = TestDns::start().await;
    dns.mx("ok.test", 10, "mx.ok.test");
    dns.ip("mx.ok.test", host);
    let mta = FakeMta::start(
        SocketAddr::new(host, port),
        Behaviour::Mailboxes(vec!["a@ok.test".into()]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[dns]\nnameservers = [\"{}\"]\n[verify]\nsmtp_port = {port}\n",
        dns.addr()
    );

    let mut command = configured(dir.path(), &toml);
    command.args(["verify", "a@ok.test", "b@ok.test", "bad address"]);
    let done = tokio::task::spawn_blocking(move || run(command, None)).await.unwrap();
    let out = done.ok();
    assert!(
        out.contains("a@ok.test: deliverable (the server takes mail for it)"),
        "{out}"
    );
    assert!(
        out.contains("b@ok.test: undeliverable (no such mailbox: 550 5.1.1"),
        "{out}"
    );
    assert!(out.contains("bad address: undeliverable (invalid address"), "{out}");
    assert!(out.contains("  mx           mx.ok.test"), "{out}");

    let mut command = configured(dir.path(), &toml);
    command.args(["verify", "--json", "a@ok.test"]);
    let done = tokio::task::spawn_blocking(move || run(command, None)).await.unwrap();
    let json: serde_json::Value = serde_json::from_str(done.ok()).unwrap();
    assert_eq!(json[0]["verdict"], "deliverable");
    assert_eq!(json[0]["catch_all"], false);

    // On the tenant's suppression list: reported so, and no probe sent.
    let asked = mta.attempts("a@ok.test");
    run_in(
        &dir.path().join("data"),
        &["suppression", "add", "A@ok.test", "--reason", "complaint"],
        None,
    )
    .ok();
    let mut command = configured(dir.path(), &toml);
    command.args(["verify", "a@ok.test"]);
    let done = tokio::task::spawn_blocking(move || run(command, None)).await.unwrap();
    let out = done.ok();
    assert!(
        out.contains("a@ok.test: undeliverable (on the suppression list (complaint); do not send)"),
        "{out}"
    );
    assert!(out.contains("  suppressed   complaint: added by the operator"), "{out}");
    assert_eq!(mta.attempts("a@ok.test"), asked);
    let mut command = configured(dir.path(), &toml);
    command.args(["verify", "--tenant", "nobody", "a@ok.test"]);
    let done = tokio::task::spawn_blocking(move || run(command, None)).await.unwrap();
    done.refused("no tenant nobody");
}

/// A list through `--input/--output`: interrupted with Ctrl-C (SIGINT)
/// part way, resumed without asking again about what was done, results in
/// the input's order, and the summary with the estimated bounce rate.
#[tokio::test]
async fn a_list_is_verified_interrupted_and_resumed() {
    let host = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    let port = common_port(&[host]).await;
    let dns = TestDns::start().await;
    dns.mx("list.test", 10, "mx.list.test");
    dns.ip("mx.list.test", host);
    let known: Vec<String> = (0..16).map(|i| format!("user{i}@list.test")).collect();
    let mta = FakeMta::start(SocketAddr::new(host, port), Behaviour::Mailboxes(known)).await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("list.csv");
    // 18 addresses: 16 that exist, one that does not, one malformed; and a
    // duplicate row.
    let mut csv = String::from("name,email\n");
    for i in 0..16 {
        csv.push_str(&format!("User {i},user{i}@list.test\n"));
    }
    csv.push_str("Gone,gone@list.test\nBad,not-an-address\nAgain,user0@list.test\n");
    std::fs::write(&input, csv).unwrap();
    let output = dir.path().join("results.csv");
    // Paced to 2 RCPTs a second, so the interrupt lands part way.
    let slow = format!(
        "[dns]\nnameservers = [\"{}\"]\n[verify]\nsmtp_port = {port}\nhost_rate = 120\ncatch_all_check = false\n",
        dns.addr()
    );
    let mut command = configured(dir.path(), &slow);
    command
        .args(["verify", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().unwrap();
    let results_rows = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(|text| text.lines().count().saturating_sub(1))
            .unwrap_or(0)
    };
    for _ in 0..200 {
        if results_rows(&output) >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let interrupted = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&interrupted.stderr);
    assert_eq!(interrupted.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    let kept = results_rows(&output);
    assert!((4..18).contains(&kept), "{kept} rows kept");
    let asked_before: u32 = (0..16).map(|i| mta.attempts(&format!("user{i}@list.test"))).sum();

    let fast = slow.replace("host_rate = 120", "host_rate = 0");
    let mut command = configured(dir.path(), &fast);
    command
        .args(["verify", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output);
    let done = tokio::task::spawn_blocking(move || run(command, None)).await.unwrap();
    let out = done.ok();
    assert!(
        done.stderr.contains(&format!("resuming: {kept} of 18")),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("1 duplicate rows skipped"), "{}", done.stderr);
    // Each address asked about once over both runs.
    for i in 0..16 {
        assert_eq!(mta.attempts(&format!("user{i}@list.test")), 1, "user{i}");
    }
    assert!(asked_before < 16);
    assert!(out.contains("18 addresses"), "{out}");
    assert!(out.contains("deliverable          16"), "{out}");
    assert!(out.contains("undeliverable         2"), "{out}");
    assert!(
        out.contains("estimated bounce rate if sent as is: 11.1% (undeliverable)"),
        "{out}"
    );
    assert!(out.contains("above 3%"), "{out}");

    let text = std::fs::read_to_string(&output).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[0].starts_with("address,verdict,reason,"), "{}", rows[0]);
    assert_eq!(rows.len(), 19);
    for (i, row) in rows[1..17].iter().enumerate() {
        assert!(row.starts_with(&format!("user{i}@list.test,deliverable,")), "{row}");
    }
    assert!(
        rows[17].starts_with("gone@list.test,undeliverable,no such mailbox"),
        "{}",
        rows[17]
    );
    assert!(
        rows[18].starts_with("not-an-address,undeliverable,invalid address"),
        "{}",
        rows[18]
    );
}
