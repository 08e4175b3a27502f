//! Config files are operator input, not network input, but a bad one must
//! be an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = estafeta_core::Config::parse(text, std::path::Path::new("fuzz.toml"));
});
