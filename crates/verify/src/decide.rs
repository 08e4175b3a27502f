//! From the server's answer about an address to the verdict senders act
//! on. Codes are read as RFC 5321 4.2 and RFC 3463 define them; a 5xx
//! that is not about the mailbox (policy, a blocked probe) says nothing
//! about the address.

use crate::probe::Reply;
use crate::report::{Report, SmtpAnswer, Verdict};

/// What the probe learned about one address.
pub(crate) struct Answers {
    /// The host that answered, as "name [ip]".
    pub host: String,
    pub target: Reply,
    /// Whether the server took a made-up address too; `None` when not
    /// asked or when its answer was temporary.
    pub catch_all: Option<bool>,
}

/// `retries` is how often a temporary answer was asked again.
pub(crate) fn decide(mut report: Report, answers: &Answers, retries: u32) -> Report {
    let target = &answers.target;
    report.smtp = Some(SmtpAnswer {
        host: answers.host.clone(),
        code: target.code,
        enhanced: target.enhanced.clone(),
        text: target.text.clone(),
    });
    report.catch_all = answers.catch_all;
    let enhanced = target.enhanced.as_deref().unwrap_or("");
    if target.is_temporary() {
        let full = target.code == 452 || enhanced == "4.2.2";
        return if full {
            report.decide(Verdict::Risky, format!("the mailbox is full for now: {target}"))
        } else if target.code == 450 || target.code == 451 || enhanced.starts_with("4.7.") {
            let asked = match retries {
                0 => "deferred (greylisting?); ask again later".to_owned(),
                n => format!("still deferred after {n} retries (greylisting?)"),
            };
            report.decide(Verdict::Risky, format!("{asked}: {target}"))
        } else {
            report.decide(Verdict::Unknown, format!("a temporary answer: {target}"))
        };
    }
    if !target.is_positive() {
        // RFC 3463 3.2: X.1.x are addressing problems; servers without
        // enhanced codes say 550/551/553 for unknown mailboxes.
        let no_mailbox =
            enhanced.starts_with("5.1.") || (enhanced.is_empty() && matches!(target.code, 550 | 551 | 553));
        return if target.code == 552 || enhanced == "5.2.2" {
            report.decide(Verdict::Risky, format!("the mailbox is full: {target}"))
        } else if enhanced == "5.2.1" {
            report.decide(Verdict::Undeliverable, format!("the mailbox is disabled: {target}"))
        } else if no_mailbox {
            report.decide(Verdict::Undeliverable, format!("no such mailbox: {target}"))
        } else {
            report.decide(Verdict::Unknown, format!("the server refused the probe: {target}"))
        };
    }
    if report.catch_all == Some(true) {
        return report.decide(Verdict::Risky, "the server takes any address (catch-all)");
    }
    if report.disposable {
        return report.decide(Verdict::Risky, "a disposable (throwaway) domain");
    }
    if report.role {
        return report.decide(Verdict::Risky, "a role account, not a person");
    }
    report.decide(Verdict::Deliverable, "the server takes mail for it")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::parse_reply;

    fn verdict(code: u16, text: &str, catch_all: Option<bool>) -> Report {
        let answers = Answers {
            host: "mx.example.com [192.0.2.1]".into(),
            target: parse_reply(code, &[text.to_owned()]),
            catch_all,
        };
        decide(Report::new("a@example.com"), &answers, 1)
    }

    #[test]
    fn codes_become_verdicts() {
        let cases = [
            (250, "2.1.5 ok", None, Verdict::Deliverable, "takes mail"),
            (250, "2.1.5 ok", Some(true), Verdict::Risky, "catch-all"),
            (
                550,
                "5.1.1 user unknown",
                Some(false),
                Verdict::Undeliverable,
                "no such mailbox",
            ),
            (550, "no such user", None, Verdict::Undeliverable, "no such mailbox"),
            (
                553,
                "mailbox name not allowed",
                None,
                Verdict::Undeliverable,
                "no such mailbox",
            ),
            (550, "5.2.1 mailbox disabled", None, Verdict::Undeliverable, "disabled"),
            (552, "5.2.2 over quota", None, Verdict::Risky, "full"),
            (452, "4.2.2 over quota", None, Verdict::Risky, "full for now"),
            (451, "4.7.1 greylisted", None, Verdict::Risky, "after 1 retries"),
            (
                450,
                "4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/example.com.html",
                None,
                Verdict::Risky,
                "after 1 retries",
            ),
            (421, "4.4.2 timeout", None, Verdict::Unknown, "temporary"),
            (
                550,
                "5.7.1 client host blocked",
                None,
                Verdict::Unknown,
                "refused the probe",
            ),
            (
                554,
                "5.7.1 rejected by policy",
                None,
                Verdict::Unknown,
                "refused the probe",
            ),
        ];
        for (code, text, catch_all, expected, reason) in cases {
            let report = verdict(code, text, catch_all);
            assert_eq!(report.verdict, expected, "{code} {text}");
            assert!(report.reason.contains(reason), "{code} {text}: {}", report.reason);
            assert_eq!(report.smtp.as_ref().unwrap().code, code);
        }
    }
}
