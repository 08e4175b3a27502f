//! `<C:expand>` in a REPORT's calendar-data (RFC 4791 9.6.5): a recurring
//! component is answered as its instances in the range, each its own
//! component with a RECURRENCE-ID and no recurrence rule, every date-time
//! in UTC, so a client that cannot expand rules still sees each instance.

use crate::calendar_filter::TimeRange;
use crate::instances::instances;
use calcard::common::PartialDateTime;
use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarProperty, ICalendarValue,
};

/// Properties an instance does not keep: the rule, and the dates it gets
/// anew.
const REPLACED: [ICalendarProperty; 7] = [
    ICalendarProperty::Rrule,
    ICalendarProperty::Rdate,
    ICalendarProperty::Exdate,
    ICalendarProperty::Dtstart,
    ICalendarProperty::Dtend,
    ICalendarProperty::Due,
    ICalendarProperty::RecurrenceId,
];

fn date_entry(name: ICalendarProperty, seconds: i64, date_only: bool) -> ICalendarEntry {
    let value = if date_only {
        PartialDateTime::from_date_timestamp(seconds)
    } else {
        PartialDateTime::from_utc_timestamp(seconds)
    };
    ICalendarEntry {
        name,
        params: Vec::new(),
        values: vec![ICalendarValue::PartialDateTime(Box::new(value))],
    }
}

fn date_only(component: &ICalendarComponent) -> bool {
    match component
        .property(&ICalendarProperty::Dtstart)
        .and_then(|entry| entry.values.first())
    {
        Some(ICalendarValue::PartialDateTime(date)) => !date.has_time(),
        _ => false,
    }
}

/// The UTC time of a component's RECURRENCE-ID, read in its own zone.
fn recurrence_id(calendar: &ICalendar, component: &ICalendarComponent) -> Option<i64> {
    let entry = component.property(&ICalendarProperty::RecurrenceId)?;
    let Some(ICalendarValue::PartialDateTime(date)) = entry.values.first() else {
        return None;
    };
    let zone = calendar
        .build_tz_resolver()
        .with_default(Tz::UTC)
        .resolve_or_default(entry.tz_id());
    Some(date.to_date_time_with_tz(zone)?.timestamp())
}

/// The calendar object with its recurrences expanded over `range`; the
/// text as it was when it does not parse.
pub fn expand(text: &str, range: &TimeRange) -> String {
    let Ok(calendar) = ICalendar::parse(text) else {
        return text.to_owned();
    };
    let Some(root) = calendar.components.first() else {
        return text.to_owned();
    };
    let mut out = ICalendar {
        components: vec![ICalendarComponent {
            component_type: root.component_type.clone(),
            entries: root.entries.clone(),
            component_ids: Vec::new(),
        }],
    };
    for instance in instances(&calendar) {
        let (start, end) = (instance.start, instance.end);
        if !range.overlaps(start, end) {
            continue;
        }
        let Some(source) = calendar.components.get(instance.component as usize) else {
            continue;
        };
        if !matches!(
            source.component_type,
            ICalendarComponentType::VEvent | ICalendarComponentType::VTodo | ICalendarComponentType::VJournal
        ) {
            continue;
        }
        let whole_day = date_only(source);
        let recurring = source.has_property(&ICalendarProperty::Rrule)
            || source.has_property(&ICalendarProperty::Rdate)
            || source.has_property(&ICalendarProperty::RecurrenceId);
        let mut entries: Vec<ICalendarEntry> = source
            .entries
            .iter()
            .filter(|entry| !REPLACED.contains(&entry.name))
            .cloned()
            .collect();
        entries.push(date_entry(ICalendarProperty::Dtstart, start, whole_day));
        if source.has_property(&ICalendarProperty::Dtend) {
            entries.push(date_entry(ICalendarProperty::Dtend, end, whole_day));
        }
        if source.has_property(&ICalendarProperty::Due) {
            entries.push(date_entry(ICalendarProperty::Due, end, whole_day));
        }
        if recurring {
            let id = recurrence_id(&calendar, source).unwrap_or(start);
            entries.push(date_entry(ICalendarProperty::RecurrenceId, id, whole_day));
        }
        let index = out.components.len() as u32;
        out.components[0].component_ids.push(index);
        out.components.push(ICalendarComponent {
            component_type: source.component_type.clone(),
            entries,
            component_ids: Vec::new(),
        });
        // Its alarms come along.
        for child in &source.component_ids {
            if let Some(alarm) = calendar.components.get(*child as usize) {
                let at = out.components.len() as u32;
                out.components[index as usize].component_ids.push(at);
                out.components.push(ICalendarComponent {
                    component_ids: Vec::new(),
                    ..alarm.clone()
                });
            }
        }
    }
    out.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weekly_event_becomes_its_instances_in_utc_with_the_exception_kept() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:America/Sao_Paulo\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:-0300\r\nTZOFFSETTO:-0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=America/Sao_Paulo:20260105T090000\r\n\
DTEND;TZID=America/Sao_Paulo:20260105T100000\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Sync\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=America/Sao_Paulo:20260112T090000\r\n\
DTSTART;TZID=America/Sao_Paulo:20260112T140000\r\nDTEND;TZID=America/Sao_Paulo:20260112T150000\r\nSUMMARY:Sync (moved)\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
        let range = TimeRange {
            start: 1_767_225_600, // 2026-01-01T00:00:00Z
            end: 1_768_694_400,   // 2026-01-18T00:00:00Z
        };
        let expanded = expand(text, &range);
        assert!(!expanded.contains("RRULE"), "{expanded}");
        assert!(!expanded.contains("TZID="), "{expanded}");
        assert_eq!(expanded.matches("BEGIN:VEVENT").count(), 2, "{expanded}");
        assert!(expanded.contains("DTSTART:20260105T120000Z"), "{expanded}");
        assert!(expanded.contains("RECURRENCE-ID:20260105T120000Z"), "{expanded}");
        assert!(expanded.contains("DTSTART:20260112T170000Z"), "{expanded}");
        assert!(expanded.contains("RECURRENCE-ID:20260112T120000Z"), "{expanded}");
        assert!(expanded.contains("SUMMARY:Sync (moved)"), "{expanded}");
    }
}
