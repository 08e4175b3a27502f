//! The free-busy-query REPORT's answer (RFC 4791 7.10): one VFREEBUSY
//! with the busy periods of a calendar's events in a range, every
//! instance of a recurrence counted; transparent and cancelled events
//! take no time, tentative ones are BUSY-TENTATIVE.

use crate::calendar_filter::TimeRange;
use crate::instances::instances;
use calcard::icalendar::{ICalendar, ICalendarComponentType, ICalendarProperty};
use chrono::DateTime;

fn utc(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .map(|time| time.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Busy {
    Tentative,
    Busy,
}

/// Busy periods in the range of one calendar object, clipped to it.
fn periods(calendar: &ICalendar, range: &TimeRange, out: &mut Vec<(i64, i64, Busy)>) {
    for instance in instances(calendar) {
        let Some(component) = calendar.components.get(instance.component as usize) else {
            continue;
        };
        if component.component_type != ICalendarComponentType::VEvent {
            continue;
        }
        let text = |property: ICalendarProperty| {
            component
                .property(&property)
                .and_then(|entry| entry.values.first())
                .and_then(|value| value.as_text())
                .map(str::to_ascii_uppercase)
        };
        if text(ICalendarProperty::Transp).as_deref() == Some("TRANSPARENT")
            || text(ICalendarProperty::Status).as_deref() == Some("CANCELLED")
        {
            continue;
        }
        let kind = if text(ICalendarProperty::Status).as_deref() == Some("TENTATIVE") {
            Busy::Tentative
        } else {
            Busy::Busy
        };
        let (start, end) = (instance.start, instance.end);
        if end > start && range.overlaps(start, end) {
            out.push((start.max(range.start), end.min(range.end), kind));
        }
    }
}

/// The VFREEBUSY for these calendar objects over `range` (which has a
/// start; an open end is taken as a year on).
pub fn free_busy(objects: &[String], range: TimeRange, now: i64) -> String {
    let range = TimeRange {
        start: range.start,
        end: if range.end == i64::MAX {
            range.start.saturating_add(366 * 86_400)
        } else {
            range.end
        },
    };
    let mut busy = Vec::new();
    for text in objects {
        if let Ok(calendar) = ICalendar::parse(text) {
            periods(&calendar, &range, &mut busy);
        }
    }
    busy.sort_unstable();
    // Overlapping periods of one type become one (RFC 5545 3.8.2.6).
    let mut merged: Vec<(i64, i64, Busy)> = Vec::new();
    for (start, end, kind) in busy {
        match merged.iter_mut().rev().find(|(_, _, have)| *have == kind) {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end, kind)),
        }
    }
    let mut out =
        String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Estafeta//CalDAV//EN\r\nBEGIN:VFREEBUSY\r\n");
    out.push_str(&format!(
        "DTSTAMP:{}\r\nDTSTART:{}\r\nDTEND:{}\r\n",
        utc(now),
        utc(range.start),
        utc(range.end)
    ));
    for (start, end, kind) in merged {
        let kind = match kind {
            Busy::Busy => "BUSY",
            Busy::Tentative => "BUSY-TENTATIVE",
        };
        out.push_str(&format!("FREEBUSY;FBTYPE={kind}:{}/{}\r\n", utc(start), utc(end)));
    }
    out.push_str("END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uid: &str, start: &str, end: &str, extra: &str) -> String {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:{start}\r\nDTEND:{end}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
    }

    #[test]
    fn busy_time_counts_instances_and_leaves_out_free_events() {
        let objects = vec![
            event(
                "a",
                "20260105T090000Z",
                "20260105T100000Z",
                "RRULE:FREQ=DAILY;COUNT=3\r\n",
            ),
            event("b", "20260105T093000Z", "20260105T103000Z", ""),
            event("c", "20260105T120000Z", "20260105T130000Z", "TRANSP:TRANSPARENT\r\n"),
            event("d", "20260106T150000Z", "20260106T160000Z", "STATUS:TENTATIVE\r\n"),
            event("e", "20260106T170000Z", "20260106T180000Z", "STATUS:CANCELLED\r\n"),
        ];
        let range = TimeRange {
            start: 1_767_571_200, // 2026-01-05T00:00:00Z
            end: 1_767_744_000,   // 2026-01-07T00:00:00Z
        };
        let answer = free_busy(&objects, range, 0);
        let lines: Vec<&str> = answer.lines().filter(|line| line.starts_with("FREEBUSY")).collect();
        assert_eq!(
            lines,
            [
                "FREEBUSY;FBTYPE=BUSY:20260105T090000Z/20260105T103000Z",
                "FREEBUSY;FBTYPE=BUSY:20260106T090000Z/20260106T100000Z",
                "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260106T150000Z/20260106T160000Z",
            ]
        );
        assert!(answer.contains("DTSTART:20260105T000000Z\r\nDTEND:20260107T000000Z"));
    }
}
