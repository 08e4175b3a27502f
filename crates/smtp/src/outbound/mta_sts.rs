//! MTA-STS (RFC 8461): a domain that publishes `_mta-sts.DOMAIN` TXT and
//! serves a policy at `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`
//! (fetched over TLS that verifies) says which MX hosts are its own and
//! whether mail to it must go over TLS that verifies for those hosts. In
//! `enforce` mode we deliver only so; in `testing` mode we deliver as
//! before and log what would have failed.

use estafeta_net::dns::{Resolver, fqdn};
use hickory_proto::rr::RData;
use mail_auth::report::tlsrpt::ResultType;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// RFC 8461 3.2: the policy body is small; more is not a policy.
const MAX_POLICY: usize = 64 * 1024;
/// RFC 8461 3.3: a policy fetch should give up quickly.
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// RFC 8461 3.2: max_age is at most a year.
const MAX_AGE: u64 = 31_557_600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// MX patterns: a host name, or `*.` and a domain (one label).
    pub mx: Vec<String>,
    pub max_age: u64,
}

impl Policy {
    /// RFC 8461 3.2: `key: value` lines (CRLF or LF); version, mode and
    /// max_age once, mx once or more (except in mode none).
    pub fn parse(text: &str) -> Result<Policy, String> {
        let (mut version, mut mode, mut max_age, mut mx) = (None, None, None, Vec::new());
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| format!("not a policy line: {line:?}"))?;
            let value = value.trim();
            match key.trim() {
                "version" => version = Some(value.to_owned()),
                "mode" => {
                    mode = Some(match value {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        other => return Err(format!("unknown mode {other:?}")),
                    })
                }
                "max_age" => {
                    let age: u64 = value.parse().map_err(|_| format!("bad max_age {value:?}"))?;
                    max_age = Some(age.min(MAX_AGE));
                }
                "mx" => mx.push(value.trim_end_matches('.').to_ascii_lowercase()),
                // RFC 8461 3.2: unknown fields are ignored.
                _ => {}
            }
        }
        if version.as_deref() != Some("STSv1") {
            return Err("version is not STSv1".into());
        }
        let mode = mode.ok_or("no mode")?;
        let max_age = max_age.ok_or("no max_age")?;
        if mx.is_empty() && mode != Mode::None {
            return Err("no mx".into());
        }
        Ok(Policy { mode, mx, max_age })
    }

    /// RFC 8461 4.1: an MX host matches a pattern exactly, or a `*.`
    /// pattern in its leftmost label only.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|pattern| match pattern.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
            None => *pattern == host,
        })
    }
}

/// The policy id `_mta-sts.DOMAIN` publishes (RFC 8461 3.1), if exactly
/// one STSv1 record is there.
async fn record_id(resolver: &Resolver, domain: &str) -> Result<Option<String>, String> {
    let name = fqdn(&format!("_mta-sts.{domain}"));
    let lookup = match resolver.0.txt_lookup(name.as_str()).await {
        Ok(lookup) => lookup,
        Err(error) if error.is_no_records_found() => return Ok(None),
        Err(error) => return Err(error.to_string()),
    };
    let mut ids = Vec::new();
    for record in lookup.answers() {
        let RData::TXT(txt) = &record.data else {
            continue;
        };
        let text: String = txt
            .txt_data
            .iter()
            .map(|part| String::from_utf8_lossy(part).into_owned())
            .collect();
        let mut fields = text.split(';').map(str::trim);
        if fields.next() != Some("v=STSv1") {
            continue;
        }
        ids.push(fields.find_map(|f| f.strip_prefix("id=")).unwrap_or("").to_owned());
    }
    // RFC 8461 3.1: several records, or one without an id, is no policy.
    Ok(match ids.as_slice() {
        [id] if !id.is_empty() => Some(id.clone()),
        _ => None,
    })
}

/// GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt over TLS verified
/// for that name (RFC 8461 3.3): HTTP/1.1, no redirects, 200 only.
async fn fetch(
    resolver: &Resolver,
    tls: &Arc<rustls::ClientConfig>,
    domain: &str,
    port: u16,
) -> Result<Policy, (ResultType, String)> {
    // RFC 8460 4.3.2: a policy that cannot be had, one whose server's
    // certificate does not verify, and one that does not parse.
    let unreachable = |error: String| (ResultType::StsPolicyFetchError, error);
    let invalid = |error: String| (ResultType::StsPolicyInvalid, error);
    let host = format!("mta-sts.{domain}");
    let request = format!("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let response = super::https::exchange(
        resolver,
        tls,
        &host,
        port,
        request.as_bytes(),
        MAX_POLICY + 4096,
        FETCH_TIMEOUT,
    )
    .await
    .map_err(|failure| match failure {
        super::https::Failure::Tls(error) => (ResultType::StsWebpkiInvalid, error),
        super::https::Failure::Other(error) => unreachable(format!("fetching the policy of {domain}: {error}")),
    })?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| unreachable("not an HTTP response".into()))?;
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(unreachable(format!("policy fetch answered {status:?}")));
    }
    // RFC 8461 3.2: the policy is text/plain. (Chunked bodies are not
    // supported; servers answer a Connection: close request plainly.)
    let head = head.to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        return Err(invalid("chunked policy responses are not supported".into()));
    }
    if !head
        .lines()
        .any(|l| l.starts_with("content-type:") && l.contains("text/plain"))
    {
        return Err(invalid("policy is not text/plain".into()));
    }
    if body.len() > MAX_POLICY {
        return Err(invalid("policy too large".into()));
    }
    Policy::parse(body).map_err(invalid)
}

struct Cached {
    id: String,
    policy: Policy,
    until: Instant,
}

/// Policies by domain, kept for their max_age and fetched again when the
/// domain publishes a new id (RFC 8461 5.1).
#[derive(Default)]
pub struct Policies {
    cache: Mutex<HashMap<String, Cached>>,
}

impl Policies {
    /// The policy in force for `domain`, if any. A domain whose TXT is
    /// gone or whose fetch fails keeps its cached policy until it
    /// expires: an attacker who blocks DNS or HTTPS cannot switch it off.
    ///
    /// With it, why a published policy could not be had (RFC 8460 4.3.2),
    /// for the domain's TLS report.
    pub async fn lookup(
        &self,
        resolver: &Resolver,
        tls: &Arc<rustls::ClientConfig>,
        domain: &str,
        port: u16,
    ) -> (Option<Policy>, Option<ResultType>) {
        let domain = domain.to_ascii_lowercase();
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .get(&domain)
                .filter(|c| c.until > Instant::now())
                .map(|c| (c.id.clone(), c.policy.clone()))
        };
        let id = match record_id(resolver, &domain).await {
            Ok(Some(id)) => id,
            Ok(None) | Err(_) => return (cached.map(|(_, policy)| policy), None),
        };
        if let Some((cached_id, policy)) = &cached
            && *cached_id == id
        {
            return (Some(policy.clone()), None);
        }
        match fetch(resolver, tls, &domain, port).await {
            Ok(policy) => {
                let until = Instant::now() + Duration::from_secs(policy.max_age);
                let entry = Cached {
                    id,
                    policy: policy.clone(),
                    until,
                };
                self.cache
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(domain, entry);
                (Some(policy), None)
            }
            Err((result, error)) => {
                tracing::warn!(%domain, %error, "MTA-STS policy could not be fetched");
                (cached.map(|(_, policy)| policy), Some(result))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_as_rfc_8461_3_2_shows() {
        let text = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";
        let policy = Policy::parse(text).unwrap();
        assert_eq!(policy.mode, Mode::Enforce);
        assert_eq!(policy.max_age, 604_800);
        assert!(policy.allows("mail.example.com") && policy.allows("MAIL.example.com."));
        assert!(policy.allows("mx1.example.net"));
        assert!(!policy.allows("a.b.example.net"), "a wildcard covers one label");
        assert!(!policy.allows("example.net") && !policy.allows("evil.com"));
        assert!(Policy::parse("version: STSv1\nmode: none\nmax_age: 86400\n").is_ok());
        for bad in [
            "mode: enforce\nmx: a\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmax_age: 1\n",
            "version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmx: a\n",
            "<html>",
        ] {
            assert!(Policy::parse(bad).is_err(), "{bad:?}");
        }
    }
}
