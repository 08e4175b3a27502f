//! vdirsyncer (a two-way CalDAV/CardDAV synchroniser) against the http
//! listener: 200 events and 200 cards go up from local folders, then one
//! item changes on each side, and a second sync leaves both sides the
//! same (and a third finds nothing to do).

use base64::Engine;
use estafeta_core::config::Service;
use estafeta_interop::{require, run, text};
use estafeta_testkit::{TestServer, http_request};
use std::path::Path;
use std::process::{Command, Stdio};

const ITEMS: usize = 200;

fn event(i: usize, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//interop//EN\r\nBEGIN:VEVENT\r\nUID:ev{i}\r\n\
DTSTAMP:20261201T000000Z\r\nDTSTART:202612{:02}T{:02}0000Z\r\nDURATION:PT30M\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        1 + i % 28,
        i % 24
    )
}

fn card(i: usize, name: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c{i}\r\nFN:{name}\r\nN:{name};;;;\r\nEMAIL:p{i}@example.org\r\nEND:VCARD\r\n"
    )
}

fn config(dir: &Path, http: &str) -> String {
    let dir = dir.display();
    format!(
        r#"[general]
status_path = "{dir}/status/"

[pair calendar]
a = "calendar_local"
b = "calendar_remote"
collections = null
conflict_resolution = "a wins"

[storage calendar_local]
type = "filesystem"
path = "{dir}/calendar/"
fileext = ".ics"

[storage calendar_remote]
type = "caldav"
url = "http://{http}/dav/calendars/ann@example.com/default/"
username = "ann@example.com"
password = "ann's password"

[pair contacts]
a = "contacts_local"
b = "contacts_remote"
collections = null
conflict_resolution = "a wins"

[storage contacts_local]
type = "filesystem"
path = "{dir}/contacts/"
fileext = ".vcf"

[storage contacts_remote]
type = "carddav"
url = "http://{http}/dav/addressbooks/ann@example.com/default/"
username = "ann@example.com"
password = "ann's password"
"#
    )
}

async fn vdirsyncer(dir: &Path, args: &[&str]) -> String {
    let mut command = Command::new("vdirsyncer");
    command
        .args(["--config", &dir.join("config").display().to_string()])
        .args(args)
        .stdin(Stdio::null());
    let output = run(command).await;
    let said = text(&output);
    assert!(output.status.success(), "vdirsyncer {args:?} failed:\n{said}");
    said
}

/// The server's view of a resource: its body, with its entity tag.
async fn fetch(server: &TestServer, path: &str) -> (String, String) {
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ann@example.com:ann's password")
    );
    let got = http_request(
        server.addr(Service::Http),
        "GET",
        path,
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(got.status, 200, "{path}: {}", got.body);
    let etag = got.header("etag").unwrap_or_default().to_owned();
    (got.body, etag)
}

async fn count(server: &TestServer, collection: &str) -> usize {
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ann@example.com:ann's password")
    );
    let listing = http_request(
        server.addr(Service::Http),
        "PROPFIND",
        collection,
        &[("Authorization", &auth), ("Depth", "1")],
        br#"<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>"#,
    )
    .await;
    assert_eq!(listing.status, 207);
    listing.body.matches("<D:getetag>").count()
}

fn local_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn vdirsyncer_keeps_200_events_and_200_cards_in_step_both_ways() {
    if !require("vdirsyncer") {
        return;
    }
    let server = TestServer::start().await;
    server.add_account("ann@example.com", "ann's password").await;
    let dir = tempfile::tempdir().unwrap();
    for sub in ["calendar", "contacts", "status"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
    }
    for i in 0..ITEMS {
        std::fs::write(
            dir.path().join(format!("calendar/ev{i}.ics")),
            event(i, &format!("Event {i}")),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(format!("contacts/c{i}.vcf")),
            card(i, &format!("Person {i}")),
        )
        .unwrap();
    }
    let http = server.addr(Service::Http).to_string();
    std::fs::write(dir.path().join("config"), config(dir.path(), &http)).unwrap();

    vdirsyncer(dir.path(), &["discover"]).await;
    let first = vdirsyncer(dir.path(), &["sync"]).await;
    assert_eq!(first.matches("Copying (uploading)").count(), 2 * ITEMS, "{first}");
    let calendar = "/dav/calendars/ann@example.com/default/";
    let contacts = "/dav/addressbooks/ann@example.com/default/";
    assert_eq!(count(&server, calendar).await, ITEMS);
    assert_eq!(count(&server, contacts).await, ITEMS);

    // One change on each side.
    let local_event = dir.path().join("calendar/ev5.ics");
    std::fs::write(&local_event, event(5, "Event five, moved here")).unwrap();
    let remote_card = format!("{contacts}c7.vcf");
    let (before, etag) = fetch(&server, &remote_card).await;
    assert!(before.contains("FN:Person 7"), "{before}");
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ann@example.com:ann's password")
    );
    let put = http_request(
        server.addr(Service::Http),
        "PUT",
        &remote_card,
        &[
            ("Authorization", &auth),
            ("Content-Type", "text/vcard"),
            ("If-Match", &etag),
        ],
        card(7, "Person Seven, renamed on the server").as_bytes(),
    )
    .await;
    assert_eq!(put.status, 204, "{}", put.body);

    let second = vdirsyncer(dir.path(), &["sync"]).await;
    assert!(
        second.contains("Copying (updating) item ev5 to calendar_remote"),
        "{second}"
    );
    assert!(
        second.contains("Copying (updating) item c7 to contacts_local"),
        "{second}"
    );
    let (server_event, _) = fetch(&server, &format!("{calendar}ev5.ics")).await;
    assert!(
        server_event.contains("SUMMARY:Event five, moved here"),
        "{server_event}"
    );
    let local_card = std::fs::read_to_string(dir.path().join("contacts/c7.vcf")).unwrap();
    assert!(
        local_card.contains("FN:Person Seven, renamed on the server"),
        "{local_card}"
    );

    // Both sides agree: nothing left to copy, the same items on each.
    let third = vdirsyncer(dir.path(), &["sync"]).await;
    assert!(!third.contains("Copying"), "{third}");
    assert_eq!(count(&server, calendar).await, ITEMS);
    assert_eq!(count(&server, contacts).await, ITEMS);
    assert_eq!(local_files(&dir.path().join("calendar")).len(), ITEMS);
    let mut remote_events = Vec::new();
    for i in 0..ITEMS {
        remote_events.push(fetch(&server, &format!("{calendar}ev{i}.ics")).await.0);
    }
    remote_events.sort();
    assert_eq!(remote_events, local_files(&dir.path().join("calendar")));
}
