//! litmus (the WebDAV protocol test suite) against the account's file
//! space under the DAV root: its basic, copymove, props and http suites
//! must all pass. The locks suite is left out: the server offers class 1
//! and 3 (no LOCK), as its DAV header says.

use estafeta_core::config::Service;
use estafeta_interop::{require, run, text};
use estafeta_testkit::TestServer;
use std::process::Command;

#[tokio::test]
async fn litmus_basic_copymove_props_and_http_suites_pass_on_the_file_space() {
    if !require("litmus") {
        return;
    }
    let server = TestServer::start().await;
    server.add_account("ann@example.com", "ann's password").await;
    let url = format!("http://{}/dav/files/ann@example.com/", server.addr(Service::Http));
    let mut command = Command::new("litmus");
    command
        .env("TESTS", "basic copymove props http")
        .args(["--keep-going", &url, "ann@example.com", "ann's password"]);
    let output = run(command).await;
    let said = text(&output);
    for suite in ["basic", "copymove", "props", "http"] {
        let summary = said
            .lines()
            .find(|line| line.starts_with(&format!("<- summary for `{suite}'")))
            .unwrap_or_else(|| panic!("no summary for {suite}:\n{said}"));
        assert!(summary.contains(" 0 failed. 100.0%"), "{summary}\n{said}");
    }
    assert!(output.status.success(), "{said}");
}
