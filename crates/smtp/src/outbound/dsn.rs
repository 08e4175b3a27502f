//! Delivery status notifications (RFC 3464): a multipart/report to the
//! envelope sender saying, per recipient, failed, delayed, delivered or
//! relayed, with RFC 3463 status codes, the remote server's reply, and the
//! original message or its header (RFC 3461 RET).

use super::reply::Reply;
use crate::delivery::rfc5322_date;
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;

/// RFC 3464 2.3.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Failed,
    Delayed,
    Delivered,
    /// Handed to a server that does not do DSNs (RFC 3461 6.2.6.5): no
    /// further notice will come.
    Relayed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
        }
    }
}

/// What the sender asked to hear about (RFC 3461 4.1). Without NOTIFY,
/// failures and delays are reported.
pub fn wanted(notify: Option<&str>, action: Action) -> bool {
    let Some(notify) = notify else {
        return matches!(action, Action::Failed | Action::Delayed);
    };
    let has = |word: &str| notify.split(',').any(|item| item.trim().eq_ignore_ascii_case(word));
    match action {
        Action::Failed => has("FAILURE"),
        Action::Delayed => has("DELAY"),
        Action::Delivered | Action::Relayed => has("SUCCESS"),
    }
}

#[derive(Debug, Clone)]
pub struct RecipientReport {
    pub address: String,
    /// ORCPT as `type;address`.
    pub original: Option<String>,
    pub action: Action,
    pub reply: Reply,
    /// The host that gave the reply, when one did.
    pub remote_mta: Option<String>,
}

pub struct Report<'a> {
    /// Our host name: Reporting-MTA and the From: domain.
    pub reporting_mta: &'a str,
    /// The envelope sender of the original, whom the report goes to.
    pub to: &'a str,
    pub envid: Option<&'a str>,
    pub arrival: i64,
    pub now: i64,
    /// For delays: when we give up.
    pub retry_until: Option<i64>,
    pub recipients: Vec<RecipientReport>,
    pub original: &'a [u8],
    /// RFC 3461 4.3: FULL or HDRS, as the sender asked.
    pub ret: Option<&'a str>,
}

/// Above this a failure report carries only the header, unless the
/// sender asked for RET=FULL.
const RETURN_FULL_UP_TO: usize = 64 * 1024;

fn header_of(message: &[u8]) -> &[u8] {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => &message[..end + 2],
        None => message,
    }
}

impl Report<'_> {
    fn subject(&self) -> &'static str {
        if self.recipients.iter().any(|r| r.action == Action::Failed) {
            "Undelivered Mail Returned to Sender"
        } else if self.recipients.iter().any(|r| r.action == Action::Delayed) {
            "Delayed Mail (still being retried)"
        } else {
            "Successful Mail Delivery Report"
        }
    }

    fn explanation(&self) -> String {
        let mut text = format!("This is the mail system at host {}.\r\n\r\n", self.reporting_mta);
        let failed = self.recipients.iter().any(|r| r.action == Action::Failed);
        let delayed = self.recipients.iter().any(|r| r.action == Action::Delayed);
        if failed {
            text.push_str("Your message could not be delivered to one or more recipients.\r\n");
            text.push_str("It is attached below.\r\n\r\n");
        } else if delayed {
            text.push_str("Your message has not been delivered yet to one or more recipients.\r\n");
            text.push_str("Delivery will be tried again; you need not send it again.\r\n\r\n");
        } else {
            text.push_str("Your message was delivered as you asked to be told.\r\n\r\n");
        }
        for recipient in &self.recipients {
            text.push_str(&format!(
                "<{}>: {}: {}\r\n",
                recipient.address,
                recipient.action.as_str(),
                recipient.reply
            ));
        }
        text
    }

    /// RFC 3464 2.2 and 2.3: per-message fields, then one block per recipient.
    fn status_fields(&self) -> String {
        let mut fields = format!("Reporting-MTA: dns; {}\r\n", self.reporting_mta);
        if let Some(envid) = self.envid {
            fields.push_str(&format!("Original-Envelope-Id: {envid}\r\n"));
        }
        fields.push_str(&format!("Arrival-Date: {}\r\n", rfc5322_date(self.arrival)));
        for recipient in &self.recipients {
            fields.push_str("\r\n");
            if let Some(original) = &recipient.original {
                let (kind, address) = original.split_once(';').unwrap_or(("rfc822", original));
                fields.push_str(&format!("Original-Recipient: {kind}; {address}\r\n"));
            }
            fields.push_str(&format!("Final-Recipient: rfc822; {}\r\n", recipient.address));
            fields.push_str(&format!("Action: {}\r\n", recipient.action.as_str()));
            fields.push_str(&format!("Status: {}\r\n", recipient.reply.enhanced()));
            if let Some(mta) = &recipient.remote_mta {
                fields.push_str(&format!("Remote-MTA: dns; {mta}\r\n"));
            }
            // The reply text can hold anything a server sent: keep it on one line.
            let diagnostic: String = recipient
                .reply
                .to_string()
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            fields.push_str(&format!("Diagnostic-Code: smtp; {diagnostic}\r\n"));
            fields.push_str(&format!("Last-Attempt-Date: {}\r\n", rfc5322_date(self.now)));
            if recipient.action == Action::Delayed
                && let Some(until) = self.retry_until
            {
                fields.push_str(&format!("Will-Retry-Until: {}\r\n", rfc5322_date(until)));
            }
        }
        fields
    }

    /// The whole report message, ready to deliver.
    pub fn build(&self) -> Vec<u8> {
        let failed = self.recipients.iter().any(|r| r.action == Action::Failed);
        let full = failed
            && match self.ret {
                Some(ret) => ret.eq_ignore_ascii_case("FULL"),
                None => self.original.len() <= RETURN_FULL_UP_TO,
            };
        let returned = if full {
            MimePart::new("message/rfc822", self.original).transfer_encoding("8bit")
        } else {
            MimePart::new("text/rfc822-headers", header_of(self.original)).transfer_encoding("8bit")
        };
        let parts = vec![
            MimePart::new(
                ContentType::new("text/plain").attribute("charset", "utf-8"),
                self.explanation(),
            ),
            MimePart::new("message/delivery-status", self.status_fields().into_bytes()).transfer_encoding("7bit"),
            returned,
        ];
        let id = format!("{:016x}.dsn@{}", rand::random::<u64>(), self.reporting_mta);
        MessageBuilder::new()
            .from((
                "Mail Delivery System".to_owned(),
                format!("MAILER-DAEMON@{}", self.reporting_mta),
            ))
            .to(self.to)
            .subject(self.subject())
            .date(self.now)
            .message_id(id)
            // RFC 3834 5: an automatic reply; nobody should answer it.
            .header("Auto-Submitted", Raw::new("auto-replied"))
            .body(MimePart::new(
                ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
                parts,
            ))
            .write_to_vec()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_defaults_to_failure_and_delay() {
        assert!(wanted(None, Action::Failed) && wanted(None, Action::Delayed));
        assert!(!wanted(None, Action::Delivered));
        assert!(wanted(Some("SUCCESS,FAILURE"), Action::Relayed));
        assert!(!wanted(Some("SUCCESS"), Action::Failed));
        assert!(!wanted(Some("NEVER"), Action::Failed));
    }

    #[test]
    fn a_failure_report_has_the_three_parts() {
        let original = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
        let report = Report {
            reporting_mta: "mx.example.com",
            to: "a@example.com",
            envid: Some("QQ314159"),
            arrival: 1_764_000_000,
            now: 1_764_000_100,
            retry_until: None,
            recipients: vec![RecipientReport {
                address: "b@remote.test".into(),
                original: Some("rfc822;b@remote.test".into()),
                action: Action::Failed,
                reply: Reply {
                    code: 550,
                    status: Some([5, 1, 1]),
                    text: "no such user".into(),
                },
                remote_mta: Some("mx1.remote.test".into()),
            }],
            original,
            ret: None,
        };
        let text = String::from_utf8(report.build()).unwrap();
        for expected in [
            "multipart/report",
            "report-type=\"delivery-status\"",
            "Subject: Undelivered Mail Returned to Sender",
            "Auto-Submitted: auto-replied",
            "Reporting-MTA: dns; mx.example.com",
            "Original-Envelope-Id: QQ314159",
            "Original-Recipient: rfc822; b@remote.test",
            "Final-Recipient: rfc822; b@remote.test",
            "Action: failed",
            "Status: 5.1.1",
            "Remote-MTA: dns; mx1.remote.test",
            "Diagnostic-Code: smtp; 550 5.1.1 no such user",
            "Content-Type: message/rfc822",
            "Subject: hi",
        ] {
            assert!(text.contains(expected), "{expected} missing in\n{text}");
        }
    }
}
