//! CAPA (RFC 2449 5) and QUIT (RFC 1939 5 and 6).

use crate::proto::{self, Code};
use crate::session::{Flow, Session, State};

pub fn capa(session: &mut Session) -> Flow {
    let authorization = matches!(session.state, State::Authorization { .. });
    let mut lines: Vec<String> = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        .map(str::to_owned)
        .to_vec();
    // RFC 2449 6.7: we never delete mail on our own.
    lines.push("EXPIRE NEVER".into());
    lines.push(format!("LOGIN-DELAY {}", session.context.config.pop3.login_delay));
    lines.push("IMPLEMENTATION Estafeta".into());
    if authorization {
        // RFC 6856 2: UTF-8 user names and passwords are taken too.
        lines.push("UTF8 USER".into());
        if session.io.connection.can_start_tls() {
            lines.push("STLS".into());
        }
        // RFC 2595 4: no password mechanisms where passwords are refused.
        if session.password_allowed() {
            lines.push("USER".into());
            lines.push("SASL PLAIN LOGIN".into());
        }
    }
    session.ok("Capability list follows");
    let out = session.io.out();
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    proto::end(out);
    Flow::Continue
}

pub async fn quit(session: &mut Session) -> Flow {
    let State::Transaction(transaction) = &session.state else {
        session.ok("Estafeta POP3 server signing off");
        return Flow::Close;
    };
    // RFC 1939 6: the UPDATE state. If removal fails, -ERR says so and
    // nothing the client was told is lost.
    let store = std::sync::Arc::clone(&session.context.store);
    match transaction.maildrop.commit(store.as_ref()).await {
        Ok(removed) => {
            let left = transaction.maildrop.stat().0;
            session.ok(&format!(
                "Estafeta POP3 server signing off ({removed} messages deleted, {left} left)"
            ));
        }
        Err(error) => {
            tracing::error!(%error, account = %transaction.account.address, "pop3 UPDATE failed");
            session.err(Some(Code::SysTemp), "Some deleted messages could not be removed");
        }
    }
    Flow::Close
}
