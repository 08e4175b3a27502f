//! The instances of a calendar object's components (RFC 5545 3.8.5):
//! calcard expands the rules; an instance that an overriding component
//! (same UID, a RECURRENCE-ID) replaces is then left out even when the
//! override's SEQUENCE differs from the rule's, which calcard does not
//! match on its own.

use calcard::common::timezone::Tz;
use calcard::icalendar::dates::TimeOrDelta;
use calcard::icalendar::{ICalendar, ICalendarProperty, ICalendarValue};
use std::collections::HashSet;

/// Instances of one recurring component looked at, at most: ten years
/// of a daily event.
pub const MAX_INSTANCES: usize = 3660;

/// One instance: the index of the component it comes from, and its span
/// in UTC seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    pub component: u32,
    pub start: i64,
    pub end: i64,
}

/// The UTC time each override replaces, by UID.
fn overridden(calendar: &ICalendar) -> HashSet<(String, i64)> {
    let zones = calendar.build_tz_resolver().with_default(Tz::UTC);
    calendar
        .components
        .iter()
        .filter_map(|component| {
            let entry = component.property(&ICalendarProperty::RecurrenceId)?;
            let Some(ICalendarValue::PartialDateTime(date)) = entry.values.first() else {
                return None;
            };
            let at = date.to_date_time_with_tz(zones.resolve_or_default(entry.tz_id()))?;
            Some((component.uid()?.to_owned(), at.timestamp()))
        })
        .collect()
}

pub fn instances(calendar: &ICalendar) -> Vec<Instance> {
    let replaced = overridden(calendar);
    calendar
        .expand_dates(Tz::UTC, MAX_INSTANCES)
        .events
        .into_iter()
        .filter_map(|event| {
            let component = calendar.components.get(event.comp_id as usize)?;
            let start = event.start.timestamp();
            let end = match event.end {
                TimeOrDelta::Time(end) => end.timestamp(),
                TimeOrDelta::Delta(delta) => start.saturating_add(delta.num_seconds()),
            };
            let generated = !component.has_property(&ICalendarProperty::RecurrenceId);
            let uid = component.uid().unwrap_or_default();
            if generated && replaced.contains(&(uid.to_owned(), start)) {
                return None;
            }
            Some(Instance {
                component: event.comp_id,
                start,
                end,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_with_a_newer_sequence_still_replaces_its_instance() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:d\r\nSEQUENCE:0\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20260105T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:d\r\nSEQUENCE:2\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20260106T090000Z\r\n\
DTSTART:20260106T150000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let calendar = ICalendar::parse(text).unwrap();
        let mut starts: Vec<i64> = instances(&calendar).iter().map(|i| i.start).collect();
        starts.sort_unstable();
        // 5 Jan 09:00, 6 Jan 15:00 (moved), 7 Jan 09:00; not 6 Jan 09:00.
        assert_eq!(starts, [1_767_603_600, 1_767_711_600, 1_767_776_400]);
    }
}
