//! Estafeta's address verification: whether an address can receive mail,
//! checked step by step (syntax, domain, MX, an SMTP probe that never
//! sends), with the signals senders care about (catch-all, disposable,
//! role, free provider, typos), each reported separately, and a verdict.

pub mod lists;
pub mod mx;
pub mod probe;
pub mod report;
pub mod syntax;

use estafeta_core::config::Config;
use estafeta_net::dns::Resolver;
use mx::{MailHost, MailHosts};
use probe::{Probe, ProbeError, Reply};
pub use report::{Report, SmtpAnswer, Verdict};
use std::net::IpAddr;
use std::sync::Arc;
use syntax::Host;

pub struct Verifier {
    config: Arc<Config>,
    resolver: Resolver,
}

/// What one probe session learned.
struct Answers {
    host: String,
    target: Reply,
    /// The made-up address's reply, when asked.
    random: Option<Reply>,
}

impl Verifier {
    pub fn new(config: Arc<Config>, resolver: Resolver) -> Verifier {
        Verifier { config, resolver }
    }

    fn helo(&self) -> &str {
        let helo = &self.config.verify.helo;
        if helo.is_empty() { &self.config.hostname } else { helo }
    }

    fn sender(&self) -> String {
        let sender = &self.config.verify.probe_sender;
        if sender.is_empty() {
            format!("postmaster@{}", self.config.hostname)
        } else {
            sender.clone()
        }
    }

    pub async fn verify(&self, address: &str) -> Report {
        let mut report = Report::new(address);
        let parsed = match syntax::parse(address) {
            Ok(parsed) => parsed,
            Err(error) => {
                report.syntax_error = Some(error.to_string());
                return report.decide(Verdict::Undeliverable, format!("invalid address: {error}"));
            }
        };
        let normalised = parsed.normalised();
        report.normalised = Some(normalised.clone());
        report.role = lists::is_role(&parsed.local);
        let hosts = match &parsed.host {
            Host::Literal(ip) => vec![MailHost {
                name: format!("[{ip}]"),
                addrs: vec![*ip],
            }],
            Host::Domain(domain) => {
                report.disposable = lists::is_disposable(domain);
                report.free = lists::is_free(domain);
                report.suggestion = lists::suggestion(domain).map(str::to_owned);
                match mx::lookup(&self.resolver, domain).await {
                    MailHosts::NoDomain => {
                        report.domain_exists = Some(false);
                        let hint = report
                            .suggestion
                            .as_ref()
                            .map(|s| format!("; did you mean {s}?"))
                            .unwrap_or_default();
                        return report.decide(
                            Verdict::Undeliverable,
                            format!("the domain {domain} does not exist{hint}"),
                        );
                    }
                    MailHosts::NullMx => {
                        report.domain_exists = Some(true);
                        report.null_mx = true;
                        return report.decide(Verdict::Undeliverable, format!("{domain} takes no mail (null MX)"));
                    }
                    MailHosts::NoHost => {
                        report.domain_exists = Some(true);
                        return report.decide(Verdict::Undeliverable, format!("{domain} has no mail server"));
                    }
                    MailHosts::TempFail(why) => {
                        return report.decide(Verdict::Unknown, format!("the DNS did not answer for {domain}: {why}"));
                    }
                    MailHosts::Hosts { hosts, implicit } => {
                        report.domain_exists = Some(true);
                        report.implicit_mx = implicit;
                        report.mx = hosts.iter().map(|h| h.name.clone()).collect();
                        hosts
                    }
                }
            }
        };
        let domain = parsed
            .domain()
            .map(str::to_owned)
            .unwrap_or_else(|| normalised.rsplit('@').next().unwrap_or("").to_owned());
        let random = format!(
            "estafeta-probe-{:012x}@{domain}",
            rand::random::<u64>() & 0xffff_ffff_ffff
        );

        let verify = &self.config.verify;
        let mut attempt = 0;
        let answers = loop {
            let outcome = self
                .probe(&hosts, &normalised, verify.catch_all_check.then_some(random.as_str()))
                .await;
            let temporary = matches!(&outcome, Ok(a) if a.target.is_temporary());
            if temporary && attempt < verify.retries {
                attempt += 1;
                tokio::time::sleep(verify.retry_delay).await;
                continue;
            }
            break outcome;
        };
        let answers = match answers {
            Ok(answers) => answers,
            Err(error) => return report.decide(Verdict::Unknown, format!("no answer from the mail servers: {error}")),
        };
        let target = &answers.target;
        report.smtp = Some(SmtpAnswer {
            host: answers.host.clone(),
            code: target.code,
            enhanced: target.enhanced.clone(),
            text: target.text.clone(),
        });
        report.catch_all = answers.random.as_ref().map(Reply::is_positive);
        let enhanced = target.enhanced.as_deref().unwrap_or("");
        if target.is_temporary() {
            let full = target.code == 452 || enhanced == "4.2.2";
            return if full {
                report.decide(Verdict::Risky, format!("the mailbox is full for now: {target}"))
            } else if target.code == 450 || target.code == 451 || enhanced.starts_with("4.7.") {
                report.decide(
                    Verdict::Risky,
                    format!("still deferred after {attempt} retries (greylisting?): {target}"),
                )
            } else {
                report.decide(Verdict::Unknown, format!("a temporary answer: {target}"))
            };
        }
        if !target.is_positive() {
            let no_mailbox =
                enhanced.starts_with("5.1.") || (enhanced.is_empty() && matches!(target.code, 550 | 551 | 553));
            return if target.code == 552 || enhanced == "5.2.2" {
                report.decide(Verdict::Risky, format!("the mailbox is full: {target}"))
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

    /// One session at the first host address that will talk: the made-up
    /// address first, then the one asked about.
    async fn probe(&self, hosts: &[MailHost], address: &str, random: Option<&str>) -> Result<Answers, ProbeError> {
        let verify = &self.config.verify;
        let sender = self.sender();
        let mut last = ProbeError::Connect("no address to connect to".into());
        for host in hosts {
            for ip in &host.addrs {
                let session = Probe::open(
                    *ip,
                    verify.smtp_port,
                    self.helo(),
                    &sender,
                    verify.connect_timeout,
                    verify.command_timeout,
                )
                .await;
                let mut session = match session {
                    Ok(session) => session,
                    Err(error) => {
                        tracing::debug!(host = %host.name, %ip, %error, "probe: next host");
                        last = error;
                        continue;
                    }
                };
                let random = match random {
                    Some(random) => match session.rcpt(random).await {
                        Ok(reply) => Some(reply),
                        Err(error) => {
                            last = error;
                            continue;
                        }
                    },
                    None => None,
                };
                let target = match session.rcpt(address).await {
                    Ok(reply) => reply,
                    Err(error) => {
                        last = error;
                        continue;
                    }
                };
                session.close().await;
                return Ok(Answers {
                    host: describe(&host.name, *ip),
                    target,
                    random,
                });
            }
        }
        Err(last)
    }
}

fn describe(name: &str, ip: IpAddr) -> String {
    format!("{name} [{ip}]")
}
