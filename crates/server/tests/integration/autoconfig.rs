//! Thunderbird-format autoconfiguration on a running server, read with an
//! XML parser as a mail client reads it: the hostname and the ports the
//! server really listens on, TLS on every entry, for hosted domains only.
//! And the MTA-STS policy, which is served on the same terms.

use estafeta_core::config::Service;
use estafeta_testkit::{TestServer, http_request};
use quick_xml::Reader;
use quick_xml::events::Event;

/// (element, type, hostname, port, socketType, username) of each server.
fn servers(xml: &str) -> Vec<[String; 6]> {
    let mut reader = Reader::from_str(xml);
    let mut servers = Vec::new();
    let mut current: Option<[String; 6]> = None;
    let mut field: Option<usize> = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(start) => {
                let name = start.name().as_ref().to_owned();
                if name == "incomingServer" || name == "outgoingServer" {
                    let kind = start
                        .try_get_attribute("type")
                        .unwrap()
                        .map(|a| a.value.into_owned())
                        .unwrap_or_default();
                    current = Some([
                        name.clone(),
                        kind,
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                }
                field = match name.as_str() {
                    "hostname" => Some(2),
                    "port" => Some(3),
                    "socketType" => Some(4),
                    "username" => Some(5),
                    _ => None,
                };
            }
            Event::Text(text) => {
                if let (Some(server), Some(at)) = (current.as_mut(), field) {
                    server[at] = quick_xml::escape::unescape(&text.into_inner()).unwrap().into_owned();
                }
            }
            Event::End(end) => {
                let name = end.name();
                if (name.as_ref() == "incomingServer" || name.as_ref() == "outgoingServer")
                    && let Some(server) = current.take()
                {
                    servers.push(server);
                }
                field = None;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    servers
}

#[tokio::test]
async fn clients_are_told_the_real_ports_with_tls() {
    let server = TestServer::start().await;
    server.add_account("ann@example.com", "pw").await;
    let (status, xml) = server
        .http_get("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ann%40example.com")
        .await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<domain>example.com</domain>"), "{xml}");
    let port = |service| server.addr(service).port().to_string();
    let found = servers(&xml);
    let expect = |element: &str, kind: &str, service: Service, socket: &str| {
        [
            element.to_owned(),
            kind.to_owned(),
            "mx.test".to_owned(),
            port(service),
            socket.to_owned(),
            "%EMAILADDRESS%".to_owned(),
        ]
    };
    assert_eq!(
        found,
        [
            expect("incomingServer", "imap", Service::Imaps, "SSL"),
            expect("incomingServer", "imap", Service::Imap, "STARTTLS"),
            expect("incomingServer", "pop3", Service::Pop3s, "SSL"),
            expect("incomingServer", "pop3", Service::Pop3, "STARTTLS"),
            expect("outgoingServer", "smtp", Service::Submissions, "SSL"),
            expect("outgoingServer", "smtp", Service::Submission, "STARTTLS"),
        ]
    );

    // autoconfig.<domain>/mail/config-v1.1.xml: the domain from Host.
    let by_host = http_request(
        server.addr(Service::Http),
        "GET",
        "/mail/config-v1.1.xml",
        &[("Host", "autoconfig.example.com")],
        b"",
    )
    .await;
    assert_eq!(by_host.status, 200, "{}", by_host.body);
    assert_eq!(servers(&by_host.body), found);
    assert!(by_host.header("content-type").is_some_and(|t| t.contains("xml")));

    // Nobody else's domain, and a clear refusal without one.
    let (status, _) = server
        .http_get("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=eve%40elsewhere.test")
        .await;
    assert_eq!(status, 404);
    let (status, body) = server
        .http_get("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=nonsense")
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_service_that_is_off_is_not_offered() {
    let server = TestServer::start_with(|config| {
        let mut listen = config.listeners();
        listen.pop3 = None;
        listen.pop3s = None;
        config.listen = Some(listen);
    })
    .await;
    server.add_account("ann@example.com", "pw").await;
    let (status, xml) = server
        .http_get("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=ann@example.com")
        .await;
    assert_eq!(status, 200);
    let kinds: Vec<String> = servers(&xml).into_iter().map(|s| s[1].clone()).collect();
    assert_eq!(kinds, ["imap", "imap", "smtp", "smtp"], "{xml}");
}

#[tokio::test]
async fn the_mta_sts_policy_is_served_for_hosted_domains_only() {
    let server = TestServer::start().await;
    server.add_account("ann@example.com", "pw").await;
    let addr = server.addr(Service::Http);
    let get = |host: &'static str| async move {
        http_request(addr, "GET", "/.well-known/mta-sts.txt", &[("Host", host)], b"").await
    };
    let ours = get("mta-sts.example.com").await;
    assert_eq!(ours.status, 200, "{}", ours.body);
    assert_eq!(ours.body, estafeta_server::mta_sts::policy("mx.test"));
    assert!(ours.body.contains("mx: mx.test\r\n") && ours.body.contains("mode: testing\r\n"));
    assert!(ours.header("content-type").is_some_and(|t| t.starts_with("text/plain")));
    assert_eq!(get("mta-sts.elsewhere.test").await.status, 404);
    assert_eq!(get("example.com").await.status, 404);
}

/// The top-level keys of each payload dictionary in a profile, with their
/// values as text (a plist read as Apple's tools read it: key, then value).
fn payloads(plist: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = Reader::from_str(plist);
    let (mut depth, mut payloads, mut key, mut text) = (0, Vec::new(), String::new(), String::new());
    let mut current: Option<std::collections::HashMap<String, String>> = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(start) if start.name().as_ref() == "dict" => {
                depth += 1;
                if depth == 2 {
                    current = Some(Default::default());
                }
            }
            Event::End(end) if end.name().as_ref() == "dict" => {
                if depth == 2 {
                    payloads.extend(current.take());
                }
                depth -= 1;
            }
            Event::Start(_) => text.clear(),
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::End(end) => {
                let name = end.name().as_ref().to_owned();
                if name == "key" {
                    key = text.clone();
                } else if let Some(dict) = current.as_mut() {
                    dict.insert(key.clone(), text.clone());
                }
                text.clear();
            }
            Event::Empty(empty) => {
                if let Some(dict) = current.as_mut() {
                    dict.insert(key.clone(), empty.name().as_ref().to_owned());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    payloads
}

#[tokio::test]
async fn an_apple_profile_sets_up_mail_calendars_and_contacts_with_tls() {
    let server = TestServer::start().await;
    server.add_account("ann@example.com", "pw").await;
    let response = http_request(
        server.addr(Service::Http),
        "GET",
        "/apple/mobileconfig?emailaddress=ann%40example.com",
        &[],
        b"",
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("application/x-apple-aspen-config")
    );
    assert!(
        response
            .header("content-disposition")
            .unwrap()
            .contains("example.com.mobileconfig")
    );
    let found = payloads(&response.body);
    let kinds: Vec<&str> = found.iter().map(|p| p["PayloadType"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "com.apple.mail.managed",
            "com.apple.caldav.account",
            "com.apple.carddav.account"
        ]
    );
    let port = |service| server.addr(service).port().to_string();
    let mail = &found[0];
    assert_eq!(mail["IncomingMailServerPortNumber"], port(Service::Imaps));
    assert_eq!(mail["OutgoingMailServerPortNumber"], port(Service::Submissions));
    assert_eq!(
        (
            mail["IncomingMailServerUseSSL"].as_str(),
            mail["OutgoingMailServerUseSSL"].as_str()
        ),
        ("true", "true")
    );
    assert_eq!(mail["IncomingMailServerHostName"], "mx.test");
    assert_eq!(mail["EmailAddress"], "ann@example.com");
    assert_eq!(found[1]["CalDAVPrincipalURL"], "/dav/principals/ann@example.com/");
    assert_eq!(found[2]["CardDAVUseSSL"], "true");
    assert!(found.iter().all(|p| !p.contains_key("IncomingPassword")));

    for (query, status) in [("eve%40elsewhere.test", 404), ("nonsense", 400)] {
        let refused = http_request(
            server.addr(Service::Http),
            "GET",
            &format!("/apple/mobileconfig?emailaddress={query}"),
            &[],
            b"",
        )
        .await;
        assert_eq!(refused.status, status, "{query}");
    }
}

#[tokio::test]
async fn outlook_autodiscover_answers_with_the_real_ports_for_hosted_domains() {
    let server = TestServer::start().await;
    server.add_account("ann@example.com", "pw").await;
    let request = |address: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\
<Request><EMailAddress>{address}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"
        )
    };
    let response = http_request(
        server.addr(Service::Http),
        "POST",
        "/autodiscover/autodiscover.xml",
        &[("Content-Type", "text/xml")],
        request("ann@example.com").as_bytes(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let root = estafeta_dav::xml::parse(response.body.as_bytes()).expect("XML");
    let account = root
        .elements()
        .find(|e| e.name.local == "Response")
        .and_then(|r| r.elements().find(|e| e.name.local == "Account"))
        .expect("an Account");
    let field = |protocol: &estafeta_dav::xml::Element, name: &str| {
        protocol
            .elements()
            .find(|e| e.name.local == name)
            .map(|e| e.text())
            .unwrap_or_default()
    };
    let protocols: Vec<(String, String, String, String)> = account
        .elements()
        .filter(|e| e.name.local == "Protocol")
        .map(|p| {
            (
                field(p, "Type"),
                field(p, "Port"),
                field(p, "SSL"),
                field(p, "LoginName"),
            )
        })
        .collect();
    let port = |service| server.addr(service).port().to_string();
    let expect = |kind: &str, service| {
        (
            kind.to_owned(),
            port(service),
            "on".to_owned(),
            "ann@example.com".to_owned(),
        )
    };
    assert_eq!(
        protocols,
        [
            expect("IMAP", Service::Imaps),
            expect("POP3", Service::Pop3s),
            expect("SMTP", Service::Submissions)
        ]
    );
    for (body, status) in [
        (request("eve@elsewhere.test"), 404),
        ("<x/>".to_owned(), 400),
        ("not xml".to_owned(), 400),
    ] {
        let refused = http_request(
            server.addr(Service::Http),
            "POST",
            "/Autodiscover/Autodiscover.xml",
            &[],
            body.as_bytes(),
        )
        .await;
        assert_eq!(refused.status, status, "{body}");
    }
}
