//! Mail a user sends without an SMTP session (JMAP's EmailSubmission, RFC
//! 8621 7): the checks MAIL, RCPT and DATA make on the submission port,
//! then the same delivery, so the same refusals hold and the same
//! records are kept.

use crate::command::rcpt::admit;
use crate::delivery::{Origin, accept};
use crate::proto::{ForwardPath, MailParams, Reply, ReversePath, path};
use crate::session::{Authenticated, Helo, Transaction};
use crate::{Mode, SmtpContext, policy};
use std::net::IpAddr;
use std::sync::Arc;

/// One message to send, as its user's client gave it.
pub struct Submission<'a> {
    /// The account's address (it logged in).
    pub account: &'a str,
    /// Where the request came from, and whether over TLS.
    pub peer: IpAddr,
    pub tls: bool,
    pub mail_from: &'a str,
    pub rcpt_to: &'a [String],
    pub message: Vec<u8>,
}

/// What became of a submission: the reply the submission port would have
/// given at the end of DATA (2xx: taken), or the first refusal.
pub async fn submit(context: &Arc<SmtpContext>, submission: Submission<'_>) -> Reply {
    let auth = Authenticated {
        address: submission.account.to_owned(),
    };
    let syntax = |what: &str, address: &str| Reply::new(553, "5.1.3", format!("Bad {what} address {address}"));
    let mailbox = match path::parse_mailbox(submission.mail_from) {
        Ok(mailbox) => mailbox,
        Err(_) => return syntax("sender", submission.mail_from),
    };
    // RFC 6531 3.4: an address outside ASCII needs SMTPUTF8, given here.
    let smtputf8 = !submission.mail_from.is_ascii() || submission.rcpt_to.iter().any(|r| !r.is_ascii());
    match policy::sender_belongs(context, &mailbox.to_string(), &auth).await {
        Ok(true) => {}
        Ok(false) => return Reply::new(550, "5.7.1", format!("Sender address is not yours ({})", auth.address)),
        Err(reply) => return reply,
    }
    let max = context.config.smtp.max_message_size;
    if submission.message.len() as u64 > max {
        return Reply::new(
            552,
            "5.3.4",
            format!("Message size exceeds fixed maximum of {max} bytes"),
        );
    }
    if submission.rcpt_to.is_empty() {
        return Reply::new(554, "5.5.1", "No valid recipients");
    }
    if submission.rcpt_to.len() > context.config.smtp.max_recipients as usize {
        return Reply::new(452, "4.5.3", "Too many recipients");
    }
    let from = ReversePath::Mailbox(mailbox);
    let mut recipients = Vec::with_capacity(submission.rcpt_to.len());
    for address in submission.rcpt_to {
        let to = match path::parse_mailbox(address) {
            Ok(mailbox) => ForwardPath::Mailbox { mailbox, routed: false },
            Err(_) => return syntax("recipient", address),
        };
        match admit(context, Mode::Submission, true, submission.peer, &from, &to).await {
            Ok(recipient) => recipients.push(recipient),
            Err(reply) => return reply,
        }
    }
    let transaction = Transaction {
        from,
        params: MailParams {
            smtputf8,
            ..MailParams::default()
        },
        recipients,
        chunks: None,
    };
    let helo = Helo {
        name: "jmap".into(),
        extended: true,
    };
    let origin = Origin {
        mode: Mode::Submission,
        helo: Some(&helo),
        auth: Some(&auth),
        peer: submission.peer,
        tls: submission.tls,
        protocol: Some("HTTP"),
    };
    // RFC 5321 2.3.8: what is stored and sent is CRLF throughout.
    let message = estafeta_core::crlf::canonical(submission.message);
    accept(context, &origin, transaction, message).await
}
