//! `estafeta dns-records` and `estafeta dns-check` against the testkit's
//! DNS: the records printed are the records checked, so publishing what
//! one prints makes the other pass, and a wrong or missing one is named.

use crate::common::*;
use estafeta_testkit::dns::TestDns;

/// (name, type, value) of each zone-file line `dns-records` printed.
fn zone_lines(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .filter(|line| !line.starts_with(';') && !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.splitn(4, ' ');
            let name = fields.next().unwrap().to_owned();
            assert_eq!(fields.next(), Some("IN"), "{line}");
            let kind = fields.next().unwrap().to_owned();
            (name, kind, fields.next().unwrap().to_owned())
        })
        .collect()
}

/// A TXT value as printed (one or more quoted strings) back to its text.
fn unquote(value: &str) -> String {
    value.split("\" \"").map(|part| part.trim_matches('"')).collect()
}

fn publish(dns: &TestDns, (name, kind, value): &(String, String, String)) {
    let fields: Vec<&str> = value.split(' ').collect();
    match kind.as_str() {
        "MX" => dns.mx(name, fields[0].parse().unwrap(), fields[1]),
        "TXT" => dns.txt(name, &unquote(value)),
        "SRV" => dns.srv(
            name,
            fields[0].parse().unwrap(),
            fields[1].parse().unwrap(),
            fields[2].parse().unwrap(),
            fields[3],
        ),
        "CNAME" => dns.cname(name, value),
        other => panic!("unexpected record type {other}"),
    }
}

/// A server on the usual ports (submission, implicit TLS IMAP, http; no
/// POP3) that asks `dns` for its lookups.
fn config_for(dns: &TestDns) -> String {
    format!(
        "hostname = \"mail.example.test\"\n\n[dns]\nnameservers = [\"{}\"]\n\n[listen]\n\
         smtp = \"0.0.0.0:25\"\nsubmission = \"0.0.0.0:587\"\nsubmissions = \"0.0.0.0:465\"\n\
         imaps = \"0.0.0.0:993\"\nhttp = \"127.0.0.1:8080\"\n",
        dns.addr()
    )
}

#[tokio::test]
async fn the_records_printed_are_the_records_checked() {
    let dns = TestDns::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = config_for(&dns);
    let path = dir.path().to_owned();
    let cli = move |args: &[&str]| {
        let mut command = configured(&path, &toml);
        command.args(args);
        run(command, None)
    };
    let cli = std::sync::Arc::new(cli);
    let call = |args: &'static [&'static str]| {
        let cli = std::sync::Arc::clone(&cli);
        tokio::task::spawn_blocking(move || cli(args))
    };

    call(&["dns-records", "example.test"])
        .await
        .unwrap()
        .refused("not one of our domains");
    call(&["domain", "add", "example.test"]).await.unwrap().ok();
    let without_key = call(&["dns-records", "example.test"]).await.unwrap();
    assert!(without_key.ok().contains("estafeta dkim generate example.test"));
    call(&["dkim", "generate", "example.test", "--selector", "s1"])
        .await
        .unwrap()
        .ok();
    let printed = call(&["dns-records", "example.test"]).await.unwrap();
    let records = zone_lines(printed.ok());
    let kinds: Vec<(&str, &str)> = records.iter().map(|(n, k, _)| (n.as_str(), k.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("example.test.", "MX"),
            ("example.test.", "TXT"),
            ("s1._domainkey.example.test.", "TXT"),
            ("_dmarc.example.test.", "TXT"),
            ("_smtp._tls.example.test.", "TXT"),
            ("_mta-sts.example.test.", "TXT"),
            ("mta-sts.example.test.", "CNAME"),
            ("_submissions._tcp.example.test.", "SRV"),
            ("_submission._tcp.example.test.", "SRV"),
            ("_imaps._tcp.example.test.", "SRV"),
            ("autoconfig.example.test.", "CNAME"),
            ("autodiscover.example.test.", "CNAME"),
            ("_caldavs._tcp.example.test.", "SRV"),
            ("_caldavs._tcp.example.test.", "TXT"),
            ("_carddavs._tcp.example.test.", "SRV"),
            ("_carddavs._tcp.example.test.", "TXT"),
        ],
        "{}",
        printed.stdout
    );
    assert_eq!(records[0].2, "10 mail.example.test.");
    assert_eq!(records[7].2, "0 1 465 mail.example.test.");
    assert_eq!(
        (records[12].2.as_str(), unquote(&records[13].2)),
        ("0 1 443 mail.example.test.", "path=/dav/".into())
    );
    // The id is the one of the policy the server serves for this hostname.
    let policy = estafeta_server::mta_sts::policy("mail.example.test");
    assert_eq!(
        unquote(&records[5].2),
        format!("v=STSv1; id={}", estafeta_server::mta_sts::policy_id(&policy))
    );
    let dkim = unquote(&records[2].2);
    assert!(dkim.starts_with("v=DKIM1; k=rsa; p=") && dkim.len() > 300, "{dkim}");
    assert!(records[2].2.contains("\" \""), "a 2048-bit key needs several strings");

    // Nothing published yet: every record is missing, and the command fails.
    let before = call(&["dns-check", "example.test"]).await.unwrap();
    before.refused("16 of 16 records missing or wrong");
    assert_eq!(before.stdout.matches("missing\t").count(), 16, "{}", before.stdout);

    for record in &records {
        publish(&dns, record);
    }
    let after = call(&["dns-check", "example.test"]).await.unwrap();
    assert_eq!(after.ok().matches("ok\t").count(), 16, "{}", after.stdout);

    // A record that says something else is named with what was found.
    dns.txt("_dmarc.example.test", "v=DMARC1; p=none");
    let still = call(&["dns-check", "example.test"]).await.unwrap();
    assert!(
        still.ok().contains("ok\t_dmarc.example.test."),
        "one right value among them is enough"
    );
    let other = TestDns::start().await;
    for record in records.iter().filter(|r| r.1 != "MX") {
        publish(&other, record);
    }
    other.mx("example.test", 10, "elsewhere.test");
    let toml = config_for(&other);
    let path = dir.path().to_owned();
    let wrong = tokio::task::spawn_blocking(move || {
        let mut command = configured(&path, &toml);
        command.args(["dns-check", "example.test"]);
        run(command, None)
    })
    .await
    .unwrap();
    wrong.refused("1 of 16 records missing or wrong");
    assert!(
        wrong.stdout.contains("differs\texample.test. MX 10 mail.example.test.")
            && wrong.stdout.contains("published: 10 elsewhere.test."),
        "{}",
        wrong.stdout
    );
}
