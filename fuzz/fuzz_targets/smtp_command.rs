//! Every SMTP command line comes from an unauthenticated client.
#![no_main]

use estafeta_smtp::proto::{parse_command, Command, ForwardPath, ReversePath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_command(data) {
        Ok(Command::Mail { from: ReversePath::Mailbox(mailbox), .. })
        | Ok(Command::Rcpt { to: ForwardPath::Mailbox { mailbox, .. }, .. }) => {
            // A parsed address prints back to a form that parses to the same
            // address (quotes that were not needed are dropped in print).
            let printed = mailbox.to_string();
            let again = estafeta_smtp::proto::path::parse_mailbox(&printed).expect("printed address parses");
            assert_eq!((&again.local, &again.domain), (&mailbox.local, &mailbox.domain), "{printed}");
            assert!(mailbox.local.len() <= 64);
        }
        _ => {}
    }
});
