//! A message is any bytes an SMTP client sends: every property JMAP's
//! Email/get shows of it (header forms, body structure, body values,
//! preview) must come out as JSON without a panic, whatever the MIME.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let email = estafeta_jmap::describe_message(data);
    assert!(email.is_object(), "{email}");
    let structure = &email["bodyStructure"];
    assert!(structure.is_object() || structure.is_null(), "{structure}");
});
