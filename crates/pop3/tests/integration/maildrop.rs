//! The maildrop over real sockets: what is in it, RETR/TOP/DELE/RSET/QUIT,
//! the lock, a dropped connection, UIDL stability, exact dot-stuffing,
//! and an IMAP session watching the same mailbox.

use crate::common::*;
use estafeta_core::config::Service;
use estafeta_core::model::MailboxRole;
use estafeta_testkit::imap::ImapProbe;

#[tokio::test]
async fn stat_list_uidl_retr_top_and_their_errors() {
    let server = server().await;
    let first = message("first", "line one\r\nline two\r\nline three");
    let second = message("second", "short");
    deliver(&server, &first).await;
    deliver(&server, &second).await;
    let mut pop3 = Pop3::login(&server).await;
    assert_eq!(pop3.ok("STAT").await, format!("+OK 2 {}", first.len() + second.len()));
    assert_eq!(pop3.ok("LIST 2").await, format!("+OK 2 {}", second.len()));
    assert_eq!(
        pop3.multi("LIST").await,
        vec![format!("1 {}", first.len()), format!("2 {}", second.len())]
    );
    let uidls = pop3.multi("UIDL").await;
    assert_eq!(uidls.len(), 2);
    let one = uidls[0].strip_prefix("1 ").unwrap().to_owned();
    assert_eq!(pop3.ok("UIDL 1").await, format!("+OK 1 {one}"));
    assert!(
        one.len() <= 70 && one.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "{one}"
    );
    assert_ne!(uidls[0][2..], uidls[1][2..]);

    assert_eq!(pop3.ok("RETR 1").await, format!("+OK {} octets", first.len()));
    assert_eq!(pop3.body().await, first);
    pop3.ok("TOP 1 2").await;
    let top = String::from_utf8(pop3.body().await).unwrap();
    assert!(
        top.ends_with("Subject: first\r\n\r\nline one\r\nline two\r\n"),
        "{top:?}"
    );
    pop3.ok("TOP 1 0").await;
    assert!(String::from_utf8(pop3.body().await).unwrap().ends_with("first\r\n\r\n"));

    for command in ["LIST 3", "UIDL 0", "RETR 3", "TOP 9 1", "DELE 3", "LIST 4294967295"] {
        assert!(pop3.err(command).await.contains("No message"), "{command}");
    }
    for command in ["RETR", "TOP 1", "DELE x", "LIST 1 2", "STAT 1", "RETR -1"] {
        pop3.err(command).await;
    }
    pop3.ok("NOOP").await;
}

#[tokio::test]
async fn dele_rset_and_quit_expunge_and_mark_retrieved_seen() {
    let server = server().await;
    for n in 1..=4 {
        deliver(&server, &message(&format!("m{n}"), "x")).await;
    }
    let mut pop3 = Pop3::login(&server).await;
    pop3.ok("DELE 1").await;
    assert!(pop3.err("DELE 1").await.contains("already deleted"));
    assert!(pop3.err("RETR 1").await.contains("already deleted"));
    assert!(pop3.err("LIST 1").await.contains("already deleted"));
    assert!(pop3.ok("STAT").await.starts_with("+OK 3 "));
    assert_eq!(pop3.multi("LIST").await.len(), 3);
    assert!(pop3.ok("RSET").await.contains("4 messages"));
    pop3.ok("RETR 1").await;
    pop3.body().await;
    pop3.ok("DELE 2").await;
    pop3.ok("DELE 4").await;
    pop3.ok("TOP 3 0").await;
    pop3.body().await;
    let reply = pop3.ok("QUIT").await;
    assert!(reply.contains("2 messages deleted"), "{reply}");
    assert!(pop3.closed().await);
    // 1 was retrieved (now \Seen); 3 only had its top read.
    assert_eq!(inbox_uids(&*server.store()).await, vec![(1, true), (3, false)]);
}

#[tokio::test]
async fn a_dropped_connection_deletes_nothing_and_frees_the_lock() {
    let server = server().await;
    for n in 1..=3 {
        deliver(&server, &message(&format!("m{n}"), "x")).await;
    }
    let mut pop3 = Pop3::login(&server).await;
    pop3.ok("RETR 1").await;
    pop3.body().await;
    for n in 1..=3 {
        pop3.ok(&format!("DELE {n}")).await;
    }
    pop3.drop_connection();
    // The next session may have to wait for the server to notice the drop.
    let mut next = None;
    for _ in 0..100 {
        let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
        pop3.ok(&format!("USER {USER}")).await;
        if pop3.command(&format!("PASS {PASSWORD}")).await.starts_with("+OK") {
            next = Some(pop3);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut pop3 = next.expect("the lock is released after a drop");
    assert!(pop3.ok("STAT").await.starts_with("+OK 3 "));
    assert_eq!(
        inbox_uids(&*server.store()).await,
        vec![(1, false), (2, false), (3, false)]
    );
}

#[tokio::test]
async fn a_second_session_gets_in_use_until_the_first_quits() {
    let server = server().await;
    deliver(&server, &message("m", "x")).await;
    let mut first = Pop3::login(&server).await;
    let mut second = Pop3::connect(&server, Service::Pop3s).await;
    second.ok(&format!("USER {USER}")).await;
    let reply = second.err(&format!("PASS {PASSWORD}")).await;
    assert!(reply.starts_with("-ERR [IN-USE] "), "{reply}");
    // Still in AUTHORIZATION: it may try again once the first is done.
    first.ok("QUIT").await;
    assert!(first.closed().await);
    second.ok(&format!("USER {USER}")).await;
    second.ok(&format!("PASS {PASSWORD}")).await;
    // Another account is not locked by this one.
    server.add_account("bob@example.test", "bob password").await;
    let mut bob = Pop3::connect(&server, Service::Pop3s).await;
    bob.ok("USER bob@example.test").await;
    bob.ok("PASS bob password").await;
}

#[tokio::test]
async fn uidl_is_stable_across_sessions_and_never_reused() {
    let server = server().await;
    for n in 1..=3 {
        deliver(&server, &message(&format!("m{n}"), "x")).await;
    }
    let uids = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .map(|l| l.split_once(' ').unwrap().1.to_owned())
            .collect()
    };
    let mut pop3 = Pop3::login(&server).await;
    let before = uids(pop3.multi("UIDL").await);
    pop3.ok("DELE 2").await;
    pop3.ok("QUIT").await;
    assert!(pop3.closed().await);
    deliver(&server, &message("m4", "x")).await;
    let mut pop3 = Pop3::login(&server).await;
    let after = uids(pop3.multi("UIDL").await);
    assert_eq!(after[..2], [before[0].clone(), before[2].clone()]);
    assert!(!before.contains(&after[2]), "a new message never gets an old UIDL");
}

#[tokio::test]
async fn the_maildrop_is_inbox_and_tabs_not_junk_and_is_configurable() {
    let server = server_with(|config| {
        config
            .pop3
            .accounts
            .insert("bob@example.test".into(), vec!["inbox".into(), "Junk".into()]);
    })
    .await;
    let roles = [
        MailboxRole::Inbox,
        MailboxRole::Promotions,
        MailboxRole::Social,
        MailboxRole::Updates,
        MailboxRole::Junk,
        MailboxRole::Sent,
    ];
    // Oldest first, whatever the mailbox.
    for (n, role) in roles.iter().enumerate() {
        let date = 1_764_000_000 - n as i64;
        deliver_to(&server, *role, &message(role.as_str(), "x"), date).await;
    }
    let mut pop3 = Pop3::login(&server).await;
    let mut subjects = Vec::new();
    for n in 1..=4 {
        pop3.ok(&format!("TOP {n} 0")).await;
        let head = String::from_utf8(pop3.body().await).unwrap();
        subjects.push(
            head.split("Subject: ")
                .nth(1)
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(subjects, ["updates", "social", "promotions", "inbox"]);
    assert!(pop3.ok("STAT").await.starts_with("+OK 4 "));
    pop3.ok("QUIT").await;

    // Bob's maildrop is set to INBOX and Junk (by role or by name).
    server.add_account("bob@example.test", "bob password").await;
    let store = server.store();
    let bob = store.account_get("bob@example.test").await.unwrap().unwrap();
    for role in [MailboxRole::Junk, MailboxRole::Promotions] {
        let mailbox = store.mailbox_by_role(bob.id, role).await.unwrap().unwrap();
        let target = estafeta_store::DeliveryTarget {
            mailbox: mailbox.id,
            flags: Default::default(),
        };
        store.deliver(&message("bob", "x"), 1, &[target]).await.unwrap();
    }
    let mut pop3 = Pop3::connect(&server, Service::Pop3s).await;
    pop3.ok("USER bob@example.test").await;
    assert!(pop3.ok("PASS bob password").await.contains("1 messages"));
}

#[tokio::test]
async fn awkward_messages_round_trip_exactly() {
    let server = server().await;
    let long_line = "x".repeat(5000);
    let awkward: Vec<Vec<u8>> = vec![
        b"Subject: dots\r\n\r\n.\r\n..\r\n...\r\n.leading\r\n. \r\nend\r\n".to_vec(),
        b"Subject: last line is a dot\r\n\r\nbody\r\n.\r\n".to_vec(),
        b"Subject: =?utf-8?q?8bit?=\r\nX: \xc3\xa9\xe2\x82\xac\r\n\r\n\xff\xfe\x00binary\r\n".to_vec(),
        b"Subject: empty lines at the end\r\n\r\nline\r\n\r\n\r\n\r\n".to_vec(),
        format!("Subject: long\r\n\r\n{long_line}\r\n.{long_line}\r\n").into_bytes(),
        b"Subject: no body\r\n".to_vec(),
    ];
    for message in &awkward {
        deliver(&server, message).await;
    }
    let mut pop3 = Pop3::login(&server).await;
    for (index, message) in awkward.iter().enumerate() {
        let number = index + 1;
        assert_eq!(
            pop3.ok(&format!("LIST {number}")).await,
            format!("+OK {number} {}", message.len())
        );
        pop3.ok(&format!("RETR {number}")).await;
        assert_eq!(pop3.body().await, *message, "message {number} round trip");
    }
}

#[tokio::test]
async fn messages_appended_over_imap_with_bare_line_ends_are_sent_as_crlf_at_their_listed_size() {
    let server = server().await;
    let mut imap = ImapProbe::login(&server, USER, PASSWORD).await;
    let bare = b"Subject: bare\n\n.dot\nno final newline";
    imap.append("INBOX", bare).await;
    let mut pop3 = Pop3::login(&server).await;
    let listed: usize = pop3.ok("LIST 1").await.rsplit(' ').next().unwrap().parse().unwrap();
    pop3.ok("RETR 1").await;
    let body = pop3.body().await;
    assert_eq!(body, b"Subject: bare\r\n\r\n.dot\r\nno final newline\r\n");
    assert_eq!(listed, body.len());
}

#[tokio::test]
async fn an_imap_session_sees_the_expunge_of_a_pop3_quit() {
    let server = server().await;
    deliver(&server, &message("one", "x")).await;
    deliver(&server, &message("two", "x")).await;
    let mut imap = ImapProbe::login(&server, USER, PASSWORD).await;
    imap.command("SELECT INBOX").await;
    let mut pop3 = Pop3::login(&server).await;
    pop3.ok("DELE 1").await;
    pop3.ok("QUIT").await;
    assert!(pop3.closed().await);
    let noop = imap.command("NOOP").await;
    assert!(noop.iter().any(|line| line == "* 1 EXPUNGE"), "{noop:?}");
    let fetch = imap.command("UID FETCH 1:* (UID)").await;
    assert!(fetch.iter().any(|line| line.contains("UID 2")), "{fetch:?}");
    assert!(!fetch.iter().any(|line| line.contains("UID 1)")), "{fetch:?}");
}
