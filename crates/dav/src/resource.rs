//! What a PUT may store. RFC 4791 4.1: a calendar object resource holds
//! one iCalendar object whose components (besides time zones) are all of
//! one type and share one UID (a recurring event and its overridden
//! instances), without a METHOD (that is for iTIP messages, not stored
//! data). RFC 6352 5.1: an address object resource holds one vCard, and
//! it has a UID. Each failure names the precondition a DAV server reports
//! (RFC 4791 5.3.2.1, RFC 6352 6.3.2.1).

use calcard::icalendar::{ICalendar, ICalendarComponentType, ICalendarProperty};
use calcard::vcard::VCard;
use thiserror::Error;

/// The component type a calendar resource holds (RFC 5545 3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    Event,
    Todo,
    Journal,
    FreeBusy,
}

impl Component {
    /// Its name in iCalendar and in `supported-calendar-component-set`.
    pub fn name(self) -> &'static str {
        match self {
            Component::Event => "VEVENT",
            Component::Todo => "VTODO",
            Component::Journal => "VJOURNAL",
            Component::FreeBusy => "VFREEBUSY",
        }
    }

    fn of(kind: &ICalendarComponentType) -> Option<Component> {
        match kind {
            ICalendarComponentType::VEvent => Some(Component::Event),
            ICalendarComponentType::VTodo => Some(Component::Todo),
            ICalendarComponentType::VJournal => Some(Component::Journal),
            ICalendarComponentType::VFreebusy => Some(Component::FreeBusy),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarResource {
    pub uid: String,
    pub component: Component,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardResource {
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResourceError {
    /// Not iCalendar (or not vCard) at all: `valid-calendar-data`,
    /// `valid-address-data`.
    #[error("not valid {0}: {1}")]
    Invalid(&'static str, String),
    /// Parsed, but not what one resource may hold:
    /// `valid-calendar-object-resource`, `valid-address-data`.
    #[error("{0}")]
    NotOneObject(String),
}

impl ResourceError {
    /// The DAV precondition element (RFC 4791 5.3.2.1, RFC 6352 6.3.2.1).
    pub fn precondition(&self, calendar: bool) -> &'static str {
        match (self, calendar) {
            (ResourceError::Invalid(..), true) => "valid-calendar-data",
            (ResourceError::NotOneObject(_), true) => "valid-calendar-object-resource",
            (_, false) => "valid-address-data",
        }
    }
}

/// Checks a calendar object resource; its UID and component type.
pub fn calendar_resource(text: &str) -> Result<CalendarResource, ResourceError> {
    // The parser forgives a missing END; RFC 5545 3.4 does not, and a
    // client that lost its last lines must hear so.
    if !ends_with_line(text, "END:VCALENDAR") {
        return Err(ResourceError::Invalid(
            "iCalendar",
            "it does not end with END:VCALENDAR".into(),
        ));
    }
    let calendar = ICalendar::parse(text)
        .map_err(|entry| ResourceError::Invalid("iCalendar", format!("{entry:?}").chars().take(200).collect()))?;
    let root = calendar
        .components
        .first()
        .filter(|root| root.component_type == ICalendarComponentType::VCalendar)
        .ok_or_else(|| ResourceError::Invalid("iCalendar", "no VCALENDAR".into()))?;
    if root.property(&ICalendarProperty::Method).is_some() {
        return Err(ResourceError::NotOneObject(
            "a stored calendar object has no METHOD (RFC 4791 4.1)".into(),
        ));
    }
    let mut found: Option<(Component, String)> = None;
    for component in &calendar.components[1..] {
        if component.component_type == ICalendarComponentType::VCalendar {
            return Err(ResourceError::NotOneObject("more than one VCALENDAR".into()));
        }
        // Time zones and alarms and the like belong to the object; only
        // the top-level kinds of RFC 5545 3.6 decide what it is.
        let Some(kind) = Component::of(&component.component_type) else {
            continue;
        };
        let uid = component
            .uid()
            .filter(|uid| !uid.is_empty())
            .ok_or_else(|| ResourceError::NotOneObject(format!("a {} without a UID", kind.name())))?;
        match &found {
            None => found = Some((kind, uid.to_owned())),
            Some((first, _)) if *first != kind => {
                return Err(ResourceError::NotOneObject(format!(
                    "both {} and {} in one resource",
                    first.name(),
                    kind.name()
                )));
            }
            Some((_, first)) if first != uid => {
                return Err(ResourceError::NotOneObject(format!(
                    "two UIDs in one resource ({first}, {uid})"
                )));
            }
            Some(_) => {}
        }
    }
    let (component, uid) =
        found.ok_or_else(|| ResourceError::NotOneObject("no VEVENT, VTODO, VJOURNAL or VFREEBUSY".into()))?;
    Ok(CalendarResource { uid, component })
}

/// Checks an address object resource; its UID.
pub fn card_resource(text: &str) -> Result<CardResource, ResourceError> {
    if !ends_with_line(text, "END:VCARD") {
        return Err(ResourceError::Invalid("vCard", "it does not end with END:VCARD".into()));
    }
    let card = VCard::parse(text)
        .map_err(|entry| ResourceError::Invalid("vCard", format!("{entry:?}").chars().take(200).collect()))?;
    // One vCard per resource: whatever follows the first must be nothing.
    let end = text
        .to_ascii_uppercase()
        .find("END:VCARD")
        .map(|at| at + "END:VCARD".len());
    if end.is_some_and(|end| !text[end..].trim().is_empty()) {
        return Err(ResourceError::NotOneObject("more than one vCard".into()));
    }
    let uid = card
        .uid()
        .filter(|uid| !uid.is_empty())
        .ok_or_else(|| ResourceError::NotOneObject("a vCard without a UID (RFC 6352 5.1)".into()))?;
    Ok(CardResource { uid: uid.to_owned() })
}

/// The last line that holds anything is `line` (any case).
fn ends_with_line(text: &str, line: &str) -> bool {
    text.trim_end()
        .rsplit(['\r', '\n'])
        .next()
        .is_some_and(|last| last.trim().eq_ignore_ascii_case(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Lisbon\r\nBEGIN:STANDARD\r\nDTSTART:19701025T020000\r\nTZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0000\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20261201T090000Z\r\nDTSTART;TZID=Europe/Lisbon:20261207T100000\r\n\
RRULE:FREQ=WEEKLY\r\nSUMMARY:Stand-up\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:weekly-1\r\nRECURRENCE-ID;TZID=Europe/Lisbon:20261214T100000\r\nDTSTAMP:20261201T090000Z\r\n\
DTSTART;TZID=Europe/Lisbon:20261214T110000\r\nSUMMARY:Stand-up (late)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn an_event_with_its_exceptions_and_time_zone_is_one_resource() {
        assert_eq!(
            calendar_resource(EVENT),
            Ok(CalendarResource {
                uid: "weekly-1".into(),
                component: Component::Event
            })
        );
        let todo =
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t1\r\nSUMMARY:Pay\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        assert_eq!(calendar_resource(todo).unwrap().component, Component::Todo);
    }

    #[test]
    fn what_is_not_one_calendar_object_is_refused_with_its_precondition() {
        let two_uids = EVENT.replacen("UID:weekly-1\r\nRECURRENCE-ID", "UID:other\r\nRECURRENCE-ID", 1);
        let error = calendar_resource(&two_uids).unwrap_err();
        assert_eq!(error.precondition(true), "valid-calendar-object-resource", "{error}");
        let mixed = EVENT.replace(
            "END:VCALENDAR",
            "BEGIN:VTODO\r\nUID:weekly-1\r\nEND:VTODO\r\nEND:VCALENDAR",
        );
        assert!(matches!(calendar_resource(&mixed), Err(ResourceError::NotOneObject(_))));
        let method = EVENT.replace("VERSION:2.0\r\n", "VERSION:2.0\r\nMETHOD:REQUEST\r\n");
        assert!(matches!(
            calendar_resource(&method),
            Err(ResourceError::NotOneObject(_))
        ));
        let no_uid = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert!(matches!(calendar_resource(no_uid), Err(ResourceError::NotOneObject(_))));
        let empty = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n";
        assert!(matches!(calendar_resource(empty), Err(ResourceError::NotOneObject(_))));
        for garbage in [
            "",
            "hello",
            "BEGIN:VCARD\r\nUID:x\r\nEND:VCARD\r\n",
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",
        ] {
            let error = calendar_resource(garbage).unwrap_err();
            assert_eq!(error.precondition(true), "valid-calendar-data", "{garbage:?}: {error}");
        }
    }

    #[test]
    fn a_vcard_needs_its_uid_and_comes_alone() {
        let card = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\nFN:Ana Souza\r\nEND:VCARD\r\n";
        assert_eq!(
            card_resource(card).unwrap().uid,
            "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"
        );
        let no_uid = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana\r\nEND:VCARD\r\n";
        assert_eq!(
            card_resource(no_uid).unwrap_err().precondition(false),
            "valid-address-data"
        );
        let two = format!("{card}{}", card.replace("Ana Souza", "Bob"));
        assert!(matches!(card_resource(&two), Err(ResourceError::NotOneObject(_))));
        assert!(matches!(card_resource("FN:x"), Err(ResourceError::Invalid(..))));
    }
}
