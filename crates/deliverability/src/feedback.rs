//! Complaints: ARF feedback reports (RFC 5965) that mailbox providers
//! send when a user marks mail as spam. What matters is which of our
//! deliveries it is about; the VERP return path of the original names it,
//! whether the report gives it as Original-Mail-From or keeps the
//! original's Return-Path (recipients are often redacted).

use crate::verp::paths_in;
use mail_parser::{Message, MessageParser, MimeHeaders};

/// An ARF report, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    /// RFC 5965 3.1 Feedback-Type: abuse, fraud, virus, other, not-spam.
    pub feedback_type: String,
    /// Every VERP address found in the report, best source first.
    pub return_paths: Vec<String>,
    /// Original-Rcpt-To, when not redacted.
    pub recipient: Option<String>,
    pub user_agent: Option<String>,
}

impl Complaint {
    /// `not-spam` reports (RFC 6650) are the opposite of a complaint.
    pub fn is_complaint(&self) -> bool {
        !self.feedback_type.eq_ignore_ascii_case("not-spam")
    }
}

/// Reads `raw` as an ARF report; `None` when it is not one.
pub fn parse(raw: &[u8]) -> Option<Complaint> {
    from_message(&MessageParser::default().parse(raw)?)
}

/// An already parsed message as an ARF report; `None` when it is not one.
pub fn from_message(message: &Message) -> Option<Complaint> {
    let report_type = message
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))?;
    if !report_type.eq_ignore_ascii_case("feedback-report") {
        return None;
    }
    let mut fields = None;
    let mut original = None;
    for part in &message.parts {
        let Some(content_type) = part.content_type() else {
            continue;
        };
        let kind = format!(
            "{}/{}",
            content_type.ctype().to_ascii_lowercase(),
            content_type.subtype().unwrap_or("").to_ascii_lowercase()
        );
        match kind.as_str() {
            "message/feedback-report" => fields = Some(String::from_utf8_lossy(part.contents()).into_owned()),
            "message/rfc822" | "text/rfc822-headers" | "message/global" if original.is_none() => {
                original = Some(String::from_utf8_lossy(part.contents()).into_owned());
            }
            _ => {}
        }
    }
    let fields = fields?;
    let field = |name: &str| {
        fields.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    };
    let mut return_paths = Vec::new();
    let mut add = |text: &str| {
        for path in paths_in(text) {
            if !return_paths.contains(&path) {
                return_paths.push(path);
            }
        }
    };
    if let Some(from) = field("Original-Mail-From") {
        add(&from);
    }
    if let Some(original) = &original {
        let head = original.split("\r\n\r\n").next().unwrap_or(original);
        let head = head.split("\n\n").next().unwrap_or(head);
        add(head);
    }
    Some(Complaint {
        feedback_type: field("Feedback-Type")
            .unwrap_or_else(|| "other".into())
            .to_ascii_lowercase(),
        return_paths,
        recipient: field("Original-Rcpt-To").map(|r| r.trim_matches(['<', '>']).to_lowercase()),
        user_agent: field("User-Agent"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "From: <staff@hotmail.example>\r\n\
Date: Thu, 8 Mar 2026 14:00:00 EDT\r\n\
Subject: FW: Our autumn offers\r\n\
To: <fbl@shop.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=feedback-report; boundary=\"part1_13d.2e68ed54_boundary\"\r\n\
\r\n\
--part1_13d.2e68ed54_boundary\r\n\
Content-Type: text/plain; charset=\"US-ASCII\"\r\n\
\r\n\
This is an email abuse report for an email message received from IP\r\n\
198.51.100.7 on Thu, 8 Mar 2026 14:00:00 EDT.\r\n\
\r\n\
--part1_13d.2e68ed54_boundary\r\n\
Content-Type: message/feedback-report\r\n\
\r\n\
Feedback-Type: abuse\r\n\
User-Agent: SomeGenerator/1.0\r\n\
Version: 1\r\n\
Original-Mail-From: <bounces+2s.abcdefghijkl@shop.example>\r\n\
Arrival-Date: Thu, 8 Mar 2026 14:00:00 EDT\r\n\
Source-IP: 198.51.100.7\r\n\
Reported-Domain: shop.example\r\n\
\r\n\
--part1_13d.2e68ed54_boundary\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
Return-Path: <bounces+2s.abcdefghijkl@shop.example>\r\n\
From: <news@shop.example>\r\n\
Subject: Our autumn offers\r\n\
\r\n\
--part1_13d.2e68ed54_boundary--\r\n";

    #[test]
    fn arf_reports_name_their_return_path() {
        let complaint = parse(REPORT.as_bytes()).unwrap();
        assert_eq!(complaint.feedback_type, "abuse");
        assert!(complaint.is_complaint());
        assert_eq!(complaint.return_paths, ["bounces+2s.abcdefghijkl@shop.example"]);
        assert_eq!(complaint.recipient, None, "redacted, as providers do");
        assert_eq!(complaint.user_agent.as_deref(), Some("SomeGenerator/1.0"));
        let not_spam = REPORT.replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
        assert!(!parse(not_spam.as_bytes()).unwrap().is_complaint());
        let bounce = REPORT.replace("report-type=feedback-report", "report-type=delivery-status");
        assert_eq!(parse(bounce.as_bytes()), None);
        assert_eq!(parse(b"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n"), None);
    }
}
