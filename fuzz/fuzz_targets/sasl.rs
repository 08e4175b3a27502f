//! SASL PLAIN and LOGIN lines, and HTTP Basic values, come straight from
//! unauthenticated clients.
#![no_main]

use estafeta_core::auth::sasl::{decode_basic, decode_plain, LoginExchange, LoginStep};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(credentials) = decode_plain(text) {
        // Whatever decodes must satisfy RFC 4616's rules.
        assert!(!credentials.authcid.is_empty() && !credentials.password.is_empty());
        assert!(credentials.authcid.len() <= 255 && credentials.password.len() <= 255);
        assert!(!credentials.authcid.contains('\0') && !credentials.password.contains('\0'));
    }
    if let Ok(credentials) = decode_basic(text) {
        // RFC 7617 2: the user-id has no colon; nothing empty or too long.
        assert!(!credentials.authcid.is_empty() && !credentials.authcid.contains(':'));
        assert!(!credentials.password.is_empty() && credentials.password.len() <= 255);
    }
    let mut lines = text.split('\n');
    if let Ok((mut exchange, mut step)) = LoginExchange::start(lines.next()) {
        for line in lines {
            match step {
                LoginStep::Done(_) => break,
                LoginStep::Challenge(_) => match exchange.step(line) {
                    Ok(next) => step = next,
                    Err(_) => break,
                },
            }
        }
    }
});
