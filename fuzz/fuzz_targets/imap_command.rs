//! IMAP commands as the session sees them: framed, then parsed.
#![no_main]

use estafeta_imap::proto::command::CatPart;
use estafeta_imap::proto::{imap_url, parse_command, CommandBody, Frame, Framer, Limits, ParseError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut framer = Framer::new(Limits { line: 4096, literal: 4096, command: 16384 });
    let mut input = data;
    loop {
        let (used, event) = framer.feed(input);
        input = &input[used..];
        match event {
            Some(Ok(Frame::Command(command))) => match parse_command(&command) {
                Ok(parsed) => {
                    assert!(!parsed.tag.is_empty() && !parsed.tag.contains(' '));
                    if let CommandBody::Append { messages, .. } = &parsed.body {
                        assert!(!messages.is_empty());
                        // CATENATE's URLs are read when the command runs.
                        for part in messages.iter().flat_map(|m| &m.catenate) {
                            if let CatPart::Url(url) = part
                                && let Some(target) = imap_url::parse(url)
                            {
                                assert!(target.uid > 0);
                            }
                        }
                    }
                }
                Err(ParseError::Bad { tag, .. }) => assert!(!tag.is_empty()),
                Err(ParseError::NoTag) => {}
            },
            Some(_) => {}
            None => break,
        }
    }
});
