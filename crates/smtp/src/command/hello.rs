//! EHLO and HELO (RFC 5321 4.1.1.1) and the extensions we announce.

use crate::Mode;
use crate::proto::Reply;
use crate::session::{Flow, Helo, Session};

pub fn ehlo(session: &mut Session, host: String, extended: bool) -> Flow {
    // RFC 5321 4.1.4: EHLO in the middle of a transaction resets it.
    session.transaction = None;
    let greeting = format!(
        "{} Hello {host} [{}]",
        session.hostname(),
        session.io.connection.peer.ip()
    );
    session.helo = Some(Helo { name: host, extended });
    if !extended {
        return session.reply(Reply::new(250, "2.0.0", greeting));
    }
    let mut lines = vec![greeting];
    lines.push("PIPELINING".into()); // RFC 2920
    lines.push(format!("SIZE {}", session.context.config.smtp.max_message_size)); // RFC 1870
    lines.push("8BITMIME".into()); // RFC 6152
    lines.push("SMTPUTF8".into()); // RFC 6531
    lines.push("ENHANCEDSTATUSCODES".into()); // RFC 2034
    lines.push("CHUNKING".into()); // RFC 3030
    lines.push("DSN".into()); // RFC 3461
    if session.io.connection.can_start_tls() {
        lines.push("STARTTLS".into()); // RFC 3207
    }
    // RFC 4954 4 with RFC 8314: passwords only where they are encrypted.
    if session.mode == Mode::Submission && session.auth.is_none() && session.password_allowed() {
        lines.push("AUTH PLAIN LOGIN".into());
    }
    session.reply(Reply::plain(250, lines))
}
