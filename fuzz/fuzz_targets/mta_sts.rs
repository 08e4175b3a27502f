//! An MTA-STS policy as a domain's HTTPS server sends it (RFC 8461 3.2),
//! and MX names matched against it.
#![no_main]

use estafeta_smtp::outbound::mta_sts::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(policy) = Policy::parse(&text) {
        assert!(policy.max_age <= 31_557_600);
        for host in text.lines().take(8) {
            let _ = policy.allows(host);
        }
    }
});
