//! The DATA reader: arbitrary bytes in arbitrary read sizes.
#![no_main]

use estafeta_smtp::proto::DataDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else { return };
    let mut whole = DataDecoder::new(1 << 20);
    let mut whole_out = Vec::new();
    let whole_end = whole.feed(input, &mut whole_out);

    // Fed in pieces, the decoder must reach the same result.
    let mut pieces = DataDecoder::new(1 << 20);
    let mut pieces_out = Vec::new();
    let step = usize::from(split).max(1);
    let mut offset = 0;
    let mut pieces_end = None;
    for chunk in input.chunks(step) {
        if let Some(used) = pieces.feed(chunk, &mut pieces_out) {
            pieces_end = Some(offset + used);
            break;
        }
        offset += chunk.len();
    }
    assert_eq!(whole_end, pieces_end);
    assert_eq!(whole_out, pieces_out);
    assert_eq!(whole.bare_line_ending, pieces.bare_line_ending);
    // Drained after every piece, as the spool does past its threshold, and
    // under a small limit: the limit counts what was drained too.
    let limit = step * 7;
    let mut capped = DataDecoder::new(limit);
    let mut capped_out = Vec::new();
    capped.feed(input, &mut capped_out);
    let mut drained = DataDecoder::new(limit);
    let (mut buffer, mut spooled) = (Vec::new(), Vec::new());
    for chunk in input.chunks(step) {
        let end = drained.feed(chunk, &mut buffer);
        spooled.append(&mut buffer);
        if end.is_some() {
            break;
        }
    }
    assert_eq!(spooled, capped_out);
    assert!(spooled.len() <= limit);
    assert_eq!(drained.over_limit, capped.over_limit);
    if let Some(end) = whole_end {
        // Only CRLF.CRLF ends the data, and only after a CRLF (or at the start).
        assert!(input[..end].ends_with(b".\r\n"));
        assert!(end == 3 || input[..end].ends_with(b"\r\n.\r\n"));
    }
});
