//! MAIL FROM (RFC 5321 4.1.1.2) with SIZE, BODY, SMTPUTF8 and DSN's RET and
//! ENVID; on submission, the sender must be the account or its alias.

use crate::Mode;
use crate::policy;
use crate::proto::{Body, MailParams, Reply, ReversePath};
use crate::session::{Flow, Session, Transaction};

pub async fn mail(session: &mut Session, from: ReversePath, params: MailParams) -> Flow {
    let Some(helo) = &session.helo else {
        return session.reply(Reply::new(503, "5.5.1", "Send EHLO or HELO first"));
    };
    if session.transaction.is_some() {
        return session.reply(Reply::new(503, "5.5.1", "Nested MAIL command"));
    }
    if !helo.extended && params != MailParams::default() {
        return session.reply(Reply::new(555, "5.5.4", "Parameters need EHLO"));
    }
    if session.mode == Mode::Submission && session.auth.is_none() {
        // RFC 4954 6.
        return session.reply(Reply::new(530, "5.7.0", "Authentication required"));
    }
    let max = session.context.config.smtp.max_message_size;
    if params.size.is_some_and(|size| size > max) {
        // RFC 1870 6.1.
        return session.reply(Reply::new(
            552,
            "5.3.4",
            format!("Message size exceeds fixed maximum of {max} bytes"),
        ));
    }
    if params.body == Some(Body::BinaryMime) {
        return session.reply(Reply::new(555, "5.5.4", "BINARYMIME not supported"));
    }
    if let ReversePath::Mailbox(mailbox) = &from
        && mailbox.is_utf8()
        && !params.smtputf8
    {
        // RFC 6531 3.7.4.1.
        return session.reply(Reply::new(553, "5.6.7", "Non-ASCII address needs SMTPUTF8"));
    }
    if let Some(auth) = &session.auth {
        let allowed = match &from {
            ReversePath::Null => Ok(false),
            ReversePath::Mailbox(mailbox) => policy::sender_belongs(&session.context, &mailbox.to_string(), auth).await,
        };
        match allowed {
            Ok(true) => {}
            Ok(false) => {
                return session.reply(Reply::new(
                    550,
                    "5.7.1",
                    format!("Sender address is not yours ({})", auth.address),
                ));
            }
            Err(reply) => return session.reply(reply),
        }
    }
    session.transaction = Some(Transaction {
        from,
        params,
        recipients: Vec::new(),
        chunks: None,
    });
    session.reply(Reply::new(250, "2.1.0", "Sender OK"))
}
