//! What verification found about one address: each check on its own, and
//! the verdict senders act on, with its reason.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The address's server said it takes mail for it.
    Deliverable,
    /// It cannot receive mail: bad syntax, no domain, no mail server, or
    /// the server said there is no such mailbox.
    Undeliverable,
    /// It may receive mail, but sending to it is a gamble (catch-all,
    /// disposable, role, full mailbox, greylisted after retries).
    Risky,
    /// Nothing could be learned (timeouts, a blocked probe, DNS failure).
    Unknown,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Deliverable => "deliverable",
            Verdict::Undeliverable => "undeliverable",
            Verdict::Risky => "risky",
            Verdict::Unknown => "unknown",
        }
    }
}

/// The SMTP server's answer about the address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpAnswer {
    /// The mail host that answered.
    pub host: String,
    pub code: u16,
    pub enhanced: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// As given.
    pub address: String,
    /// The normal form, when the syntax is valid.
    pub normalised: Option<String>,
    /// `None` when valid, else why not.
    pub syntax_error: Option<String>,
    /// `None` when not looked up.
    pub domain_exists: Option<bool>,
    pub null_mx: bool,
    /// The mail hosts, best first.
    pub mx: Vec<String>,
    /// No MX: the domain's own address takes mail (RFC 5321 5.1).
    pub implicit_mx: bool,
    pub smtp: Option<SmtpAnswer>,
    /// `Some(true)` when the server also took a made-up address.
    pub catch_all: Option<bool>,
    pub disposable: bool,
    pub role: bool,
    pub free: bool,
    /// The common domain this one may be a typo of.
    pub suggestion: Option<String>,
    pub verdict: Verdict,
    pub reason: String,
    /// Given again from an earlier check (within `verify.cache_ttl`).
    pub cached: bool,
    /// On the tenant's suppression list: the reason and detail.
    pub suppressed: Option<String>,
}

impl Report {
    pub(crate) fn new(address: &str) -> Report {
        Report {
            address: address.to_owned(),
            normalised: None,
            syntax_error: None,
            domain_exists: None,
            null_mx: false,
            mx: Vec::new(),
            implicit_mx: false,
            smtp: None,
            catch_all: None,
            disposable: false,
            role: false,
            free: false,
            suggestion: None,
            verdict: Verdict::Unknown,
            reason: String::new(),
            cached: false,
            suppressed: None,
        }
    }

    pub(crate) fn decide(mut self, verdict: Verdict, reason: impl Into<String>) -> Report {
        self.verdict = verdict;
        self.reason = reason.into();
        self
    }

    /// Several lines for a person: the verdict, then each check.
    pub fn human(&self) -> String {
        let mut out = format!("{}: {} ({})\n", self.address, self.verdict.name(), self.reason);
        let mut line = |label: &str, value: String| out.push_str(&format!("  {label:<12} {value}\n"));
        match (&self.normalised, &self.syntax_error) {
            (Some(normalised), _) => line("syntax", format!("valid, {normalised}")),
            (None, Some(error)) => line("syntax", format!("invalid: {error}")),
            _ => {}
        }
        if let Some(exists) = self.domain_exists {
            line(
                "domain",
                if exists {
                    "exists".into()
                } else {
                    "does not exist".into()
                },
            );
        }
        if self.null_mx {
            line("mx", "null MX: takes no mail (RFC 7505)".into());
        } else if !self.mx.is_empty() {
            let implicit = if self.implicit_mx {
                " (implicit: no MX record)"
            } else {
                ""
            };
            line("mx", format!("{}{implicit}", self.mx.join(", ")));
        }
        if let Some(smtp) = &self.smtp {
            let enhanced = smtp.enhanced.as_deref().map(|e| format!("{e} ")).unwrap_or_default();
            line(
                "smtp",
                format!("{} {enhanced}{} (from {})", smtp.code, smtp.text, smtp.host),
            );
        }
        if let Some(catch_all) = self.catch_all {
            line("catch-all", if catch_all { "yes".into() } else { "no".into() });
        }
        line("disposable", if self.disposable { "yes".into() } else { "no".into() });
        line("role", if self.role { "yes".into() } else { "no".into() });
        line("free", if self.free { "yes".into() } else { "no".into() });
        if let Some(suggestion) = &self.suggestion {
            line("did you mean", suggestion.clone());
        }
        if let Some(suppressed) = &self.suppressed {
            line("suppressed", suppressed.clone());
        }
        if self.cached {
            line("cached", "yes: checked earlier, not asked again".into());
        }
        out
    }
}
