//! CalDAV beside Radicale on the same calendar: 5,000 events (one in ten
//! recurring weekly, one in five with an alarm, spread over a year) PUT
//! into each server, then the REPORTs a client runs:
//!
//! - calendar-query, a whole year, with calendar-data: every event;
//! - calendar-query, one week (time range over expanded recurrences);
//! - calendar-multiget of 500 events by href;
//! - sync-collection from no token, with getetag: what a first sync reads.
//!
//! Each first (cold) and then the best of three, one connection kept
//! open; both servers must answer with the same number of events.
//!
//!   cargo build --release -p estafeta -p estafeta-bench
//!   target/release/caldav [--smoke] [--events N]

use estafeta_bench::http::Http;
use estafeta_bench::server::{Install, Server, estafeta_binary, install_with_http, wait_port};
use estafeta_bench::{arg, flag, progress};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const USER: &str = "bench@bench.test";
const PASSWORD: &str = "bench-password-1";

fn event(i: usize) -> String {
    let day = i % 365;
    let (month, mday) = month_day(day);
    let hour = 7 + i % 12;
    let rule = if i.is_multiple_of(10) {
        "RRULE:FREQ=WEEKLY;COUNT=20\r\n"
    } else {
        ""
    };
    let alarm = if i.is_multiple_of(5) {
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Soon\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n"
    } else {
        ""
    };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//estafeta bench//EN\r\nBEGIN:VEVENT\r\nUID:bench-{i}@bench.test\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART:2026{month:02}{mday:02}T{hour:02}0000Z\r\nDURATION:PT45M\r\n{rule}\
SUMMARY:Meeting {i} about item {}\r\nLOCATION:Room {}\r\nDESCRIPTION:Agenda for meeting {i}: review, plan, decide.\r\n\
{alarm}END:VEVENT\r\nEND:VCALENDAR\r\n",
        i * 7 % 1000,
        i % 40
    )
}

fn month_day(day: usize) -> (usize, usize) {
    const LENGTHS: [usize; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut left = day;
    for (month, length) in LENGTHS.iter().enumerate() {
        if left < *length {
            return (month + 1, left + 1);
        }
        left -= length;
    }
    (12, 31)
}

/// The number of resources a multistatus answers with, whatever prefix
/// the server gives DAV's namespace.
fn responses(body: &str) -> usize {
    body.match_indices("response>")
        .filter(|(at, _)| body[..*at].ends_with('<') || body[..*at].ends_with(':'))
        .filter(|(at, _)| {
            let before = &body[..*at];
            let open = before.rfind('<').unwrap_or(0);
            !before[open..].starts_with("</")
        })
        .count()
}

fn query(range: (&str, &str)) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{}" end="{}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#,
        range.0, range.1
    )
}

struct Target {
    name: &'static str,
    port: u16,
    collection: String,
}

async fn upload(target: &Target, events: &[String]) -> f64 {
    let mut http = Http::connect(target.port, USER, PASSWORD).await;
    let (status, body) = http.send("MKCALENDAR", &target.collection, &[], "").await;
    assert!(status == 201, "{}: MKCALENDAR {status} {body}", target.name);
    let started = Instant::now();
    for (i, event) in events.iter().enumerate() {
        let path = format!("{}ev{i}.ics", target.collection);
        let (status, body) = http
            .send("PUT", &path, &[("Content-Type", "text/calendar; charset=utf-8")], event)
            .await;
        assert!(status == 201 || status == 204, "{}: PUT {status} {body}", target.name);
    }
    started.elapsed().as_secs_f64()
}

/// One REPORT: its time and how many resources it answered with.
async fn report(target: &Target, body: &str) -> (f64, usize) {
    let mut http = Http::connect(target.port, USER, PASSWORD).await;
    let started = Instant::now();
    let (status, answer) = http
        .send(
            "REPORT",
            &target.collection,
            &[("Depth", "1"), ("Content-Type", "application/xml; charset=utf-8")],
            body,
        )
        .await;
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(status, 207, "{}: {}", target.name, &answer[..answer.len().min(500)]);
    (secs, responses(&answer))
}

struct Radicale(Child);

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn radicale(dir: &std::path::Path, port: u16) -> Radicale {
    let child = Command::new("radicale")
        .args([
            "--config",
            "",
            "--server-hosts",
            &format!("127.0.0.1:{port}"),
            "--auth-type",
            "none",
            "--storage-filesystem-folder",
            &dir.display().to_string(),
            "--logging-level",
            "warning",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("radicale (apt-get install radicale)");
    Radicale(child)
}

#[tokio::main]
async fn main() {
    let smoke = flag("--smoke");
    let count = arg("--events", if smoke { 100 } else { 5_000 });
    let rounds = if smoke { 1 } else { 3 };
    let binary = estafeta_binary();
    assert!(
        binary.exists(),
        "{} not built (cargo build -p estafeta)",
        binary.display()
    );
    let events: Vec<String> = (0..count).map(event).collect();
    let bytes: usize = events.iter().map(String::len).sum();

    let work = tempfile::Builder::new()
        .prefix("estafeta-caldav-bench")
        .tempdir()
        .unwrap();
    let radicale_port = estafeta_interop::free_port();
    let Install {
        config,
        imap_port,
        http_port,
    } = install_with_http(&binary, work.path(), USER, PASSWORD);
    let _server = Server::start(&binary, &config, imap_port);
    wait_port(http_port);
    let _radicale = radicale(&work.path().join("radicale"), radicale_port);
    wait_port(radicale_port);

    let targets = [
        Target {
            name: "estafeta",
            port: http_port,
            collection: format!("/dav/calendars/{USER}/bench/"),
        },
        Target {
            name: "radicale",
            port: radicale_port,
            collection: format!("/{USER}/bench/"),
        },
    ];
    let mut uploads = Vec::new();
    for target in &targets {
        progress(format!("{}: PUT {count} events", target.name));
        uploads.push(upload(target, &events).await);
    }
    let week = ("20260302T000000Z", "20260309T000000Z");
    let multiget = {
        let mut body = String::from(
            r#"<?xml version="1.0" encoding="utf-8"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>"#,
        );
        for i in (0..count).step_by((count / 500).max(1)).take(500) {
            body.push_str(&format!("<D:href>{{collection}}ev{i}.ics</D:href>"));
        }
        body.push_str("</C:calendar-multiget>");
        body
    };
    let sync = r#"<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
    let reports = [
        (
            "calendar-query, a year, with data",
            query(("20260101T000000Z", "20270101T000000Z")),
        ),
        ("calendar-query, one week", query(week)),
        ("calendar-multiget of 500, with data", multiget),
        ("sync-collection from nothing, etags", sync.to_owned()),
    ];
    println!(
        "caldav: {count} events ({:.1} MiB of iCalendar) in one calendar, loopback, plaintext; estafeta store: sqlite; radicale {}",
        bytes as f64 / (1024.0 * 1024.0),
        radicale_version()
    );
    println!(
        "  {:<38} {:>12} {:>12} {:>10}",
        "PUT each event", "estafeta", "radicale", "ratio"
    );
    println!(
        "  {:<38} {:>9.0}/s {:>9.0}/s {:>9.2}x",
        "  (events per second)",
        count as f64 / uploads[0],
        count as f64 / uploads[1],
        uploads[1] / uploads[0]
    );
    println!(
        "  {:<38} {:>12} {:>12} {:>10}",
        "REPORT (best of rounds, first)", "estafeta", "radicale", "radicale/us"
    );
    for (what, body) in &reports {
        let mut best = [f64::MAX; 2];
        let mut first = [0.0; 2];
        let mut found = [0; 2];
        for (t, target) in targets.iter().enumerate() {
            let body = body.replace("{collection}", &target.collection);
            for round in 0..=rounds {
                let (secs, n) = report(target, &body).await;
                if round == 0 {
                    first[t] = secs;
                } else {
                    best[t] = best[t].min(secs);
                }
                found[t] = n;
            }
        }
        assert_eq!(
            found[0], found[1],
            "{what}: estafeta {} vs radicale {}",
            found[0], found[1]
        );
        println!(
            "  {what:<38} {:>9.1} ms {:>9.1} ms {:>9.2}x   ({} events; first {:.1} / {:.1} ms)",
            best[0] * 1e3,
            best[1] * 1e3,
            best[1] / best[0],
            found[0],
            first[0] * 1e3,
            first[1] * 1e3
        );
    }
}

fn radicale_version() -> String {
    Command::new("radicale")
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default()
}
