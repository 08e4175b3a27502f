//! Bounces, feedback reports and reply texts come from any server on the
//! internet: the bounce and ARF readers and the classifier take any bytes
//! without a panic, and what they report holds together.
#![no_main]

use estafeta_deliverability::bounce::{classify, parse};
use estafeta_deliverability::feedback;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(bounce) = parse(data) {
        assert!(!bounce.failures.is_empty());
        if let Some(id) = &bounce.original_message_id {
            assert!(!id.is_empty());
        }
        for failure in &bounce.failures {
            assert_eq!(failure.recipient, failure.recipient.to_lowercase());
            if let Some(code) = failure.code {
                assert!((400..600).contains(&code));
            }
        }
    }
    if let Some(complaint) = feedback::parse(data) {
        for path in &complaint.return_paths {
            assert!(path.starts_with("bounces+") && path.contains('@'));
        }
    }
    let text = String::from_utf8_lossy(data);
    let classification = classify(None, None, &text);
    if classification.suppresses() {
        assert!(!classification.class.is_about_sender());
    }
});
