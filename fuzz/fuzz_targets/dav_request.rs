//! The body of any DAV request (PROPFIND, PROPPATCH, MKCALENDAR, REPORT)
//! is XML from the network, and a REPORT's filter is then read from it:
//! both must answer any bytes with a tree or an error, never panic or
//! hang. A tree written back out reads back the same, since that is how
//! a client's own properties are stored.
#![no_main]

use estafeta_dav::calendar_filter;
use estafeta_dav::card_filter;
use estafeta_dav::path::Target;
use estafeta_dav::propfind::Ask;
use estafeta_dav::xml::{self, CALDAV, CARDDAV};
use libfuzzer_sys::fuzz_target;

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=5\r\nSUMMARY:Stand-up\r\n\
BEGIN:VALARM\r\nTRIGGER:-PT5M\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
const CARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c\r\nFN:Ana\r\nN:Souza;Ana;;;\r\nEMAIL;TYPE=work:a@b.br\r\nEND:VCARD\r\n";

fuzz_target!(|data: &[u8]| {
    if let Ok(path) = std::str::from_utf8(data)
        && let Some(target) = Target::parse(path)
    {
        assert_eq!(Target::parse(&target.href()), Some(target));
    }
    let Ok(root) = xml::parse(data) else {
        return;
    };
    assert_eq!(xml::parse(root.to_xml().as_bytes()).as_ref(), Ok(&root));
    let _ = Ask::within(&root);
    let calendar = calcard::icalendar::ICalendar::parse(EVENT).unwrap();
    let card = calcard::vcard::VCard::parse(CARD).unwrap();
    for element in std::iter::once(&root).chain(root.elements()) {
        if element.is(CALDAV, "filter")
            && let Ok(filter) = calendar_filter::parse(element)
        {
            calendar_filter::matches(&filter, &calendar);
        }
        if element.is(CARDDAV, "filter")
            && let Ok(filter) = card_filter::parse(element)
        {
            card_filter::matches(&filter, &card);
        }
    }
});
