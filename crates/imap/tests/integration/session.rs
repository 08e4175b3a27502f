//! Connection-level behaviour over real sockets: greeting, TLS before
//! passwords, LOGIN/AUTHENTICATE, lockout, states, literals, bad input.

use crate::common::{Imap, PASSWORD, USER, server};
use estafeta_core::config::Service;
use std::time::Duration;

fn b64(text: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn no_password_before_tls_then_login_after_starttls() {
    let server = server().await;
    let mut imap = Imap::connect(&server, Service::Imap).await;
    assert!(imap.greeting.starts_with("* OK [CAPABILITY "), "{}", imap.greeting);
    assert!(imap.greeting.contains("STARTTLS") && imap.greeting.contains("LOGINDISABLED"));
    assert!(!imap.greeting.contains("AUTH=PLAIN"));
    let refused = imap.command(&format!("LOGIN {USER} \"{PASSWORD}\"")).await;
    assert!(refused.tagged.starts_with("NO [PRIVACYREQUIRED]"), "{refused:?}");
    imap.command(&format!(
        "AUTHENTICATE PLAIN {}",
        b64(format!("\0{USER}\0{PASSWORD}").as_bytes())
    ))
    .await
    .no();

    imap.starttls(&server).await;
    let caps = imap.ok("CAPABILITY").await;
    let line = caps.lines("CAPABILITY")[0];
    assert!(line.contains("AUTH=PLAIN") && line.contains("IMAP4rev2"), "{line}");
    assert!(!line.contains("STARTTLS") && !line.contains("LOGINDISABLED"), "{line}");
    let login = imap.ok(&format!("LOGIN {USER} \"{PASSWORD}\"")).await;
    assert!(login.tagged.starts_with("OK [CAPABILITY "), "{login:?}");
    assert!(login.tagged.contains("IDLE") && login.tagged.contains("QRESYNC"));
}

#[tokio::test]
async fn authenticate_plain_and_login_mechanisms() {
    let server = server().await;
    let plain = b64(format!("\0{USER}\0{PASSWORD}").as_bytes());
    // SASL-IR (RFC 4959).
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    imap.ok(&format!("AUTHENTICATE PLAIN {plain}")).await;
    // Without the initial response: `+` then the response.
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    imap.send_raw(b"a AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(imap.read_line().await.unwrap(), "+ ");
    imap.send_raw(format!("{plain}\r\n").as_bytes()).await;
    imap.finish("a").await.ok();
    // LOGIN: user, then password.
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    imap.send_raw(b"b AUTHENTICATE LOGIN\r\n").await;
    assert_eq!(imap.read_line().await.unwrap(), "+ VXNlcm5hbWU6");
    imap.send_raw(format!("{}\r\n", b64(USER.as_bytes())).as_bytes()).await;
    assert_eq!(imap.read_line().await.unwrap(), "+ UGFzc3dvcmQ6");
    imap.send_raw(format!("{}\r\n", b64(PASSWORD.as_bytes())).as_bytes())
        .await;
    imap.finish("b").await.ok();
    // `*` cancels (RFC 9051 6.2.2).
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    imap.send_raw(b"c AUTHENTICATE PLAIN\r\n").await;
    imap.read_line().await.unwrap();
    imap.send_raw(b"*\r\n").await;
    imap.finish("c").await.bad();
    imap.ok("NOOP").await;
}

#[tokio::test]
async fn failed_logins_lock_the_account_out() {
    let server = server().await;
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    for _ in 0..10 {
        let response = imap.command(&format!("LOGIN {USER} wrong")).await;
        assert!(response.tagged.starts_with("NO [AUTHENTICATIONFAILED]"), "{response:?}");
    }
    // Locked now, even with the right password.
    let locked = imap.command(&format!("LOGIN {USER} \"{PASSWORD}\"")).await;
    assert!(locked.tagged.starts_with("NO [UNAVAILABLE]"), "{locked:?}");
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(
        metrics.contains("estafeta_auth_failures_total{protocol=\"imap\"} 11"),
        "{metrics}"
    );
}

#[tokio::test]
async fn commands_are_checked_against_the_state() {
    let server = server().await;
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    imap.command("SELECT INBOX").await.bad();
    imap.command("FETCH 1 FLAGS").await.bad();
    imap.ok(&format!("LOGIN {USER} \"{PASSWORD}\"")).await;
    imap.command(&format!("LOGIN {USER} \"{PASSWORD}\"")).await.bad();
    imap.command("FETCH 1 FLAGS").await.bad();
    imap.command("EXPUNGE").await.bad();
    imap.ok("SELECT INBOX").await;
    imap.ok("UNSELECT").await;
    imap.command("CLOSE").await.bad();
}

#[tokio::test]
async fn literals_of_every_kind() {
    let server = server().await;
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    // Synchronising literal: the server says `+` before the data.
    imap.send_raw(format!("a LOGIN {{{}}}\r\n", USER.len()).as_bytes())
        .await;
    assert!(imap.read_line().await.unwrap().starts_with("+ "));
    imap.send_raw(format!("{USER} {{{}+}}\r\n{PASSWORD}\r\n", PASSWORD.len()).as_bytes())
        .await;
    imap.finish("a").await.ok();
    // A literal over APPENDLIMIT is refused before any data is sent.
    let huge = 1u64 << 40;
    imap.send_raw(format!("b APPEND INBOX {{{huge}}}\r\n").as_bytes()).await;
    let refused = imap.finish("b").await;
    assert!(refused.tagged.starts_with("NO [TOOBIG]"), "{refused:?}");
    // A non-synchronising one is read and thrown away; the stream stays in step.
    imap.send_raw(b"c APPEND INBOX {60000000+}\r\n").await;
    imap.send_raw(&vec![b'x'; 60_000_000]).await;
    imap.send_raw(b"\r\n").await;
    assert!(imap.finish("c").await.tagged.starts_with("NO [TOOBIG]"));
    imap.ok("NOOP").await;
    // literal8 (RFC 3516) in APPEND.
    let message = b"Subject: bin\r\n\r\nnul\0byte\r\n";
    imap.send_raw(format!("d APPEND INBOX ~{{{}+}}\r\n", message.len()).as_bytes())
        .await;
    imap.send_raw(message).await;
    imap.send_raw(b"\r\n").await;
    imap.finish("d").await.ok();
}

#[tokio::test]
async fn bad_input_gets_bad_and_persistent_garbage_is_disconnected() {
    let server = server().await;
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    imap.send_raw(b"\r\n").await;
    assert!(imap.read_line().await.unwrap().starts_with("* BAD"));
    imap.command("FROBNICATE").await.bad();
    imap.command("FETCH").await.bad();
    imap.ok("NOOP").await;
    for i in 0..25 {
        imap.send_raw(format!("x{i} NONSENSE\r\n").as_bytes()).await;
    }
    let mut saw_bye = false;
    while let Some(line) = imap.read_line().await {
        saw_bye |= line.starts_with("* BYE");
    }
    assert!(saw_bye);
}

#[tokio::test]
async fn before_login_literals_are_small_and_a_big_one_ends_the_connection() {
    // RFC 7888 4 and 5: LITERAL- before login (non-synchronising literals
    // of at most 4096 octets); LITERAL+ once logged in.
    let server = server().await;
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    let caps = imap.ok("CAPABILITY").await;
    assert!(caps.has(" LITERAL-") && !caps.has("LITERAL+"), "{caps:?}");
    let refused = imap.command("LOGIN {100000}").await;
    assert!(
        refused.tagged.starts_with("BAD [TOOBIG]"),
        "synchronising: asked for nothing: {refused:?}"
    );
    assert!(imap.closed().await, "connection ended");
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    // A non-synchronising literal is not waited for: its bytes are not read.
    imap.send_raw(b"b LOGIN {50000000+}\r\n").await;
    imap.send_raw(&vec![b'x'; 64 * 1024]).await;
    let mut lines = Vec::new();
    while let Some(line) = imap.read_line().await {
        lines.push(line);
    }
    assert!(lines.iter().any(|l| l.starts_with("b BAD [TOOBIG]")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("* BYE")), "{lines:?}");
    // A password-sized one is taken, and after login a big one is too.
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    imap.send_raw(format!("c LOGIN {USER} {{{}+}}\r\n{PASSWORD}\r\n", PASSWORD.len()).as_bytes())
        .await;
    imap.finish("c").await.ok();
    let caps = imap.ok("CAPABILITY").await;
    assert!(caps.has(" LITERAL+"), "{caps:?}");
    let message = format!("Subject: big\r\n\r\n{}\r\n", "y".repeat(100_000));
    imap.send_raw(format!("d APPEND INBOX {{{}+}}\r\n", message.len()).as_bytes())
        .await;
    imap.send_raw(message.as_bytes()).await;
    imap.send_raw(b"\r\n").await;
    imap.finish("d").await.ok();
}

#[tokio::test]
async fn before_login_valid_commands_do_not_wipe_the_bad_command_count() {
    let server = server().await;
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    let mut saw_bye = false;
    for i in 0..30 {
        imap.send_raw(format!("x{i} NONSENSE\r\ny{i} NOOP\r\n").as_bytes())
            .await;
        loop {
            let Some(line) = imap.read_line().await else {
                break;
            };
            saw_bye |= line.starts_with("* BYE");
            if line.starts_with(&format!("y{i} ")) {
                break;
            }
        }
        if saw_bye {
            break;
        }
    }
    assert!(saw_bye, "junk between NOOPs was disconnected");
    // Logged in, a client's occasional BAD is forgiven by what works.
    let mut imap = Imap::login(&server).await;
    for _ in 0..30 {
        imap.command("NONSENSE").await.bad();
        imap.ok("NOOP").await;
    }
}

#[tokio::test]
async fn a_dripped_command_is_cut_off_and_logged_in_sessions_have_the_longer_timer() {
    let server = estafeta_testkit::TestServer::start_with(|config| {
        config.limits.command_time = Duration::from_secs(1);
        config.limits.idle_timeout = Duration::from_secs(1);
    })
    .await;
    server.add_account(USER, PASSWORD).await;
    let mut imap = Imap::connect(&server, Service::Imaps).await;
    imap.drip(b"a CAPABILITY\r\n", Duration::from_millis(150)).await;
    let mut lines = Vec::new();
    while let Some(line) = imap.read_line().await {
        lines.push(line);
    }
    assert!(lines.iter().any(|l| l.starts_with("* BYE")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("a OK")), "{lines:?}");
    // RFC 9051 5.4: once logged in, the autologout timer is 30 minutes;
    // the 1 s of the not-authenticated state no longer applies.
    let mut imap = Imap::login(&server).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    imap.ok("NOOP").await;
    // After login a literal's data is not counted against the deadline.
    let message = b"Subject: slow\r\n\r\nbody\r\n";
    imap.send_raw(format!("s APPEND INBOX {{{}+}}\r\n", message.len()).as_bytes())
        .await;
    imap.drip(message, Duration::from_millis(100)).await;
    imap.send_raw(b"\r\n").await;
    imap.finish("s").await.ok();
}

#[tokio::test]
async fn id_enable_namespace_noop_logout() {
    let server = server().await;
    let mut imap = Imap::login(&server).await;
    let id = imap.ok("ID (\"name\" \"test\" \"version\" \"1\")").await;
    assert!(id.lines("ID (\"name\" \"Estafeta\"").len() == 1, "{id:?}");
    let enabled = imap.ok("ENABLE CONDSTORE UTF8=ACCEPT X-UNKNOWN").await;
    assert_eq!(enabled.lines("ENABLED"), vec!["ENABLED CONDSTORE UTF8=ACCEPT"]);
    // Enabling again reports nothing new (RFC 5161 3.1).
    assert_eq!(imap.ok("ENABLE CONDSTORE").await.lines("ENABLED"), vec!["ENABLED"]);
    let namespace = imap.ok("NAMESPACE").await;
    assert_eq!(namespace.lines("NAMESPACE"), vec!["NAMESPACE ((\"\" \"/\")) NIL NIL"]);
    imap.ok("NOOP").await;
    let logout = imap.ok("LOGOUT").await;
    assert!(logout.has("* BYE"));
    assert!(imap.closed().await);
}

#[tokio::test]
async fn shutdown_says_bye_to_idle_sessions() {
    let server = server().await;
    let mut imap = Imap::login(&server).await;
    let stopping = tokio::spawn(server.stop(std::time::Duration::from_secs(5)));
    let line = imap.read_line().await.unwrap();
    assert!(line.starts_with("* BYE"), "{line}");
    assert!(stopping.await.unwrap());
}
