//! Addresses typed by users (CLI, CSV, HTTP) and replies from remote SMTP
//! servers: the verifier parses both without a panic, and an address's
//! normal form is stable (parsing it again gives itself).
#![no_main]

use estafeta_verify::probe::parse_reply;
use estafeta_verify::syntax::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = parse(&text) {
        let normalised = parsed.normalised();
        let again = parse(&normalised).expect("a normal form parses");
        assert_eq!(again.normalised(), normalised);
        assert!(normalised.len() <= 254);
    }
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let reply = parse_reply(250, &lines);
    if let Some(enhanced) = &reply.enhanced {
        assert_eq!(enhanced.split('.').count(), 3);
    }
});
