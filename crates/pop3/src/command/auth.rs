//! STLS (RFC 2595 4), UTF8 (RFC 6856 3), USER/PASS (RFC 1939 7) and AUTH
//! (RFC 5034). Passwords only over TLS unless the operator allows
//! otherwise; every failure counts towards the shared lockout. A good
//! login takes the maildrop lock and reads the maildrop (RFC 1939 4).

use crate::maildrop::Maildrop;
use crate::proto::{self, Code, MAX_LINE};
use crate::session::{Flow, Session, State};
use estafeta_core::auth::{Credentials, SaslError, SaslMechanism, sasl};
use estafeta_net::Line;
use estafeta_store::login::{LoginError, login};
use std::sync::Arc;

const PLAINTEXT_REFUSED: &str = "Use STLS or port 995 before sending a password";

pub async fn stls(session: &mut Session) -> Flow {
    if !session.io.connection.can_start_tls() {
        return session.err(None, "TLS is already active or not available");
    }
    session.ok("Begin TLS negotiation");
    if session.io.flush().await.is_err() {
        return Flow::Close;
    }
    // RFC 2595 4 / CVE-2011-0411: nothing pipelined behind STLS counts, and
    // a USER given before it is forgotten.
    session.io.discard_input();
    session.state = State::Authorization { user: None };
    if let Err(error) = session.io.connection.start_tls().await {
        tracing::debug!(peer = %session.io.connection.peer, %error, "pop3 STLS failed");
        return Flow::Close;
    }
    Flow::Continue
}

pub fn utf8(session: &mut Session) -> Flow {
    session.utf8 = true;
    session.ok("UTF-8 mode enabled")
}

pub fn user(session: &mut Session, name: Vec<u8>) -> Flow {
    if !session.password_allowed() {
        return session.err(Some(Code::Auth), PLAINTEXT_REFUSED);
    }
    let Ok(name) = String::from_utf8(name) else {
        return session.err(Some(Code::Auth), "User names are UTF-8");
    };
    session.state = State::Authorization { user: Some(name) };
    // RFC 1939 7: the reply must not tell whether the user exists.
    session.ok("Send PASS")
}

pub async fn pass(session: &mut Session, password: Vec<u8>) -> Flow {
    if !session.password_allowed() {
        return session.err(Some(Code::Auth), PLAINTEXT_REFUSED);
    }
    let State::Authorization { user } = &mut session.state else {
        return session.err(None, "Already logged in");
    };
    let Some(authcid) = user.take() else {
        return session.err(None, "Send USER first");
    };
    let Ok(password) = String::from_utf8(password) else {
        return session.err(Some(Code::Auth), "Authentication failed");
    };
    finish(session, Credentials { authcid, password }).await
}

pub async fn auth(session: &mut Session, mechanism: Option<String>, initial: Option<String>) -> Flow {
    if !session.password_allowed() {
        return session.err(Some(Code::Auth), PLAINTEXT_REFUSED);
    }
    let Some(mechanism) = mechanism else {
        // The RFC 1734 listing clients such as fetchmail still ask for.
        session.ok("Mechanisms follow");
        session.io.out().extend_from_slice(b"PLAIN\r\nLOGIN\r\n");
        proto::end(session.io.out());
        return Flow::Continue;
    };
    let Some(mechanism) = SaslMechanism::parse(&mechanism) else {
        return session.err(None, "Mechanism not supported; use PLAIN or LOGIN");
    };
    match sasl::exchange(mechanism, initial, Client(session)).await {
        Ok(credentials) => finish(session, credentials).await,
        Err(None) => Flow::Close,
        Err(Some(SaslError::Cancelled)) => session.err(None, "Authentication cancelled"),
        Err(Some(_)) => session.err(Some(Code::Auth), "Invalid authentication data"),
    }
}

struct Client<'a>(&'a mut Session);

impl sasl::Challenge for Client<'_> {
    /// RFC 5034 4: `+ challenge`, then one line of base64.
    async fn challenge(&mut self, prompt: &'static str) -> Result<String, Option<SaslError>> {
        let out = self.0.io.out();
        out.extend_from_slice(b"+ ");
        out.extend_from_slice(prompt.as_bytes());
        out.extend_from_slice(b"\r\n");
        match self.0.io.read_line(MAX_LINE).await {
            Ok(Line::Text(line)) => String::from_utf8(line).map_err(|_| Some(SaslError::Base64)),
            Ok(Line::TooLong) => Err(Some(SaslError::Base64)),
            Err(_) => Err(None),
        }
    }
}

async fn finish(session: &mut Session, credentials: Credentials) -> Flow {
    let context = Arc::clone(&session.context);
    let ip = session.io.connection.peer.ip();
    let account = match login(context.store.as_ref(), &context.logins, ip, &credentials).await {
        Ok(account) => account,
        Err(error) => {
            context.metrics.auth_failure("pop3");
            return match error {
                // RFC 3206 4: SYS/TEMP says "later", not "wrong password".
                LoginError::Locked { retry_after } => session.err(
                    Some(Code::SysTemp),
                    &format!(
                        "Too many failed logins; try again in {} seconds",
                        retry_after.as_secs().max(1)
                    ),
                ),
                LoginError::Invalid => session.err(Some(Code::Auth), "Authentication failed"),
                LoginError::Unavailable(why) => {
                    tracing::warn!(%why, "login lookup failed");
                    session.err(Some(Code::SysTemp), "Temporary authentication failure")
                }
            };
        }
    };
    if let Err(wait) = context.login_delay(account.id) {
        return session.err(
            Some(Code::LoginDelay),
            &format!("Logged in too recently; wait {wait} seconds"),
        );
    }
    let holder = session.holder();
    match context
        .store
        .maildrop_lock(account.id, &holder, session.lock_lease())
        .await
    {
        Ok(true) => {}
        Ok(false) => return session.err(Some(Code::InUse), "Maildrop is in use by another session"),
        Err(error) => {
            tracing::warn!(%error, "could not take a maildrop lock");
            return session.err(Some(Code::SysTemp), "Maildrop cannot be opened now; try again later");
        }
    }
    let names = context.config.pop3.maildrop_of(&account.address);
    let maildrop = match Maildrop::load(context.store.as_ref(), &account, names).await {
        Ok(maildrop) => maildrop,
        Err(error) => {
            tracing::error!(%error, account = %account.address, "could not read a maildrop");
            let _ = context.store.maildrop_unlock(account.id, &holder).await;
            return session.err(Some(Code::SysTemp), "Maildrop cannot be opened now; try again later");
        }
    };
    let (count, octets) = maildrop.stat();
    tracing::info!(peer = %session.io.connection.peer, account = %account.address, count, "pop3 login");
    session.enter_transaction(account, maildrop, holder);
    session.ok(&format!("Logged in; maildrop has {count} messages ({octets} octets)"))
}
