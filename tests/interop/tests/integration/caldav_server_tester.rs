//! caldav-server-tester (the python-caldav project's conformance probe)
//! against the http listener: every feature it checks is supported in
//! full, except the few this server does not claim, which must be cleanly
//! unsupported (never broken, fragile or refused without a reason).

use estafeta_core::config::Service;
use estafeta_interop::{require, run, text};
use estafeta_testkit::TestServer;
use std::process::Command;

/// What the server does not claim, and why.
const NOT_CLAIMED: &[(&str, &str)] = &[
    // RFC 6638 scheduling (iTIP over CalDAV) is not offered.
    ("scheduling", "no calendar-auto-schedule"),
    // A calendar is made with MKCALENDAR, not by writing into nowhere.
    ("create-calendar.auto", "no implicit calendars"),
    // RFC 4791 9.7: a filter names its component; a query without one
    // is refused, as the RFC allows.
    ("search.text.comp-type-optional", "RFC 4791 9.7"),
    ("search.time-range.comp-type-optional", "RFC 4791 9.7"),
    // DAV:limit in sync-collection is optional (RFC 6578 3.7); every
    // change comes in one answer.
    ("sync-token.limit", "RFC 6578 3.7"),
    ("sync-token.limit.initial-sync", "RFC 6578 3.7"),
    // `%40` and `@` name the same resource; the tester cannot observe it.
    ("url.encode-at.identity", "not observable"),
];

#[tokio::test]
async fn caldav_server_tester_finds_every_claimed_feature_in_full() {
    if !require("caldav-server-tester") {
        return;
    }
    let server = TestServer::start().await;
    server.add_account("ann@example.com", "ann's password").await;
    // The `hints` format lists every feature checked (`json` only those
    // off its defaults); it is a Python literal, read back as JSON.
    let url = format!("http://{}/dav/", server.addr(Service::Http));
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "caldav-server-tester --caldav-url \"$1\" --caldav-username ann@example.com \
         --caldav-password \"ann's password\" --format hints \
         | python3 -c 'import ast, json, sys; print(json.dumps({\"features\": ast.literal_eval(sys.stdin.read())}))'",
        "sh",
        &url,
    ]);
    let output = run(command).await;
    let said = text(&output);
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}: not the report:\n{said}"));
    let features = report["features"].as_object().expect("features");
    assert!(features.len() > 80, "{said}");
    let mut deviations = Vec::new();
    for (name, found) in features {
        let support = found["support"].as_str();
        let claimed = !NOT_CLAIMED.iter().any(|(feature, _)| feature == name);
        let fine = match support {
            // Facts about the setup (a value, or a loopback well-known).
            None | Some("unknown") => true,
            Some("full") => true,
            Some("unsupported") => !claimed,
            Some(_) => false,
        };
        if !fine {
            deviations.push(format!("{name}: {found}"));
        }
    }
    assert!(deviations.is_empty(), "deviations:\n{}", deviations.join("\n"));
    for core in [
        "save.no-uid-conflict",
        "sync-token",
        "search.time-range.alarm",
        "search.recurrences.expanded.exception",
        "freebusy-query",
        "principal-search.by-name.self",
    ] {
        assert_eq!(features[core]["support"], "full", "{core}");
    }
}
