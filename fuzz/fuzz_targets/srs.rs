//! SRS addresses as remote servers send them back to us in RCPT TO: only
//! addresses we signed may decode, and nothing panics on the rest.
#![no_main]

use estafeta_deliverability::srs::Srs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let srs = Srs::new(b"fuzz secret");
    let local = String::from_utf8_lossy(data);
    let _ = srs.reverse(&local, 20_000);
    // What we make, we read back.
    if let Some(address) = srs.forward(&format!("{local}@origin.test"), "fwd.test", 20_000)
        && let Some((made, _)) = address.rsplit_once('@')
        && !local.is_empty()
        && !local.contains('=')
    {
        assert!(srs.reverse(made, 20_001).is_some(), "{made}");
    }
});
