//! Recipients, limits and what lands in the store.

use crate::common::*;
use estafeta_core::config::Service;
use estafeta_testkit::TestServer;

async fn server_with_users() -> TestServer {
    let server = TestServer::start().await;
    server.add_account("alice@example.com", "pw").await;
    server.add_account("bob@example.com", "pw").await;
    let address = |a: &str| estafeta_core::Address::parse(a).unwrap();
    let store = server.store();
    store
        .alias_add(&address("sales@example.com"), &address("alice@example.com"))
        .await
        .unwrap();
    server
}

#[tokio::test]
async fn delivers_with_trace_headers_into_inbox() {
    let server = server_with_users().await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<sender@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<alice@example.com>").await.expect(250, "2.1.5");
    let reply = client.data(&message("hello")).await;
    reply.expect(250, "2.0.0");
    let messages = inbox(&server, "alice@example.com").await;
    assert_eq!(messages.len(), 1);
    let text = &messages[0];
    assert!(text.starts_with("Return-Path: <sender@remote.test>\r\n"), "{text}");
    assert!(
        text.contains("Received: from client.test ([127.0.0.1])\r\n\tby mx.test (Estafeta) with ESMTP id "),
        "{text}"
    );
    assert!(text.contains("\tfor <alice@example.com>;"), "{text}");
    assert!(text.contains("Authentication-Results: mx.test;"), "{text}");
    assert!(text.ends_with(&message("hello")), "body intact: {text}");
}

#[tokio::test]
async fn aliases_subaddresses_and_postmaster() {
    let server = server_with_users().await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<>").await.expect(250, "2.1.0");
    for rcpt in [
        "<SALES@Example.com>",
        "<alice+news@example.com>",
        "<Postmaster>",
        "<postmaster@example.com>",
    ] {
        client.cmd(&format!("RCPT TO:{rcpt}")).await.expect(250, "2.1.5");
    }
    client.data(&message("many")).await.expect(250, "2.0.0");
    // All four resolve to alice (the first account is the postmaster), and
    // she gets one copy.
    let messages = inbox(&server, "alice@example.com").await;
    assert_eq!(messages.len(), 1);
    assert!(messages[0].starts_with("Return-Path: <>\r\n"));
    assert!(inbox(&server, "bob@example.com").await.is_empty());
}

#[tokio::test]
async fn unknown_users_and_relaying_are_refused() {
    // Many refusals in a row: raise the error limit for this session.
    let server = TestServer::start_with(|c| c.smtp.max_errors = 100).await;
    server.add_account("alice@example.com", "pw").await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<sender@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<nobody@example.com>").await.expect(550, "5.1.1");
    let relay = [
        "<someone@elsewhere.test>",
        "<@example.com:someone@elsewhere.test>",
        "<\"someone@elsewhere.test\"@elsewhere.test>",
        "<someone@[192.0.2.1]>",
        "<someone@[IPv6:2001:db8::1]>",
    ];
    for rcpt in relay {
        client.cmd(&format!("RCPT TO:{rcpt}")).await.expect(554, "5.7.1");
    }
    // Tricks aimed at our own domain never route anywhere else.
    client
        .cmd("RCPT TO:<someone%elsewhere.test@example.com>")
        .await
        .expect(550, "5.1.1");
    client
        .cmd("RCPT TO:<someone!elsewhere.test@example.com>")
        .await
        .expect(550, "5.1.1");
    client
        .cmd("RCPT TO:<\"alice@elsewhere.test\"@example.com>")
        .await
        .expect(550, "5.1.1");
    client.cmd("RCPT TO:<alice@example.com.>").await.expect(501, "5.1.3");
    // A source route to us is ignored and delivers locally (RFC 5321 C).
    client
        .cmd("RCPT TO:<@relay.test:alice@example.com>")
        .await
        .expect(250, "2.1.5");
    assert!(
        server.store().queue_list().await.unwrap().is_empty(),
        "nothing queued for relay"
    );
}

#[tokio::test]
async fn recipient_limit_gives_452_without_ending_the_session() {
    let server = TestServer::start_with(|c| {
        c.smtp.max_recipients = 2;
        c.smtp.max_errors = 3;
    })
    .await;
    server.add_account("alice@example.com", "pw").await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<alice@example.com>").await.expect(250, "2.1.5");
    client.cmd("RCPT TO:<alice+1@example.com>").await.expect(250, "2.1.5");
    // A client pipelining many more recipients gets 452 for each, and
    // that is no reason to hang up on it.
    for n in 2..12 {
        client
            .cmd(&format!("RCPT TO:<alice+{n}@example.com>"))
            .await
            .expect(452, "4.5.3");
    }
    client.data(&message("limit")).await.expect(250, "2.0.0");
}

#[tokio::test]
async fn size_limits() {
    let server = TestServer::start_with(|c| c.smtp.max_message_size = 2048).await;
    server.add_account("alice@example.com", "pw").await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    let ehlo = client.cmd("EHLO client.test").await;
    assert!(ehlo.lines.iter().any(|l| l == "SIZE 2048"), "{ehlo:?}");
    client
        .cmd("MAIL FROM:<s@remote.test> SIZE=4096")
        .await
        .expect(552, "5.3.4");
    client
        .cmd("MAIL FROM:<s@remote.test> SIZE=100")
        .await
        .expect(250, "2.1.0");
    client.cmd("RCPT TO:<alice@example.com>").await.expect(250, "2.1.5");
    let big = format!("{}{}\r\n", message("big"), "x".repeat(3000));
    client.data(&big).await.expect(552, "5.3.4");
    // The session goes on and a message within the limit is taken.
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<alice@example.com>").await.expect(250, "2.1.5");
    client.data(&message("small")).await.expect(250, "2.0.0");
    assert_eq!(inbox(&server, "alice@example.com").await.len(), 1);
}

#[tokio::test]
async fn dot_stuffing_and_8bit_round_trip_exactly() {
    let server = server_with_users().await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    let body = "Subject: dots\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n.\r\n..\r\n.leading\r\n . not leading\r\nol\u{e1} \u{1F600}\r\n.\r\nend.\r\n";
    client
        .cmd("MAIL FROM:<s@remote.test> BODY=8BITMIME")
        .await
        .expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    client.data(body).await.expect(250, "2.0.0");
    let stored = &inbox(&server, "bob@example.com").await[0];
    assert!(stored.ends_with(body), "exact body expected:\n{stored}");
}

#[tokio::test]
async fn bare_line_endings_are_refused() {
    let server = server_with_users().await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    client.cmd("DATA").await.expect(354, "");
    // The smuggling attempt: LF.LF must not end the data here.
    client
        .send_raw(b"Subject: x\r\n\r\nhi\n.\nMAIL FROM:<evil@remote.test>\r\n.\r\n")
        .await;
    client.read_reply().await.expect(550, "5.5.2");
    assert!(inbox(&server, "bob@example.com").await.is_empty());
}

#[tokio::test]
async fn bdat_chunks_with_last() {
    let server = server_with_users().await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    let parts = [
        "Subject: chunked\r\n\r\n",
        "binary\r\n.\r\nsafe: no stuffing\r\n",
        "end\r\n",
    ];
    for (i, part) in parts.iter().enumerate() {
        let last = if i == parts.len() - 1 { " LAST" } else { "" };
        client
            .send_raw(format!("BDAT {}{last}\r\n{part}", part.len()).as_bytes())
            .await;
        let reply = client.read_reply().await;
        reply.expect(250, "2.0.0");
        let expected = if last.is_empty() {
            format!("{} octets received", part.len())
        } else {
            "Message accepted".into()
        };
        assert!(reply.text().contains(&expected), "{reply:?}");
    }
    let stored = &inbox(&server, "bob@example.com").await[0];
    assert!(stored.ends_with(&parts.concat()), "{stored}");
    // BDAT 0 LAST ends an otherwise empty chunk sequence.
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    client.send_raw(b"BDAT 14\r\nSubject: two\r\n").await;
    client.read_reply().await.expect(250, "2.0.0");
    client.cmd("DATA").await.expect(503, "5.5.1");
    client.cmd("BDAT 0 LAST").await.expect(250, "2.0.0");
    assert_eq!(inbox(&server, "bob@example.com").await.len(), 2);
}

#[tokio::test]
async fn bdat_refuses_bare_line_endings_as_data_does() {
    // RFC 5321 2.3.8 and the CRLF invariant of stored mail hold for BDAT
    // too; a chunk boundary between CR and LF is no bare ending.
    let server = server_with_users().await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    for body in ["Subject: a\r\n\r\nbare\nLF\r\n", "Subject: a\r\n\r\nbare\rCR\r\n"] {
        client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
        client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
        client
            .send_raw(format!("BDAT {} LAST\r\n{body}", body.len()).as_bytes())
            .await;
        client.read_reply().await.expect(550, "5.5.2");
    }
    assert!(inbox(&server, "bob@example.com").await.is_empty());
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    client.send_raw(b"BDAT 22\r\nSubject: split\r\n\r\nend\r").await;
    client.read_reply().await.expect(250, "2.0.0");
    // The last line without its CRLF: stored with one.
    client.send_raw(b"BDAT 8 LAST\r\n\nno crlf").await;
    client.read_reply().await.expect(250, "2.0.0");
    let stored = &inbox(&server, "bob@example.com").await[0];
    assert!(
        stored.ends_with("Subject: split\r\n\r\nend\r\nno crlf\r\n"),
        "{stored:?}"
    );
}

#[tokio::test]
async fn refused_bdat_still_consumes_its_chunk() {
    let server = TestServer::start_with(|c| c.smtp.max_message_size = 1024).await;
    server.add_account("bob@example.com", "pw").await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    // No transaction: the 20 bytes must not be read as commands.
    client.send_raw(b"BDAT 20 LAST\r\nQUIT\r\nQUIT\r\nQUIT\r\nQU").await;
    client.read_reply().await.expect(503, "5.5.1");
    client.cmd("NOOP").await.expect(250, "2.0.0");
    // Over the size: 552 on the chunk that crosses it, and the rest refused.
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    let chunk = "x".repeat(2000);
    client.send_raw(format!("BDAT 2000\r\n{chunk}").as_bytes()).await;
    client.read_reply().await.expect(552, "5.3.4");
    client.send_raw(b"BDAT 5 LAST\r\nhello").await;
    client.read_reply().await.expect(503, "5.5.1");
    client.cmd("NOOP").await.expect(250, "2.0.0");
    assert!(inbox(&server, "bob@example.com").await.is_empty());
}

#[tokio::test]
async fn smtputf8_addresses() {
    let server = TestServer::start().await;
    server.add_account("josé@example.com", "pw").await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<señor@remote.test>").await.expect(553, "5.6.7");
    client
        .cmd("MAIL FROM:<señor@remote.test> SMTPUTF8")
        .await
        .expect(250, "2.1.0");
    client.cmd("RCPT TO:<josé@example.com>").await.expect(250, "2.1.5");
    client
        .data("Subject: ol\u{e1}\r\n\r\nhi\r\n")
        .await
        .expect(250, "2.0.0");
    let stored = &inbox(&server, "josé@example.com").await[0];
    assert!(stored.contains("with UTF8SMTP id"), "{stored}");
    assert!(stored.starts_with("Return-Path: <señor@remote.test>"), "{stored}");
}

#[tokio::test]
async fn a_u_label_of_our_own_domain_is_ours_not_relaying() {
    // RFC 5890: bücher.example and xn--bcher-kva.example are one domain.
    let server = TestServer::start().await;
    server.add_account("anna@xn--bcher-kva.example", "pw").await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client
        .cmd("MAIL FROM:<s@remote.test> SMTPUTF8")
        .await
        .expect(250, "2.1.0");
    client.cmd("RCPT TO:<anna@BÜCHER.example>").await.expect(250, "2.1.5");
    client.cmd("RCPT TO:<nobody@bücher.example>").await.expect(550, "5.1.1");
    client.cmd("RCPT TO:<x@bücher.remote>").await.expect(554, "5.7.1");
    client.data("Subject: idn\r\n\r\nhi\r\n").await.expect(250, "2.0.0");
    assert_eq!(inbox(&server, "anna@xn--bcher-kva.example").await.len(), 1);
}

#[tokio::test]
async fn dropped_connection_mid_data_keeps_nothing() {
    let server = server_with_users().await;
    {
        let mut client = Client::ready(&server, Service::Smtp).await;
        client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
        client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
        client.cmd("DATA").await.expect(354, "");
        client.send_raw(b"Subject: cut\r\n\r\nhalf a mess").await;
    }
    // A fresh session still works, and nothing half-sent was stored.
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("NOOP").await.expect(250, "2.0.0");
    assert!(inbox(&server, "bob@example.com").await.is_empty());
}

#[tokio::test]
async fn stalled_data_gets_421_and_nothing_is_kept() {
    let server = TestServer::start_with(|c| c.smtp.data_timeout = std::time::Duration::from_millis(300)).await;
    server.add_account("bob@example.com", "pw").await;
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    client.cmd("DATA").await.expect(354, "");
    client.send_raw(b"Subject: stalled\r\n\r\nand then nothing").await;
    client.read_reply().await.expect(421, "4.4.2");
    assert!(client.closed().await);
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    client.send_raw(b"BDAT 100 LAST\r\nonly part").await;
    client.read_reply().await.expect(421, "4.4.2");
    assert!(inbox(&server, "bob@example.com").await.is_empty());
}

/// The files in the server's spool directory and their sizes.
fn spooled(server: &TestServer) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(server.dir.path().join("spool")) else {
        return Vec::new();
    };
    let mut sizes: Vec<u64> = entries.map(|e| e.unwrap().metadata().unwrap().len()).collect();
    sizes.sort();
    sizes
}

/// Waits (up to a minute) until the spool holds what `done` asks for.
async fn spool_until(server: &TestServer, what: &str, done: impl Fn(&[u64]) -> bool) {
    for _ in 0..600 {
        if done(&spooled(server)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("spool never held {what}: {:?}", spooled(server));
}

/// #23 item 6. RFC 5321 4.5.3.2.5 gives a client minutes per block of
/// data, and a message may be up to SIZE: held in RAM, a few hundred slow
/// senders of large messages exhaust memory. Past `smtp.spool_above` the
/// data waits in a file, for DATA and BDAT alike; the message stored is
/// byte for byte what was sent, and no file outlives its transaction.
#[tokio::test]
async fn large_message_data_waits_on_disk_not_in_memory() {
    let threshold = 64 * 1024;
    let server = TestServer::start_with(|c| c.smtp.spool_above = threshold).await;
    server.add_account("bob@example.com", "pw").await;
    let body: String = (0..20_000)
        .map(|i| format!("line {i:06} of a large message\r\n"))
        .collect();
    let sent = format!("Subject: large\r\n\r\n{body}");

    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = Client::ready(&server, Service::Smtp).await;
        client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
        client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
        client.cmd("DATA").await.expect(354, "");
        client.send_raw(sent.as_bytes()).await;
        clients.push(client);
    }
    // All three are mid-DATA; what they sent is on disk, not in memory.
    let on_disk = (sent.len() - threshold as usize) as u64;
    spool_until(&server, "three large messages", |sizes| {
        sizes.len() == 3 && sizes.iter().all(|&size| size >= on_disk)
    })
    .await;
    // A client that goes away mid-DATA leaves nothing behind.
    drop(clients.pop());
    spool_until(&server, "two messages", |sizes| sizes.len() == 2).await;
    for client in &mut clients {
        client.send_raw(b".\r\n").await;
        client.read_reply().await.expect(250, "2.0.0");
    }
    assert!(spooled(&server).is_empty(), "{:?}", spooled(&server));
    let stored = inbox(&server, "bob@example.com").await;
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|m| m.ends_with(&sent)), "stored byte for byte");

    // BDAT: the chunks go to the same place.
    let client = &mut clients[0];
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    let half = sent.len() / 2;
    for chunk in [&sent[..half], &sent[half..]] {
        client
            .send_raw(format!("BDAT {}\r\n{chunk}", chunk.len()).as_bytes())
            .await;
        client.read_reply().await.expect(250, "2.0.0");
    }
    spool_until(&server, "the chunks so far", |sizes| {
        sizes.len() == 1 && sizes[0] >= on_disk && sizes[0] <= sent.len() as u64
    })
    .await;
    client.cmd("BDAT 0 LAST").await.expect(250, "2.0.0");
    assert!(spooled(&server).is_empty());
    let stored = inbox(&server, "bob@example.com").await;
    assert_eq!(stored.len(), 3);
    assert!(stored[2].ends_with(&sent));
}

/// The size limit counts what went to the spool too (RFC 1870: 552 5.3.4
/// for a message over SIZE), and a refused message leaves no file.
#[tokio::test]
async fn the_size_limit_holds_for_spooled_data() {
    let server = TestServer::start_with(|c| {
        c.smtp.spool_above = 16 * 1024;
        c.smtp.max_message_size = 100 * 1024;
    })
    .await;
    server.add_account("bob@example.com", "pw").await;
    let big = format!("Subject: too big\r\n\r\n{}", "0123456789abcdef\r\n".repeat(10_000));
    let mut client = Client::ready(&server, Service::Smtp).await;
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    client.data(&big).await.expect(552, "5.3.4");
    client.cmd("MAIL FROM:<s@remote.test>").await.expect(250, "2.1.0");
    client.cmd("RCPT TO:<bob@example.com>").await.expect(250, "2.1.5");
    client
        .send_raw(format!("BDAT {} LAST\r\n{big}", big.len()).as_bytes())
        .await;
    client.read_reply().await.expect(552, "5.3.4");
    assert!(spooled(&server).is_empty(), "{:?}", spooled(&server));
    assert!(inbox(&server, "bob@example.com").await.is_empty());
}
