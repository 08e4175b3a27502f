//! STARTTLS (RFC 3207).

use crate::proto::Reply;
use crate::session::{Flow, Session};

pub async fn starttls(session: &mut Session) -> Flow {
    if session.io.connection.is_tls() {
        return session.reply(Reply::new(503, "5.5.1", "TLS already active"));
    }
    if !session.io.connection.can_start_tls() {
        return session.reply(Reply::new(454, "4.7.0", "TLS not available"));
    }
    if session.transaction.is_some() {
        return session.reply(Reply::new(
            503,
            "5.5.1",
            "STARTTLS not allowed during a mail transaction",
        ));
    }
    session.reply(Reply::new(220, "2.0.0", "Ready to start TLS"));
    if session.io.flush().await.is_err() {
        return Flow::Close;
    }
    // RFC 3207 4.2: anything pipelined after STARTTLS came in the clear and
    // must be ignored (the CVE-2011-0411 command injection).
    session.io.discard_input();
    if let Err(error) = session.io.connection.start_tls().await {
        tracing::debug!(peer = %session.io.connection.peer, %error, "STARTTLS handshake failed");
        return Flow::Close;
    }
    // RFC 3207 4.2: forget everything learned before TLS; the client starts
    // over with EHLO.
    session.helo = None;
    session.auth = None;
    session.transaction = None;
    Flow::Continue
}
