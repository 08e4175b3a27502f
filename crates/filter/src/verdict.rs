//! What the filter decides for one message and one recipient, and how
//! that is shown in the message (SpamAssassin's header names, which mail
//! clients and users' own rules already know).

use std::fmt::Write;

/// The tabs of the inbox, each an IMAP mailbox (Primary is INBOX).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tab {
    Primary,
    Promotions,
    Social,
    Updates,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Primary, Tab::Promotions, Tab::Social, Tab::Updates];

    pub fn name(self) -> &'static str {
        match self {
            Tab::Primary => "primary",
            Tab::Promotions => "promotions",
            Tab::Social => "social",
            Tab::Updates => "updates",
        }
    }

    pub fn parse(name: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|tab| tab.name().eq_ignore_ascii_case(name))
    }

    /// The class number the tab classifier stores.
    pub fn class(self) -> u8 {
        self as u8
    }

    pub fn from_class(class: u8) -> Option<Tab> {
        Tab::ALL.get(class as usize).copied()
    }
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Junk,
    Tab(Tab),
}

/// One reason the score moved.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub rule: String,
    pub score: f64,
    pub text: String,
}

impl Reason {
    pub fn new(rule: impl Into<String>, score: f64, text: impl Into<String>) -> Reason {
        Reason {
            rule: rule.into(),
            score,
            text: text.into(),
        }
    }
}

/// The filter's answer for one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub score: f64,
    /// The Junk threshold it was held against.
    pub required: f64,
    pub reasons: Vec<Reason>,
    pub destination: Destination,
    /// Why the tab was chosen (empty for Junk).
    pub tab_reason: String,
}

impl Verdict {
    pub fn is_spam(&self) -> bool {
        self.destination == Destination::Junk
    }

    /// `X-Spam-Status` and `X-Spam-Score`, CRLF-terminated, folded.
    pub fn headers(&self) -> String {
        let mut tests: Vec<&str> = self.reasons.iter().map(|r| r.rule.as_str()).collect();
        tests.sort_unstable();
        tests.dedup();
        let mut status = format!(
            "X-Spam-Status: {}, score={:.1} required={:.1}",
            if self.is_spam() { "Yes" } else { "No" },
            self.score,
            self.required
        );
        // RFC 5322 2.2.3: fold long lines at white space.
        let mut line_len = status.len();
        for (i, test) in tests.iter().chain(tests.is_empty().then_some(&"none")).enumerate() {
            let piece = if i == 0 {
                format!(" tests={test}")
            } else {
                test.to_string()
            };
            if i > 0 {
                status.push(',');
                line_len += 1;
            }
            if line_len + piece.len() > 76 {
                status.push_str("\r\n\t");
                line_len = 1;
            }
            status.push_str(&piece);
            line_len += piece.len();
        }
        let mut out = String::new();
        let _ = write!(out, "{status}\r\nX-Spam-Score: {:.1}\r\n", self.score);
        out
    }

    /// Every reason, one a line, for `estafeta spam classify`.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "score {:.1} (junk at {:.1}): {}",
            self.score,
            self.required,
            match self.destination {
                Destination::Junk => "Junk".to_owned(),
                Destination::Tab(tab) => format!("not spam, {} tab", tab.name()),
            }
        );
        for reason in &self.reasons {
            let _ = writeln!(out, "  {:>7.2}  {:<24} {}", reason.score, reason.rule, reason.text);
        }
        if !self.tab_reason.is_empty() {
            let _ = writeln!(out, "  tab: {}", self.tab_reason);
        }
        out
    }
}

/// The header names this filter writes; copies arriving from outside are
/// removed first, or a sender could claim its own verdict.
pub const HEADERS: [&str; 3] = ["X-Spam-Status", "X-Spam-Score", "X-Spam-Flag"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_fold_and_list_each_test_once() {
        let reasons = (0..12)
            .map(|i| Reason::new(format!("SOME_LONG_RULE_NAME_{i}"), 1.0, "x"))
            .chain([Reason::new("SOME_LONG_RULE_NAME_1", 1.0, "again")])
            .collect();
        let verdict = Verdict {
            score: 13.04,
            required: 5.0,
            reasons,
            destination: Destination::Junk,
            tab_reason: String::new(),
        };
        let headers = verdict.headers();
        assert!(headers.starts_with("X-Spam-Status: Yes, score=13.0 required=5.0 tests=SOME_LONG_RULE_NAME_0,"));
        assert!(headers.ends_with("\r\nX-Spam-Score: 13.0\r\n"));
        assert!(headers.lines().all(|line| line.len() <= 78), "{headers}");
        assert_eq!(headers.matches("SOME_LONG_RULE_NAME_1,").count(), 1);
        let clean = Verdict {
            score: -1.0,
            required: 5.0,
            reasons: Vec::new(),
            destination: Destination::Tab(Tab::Primary),
            tab_reason: String::new(),
        };
        assert_eq!(
            clean.headers(),
            "X-Spam-Status: No, score=-1.0 required=5.0 tests=none\r\nX-Spam-Score: -1.0\r\n"
        );
    }

    #[test]
    fn tabs_round_trip_their_names_and_classes() {
        for tab in Tab::ALL {
            assert_eq!(Tab::parse(tab.name()), Some(tab));
            assert_eq!(Tab::from_class(tab.class()), Some(tab));
        }
        assert_eq!(Tab::parse("PROMOTIONS"), Some(Tab::Promotions));
        assert_eq!(Tab::parse("junk"), None);
    }
}
