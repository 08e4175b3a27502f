//! A plain SMTP conversation for tests that need mail to arrive the way
//! it does in use, over the server's port 25 listener.

use crate::TestServer;
use estafeta_core::config::Service;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Says each SMTP command in turn over a real socket; returns the last
/// line of each reply.
pub async fn smtp(server: &TestServer, commands: &[String]) -> Vec<String> {
    let stream = TcpStream::connect(server.addr(Service::Smtp)).await.unwrap();
    let mut smtp = BufReader::new(stream);
    let mut greeting = String::new();
    smtp.read_line(&mut greeting).await.unwrap();
    let mut replies = Vec::new();
    for command in commands {
        smtp.get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            smtp.read_line(&mut line).await.unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        replies.push(line.trim_end().to_owned());
    }
    replies
}

/// One message from `from` to `to`, through MAIL, RCPT and DATA; panics
/// unless each step is accepted.
pub async fn smtp_deliver(server: &TestServer, from: &str, to: &str, message: &str) {
    let commands = [
        "EHLO client.test".to_owned(),
        format!("MAIL FROM:<{from}>"),
        format!("RCPT TO:<{to}>"),
        "DATA".to_owned(),
        format!("{}\r\n.", message.trim_end()),
        "QUIT".to_owned(),
    ];
    let replies = smtp(server, &commands).await;
    for (command, reply) in commands.iter().zip(&replies).take(5) {
        let wanted = if command == "DATA" { "354" } else { "250" };
        assert!(reply.starts_with(wanted), "{command}: {replies:?}");
    }
}
