//! STARTTLS, LOGIN and AUTHENTICATE (RFC 9051 6.2; SASL-IR, RFC 4959).
//! Passwords only over TLS unless the operator allows otherwise; every
//! failure counts towards the shared lockout.

use crate::proto::response::{self, Code};
use crate::session::{Flow, Session, State};
use estafeta_core::auth::{Credentials, SaslError, SaslMechanism, sasl};
use estafeta_store::login::{LoginError, login as check_login};
use std::sync::Arc;

pub async fn starttls(session: &mut Session, tag: &str) -> Flow {
    if !session.io.connection.can_start_tls() {
        return session.bad(tag, "TLS is already active or not available");
    }
    session.ok(tag, "Begin TLS negotiation now");
    if session.io.flush().await.is_err() {
        return Flow::Close;
    }
    // RFC 9051 6.2.1 / CVE-2011-0411: nothing sent before the handshake counts.
    session.io.discard_input();
    session.reset_framer();
    if let Err(error) = session.io.connection.start_tls().await {
        tracing::debug!(peer = %session.io.connection.peer, %error, "imap STARTTLS failed");
        return Flow::Close;
    }
    Flow::Continue
}

pub async fn login(session: &mut Session, tag: &str, user: Vec<u8>, password: Vec<u8>) -> Flow {
    if !session.password_allowed() {
        return session.no(
            tag,
            Some(Code::PrivacyRequired),
            "Use STARTTLS or port 993 before logging in",
        );
    }
    let (Ok(authcid), Ok(password)) = (String::from_utf8(user), String::from_utf8(password)) else {
        return session.no(tag, Some(Code::AuthenticationFailed), "Authentication failed");
    };
    finish(session, tag, Credentials { authcid, password }).await
}

pub async fn authenticate(session: &mut Session, tag: &str, mechanism: &str, initial: Option<Vec<u8>>) -> Flow {
    if !session.password_allowed() {
        return session.no(
            tag,
            Some(Code::PrivacyRequired),
            "Use STARTTLS or port 993 before logging in",
        );
    }
    let Some(mechanism) = SaslMechanism::parse(mechanism) else {
        return session.no(tag, Some(Code::Cannot), "Mechanism not supported; use PLAIN or LOGIN");
    };
    let initial = initial.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    match sasl::exchange(mechanism, initial, Client(session)).await {
        Ok(credentials) => finish(session, tag, credentials).await,
        Err(None) => Flow::Close,
        Err(Some(SaslError::Cancelled)) => session.bad(tag, "Authentication cancelled"),
        Err(Some(_)) => session.bad(tag, "Invalid authentication data"),
    }
}

struct Client<'a>(&'a mut Session);

impl sasl::Challenge for Client<'_> {
    /// RFC 9051 6.2.2: `+ challenge`, then one line of base64.
    async fn challenge(&mut self, prompt: &'static str) -> Result<String, Option<SaslError>> {
        response::continuation(self.0.io.out(), prompt);
        match self.0.io.read_line().await {
            Ok(line) => String::from_utf8(line).map_err(|_| Some(SaslError::Base64)),
            Err(_) => Err(None),
        }
    }
}

async fn finish(session: &mut Session, tag: &str, credentials: Credentials) -> Flow {
    let context = Arc::clone(&session.context);
    let ip = session.io.connection.peer.ip();
    match check_login(context.store.as_ref(), &context.logins, ip, &credentials).await {
        Ok(account) => {
            tracing::info!(peer = %session.io.connection.peer, account = %account.address, "imap login");
            session.account = Some(account);
            session.state = State::Authenticated;
            session.listen();
            let caps = session.capabilities();
            session.tagged(
                tag,
                crate::proto::response::Status::Ok,
                Some(Code::Capability(caps)),
                "Logged in",
            )
        }
        Err(error) => {
            context.metrics.auth_failure("imap");
            match error {
                LoginError::Locked { retry_after } => session.no(
                    tag,
                    Some(Code::Unavailable),
                    &format!(
                        "Too many failed logins; try again in {} seconds",
                        retry_after.as_secs().max(1)
                    ),
                ),
                LoginError::Invalid => session.no(tag, Some(Code::AuthenticationFailed), "Authentication failed"),
                LoginError::Unavailable(why) => {
                    tracing::warn!(%why, "login lookup failed");
                    session.no(tag, Some(Code::Unavailable), "Temporary authentication failure")
                }
            }
        }
    }
}
