//! SMTP TLS Reporting (RFC 8460): how the TLS of each delivery went,
//! counted per policy domain and period, and sent once the period is
//! over to the addresses the domain publishes at `_smtp._tls` (RFC 8460
//! 3): by mail (5.3) or by an HTTPS POST (5.4). Counts are kept per node, in memory: each node reports the sessions
//! it made, under its own report id.

use crate::SmtpContext;
use estafeta_net::dns::Resolver;
use hickory_proto::rr::RData;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::mta_sts::{ReportUri, TlsRpt};
use mail_auth::report::tlsrpt::{
    DateRange, FailureDetails, Policy, PolicyDetails, PolicyType, ResultType, Summary, TlsReport,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What RFC 8460 4.3 calls a failed handshake.
pub fn handshake_result(error: &std::io::Error) -> ResultType {
    use rustls::CertificateError;
    let Some(rustls::Error::InvalidCertificate(certificate)) =
        error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return ResultType::ValidationFailure;
    };
    match certificate {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => ResultType::CertificateExpired,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            ResultType::CertificateHostMismatch
        }
        CertificateError::UnknownIssuer => ResultType::CertificateNotTrusted,
        _ => ResultType::ValidationFailure,
    }
}

/// The policy a delivery went under (RFC 8460 4.4 "policy").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyKey {
    /// The recipient domain: its `_smtp._tls` record says where reports go.
    pub domain: String,
    /// RFC 8460 3: the recipient domain for MTA-STS and no policy; the
    /// TLSA base domain (the MX host) for DANE.
    pub policy_domain: String,
    pub kind: Kind,
    /// The policy as published: TLSA records, or MTA-STS policy lines.
    pub strings: Vec<String>,
    /// MTA-STS `mx` patterns.
    pub mx_host: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Tlsa,
    Sts,
    None,
}

impl PolicyKey {
    /// An MTA-STS policy, as the lines it was published with.
    pub fn sts(domain: &str, policy: &super::mta_sts::Policy) -> PolicyKey {
        let mode = match policy.mode {
            super::mta_sts::Mode::Enforce => "enforce",
            super::mta_sts::Mode::Testing => "testing",
            super::mta_sts::Mode::None => "none",
        };
        let mut strings = vec!["version: STSv1".to_owned(), format!("mode: {mode}")];
        strings.extend(policy.mx.iter().map(|mx| format!("mx: {mx}")));
        strings.push(format!("max_age: {}", policy.max_age));
        PolicyKey {
            domain: domain.to_owned(),
            policy_domain: domain.to_owned(),
            kind: Kind::Sts,
            strings,
            mx_host: policy.mx.clone(),
        }
    }

    /// An MTA-STS policy that was published but could not be had.
    pub fn sts_unavailable(domain: &str) -> PolicyKey {
        PolicyKey {
            kind: Kind::Sts,
            ..PolicyKey::none(domain)
        }
    }

    /// DANE TLSA records of an MX host, in presentation form.
    pub fn tlsa(domain: &str, host: &str, records: &[hickory_proto::rr::rdata::TLSA]) -> PolicyKey {
        PolicyKey {
            domain: domain.to_owned(),
            policy_domain: host.trim_end_matches('.').to_owned(),
            kind: Kind::Tlsa,
            strings: records.iter().map(|record| record.to_string()).collect(),
            mx_host: Vec::new(),
        }
    }

    pub fn none(domain: &str) -> PolicyKey {
        PolicyKey {
            domain: domain.to_owned(),
            policy_domain: domain.to_owned(),
            kind: Kind::None,
            strings: Vec::new(),
            mx_host: Vec::new(),
        }
    }
}

/// One failed session (RFC 8460 4.4 "failure-details").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Failure {
    pub result: ResultType,
    pub sending_ip: Option<IpAddr>,
    /// None for a failure of the policy itself (RFC 8460 4.3.2).
    pub receiving_mx: Option<String>,
    pub receiving_ip: Option<IpAddr>,
}

#[derive(Debug, Default)]
struct Counts {
    success: u32,
    failures: HashMap<Failure, u32>,
}

/// The counts of the periods not yet reported.
pub struct TlsReports {
    period: u64,
    counts: Mutex<HashMap<(u64, PolicyKey), Counts>>,
}

impl TlsReports {
    pub fn new(period: Duration) -> TlsReports {
        TlsReports {
            period: period.as_secs().max(1),
            counts: Mutex::default(),
        }
    }

    fn now(&self) -> u64 {
        estafeta_core::time::now().max(0) as u64 / self.period
    }

    fn count(&self, policy: &PolicyKey, update: impl FnOnce(&mut Counts)) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        update(counts.entry((self.now(), policy.clone())).or_default());
    }

    /// A TLS session was made under `policy`.
    pub fn success(&self, policy: &PolicyKey) {
        self.count(policy, |counts| counts.success += 1);
    }

    /// A session under `policy` failed its TLS.
    pub fn failure(&self, policy: &PolicyKey, failure: Failure) {
        self.count(policy, |counts| *counts.failures.entry(failure).or_default() += 1);
    }

    /// The reports of every period that is over, one per policy domain
    /// and period, taken out of the counts.
    fn take_closed(&self, submitter: &str) -> Vec<(String, TlsReport)> {
        let current = self.now();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let closed: Vec<(u64, PolicyKey)> = counts.keys().filter(|(period, _)| *period < current).cloned().collect();
        let mut reports: HashMap<(u64, String), TlsReport> = HashMap::new();
        for key in closed {
            let Some(count) = counts.remove(&key) else {
                continue;
            };
            let (period, policy) = key;
            let start = (period * self.period) as i64;
            let report = reports
                .entry((period, policy.domain.clone()))
                .or_insert_with(|| TlsReport {
                    organization_name: Some(submitter.to_owned()),
                    date_range: DateRange {
                        start_datetime: mail_parser::DateTime::from_timestamp(start),
                        end_datetime: mail_parser::DateTime::from_timestamp(start + self.period as i64 - 1),
                    },
                    contact_info: Some(format!("postmaster@{submitter}")),
                    report_id: format!("{period}.{}.{:08x}@{submitter}", policy.domain, rand::random::<u32>()),
                    policies: Vec::new(),
                });
            let failure_details: Vec<FailureDetails> = count
                .failures
                .iter()
                .map(|(failure, sessions)| FailureDetails {
                    result_type: failure.result,
                    sending_mta_ip: failure.sending_ip,
                    receiving_mx_hostname: failure.receiving_mx.clone(),
                    receiving_ip: failure.receiving_ip,
                    failed_session_count: *sessions,
                    ..Default::default()
                })
                .collect();
            report.policies.push(Policy {
                policy: PolicyDetails {
                    policy_type: match policy.kind {
                        Kind::Tlsa => PolicyType::Tlsa,
                        Kind::Sts => PolicyType::Sts,
                        Kind::None => PolicyType::NoPolicyFound,
                    },
                    policy_string: policy.strings.clone(),
                    policy_domain: policy.policy_domain.clone(),
                    mx_host: policy.mx_host.clone(),
                },
                summary: Summary {
                    total_success: count.success,
                    total_failure: count.failures.values().sum(),
                },
                failure_details,
            });
        }
        reports
            .into_iter()
            .map(|((_, domain), report)| (domain, report))
            .collect()
    }
}

/// Where `domain` wants its reports (RFC 8460 3): the one TLSRPTv1
/// record at `_smtp._tls.DOMAIN`, if there is exactly one.
async fn report_uris(resolver: &Resolver, domain: &str) -> Vec<ReportUri> {
    let name = format!("_smtp._tls.{}.", domain.trim_end_matches('.'));
    let Ok(lookup) = resolver.0.txt_lookup(name.as_str()).await else {
        return Vec::new();
    };
    let records: Vec<TlsRpt> = lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(txt.txt_data.concat()),
            _ => None,
        })
        .filter_map(|text| TlsRpt::parse(&text).ok())
        .collect();
    match <[TlsRpt; 1]>::try_from(records) {
        Ok([record]) => record.rua,
        // RFC 8460 3: several records are as good as none.
        Err(_) => Vec::new(),
    }
}

/// RFC 8460 5.4: the gzipped JSON report POSTed to an https: address,
/// over TLS verified for its host; any 2xx answer takes it.
async fn post(
    resolver: &Resolver,
    tls: &Arc<rustls::ClientConfig>,
    url: &str,
    report: &TlsReport,
) -> Result<(), String> {
    use std::io::Write;
    let rest = url.strip_prefix("https://").ok_or("not an https URL")?;
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, format!("/{path}")),
        None => (rest, "/".to_owned()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| "bad port")?),
        None => (authority, 443),
    };
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(report.to_json().as_bytes()).map_err(|e| e.to_string())?;
    let body = gzip.finish().map_err(|e| e.to_string())?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/tlsrpt+gzip\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let response = super::https::exchange(resolver, tls, host, port, &request, 16 * 1024, Duration::from_secs(30))
        .await
        .map_err(|failure| match failure {
            super::https::Failure::Tls(error) | super::https::Failure::Other(error) => error,
        })?;
    let status = String::from_utf8_lossy(&response);
    let code = status.split_whitespace().nth(1).unwrap_or("");
    match code.starts_with('2') {
        true => Ok(()),
        false => Err(format!("{url} answered {:?}", status.lines().next().unwrap_or(""))),
    }
}

/// Sends the reports of every period that is over. `tls` verifies the
/// HTTPS report servers.
pub async fn send_closed(context: &SmtpContext, reports: &TlsReports, tls: &Arc<rustls::ClientConfig>) {
    let Some(resolver) = &context.resolver else {
        return;
    };
    let submitter = &context.config.hostname;
    for (domain, report) in reports.take_closed(submitter) {
        for uri in report_uris(resolver, &domain).await {
            match uri {
                ReportUri::Mail(to) => {
                    let mut message = Vec::new();
                    let from = format!("postmaster@{submitter}");
                    let written = report.write_rfc5322(
                        &domain,
                        submitter,
                        ("TLS reports", from.as_str()),
                        std::iter::once(to.as_str()),
                        &mut message,
                    );
                    if let Err(error) = written {
                        tracing::warn!(%domain, %error, "could not write a TLS report");
                        continue;
                    }
                    // RFC 8460 5.3: an auto-generated report; a null
                    // reverse-path keeps a bounce of it from looping.
                    match super::deliver::queue_report(context, &to, message).await {
                        Ok(()) => tracing::info!(%domain, %to, "TLS report queued"),
                        Err(error) => tracing::warn!(%domain, %error, "could not queue a TLS report"),
                    }
                }
                ReportUri::Http(url) => match post(resolver, tls, &url, &report).await {
                    Ok(()) => tracing::info!(%domain, %url, "TLS report posted"),
                    Err(error) => tracing::warn!(%domain, %url, %error, "could not post a TLS report"),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_errors_get_the_result_types_of_rfc_8460_4_3_1() {
        let wrapped = |error: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, error);
        let certificate = |error| wrapped(rustls::Error::InvalidCertificate(error));
        use rustls::CertificateError::*;
        assert_eq!(handshake_result(&certificate(Expired)), ResultType::CertificateExpired);
        assert_eq!(
            handshake_result(&certificate(NotValidForName)),
            ResultType::CertificateHostMismatch
        );
        assert_eq!(
            handshake_result(&certificate(UnknownIssuer)),
            ResultType::CertificateNotTrusted
        );
        assert_eq!(
            handshake_result(&certificate(BadSignature)),
            ResultType::ValidationFailure
        );
        let other = std::io::Error::other("reset");
        assert_eq!(handshake_result(&other), ResultType::ValidationFailure);
    }

    #[test]
    fn a_period_is_reported_once_it_is_over_one_report_per_domain() {
        let reports = TlsReports::new(Duration::from_secs(3600));
        let a = PolicyKey::none("a.test");
        let failure = Failure {
            result: ResultType::StartTlsNotSupported,
            sending_ip: None,
            receiving_mx: Some("mx.a.test".into()),
            receiving_ip: None,
        };
        reports.success(&a);
        reports.failure(&a, failure.clone());
        reports.failure(&a, failure);
        reports.success(&PolicyKey::none("b.test"));
        assert!(reports.take_closed("mx.test").is_empty(), "the period is not over");
        // Move the counts one period back, as if the hour had passed.
        {
            let mut counts = reports.counts.lock().unwrap();
            let moved: Vec<_> = counts
                .drain()
                .map(|((period, key), c)| ((period - 1, key), c))
                .collect();
            counts.extend(moved);
        }
        let mut taken = reports.take_closed("mx.test");
        taken.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(taken.len(), 2);
        let (domain, report) = &taken[0];
        assert_eq!(domain, "a.test");
        let policy = &report.policies[0];
        assert_eq!((policy.summary.total_success, policy.summary.total_failure), (1, 2));
        assert_eq!(policy.failure_details[0].failed_session_count, 2);
        assert_eq!(
            report.date_range.end_datetime.to_timestamp() - report.date_range.start_datetime.to_timestamp(),
            3599
        );
        assert!(reports.take_closed("mx.test").is_empty(), "taken once");
    }
}
