//! Commands valid in any state: CAPABILITY, NOOP, LOGOUT, ID (RFC 2971),
//! ENABLE (RFC 5161) and COMPRESS (RFC 4978).

use crate::proto::command::IdField;
use crate::proto::response::{self, Code, Status};
use crate::session::{Flow, Session, State};

pub fn capability(session: &mut Session, tag: &str) -> Flow {
    let caps = session.capabilities().join(" ");
    response::untagged(session.io.out(), &format!("CAPABILITY {caps}"));
    session.ok(tag, "CAPABILITY completed")
}

/// RFC 9051 6.1.2: NOOP is how a client polls for updates.
pub async fn noop(session: &mut Session, tag: &str) -> Flow {
    session.sync(true).await;
    session.ok(tag, "NOOP completed")
}

pub fn logout(session: &mut Session, tag: &str) -> Flow {
    response::status(session.io.out(), None, Status::Bye, None, "Logging out");
    session.ok(tag, "LOGOUT completed");
    Flow::Close
}

pub fn id(session: &mut Session, tag: &str, fields: Option<Vec<IdField>>) -> Flow {
    if let Some(fields) = fields {
        // RFC 2971 3.3: at most 30 pairs, for the log only.
        let summary: Vec<String> = fields
            .iter()
            .take(30)
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(k),
                    v.as_deref().map(String::from_utf8_lossy).unwrap_or_default()
                )
            })
            .collect();
        tracing::debug!(peer = %session.io.connection.peer, client = %summary.join(" "), "imap client id");
    }
    let out = session.io.out();
    out.extend_from_slice(b"* ID (\"name\" \"Estafeta\" \"version\" ");
    response::string(out, env!("CARGO_PKG_VERSION").as_bytes(), false);
    out.extend_from_slice(b")\r\n");
    session.ok(tag, "ID completed")
}

pub fn enable(session: &mut Session, tag: &str, capabilities: Vec<String>) -> Flow {
    if session.state == State::NotAuthenticated {
        return session.bad(tag, "Log in first");
    }
    let mut enabled = Vec::new();
    for capability in capabilities {
        let newly = match capability.as_str() {
            "IMAP4REV2" => {
                let was = session.enabled.rev2;
                session.enabled.rev2 = true;
                session.enabled.utf8 = true;
                !was
            }
            "UTF8=ACCEPT" => !std::mem::replace(&mut session.enabled.utf8, true),
            "CONDSTORE" => {
                let was = session.enabled.condstore;
                session.enable_condstore();
                !was
            }
            "QRESYNC" => {
                session.enable_condstore();
                !std::mem::replace(&mut session.enabled.qresync, true)
            }
            _ => false,
        };
        if newly {
            enabled.push(if capability == "IMAP4REV2" {
                "IMAP4rev2".to_owned()
            } else {
                capability
            });
        }
    }
    response::untagged(session.io.out(), format!("ENABLED {}", enabled.join(" ")).trim_end());
    session.ok(tag, "ENABLE completed")
}

pub async fn compress(session: &mut Session, tag: &str, mechanism: &str) -> Flow {
    if mechanism != "DEFLATE" {
        return session.bad(tag, "Only DEFLATE is supported");
    }
    if session.io.is_compressed() {
        // RFC 4978 4.
        return session.no(tag, Some(Code::CompressionActive), "Already compressing");
    }
    session.tagged(tag, Status::Ok, None, "DEFLATE active");
    if session.io.flush().await.is_err() {
        return Flow::Close;
    }
    session.io.start_compression();
    Flow::Continue
}
