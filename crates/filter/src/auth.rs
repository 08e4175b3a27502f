//! What sender authentication (checked by SMTP-in) says about spam. A
//! pass proves who sent it, not that it is wanted, so passes earn little
//! and failures cost more (RFC 7489 10.1: DMARC's policy is the domain
//! owner's wish for mail that fails).

use crate::verdict::Reason;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    /// Not checked, or nothing to check (no record, no signature).
    #[default]
    None,
    /// A DNS or record error: no evidence either way.
    Error,
}

/// The results SMTP-in found (RFC 8601's methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthSummary {
    pub spf: Outcome,
    /// Pass if any signature verified; Fail if there were signatures and
    /// none verified.
    pub dkim: Outcome,
    pub dmarc: Outcome,
    /// The sender domain publishes p=quarantine or p=reject.
    pub dmarc_enforced: bool,
    pub arc: Outcome,
}

pub fn reasons(auth: &AuthSummary) -> Vec<Reason> {
    let mut out = Vec::new();
    match auth.spf {
        Outcome::Fail => out.push(Reason::new("SPF_FAIL", 2.0, "SPF: the sending host is not allowed")),
        Outcome::SoftFail => out.push(Reason::new(
            "SPF_SOFTFAIL",
            0.7,
            "SPF: the sending host is probably not allowed",
        )),
        Outcome::Pass => out.push(Reason::new("SPF_PASS", -0.1, "SPF: the sending host is allowed")),
        _ => {}
    }
    // RFC 6376 6.1: signatures break in transit through no fault of the
    // signer, so a message whose signatures all fail is treated as one
    // with none (a key not found, a list footer, a re-encoded body).
    if auth.dkim == Outcome::Pass {
        out.push(Reason::new("DKIM_VALID", -0.1, "DKIM: a valid signature"));
    }
    match (auth.dmarc, auth.dmarc_enforced) {
        (Outcome::Fail, true) if auth.arc != Outcome::Pass => out.push(Reason::new(
            "DMARC_FAIL_ENFORCED",
            3.5,
            "DMARC fails and the domain asks receivers to quarantine or reject",
        )),
        (Outcome::Fail, _) => out.push(Reason::new(
            "DMARC_FAIL",
            1.0,
            "DMARC fails (policy none, or ARC vouches)",
        )),
        (Outcome::Pass, _) => out.push(Reason::new(
            "DMARC_PASS",
            -0.5,
            "DMARC: the From: domain is authenticated",
        )),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(auth: AuthSummary) -> f64 {
        reasons(&auth).iter().map(|r| r.score).sum()
    }

    #[test]
    fn failures_cost_more_than_passes_earn() {
        let pass = AuthSummary {
            spf: Outcome::Pass,
            dkim: Outcome::Pass,
            dmarc: Outcome::Pass,
            ..Default::default()
        };
        let forged = AuthSummary {
            spf: Outcome::Fail,
            dkim: Outcome::Fail,
            dmarc: Outcome::Fail,
            dmarc_enforced: true,
            ..Default::default()
        };
        assert!(total(pass) < 0.0 && total(pass) > -1.0);
        assert!(total(forged) >= 5.5);
        // A broken signature counts as no signature (RFC 6376 6.1).
        let broken = AuthSummary {
            dkim: Outcome::Fail,
            ..Default::default()
        };
        assert_eq!(total(broken), 0.0);
        assert_eq!(total(AuthSummary::default()), 0.0, "nothing checked says nothing");
        // A forwarder that ARC-seals softens a DMARC failure.
        let forwarded = AuthSummary {
            arc: Outcome::Pass,
            ..forged
        };
        assert!(total(forwarded) < total(forged));
    }
}
