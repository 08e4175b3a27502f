//! A calendar or contact resource is whatever text a CalDAV or CardDAV
//! client PUTs: the checks before the store must answer for any text
//! (a resource, or the precondition it breaks), never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(event) = estafeta_dav::calendar_resource(text) {
        assert!(!event.uid.is_empty());
    }
    if let Ok(card) = estafeta_dav::card_resource(text) {
        assert!(!card.uid.is_empty());
    }
});
