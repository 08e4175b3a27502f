//! AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, on submission ports
//! only and only over TLS unless the operator allows plaintext.

use crate::Mode;
use crate::proto::Reply;
use crate::session::{Authenticated, Flow, Line, Session, SmtpIo};
use estafeta_core::auth::{SaslError, SaslMechanism, sasl};
use estafeta_store::login::{LoginError, login};

pub async fn auth(session: &mut Session, mechanism: &str, initial: Option<String>) -> Flow {
    if session.mode != Mode::Submission {
        return session.reply(Reply::new(
            503,
            "5.5.1",
            "AUTH not available on this port; use submission",
        ));
    }
    if !session.helo.as_ref().is_some_and(|h| h.extended) {
        return session.reply(Reply::new(503, "5.5.1", "Send EHLO first"));
    }
    if session.auth.is_some() {
        return session.reply(Reply::new(503, "5.5.1", "Already authenticated"));
    }
    if session.transaction.is_some() {
        return session.reply(Reply::new(503, "5.5.1", "AUTH not allowed during a mail transaction"));
    }
    if !session.password_allowed() {
        // RFC 4954 6: 538 when the mechanism needs an encrypted channel.
        return session.reply(Reply::new(538, "5.7.11", "Encryption required: use STARTTLS first"));
    }
    let Some(mechanism) = SaslMechanism::parse(mechanism) else {
        return session.reply(Reply::new(504, "5.5.4", "Mechanism not supported; use PLAIN or LOGIN"));
    };
    let credentials = match sasl::exchange(mechanism, initial, Client(session)).await {
        Ok(credentials) => credentials,
        Err(None) => return Flow::Close,
        Err(Some(SaslError::Cancelled)) => return session.reply(Reply::new(501, "5.0.0", "Authentication cancelled")),
        Err(Some(_)) => return session.reply(Reply::new(501, "5.5.2", "Invalid authentication data")),
    };
    let context = std::sync::Arc::clone(&session.context);
    let ip = session.io.connection.peer.ip();
    match login(context.store.as_ref(), &context.logins, ip, &credentials).await {
        Ok(account) => {
            tracing::info!(peer = %session.io.connection.peer, account = %account.address, "smtp login");
            session.auth = Some(Authenticated {
                address: account.address,
            });
            session.reply(Reply::new(235, "2.7.0", "Authentication successful"))
        }
        Err(error) => {
            context.metrics.auth_failure("smtp");
            match error {
                LoginError::Locked { retry_after } => session.reply(Reply::new(
                    454,
                    "4.7.0",
                    format!(
                        "Too many failed logins; try again in {} seconds",
                        retry_after.as_secs().max(1)
                    ),
                )),
                LoginError::Invalid => session.reply(Reply::new(535, "5.7.8", "Authentication credentials invalid")),
                LoginError::Unavailable(why) => {
                    tracing::warn!(%why, "login lookup failed");
                    session.reply(Reply::new(454, "4.7.0", "Temporary authentication failure"))
                }
            }
        }
    }
}

struct Client<'a>(&'a mut Session);

impl sasl::Challenge for Client<'_> {
    /// RFC 4954 4: `334 <base64 challenge>`, then one line of response.
    async fn challenge(&mut self, prompt: &'static str) -> Result<String, Option<SaslError>> {
        self.0.io.reply(&Reply::plain(334, vec![prompt.to_owned()]));
        match self.0.io.read_command().await {
            Ok(Line::Text(line)) => String::from_utf8(line).map_err(|_| Some(SaslError::Base64)),
            Ok(Line::TooLong) => Err(Some(SaslError::Base64)),
            Err(_) => Err(None),
        }
    }
}
