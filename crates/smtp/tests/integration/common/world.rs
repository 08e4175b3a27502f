//! The simulated internet of the outbound tests: a server whose queue
//! delivers to fake MTAs on 127.0.0.x found through the test DNS.

use super::*;
use estafeta_testkit::TestServer;
use estafeta_testkit::mta::{Behaviour, FakeMta, common_port};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

pub const ALICE: &str = "alice@example.com";
pub const PASSWORD: &str = "correct horse";

pub fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

pub struct World {
    pub server: TestServer,
    pub port: u16,
}

impl World {
    pub async fn start(adjust: impl FnOnce(&mut estafeta_core::Config)) -> World {
        let port = common_port(&(2..=9).map(ip).collect::<Vec<_>>()).await;
        let server = TestServer::start_with(|config| {
            let outbound = &mut config.outbound;
            outbound.hold = false;
            outbound.smtp_port = port;
            outbound.retry_schedule = vec![Duration::from_secs(1)];
            outbound.command_timeout = Duration::from_secs(2);
            outbound.data_timeout = Duration::from_secs(2);
            adjust(config);
        })
        .await;
        server.add_account(ALICE, PASSWORD).await;
        World { server, port }
    }

    pub async fn mta(&self, n: u8, behaviour: Behaviour) -> FakeMta {
        FakeMta::start(SocketAddr::new(ip(n), self.port), behaviour).await
    }

    /// `domain`'s MX is `mx1.<domain>` at 127.0.0.`n`.
    pub fn mx(&self, domain: &str, n: u8) {
        let host = format!("mx1.{domain}");
        self.server.dns.mx(domain, 10, &host);
        self.server.dns.ip(&host, ip(n));
    }

    /// Alice sends over submission; the queue takes it from there.
    pub async fn send(&self, from: &str, recipients: &[&str], subject: &str) {
        let mut client = submission_login(&self.server, ALICE, PASSWORD).await;
        // RFC 6531 3.4: SMTPUTF8 on MAIL when an address needs it.
        let utf8 = if recipients.iter().any(|r| !r.is_ascii()) {
            " SMTPUTF8"
        } else {
            ""
        };
        client
            .cmd(&format!("MAIL FROM:<{from}>{utf8}"))
            .await
            .expect(250, "2.1.0");
        for recipient in recipients {
            client.cmd(&format!("RCPT TO:{recipient}")).await.expect(250, "2.1.5");
        }
        let message = format!(
            "From: {ALICE}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.com>\r\n\r\nHello.\r\n.dot line\r\n"
        );
        client.data(&message).await.expect(250, "2.0.0");
    }

    /// Alice sends `message` to whoever RCPT takes; their codes, in order.
    pub async fn send_message(&self, recipients: &[String], message: &str) -> Vec<Reply> {
        let mut client = submission_login(&self.server, ALICE, PASSWORD).await;
        client.cmd(&format!("MAIL FROM:<{ALICE}>")).await.expect(250, "2.1.0");
        let mut replies = Vec::new();
        for recipient in recipients {
            replies.push(client.cmd(&format!("RCPT TO:<{recipient}>")).await);
        }
        if replies.iter().any(|r| r.code == 250) {
            client.data(message).await.expect(250, "2.0.0");
        }
        replies
    }

    pub async fn queue_len(&self) -> usize {
        self.server.store().queue_list().await.unwrap().len()
    }

    /// The last reply recorded for any queued recipient, as the queue
    /// shows it ("451 4.7.5 ..."), when one has been tried.
    pub async fn last_reply(&self) -> Option<String> {
        let queue = self.server.store().queue_list().await.unwrap();
        queue
            .iter()
            .flat_map(|m| &m.recipients)
            .find_map(|r| r.last_reply.clone())
    }

    /// Waits for `check`; on a timeout, says what the queue holds.
    pub async fn eventually<F: AsyncFn() -> bool>(&self, what: &str, check: F) {
        for _ in 0..400 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for: {what}; the queue:\n{}",
            queue_state(&self.server).await
        );
    }

    /// Alice's INBOX, where DSNs about her mail arrive.
    pub async fn reports(&self) -> Vec<String> {
        inbox(&self.server, ALICE).await
    }
}

/// What the queue holds, for a failing test's message.
pub async fn queue_state(server: &TestServer) -> String {
    let queued = server.store().queue_list().await.unwrap();
    let lines: Vec<String> = queued
        .iter()
        .flat_map(|m| m.recipients.iter())
        .map(|r| format!("{} {:?} {:?}", r.recipient.address, r.status, r.last_reply))
        .collect();
    lines.join("\n")
}
