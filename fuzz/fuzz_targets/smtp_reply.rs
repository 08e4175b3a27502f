//! What a remote SMTP server says to our outbound client: replies framed
//! out of the byte stream, parsed, and EHLO capability lists.
#![no_main]

use estafeta_smtp::outbound::reply::{parse, reply_end};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some(end)) = reply_end(rest) {
        assert!(end > 0 && end <= rest.len());
        if let Ok(reply) = parse(&rest[..end]) {
            assert!(reply.code < 1000);
            let _ = reply.to_string();
        }
        rest = &rest[end..];
    }
    let _ = smtp_proto::EhloResponse::parse(&mut data.iter());
});
