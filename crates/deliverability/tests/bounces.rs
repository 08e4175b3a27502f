//! The bounce reader on real-shaped bounces of the big MTAs and providers
//! (RFC 3464 reports from Postfix, Sendmail, Exim, Exchange/Office 365,
//! Gmail and Yahoo paths, and the text-only forms of qmail, old Sendmail
//! and Exim, Exchange and Yahoo), each labelled in expected.tsv.

use estafeta_deliverability::bounce::eval::evaluate;
use estafeta_deliverability::bounce::{Action, BounceClass, parse};
use std::path::Path;

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bounces"))
}

#[test]
fn every_labelled_bounce_is_read_right() {
    let evaluation = evaluate(fixtures()).unwrap();
    assert!(evaluation.cases.len() >= 25);
    assert!(evaluation.wrong().is_empty(), "{}", evaluation.table());
}

#[test]
fn reports_keep_what_attribution_needs() {
    let raw = std::fs::read(fixtures().join("postfix-two-recipients.eml")).unwrap();
    let bounce = parse(&raw).unwrap();
    assert!(bounce.standard);
    // The delivered recipient is not a failure.
    let recipients: Vec<&str> = bounce.failures.iter().map(|f| f.recipient.as_str()).collect();
    assert_eq!(recipients, ["ann@remote.example", "bob@remote.example"]);
    assert_eq!(bounce.original_message_id.as_deref(), Some("offer-1007@shop.example"));
    assert!(
        bounce
            .original_headers
            .as_deref()
            .unwrap()
            .contains("X-Estafeta-Id: a1b2c3")
    );
    let ann = &bounce.failures[0];
    assert_eq!((ann.code, ann.status.as_deref()), (Some(550), Some("5.1.1")));
    assert!(ann.classification.suppresses());
    let bob = &bounce.failures[1];
    assert_eq!(bob.classification.class, BounceClass::ReputationBlock);
    assert!(!bob.classification.suppresses(), "a blocklisting is about us, not bob");
    assert!(
        bob.diagnostic.contains("blocked using zen.spamhaus.org"),
        "{}",
        bob.diagnostic
    );

    // A generic 5.0.0 status gives way to the server's own code.
    let exim = parse(&std::fs::read(fixtures().join("exim-blocklisted.eml")).unwrap()).unwrap();
    assert_eq!(exim.failures[0].status.as_deref(), Some("5.7.1"));
    assert_eq!(exim.original_message_id.as_deref(), Some("offer-1008@shop.example"));

    let gmail = parse(&std::fs::read(fixtures().join("gmail-unknown-user.eml")).unwrap()).unwrap();
    assert!(
        gmail.failures[0]
            .diagnostic
            .starts_with("5.1.1 The email account that you tried to reach does not exist. Please try double-checking"),
        "{}",
        gmail.failures[0].diagnostic
    );
    let warning = parse(&std::fs::read(fixtures().join("postfix-delayed.eml")).unwrap()).unwrap();
    assert_eq!(warning.failures[0].action, Action::Delayed);
    assert!(!warning.failures[0].classification.suppresses());
}
