//! Estafeta's address verification: whether an address can receive mail,
//! checked step by step (syntax, domain, MX, an SMTP probe that never
//! sends), with the signals senders care about (catch-all, disposable,
//! role, free provider, typos), each reported separately, and a verdict.
//! Probes are polite ([`sessions`]) and verdicts are kept for a while.

pub mod batch;
mod cache;
mod decide;
pub mod listfile;
pub mod lists;
pub mod mx;
pub mod probe;
pub mod report;
mod sessions;
pub mod syntax;

use cache::TtlCache;
use decide::{Answers, decide};
use estafeta_core::config::Config;
use estafeta_core::model::TenantId;
use estafeta_net::dns::Resolver;
use estafeta_store::Store;
use mx::{MailHost, MailHosts};
use probe::{ProbeError, Reply};
pub use report::{Report, SmtpAnswer, Verdict};
use sessions::{Identity, Sessions};
use std::net::IpAddr;
use std::sync::Arc;
use syntax::Host;

/// Checks addresses; one per process (or server), shared, so its limits
/// and caches hold for everything it verifies.
pub struct Verifier {
    config: Arc<Config>,
    resolver: Resolver,
    sessions: Arc<Sessions>,
    /// Final verdicts by normal form.
    reports: TtlCache<String, Report>,
    /// Whether a domain's server takes any address.
    catch_all: TtlCache<String, bool>,
    /// Held while a domain's catch-all answer is being learned, so the
    /// addresses behind the first wait for it instead of each asking.
    learning: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Where suppression lists are kept, when there is a store.
    store: Option<Arc<dyn Store>>,
}

/// One attempt's outcome: a report, or a temporary answer to ask again.
pub enum Step {
    Done(Box<Report>),
    Retry,
}

impl Verifier {
    pub fn new(config: Arc<Config>, resolver: Resolver) -> Verifier {
        let verify = &config.verify;
        let identity = Identity {
            helo: if verify.helo.is_empty() {
                config.hostname.clone()
            } else {
                verify.helo.clone()
            },
            sender: if verify.probe_sender.is_empty() {
                format!("postmaster@{}", config.hostname)
            } else {
                verify.probe_sender.clone()
            },
        };
        Verifier {
            sessions: Arc::new(Sessions::new(verify.clone(), identity)),
            reports: TtlCache::new(verify.cache_ttl),
            catch_all: TtlCache::new(verify.cache_ttl),
            learning: Default::default(),
            store: None,
            config,
            resolver,
        }
    }

    /// Consults the suppression lists in `store` for verifications made
    /// on behalf of a tenant.
    pub fn with_store(mut self, store: Arc<dyn Store>) -> Verifier {
        self.store = Some(store);
        self
    }

    /// The report on `address`; temporary answers are asked again after
    /// `verify.retry_delay`, `verify.retries` times.
    pub async fn verify(&self, address: &str) -> Report {
        self.verify_for(address, None).await
    }

    /// The same, on behalf of `tenant`: an address on its suppression list
    /// is reported as such, without a probe.
    pub async fn verify_for(&self, address: &str, tenant: Option<TenantId>) -> Report {
        let retries = self.config.verify.retries;
        let mut asked = 0;
        loop {
            match self.attempt(address, asked, asked >= retries, tenant).await {
                Step::Done(report) => return *report,
                Step::Retry => {
                    asked += 1;
                    tokio::time::sleep(self.config.verify.retry_delay).await;
                }
            }
        }
    }

    /// One attempt; `retried` attempts came before. Unless `last`, a
    /// temporary answer asks for another.
    pub async fn attempt(&self, address: &str, retried: u32, last: bool, tenant: Option<TenantId>) -> Step {
        let mut report = Report::new(address);
        let parsed = match syntax::parse(address) {
            Ok(parsed) => parsed,
            Err(error) => {
                report.syntax_error = Some(error.to_string());
                return done(report.decide(Verdict::Undeliverable, format!("invalid address: {error}")));
            }
        };
        let normalised = parsed.normalised();
        if let (Some(store), Some(tenant)) = (&self.store, tenant) {
            match store
                .suppression_check(tenant, "", &normalised, estafeta_core::time::now())
                .await
            {
                Ok(Some(entry)) => {
                    report.normalised = Some(normalised);
                    report.suppressed = Some(format!("{}: {}", entry.reason.code(), entry.detail));
                    return done(report.decide(
                        Verdict::Undeliverable,
                        format!("on the suppression list ({}); do not send", entry.reason.code()),
                    ));
                }
                Ok(None) => {}
                Err(error) => {
                    return done(report.decide(
                        Verdict::Unknown,
                        format!("the suppression list could not be read: {error}"),
                    ));
                }
            }
        }
        if let Some(mut known) = self.reports.get(&normalised) {
            known.address = address.to_owned();
            known.cached = true;
            return done(known);
        }
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
                        return done(report.decide(
                            Verdict::Undeliverable,
                            format!("the domain {domain} does not exist{hint}"),
                        ));
                    }
                    MailHosts::NullMx => {
                        report.domain_exists = Some(true);
                        report.null_mx = true;
                        return done(
                            report.decide(Verdict::Undeliverable, format!("{domain} takes no mail (null MX)")),
                        );
                    }
                    MailHosts::NoHost => {
                        report.domain_exists = Some(true);
                        return done(report.decide(Verdict::Undeliverable, format!("{domain} has no mail server")));
                    }
                    MailHosts::TempFail(why) => {
                        return done(
                            report.decide(Verdict::Unknown, format!("the DNS did not answer for {domain}: {why}")),
                        );
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
        let answers = match self.probe(&hosts, &domain, &normalised, parsed.utf8).await {
            Ok(answers) => answers,
            Err(ProbeError::NoSmtpUtf8) => {
                return done(report.decide(
                    Verdict::Undeliverable,
                    "a UTF-8 address, and its mail servers do not take them (no SMTPUTF8, RFC 6531)",
                ));
            }
            Err(error) => {
                return done(report.decide(Verdict::Unknown, format!("no answer from the mail servers: {error}")));
            }
        };
        if answers.target.is_temporary() && !last {
            return Step::Retry;
        }
        let report = decide(report, &answers, retried);
        if report.verdict != Verdict::Unknown && !answers.target.is_temporary() {
            self.reports.put(normalised, report.clone());
        }
        done(report)
    }

    /// The first host address that will talk is asked about a made-up
    /// address at the domain (unless its catch-all answer is known), then
    /// about the address itself, in one transaction.
    async fn probe(&self, hosts: &[MailHost], domain: &str, address: &str, utf8: bool) -> Result<Answers, ProbeError> {
        let key = domain.to_ascii_lowercase();
        let mut known = self.catch_all.get(&key);
        let _learning = if known.is_none() && self.config.verify.catch_all_check {
            let lock = Arc::clone(
                self.learning
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(key.clone())
                    .or_default(),
            );
            let guard = lock.lock_owned().await;
            known = self.catch_all.get(&key);
            Some(guard)
        } else {
            None
        };
        let random = (self.config.verify.catch_all_check && known.is_none()).then(|| {
            format!(
                "estafeta-probe-{:012x}@{domain}",
                rand::random::<u64>() & 0xffff_ffff_ffff
            )
        });
        let mut asked: Vec<&str> = random.iter().map(String::as_str).collect();
        asked.push(address);
        let mut last = ProbeError::Connect("no address to connect to".into());
        for host in hosts {
            for ip in &host.addrs {
                let mut replies = match self.sessions.ask(*ip, &asked, utf8).await {
                    Ok(replies) => replies,
                    Err(error) => {
                        tracing::debug!(host = %host.name, %ip, %error, "probe: next host");
                        last = error;
                        continue;
                    }
                };
                let target = replies.pop().expect("one reply per address");
                let catch_all = match replies.pop() {
                    Some(random) => {
                        let answer = catch_all_answer(&random);
                        if let Some(answer) = answer {
                            self.catch_all.put(key.clone(), answer);
                        }
                        answer
                    }
                    None => known,
                };
                return Ok(Answers {
                    host: describe(&host.name, *ip),
                    target,
                    catch_all,
                });
            }
        }
        Err(last)
    }
}

fn done(report: Report) -> Step {
    Step::Done(Box::new(report))
}

/// A made-up address taken means any is; refused means not; a temporary
/// answer means nothing.
fn catch_all_answer(reply: &Reply) -> Option<bool> {
    if reply.is_positive() {
        Some(true)
    } else if reply.code >= 500 {
        Some(false)
    } else {
        None
    }
}

fn describe(name: &str, ip: IpAddr) -> String {
    format!("{name} [{ip}]")
}
