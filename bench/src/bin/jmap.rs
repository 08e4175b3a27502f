//! JMAP beside IMAP on the same Estafeta and the same mailbox: what a
//! client does to list a mailbox, the headers of every message with its
//! flags.
//!
//! - IMAP: `SELECT INBOX` and `FETCH 1:* (FLAGS ENVELOPE)`;
//! - JMAP: `Email/query` (the mailbox, newest first) and then `Email/get`
//!   of the same headers (subject, from, to, cc, sentAt, messageId,
//!   inReplyTo, keywords, size, receivedAt), in pages of 1,000 (the
//!   session's `maxObjectsInGet`), one HTTP connection kept open.
//!
//! Each first (cold: nothing of the mailbox cached) and then the best of
//! three. Both must list every message.
//!
//!   cargo build --release -p estafeta -p estafeta-bench
//!   target/release/jmap [--smoke] [--messages N]

use estafeta_bench::http::Http;
use estafeta_bench::imap::Client;
use estafeta_bench::people_mail::{USER, messages};
use estafeta_bench::server::{Install, Server, estafeta_binary, install_with_http, wait_port};
use estafeta_bench::{arg, flag, progress};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "bench-password-1";
const PAGE: usize = 1_000;

/// The value of `"key":"..."` at its first place in `json`, for reading
/// ids out of responses without a JSON crate in the loop.
fn ids_in(json: &str) -> Vec<String> {
    let start = json.find("\"ids\":[").unwrap_or_else(|| panic!("no ids in {json}")) + 7;
    let end = start + json[start..].find(']').unwrap();
    json[start..end]
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_matches('"').to_owned())
        .collect()
}

async fn imap_list(port: u16, expected: usize) -> f64 {
    let mut client = Client::login(port, USER, PASSWORD).await.unwrap();
    let started = Instant::now();
    client.ok("SELECT INBOX").await.unwrap();
    let reply = client.ok("FETCH 1:* (FLAGS ENVELOPE)").await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(reply.untagged >= expected, "{} FETCH lines", reply.untagged);
    secs
}

async fn jmap_list(port: u16, account: &str, inbox: &str, expected: usize) -> f64 {
    let mut http = Http::connect(port, USER, PASSWORD).await;
    let started = Instant::now();
    let query = format!(
        r#"{{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],"methodCalls":[["Email/query",{{"accountId":"{account}","filter":{{"inMailbox":"{inbox}"}},"sort":[{{"property":"receivedAt","isAscending":false}}]}},"q"]]}}"#
    );
    let ids = ids_in(&http.post("/jmap/api/", &query).await);
    assert_eq!(ids.len(), expected, "Email/query found {}", ids.len());
    let mut listed = 0;
    for page in ids.chunks(PAGE) {
        let ids: Vec<String> = page.iter().map(|id| format!("\"{id}\"")).collect();
        let get = format!(
            r#"{{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],"methodCalls":[["Email/get",{{"accountId":"{account}","ids":[{}],"properties":["subject","from","to","cc","sentAt","messageId","inReplyTo","keywords","size","receivedAt"]}},"g"]]}}"#,
            ids.join(",")
        );
        let response = http.post("/jmap/api/", &get).await;
        listed += response.matches("\"receivedAt\":").count();
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(listed, expected, "Email/get listed {listed}");
    secs
}

/// Restarts the server (stopped first: it holds its data directory), so
/// nothing of the mailbox is in its memory.
fn restart(server: &mut Option<Server>, binary: &std::path::Path, config: &std::path::Path, ports: [u16; 2]) {
    drop(server.take());
    *server = Some(Server::start(binary, config, ports[0]));
    wait_port(ports[1]);
}

#[tokio::main]
async fn main() {
    let smoke = flag("--smoke");
    let count = arg("--messages", if smoke { 300 } else { 10_000 });
    let binary = estafeta_binary();
    assert!(
        binary.exists(),
        "{} not built (cargo build -p estafeta)",
        binary.display()
    );
    let mail = messages(count);
    let bytes: usize = mail.iter().map(Vec::len).sum();

    let work = tempfile::Builder::new()
        .prefix("estafeta-jmap-bench")
        .tempdir()
        .unwrap();
    let Install {
        config,
        imap_port,
        http_port,
    } = install_with_http(&binary, work.path(), USER, PASSWORD);
    let mut server = Some(Server::start(&binary, &config, imap_port));
    wait_port(http_port);

    progress(format!("appending {count} messages over IMAP"));
    let mut client = Client::login(imap_port, USER, PASSWORD).await.unwrap();
    for message in &mail {
        client.append("INBOX", message).await.unwrap();
    }
    drop(client);

    // The ids JMAP names the account and INBOX by.
    let mut http = Http::connect(http_port, USER, PASSWORD).await;
    let account = {
        let session = {
            let mut stream = TcpStream::connect(("127.0.0.1", http_port)).await.unwrap();
            let request = format!(
                "GET /jmap/session HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
                http.authorization
            );
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut text = String::new();
            stream.read_to_string(&mut text).await.unwrap();
            text
        };
        let key = "\"primaryAccounts\":{\"urn:ietf:params:jmap:mail\":\"";
        let at = session.find(key).expect("primary account") + key.len();
        session[at..at + session[at..].find('"').unwrap()].to_owned()
    };
    let mailboxes = http
        .post(
            "/jmap/api/",
            &format!(
                r#"{{"using":["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"],"methodCalls":[["Mailbox/query",{{"accountId":"{account}","filter":{{"role":"inbox"}}}},"q"]]}}"#
            ),
        )
        .await;
    assert!(mailboxes.contains("\"ids\":["), "{mailboxes}");
    let inbox = ids_in(&mailboxes).remove(0);

    let ports = [imap_port, http_port];
    let mut rows = Vec::new();
    for (what, jmap) in [
        ("IMAP SELECT + FETCH 1:* (FLAGS ENVELOPE)", false),
        ("JMAP Email/query + Email/get (pages of 1000)", true),
    ] {
        restart(&mut server, &binary, &config, ports);
        let run = || async {
            if jmap {
                jmap_list(http_port, &account, &inbox, count).await
            } else {
                imap_list(imap_port, count).await
            }
        };
        let cold = run().await;
        let mut warm = f64::MAX;
        for _ in 0..3 {
            warm = warm.min(run().await);
        }
        progress(format!("{what}: cold {cold:.3} s, warm {warm:.3} s"));
        rows.push((what, cold, warm));
    }
    println!(
        "jmap: {count} messages ({:.1} MiB) in one mailbox, loopback, plaintext; estafeta store: sqlite",
        bytes as f64 / (1024.0 * 1024.0)
    );
    for (what, cold, warm) in &rows {
        println!(
            "  {what:<46} first {cold:>8.3} s   best of 3 {warm:>8.3} s   {:>9.0} msg/s",
            count as f64 / warm
        );
    }
    let (imap, jmap) = (&rows[0], &rows[1]);
    println!("  ratio jmap / imap (time, best of 3):         {:.2}x", jmap.2 / imap.2);
    println!("  ratio jmap / imap (time, first):             {:.2}x", jmap.1 / imap.1);
}
