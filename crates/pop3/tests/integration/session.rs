//! The session over real sockets: greeting, CAPA, STLS, the ways to log
//! in and the codes of refusals, states, pipelining and errors.

use crate::common::*;
use estafeta_core::config::Service;
use std::time::Duration;

fn b64(raw: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[tokio::test]
async fn capa_before_and_after_stls_and_after_login() {
    let server = server().await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3).await;
    assert!(pop3.greeting.starts_with("+OK "), "{}", pop3.greeting);
    let plain = pop3.multi("CAPA").await;
    for tag in [
        "TOP",
        "UIDL",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "EXPIRE NEVER",
        "LOGIN-DELAY 0",
        "IMPLEMENTATION Estafeta",
        "UTF8 USER",
        "STLS",
    ] {
        assert!(plain.iter().any(|line| line == tag), "{tag} in {plain:?}");
    }
    // RFC 2595 4: no password mechanisms over a plain connection.
    assert!(
        !plain.iter().any(|line| line == "USER" || line.starts_with("SASL")),
        "{plain:?}"
    );

    pop3.stls(&server).await;
    let secure = pop3.multi("CAPA").await;
    assert!(secure.iter().any(|line| line == "USER"), "{secure:?}");
    assert!(secure.iter().any(|line| line == "SASL PLAIN LOGIN"), "{secure:?}");
    assert!(!secure.iter().any(|line| line == "STLS"), "{secure:?}");
    pop3.err("STLS").await;

    pop3.ok(&format!("USER {USER}")).await;
    pop3.ok(&format!("PASS {PASSWORD}")).await;
    let transaction = pop3.multi("CAPA").await;
    assert!(transaction.iter().any(|line| line == "TOP"), "{transaction:?}");
    assert!(!transaction.iter().any(|line| line == "USER"), "{transaction:?}");
}

#[tokio::test]
async fn passwords_are_refused_before_tls_with_auth_code() {
    let server = server().await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3).await;
    assert!(pop3.err(&format!("USER {USER}")).await.starts_with("-ERR [AUTH] "));
    assert!(pop3.err(&format!("PASS {PASSWORD}")).await.starts_with("-ERR [AUTH] "));
    let plain = b64(format!("\0{USER}\0{PASSWORD}").as_bytes());
    assert!(
        pop3.err(&format!("AUTH PLAIN {plain}"))
            .await
            .starts_with("-ERR [AUTH] ")
    );
    pop3.err("STAT").await;
    pop3.ok("QUIT").await;
    assert!(pop3.closed().await);

    // The operator may allow it (a trusted network, a test rig).
    let server = server_with(|config| config.auth.allow_plaintext = true).await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3).await;
    assert!(pop3.multi("CAPA").await.iter().any(|line| line == "USER"));
    pop3.ok(&format!("USER {USER}")).await;
    pop3.ok(&format!("PASS {PASSWORD}")).await;
    pop3.ok("STAT").await;
}

#[tokio::test]
async fn user_pass_and_their_failures() {
    let server = server().await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    assert!(pop3.err(&format!("PASS {PASSWORD}")).await.contains("USER first"));
    // The reply to USER does not tell whether the user exists.
    pop3.ok("USER nobody@example.test").await;
    assert!(pop3.err("PASS whatever").await.starts_with("-ERR [AUTH] "));
    pop3.ok(&format!("USER {USER}")).await;
    assert!(pop3.err("PASS wrong password").await.starts_with("-ERR [AUTH] "));
    // The USER is used up by a failed PASS.
    assert!(pop3.err(&format!("PASS {PASSWORD}")).await.contains("USER first"));
    pop3.ok(&format!("USER {}", USER.to_uppercase())).await;
    let reply = pop3.ok(&format!("PASS {PASSWORD}")).await;
    assert!(reply.contains("0 messages"), "{reply}");
    assert!(pop3.err("USER again").await.contains("Already logged in"));
    assert!(
        pop3.err(&format!("AUTH PLAIN {}", b64(b"\0a\0b")))
            .await
            .contains("Already logged in")
    );
}

#[tokio::test]
async fn a_password_with_spaces_and_utf8() {
    let server = server().await;
    server.add_account("bob@example.test", " pässwörd  with spaces ").await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    pop3.ok("UTF8").await;
    pop3.ok("USER bob@example.test").await;
    pop3.ok("PASS  pässwörd  with spaces ").await;
}

#[tokio::test]
async fn sasl_plain_and_login_with_and_without_initial_response() {
    let server = server().await;
    let plain = b64(format!("\0{USER}\0{PASSWORD}").as_bytes());

    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    assert_eq!(pop3.multi("AUTH").await, vec!["PLAIN", "LOGIN"]);
    pop3.ok(&format!("AUTH PLAIN {plain}")).await;
    pop3.ok("QUIT").await;

    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    assert_eq!(pop3.command("AUTH PLAIN").await, "+ ");
    pop3.ok(&plain).await;
    pop3.ok("QUIT").await;

    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    assert_eq!(pop3.command("AUTH LOGIN").await, format!("+ {}", b64(b"Username:")));
    assert_eq!(
        pop3.command(&b64(USER.as_bytes())).await,
        format!("+ {}", b64(b"Password:"))
    );
    pop3.ok(&b64(PASSWORD.as_bytes())).await;
    pop3.ok("QUIT").await;

    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    let challenge = pop3.command(&format!("AUTH LOGIN {}", b64(USER.as_bytes()))).await;
    assert_eq!(challenge, format!("+ {}", b64(b"Password:")));
    pop3.ok(&b64(PASSWORD.as_bytes())).await;
    pop3.ok("QUIT").await;

    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    assert_eq!(pop3.command("AUTH PLAIN").await, "+ ");
    assert!(pop3.err("*").await.contains("cancelled"));
    assert!(pop3.err("AUTH PLAIN !!!notbase64").await.starts_with("-ERR [AUTH] "));
    let wrong = b64(format!("\0{USER}\0nope").as_bytes());
    assert!(
        pop3.err(&format!("AUTH PLAIN {wrong}"))
            .await
            .starts_with("-ERR [AUTH] ")
    );
    assert!(pop3.err("AUTH CRAM-MD5").await.contains("not supported"));
    assert!(
        pop3.err("APOP alice 0123456789abcdef0123456789abcdef")
            .await
            .contains("APOP")
    );
}

#[tokio::test]
async fn failed_logins_lock_out_with_sys_temp_and_are_counted() {
    let server = server_with(|config| config.auth.max_failures = 2).await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    for _ in 0..2 {
        pop3.ok(&format!("USER {USER}")).await;
        assert!(pop3.err("PASS wrong").await.starts_with("-ERR [AUTH] "));
    }
    // Locked now: even the right password is refused, as temporary.
    pop3.ok(&format!("USER {USER}")).await;
    let reply = pop3.err(&format!("PASS {PASSWORD}")).await;
    assert!(reply.starts_with("-ERR [SYS/TEMP] "), "{reply}");
    let (_, metrics) = server.http_get("/metrics").await;
    assert!(
        metrics.contains(r#"estafeta_auth_failures_total{protocol="pop3"} 3"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn login_delay_refuses_a_second_login_too_soon() {
    let server = server_with(|config| config.pop3.login_delay = 3600).await;
    let mut pop3 = Pop3::login(&server).await;
    assert!(pop3.multi("CAPA").await.iter().any(|line| line == "LOGIN-DELAY 3600"));
    pop3.ok("QUIT").await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    pop3.ok(&format!("USER {USER}")).await;
    let reply = pop3.err(&format!("PASS {PASSWORD}")).await;
    assert!(reply.starts_with("-ERR [LOGIN-DELAY] "), "{reply}");
}

#[tokio::test]
async fn commands_outside_their_state_and_unknown_ones() {
    let server = server().await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    for command in ["STAT", "LIST", "UIDL", "RETR 1", "TOP 1 1", "DELE 1", "RSET", "NOOP"] {
        assert!(pop3.err(command).await.contains("Log in first"), "{command}");
    }
    assert!(pop3.err("XYZZY").await.contains("Unknown command"));
    assert!(pop3.err("LAST").await.contains("Unknown command"));
    let long = format!("USER {}", "a".repeat(10_000));
    assert!(pop3.err(&long).await.contains("too long"));
    pop3.ok("QUIT").await;
    assert!(pop3.closed().await, "QUIT in AUTHORIZATION closes");
}

#[tokio::test]
async fn a_client_sending_only_garbage_is_disconnected() {
    let server = server().await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    pop3.send_raw("GARBAGE\r\n".repeat(30).as_bytes()).await;
    let mut errors = 0;
    while let Some(line) = pop3.line().await {
        assert!(line.starts_with("-ERR"), "{line}");
        errors += 1;
    }
    assert!((20..30).contains(&errors), "{errors} errors before the hang-up");
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let server = server().await;
    deliver(&server, &message("one", ".dotted")).await;
    deliver(&server, &message("two", "body")).await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    let batch = format!(
        "CAPA\r\nUSER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST\r\nUIDL 2\r\nRETR 1\r\nTOP 2 0\r\nDELE 1\r\nSTAT\r\nRSET\r\nNOOP\r\nQUIT\r\n"
    );
    pop3.send_raw(batch.as_bytes()).await;
    assert!(pop3.line().await.unwrap().starts_with("+OK"));
    assert!(pop3.lines().await.contains(&"PIPELINING".to_owned()));
    assert!(pop3.line().await.unwrap().starts_with("+OK")); // USER
    assert!(pop3.line().await.unwrap().contains("2 messages")); // PASS
    let size_one = message("one", ".dotted").len();
    let size_two = message("two", "body").len();
    assert_eq!(pop3.line().await.unwrap(), format!("+OK 2 {}", size_one + size_two));
    assert!(pop3.line().await.unwrap().starts_with("+OK"));
    assert_eq!(
        pop3.lines().await,
        vec![format!("1 {size_one}"), format!("2 {size_two}")]
    );
    assert!(pop3.line().await.unwrap().starts_with("+OK 2 "));
    assert_eq!(pop3.line().await.unwrap(), format!("+OK {size_one} octets"));
    assert_eq!(pop3.body().await, message("one", ".dotted"));
    assert!(pop3.line().await.unwrap().starts_with("+OK"));
    assert!(
        String::from_utf8(pop3.body().await)
            .unwrap()
            .ends_with("Subject: two\r\n\r\n")
    );
    assert!(pop3.line().await.unwrap().starts_with("+OK")); // DELE
    assert_eq!(pop3.line().await.unwrap(), format!("+OK 1 {size_two}"));
    assert!(pop3.line().await.unwrap().contains("2 messages")); // RSET
    assert_eq!(pop3.line().await.unwrap(), "+OK"); // NOOP
    assert!(pop3.line().await.unwrap().starts_with("+OK")); // QUIT
    assert!(pop3.closed().await);
    assert_eq!(inbox_uids(&*server.store()).await.len(), 2, "RSET undid the DELE");
}

#[tokio::test]
async fn commands_pipelined_behind_stls_are_dropped() {
    let server = server().await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3).await;
    pop3.send_raw(b"STLS\r\nCAPA\r\n").await;
    assert!(pop3.line().await.unwrap().starts_with("+OK"));
    let stream = pop3.into_stream();
    let mut pop3 = Pop3::from_stream(stream.upgrade(&server).await);
    // The first answer over TLS is to this NOOP, not to the injected CAPA.
    assert!(pop3.err("NOOP").await.contains("Log in first"));
}

#[tokio::test]
async fn an_idle_session_is_logged_out_without_update() {
    let server = server_with(|config| config.limits.pop3_idle_timeout = Duration::from_secs(1)).await;
    deliver(&server, &message("keep", "me")).await;
    let mut pop3 = Pop3::login(&server).await;
    pop3.ok("DELE 1").await;
    let line = pop3.line().await.unwrap();
    assert!(line.starts_with("-ERR") && line.contains("idle"), "{line}");
    assert!(pop3.closed().await);
    assert_eq!(inbox_uids(&*server.store()).await.len(), 1);
}

#[tokio::test]
async fn a_logged_in_session_has_the_longer_autologout_timer() {
    // RFC 1939 3: at least 10 minutes once logged in; the short timer of
    // the AUTHORIZATION state does not apply.
    let server = server_with(|config| config.limits.idle_timeout = Duration::from_secs(1)).await;
    deliver(&server, &message("keep", "me")).await;
    let mut pop3 = Pop3::login(&server).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(pop3.ok("STAT").await.starts_with("+OK 1 "));
    let mut waiting = Pop3::connect(&server, Service::Pop3s).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(waiting.closed().await, "before login the short timer holds");
}

#[tokio::test]
async fn a_command_dripped_in_a_byte_at_a_time_is_cut_off() {
    let server = server_with(|config| config.limits.command_time = Duration::from_secs(1)).await;
    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    pop3.drip(b"USER alice@example.test", Duration::from_millis(100)).await;
    assert!(pop3.closed().await, "closed once the line took over a second");
}

#[tokio::test]
async fn a_server_shutdown_ends_the_session_without_update() {
    let server = server().await;
    deliver(&server, &message("keep", "me")).await;
    let store = server.store();
    let mut pop3 = Pop3::login(&server).await;
    pop3.ok("DELE 1").await;
    let stopping = tokio::spawn(server.stop(Duration::from_secs(10)));
    let line = pop3.line().await.unwrap();
    assert!(line.starts_with("-ERR [SYS/TEMP] "), "{line}");
    assert!(pop3.closed().await);
    assert!(stopping.await.unwrap(), "the session ended within the grace period");
    assert_eq!(inbox_uids(&*store).await.len(), 1);
}

#[tokio::test]
async fn a_long_pipelined_run_of_retr_is_answered_whole() {
    let server = server().await;
    let big = message("big", &"0123456789abcdef\r\n".repeat(20_000));
    deliver(&server, &big).await;
    let mut pop3 = Pop3::login(&server).await;
    pop3.send_raw("RETR 1\r\n".repeat(50).as_bytes()).await;
    for _ in 0..50 {
        assert!(pop3.line().await.unwrap().starts_with("+OK"));
        assert_eq!(pop3.body().await, big);
    }
    pop3.ok("QUIT").await;
}
