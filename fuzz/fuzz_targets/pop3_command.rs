//! POP3 command lines as the session sees them (split at LF), and the
//! dot-stuffing of whatever bytes a message holds.
#![no_main]

use estafeta_core::crlf;
use estafeta_pop3::proto::multiline::{read_message, write_message};
use estafeta_pop3::proto::{parse, Command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Ok(command) = parse(line) {
            match command {
                Command::Pass(password) => assert!(!password.is_empty()),
                Command::User(name) => assert!(!name.is_empty() && !name.contains(&b' ')),
                _ => {}
            }
        }
    }
    // Whatever a message holds, a client gets back its CRLF form exactly.
    let mut wire = Vec::new();
    write_message(&mut wire, data, None);
    assert_eq!(read_message(&wire).as_deref(), Some(&crlf::canonical(data.to_vec())[..]));
    let mut top = Vec::new();
    write_message(&mut top, data, Some(1));
    assert!(read_message(&top).is_some());
});
