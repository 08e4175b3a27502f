//! The IMAP framer takes whatever a client sends, in any pieces.
#![no_main]

use estafeta_imap::proto::{Frame, FrameError, Framer, Limits};
use libfuzzer_sys::fuzz_target;

fn run(framer: &mut Framer, mut input: &[u8], out: &mut Vec<Result<Frame, FrameError>>) {
    loop {
        let (used, event) = framer.feed(input);
        assert!(used <= input.len());
        input = &input[used..];
        match event {
            Some(event) => out.push(event),
            None => return,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, input)) = data.split_first() else { return };
    let limits = Limits { line: 200, literal: 300, command: 1000 };
    let mut whole = Framer::new(limits);
    let mut expected = Vec::new();
    run(&mut whole, input, &mut expected);
    let mut pieces = Framer::new(limits);
    let mut got = Vec::new();
    for chunk in input.chunks(usize::from(step).max(1)) {
        run(&mut pieces, chunk, &mut got);
    }
    assert_eq!(expected, got, "framing must not depend on how input is split");
    for event in &expected {
        if let Ok(Frame::Command(command)) = event {
            assert!(command.len() as u64 <= limits.command + 64);
        }
    }
});
