//! `POST /api/verify` on a running server: HTTP Basic with an account's
//! password, single and batch requests against the testkit's DNS and a
//! fake MTA, clear 4xx answers, the login limiter; and Python's urllib as
//! a real client.

use base64::Engine;
use estafeta_core::config::Service;
use estafeta_testkit::dns::TestDns;
use estafeta_testkit::mta::{Behaviour, FakeMta, common_port};
use estafeta_testkit::{HttpResponse, TestServer, http_request};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

struct Api {
    server: TestServer,
    _dns: TestDns,
    _mta: FakeMta,
}

impl Api {
    async fn start() -> Api {
        let host = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
        let port = common_port(&[host]).await;
        let dns = TestDns::start().await;
        dns.mx("ok.test", 10, "mx.ok.test");
        dns.ip("mx.ok.test", host);
        let mta = FakeMta::start(
            SocketAddr::new(host, port),
            Behaviour::Mailboxes(vec!["a@ok.test".into(), "b@ok.test".into()]),
        )
        .await;
        let nameserver = dns.addr();
        let server = TestServer::start_with(|config| {
            config.dns.nameservers = vec![nameserver];
            config.verify.smtp_port = port;
            config.verify.api_batch = 3;
            config.auth.max_failures = 3;
        })
        .await;
        server.add_account("sender@example.com", "right password").await;
        Api {
            server,
            _dns: dns,
            _mta: mta,
        }
    }

    async fn post(&self, credentials: Option<&str>, body: &str) -> HttpResponse {
        let authorization =
            credentials.map(|c| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(c)));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(authorization) = &authorization {
            headers.push(("Authorization", authorization));
        }
        http_request(
            self.server.addr(Service::Http),
            "POST",
            "/api/verify",
            &headers,
            body.as_bytes(),
        )
        .await
    }
}

fn json(response: &HttpResponse) -> serde_json::Value {
    serde_json::from_str(&response.body).unwrap_or_else(|e| panic!("{e}: {}", response.body))
}

const USER: &str = "sender@example.com:right password";

#[tokio::test]
async fn single_and_batch_requests_with_an_accounts_password() {
    let api = Api::start().await;
    let one = api.post(Some(USER), r#"{"address": "a@ok.test"}"#).await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.header("content-type"), Some("application/json"));
    let report = json(&one);
    assert_eq!(report["verdict"], "deliverable");
    assert_eq!(report["smtp"]["code"], 250);
    assert_eq!(report["catch_all"], false);

    // In the order asked, a repeat answered twice, the cache marked.
    let batch = api
        .post(Some(USER), r#"{"addresses": ["c@ok.test", "a@ok.test", "c@ok.test"]}"#)
        .await;
    assert_eq!(batch.status, 200, "{}", batch.body);
    let results = json(&batch)["results"].as_array().unwrap().clone();
    let summary: Vec<(&str, &str, bool)> = results
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
                r["cached"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("c@ok.test", "undeliverable", false),
            ("a@ok.test", "deliverable", true),
            ("c@ok.test", "undeliverable", false),
        ]
    );

    // The caller's tenant's suppression list is consulted; another
    // tenant's is not.
    let store = api.server.store();
    let acme = store.tenant_add("acme").await.unwrap();
    let entry = |tenant| estafeta_store::Suppression {
        tenant,
        address: "b@ok.test".into(),
        sender_domain: String::new(),
        reason: estafeta_store::SuppressionReason::HardBounce,
        detail: "550 5.1.1 earlier bounce".into(),
        created_at: 0,
        expires_at: None,
    };
    store.suppression_add(&entry(acme.id)).await.unwrap();
    let b = json(&api.post(Some(USER), r#"{"address": "b@ok.test"}"#).await);
    assert_eq!(b["verdict"], "deliverable", "{b}");
    assert_eq!(b["suppressed"], serde_json::Value::Null);
    store.domain_set_tenant("example.com", acme.id).await.unwrap();
    let b = json(&api.post(Some(USER), r#"{"address": "b@ok.test"}"#).await);
    assert_eq!(b["verdict"], "undeliverable", "{b}");
    assert_eq!(b["suppressed"], "hard-bounce: 550 5.1.1 earlier bounce");
}

#[tokio::test]
async fn refusals_are_clear_and_failed_logins_are_limited() {
    let api = Api::start().await;
    let anonymous = api.post(None, r#"{"address": "a@ok.test"}"#).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Basic realm=\"estafeta\", charset=\"UTF-8\"")
    );
    assert!(json(&anonymous)["error"].as_str().unwrap().contains("HTTP Basic"));

    let garbled = api.post(Some(USER), "{not json").await;
    assert_eq!(garbled.status, 400);
    assert!(json(&garbled)["error"].as_str().unwrap().contains("expected"));
    let both = api
        .post(Some(USER), r#"{"address": "a@ok.test", "addresses": []}"#)
        .await;
    assert_eq!(both.status, 400, "{}", both.body);
    let empty = api.post(Some(USER), r#"{"addresses": []}"#).await;
    assert_eq!(empty.status, 400);
    let many = api
        .post(
            Some(USER),
            r#"{"addresses": ["a@ok.test", "b@ok.test", "c@ok.test", "d@ok.test"]}"#,
        )
        .await;
    assert_eq!(many.status, 413);
    assert!(json(&many)["error"].as_str().unwrap().contains("at most 3"));

    for _ in 0..3 {
        let wrong = api
            .post(Some("sender@example.com:guess"), r#"{"address": "a@ok.test"}"#)
            .await;
        assert_eq!(wrong.status, 401);
    }
    // Locked now, even with the right password.
    let locked = api.post(Some(USER), r#"{"address": "a@ok.test"}"#).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.header("retry-after").is_some());
    let (_, metrics) = api.server.http_get("/metrics").await;
    assert!(
        metrics.contains("estafeta_auth_failures_total{protocol=\"http\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn python_urllib_as_a_client() {
    let api = Api::start().await;
    let url = format!("http://{}/api/verify", api.server.addr(Service::Http));
    let script = r#"
import json, sys, urllib.request, base64
request = urllib.request.Request(sys.argv[1], method="POST",
    data=json.dumps({"addresses": ["b@ok.test", "nobody@ok.test"]}).encode(),
    headers={"Content-Type": "application/json",
             "Authorization": "Basic " + base64.b64encode(b"sender@example.com:right password").decode()})
with urllib.request.urlopen(request, timeout=30) as response:
    for result in json.load(response)["results"]:
        print(result["address"], result["verdict"])
"#;
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", script, &url])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout, "b@ok.test deliverable\nnobody@ok.test undeliverable\n");
}
