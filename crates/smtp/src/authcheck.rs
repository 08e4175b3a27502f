//! Sender authentication on the MX port: SPF (RFC 7208), DKIM (RFC 6376),
//! ARC (RFC 8617) and DMARC (RFC 7489), through the configured resolver,
//! written as one Authentication-Results header (RFC 8601).

use crate::proto::Reply;
use estafeta_filter::{AuthSummary, Outcome};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, AuthenticationResults, DmarcResult, MessageAuthenticator};
use mail_auth::{DkimResult, SpfResult};
use std::net::IpAddr;

pub struct SenderCheck {
    /// The whole header field, CRLF-terminated.
    pub header: String,
    /// Set when DMARC says reject and the operator enforces it.
    pub reject: Option<Reply>,
    /// The results, for the spam filter.
    pub summary: AuthSummary,
}

pub struct Envelope<'a> {
    pub ip: IpAddr,
    pub helo: &'a str,
    /// Empty for the null reverse-path.
    pub mail_from: &'a str,
}

pub async fn check(
    resolver: &MessageAuthenticator,
    hostname: &str,
    envelope: &Envelope<'_>,
    message: Option<&AuthenticatedMessage<'_>>,
    enforce_dmarc: bool,
) -> SenderCheck {
    let Envelope { ip, helo, mail_from } = *envelope;
    // RFC 7208 2.4: a null sender is checked as postmaster@helo.
    let spf = resolver
        .verify_spf(SpfParameters::verify(ip, helo, hostname, mail_from))
        .await;
    let results = AuthenticationResults::new(hostname).with_spf_mailfrom_result(&spf, ip, mail_from, helo);
    let Some(parsed) = message else {
        return SenderCheck {
            header: results.to_header(),
            reject: None,
            summary: AuthSummary {
                spf: spf_outcome(spf.result()),
                ..Default::default()
            },
        };
    };
    let dkim = resolver.verify_dkim(parsed).await;
    let arc = resolver.verify_arc(parsed).await;
    let mail_from_domain = mail_from.rsplit_once('@').map_or(helo, |(_, domain)| domain);
    let dmarc = resolver
        .verify_dmarc(DmarcParameters::new(parsed, &dkim, mail_from_domain, &spf))
        .await;
    let header_from = parsed.from.first().map(String::as_str).unwrap_or_default();
    let header = results
        .with_dkim_results(&dkim, header_from)
        .with_arc_result(&arc, ip)
        .with_dmarc_result(&dmarc)
        .to_header();
    let failed = *dmarc.spf_result() != DmarcResult::Pass && *dmarc.dkim_result() != DmarcResult::Pass;
    let reject = (enforce_dmarc && failed && dmarc.policy() == Policy::Reject).then(|| {
        Reply::new(
            550,
            "5.7.1",
            format!("Rejected by the DMARC policy of {}", dmarc.domain()),
        )
    });
    let summary = AuthSummary {
        spf: spf_outcome(spf.result()),
        dkim: if dkim.iter().any(|d| *d.result() == DkimResult::Pass) {
            Outcome::Pass
        } else if dkim
            .iter()
            .any(|d| matches!(d.result(), DkimResult::Fail(_) | DkimResult::PermError(_)))
        {
            Outcome::Fail
        } else {
            Outcome::None
        },
        dmarc: match dmarc.result() {
            DmarcResult::Pass => Outcome::Pass,
            DmarcResult::Fail(_) => Outcome::Fail,
            DmarcResult::TempError(_) | DmarcResult::PermError(_) => Outcome::Error,
            DmarcResult::None => Outcome::None,
        },
        dmarc_enforced: matches!(dmarc.policy(), Policy::Quarantine | Policy::Reject),
        arc: match arc.result() {
            DkimResult::Pass => Outcome::Pass,
            DkimResult::None => Outcome::None,
            _ => Outcome::Fail,
        },
    };
    SenderCheck {
        header,
        reject,
        summary,
    }
}

fn spf_outcome(result: SpfResult) -> Outcome {
    match result {
        SpfResult::Pass => Outcome::Pass,
        SpfResult::Fail => Outcome::Fail,
        SpfResult::SoftFail => Outcome::SoftFail,
        SpfResult::Neutral => Outcome::Neutral,
        SpfResult::TempError | SpfResult::PermError => Outcome::Error,
        SpfResult::None => Outcome::None,
    }
}
