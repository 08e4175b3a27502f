//! The filter of a calendar-query (RFC 4791 9.7): nested comp-filters,
//! prop-filters and param-filters, text matches, and time ranges matched
//! against every instance of a recurring component (RFC 4791 9.9), as
//! calcard expands them.

use crate::context::precondition;
use crate::instances::instances;
use crate::response::Response;
use crate::text_match::{Collation, ParamFilter, TextMatch, filter_name};
use crate::xml::{CALDAV, Element};
use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarProperty, ICalendarValue,
};
use chrono::NaiveDateTime;
use std::collections::HashMap;

/// A span of UTC time in seconds; an open side reaches the end of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: i64,
    pub end: i64,
}

impl TimeRange {
    /// From `start` and `end` attributes in UTC (RFC 4791 9.9: at least
    /// one of them).
    pub fn parse(element: &Element) -> Result<TimeRange, Response> {
        let read = |name: &str| -> Result<Option<i64>, Response> {
            match element.attr(name) {
                None => Ok(None),
                Some(value) => NaiveDateTime::parse_from_str(value.trim(), "%Y%m%dT%H%M%SZ")
                    .map(|time| Some(time.and_utc().timestamp()))
                    .map_err(|_| {
                        precondition(
                            403,
                            CALDAV,
                            "valid-filter",
                            &format!("time-range {name} {value:?} is not a UTC date-time"),
                        )
                    }),
            }
        };
        let (start, end) = (read("start")?, read("end")?);
        if start.is_none() && end.is_none() {
            return Err(precondition(
                403,
                CALDAV,
                "valid-filter",
                "a time-range has a start or an end",
            ));
        }
        let range = TimeRange {
            start: start.unwrap_or(i64::MIN),
            end: end.unwrap_or(i64::MAX),
        };
        if range.end <= range.start {
            return Err(precondition(
                403,
                CALDAV,
                "valid-filter",
                "a time-range ends after it starts",
            ));
        }
        Ok(range)
    }

    /// RFC 4791 9.9: an instance with a length overlaps when it starts
    /// before the range ends and ends after it starts; an instant, when
    /// it falls inside.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        if end > start {
            start < self.end && end > self.start
        } else {
            self.start <= start && start < self.end
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompFilter {
    pub name: String,
    pub not_defined: bool,
    pub time_range: Option<TimeRange>,
    pub props: Vec<PropFilter>,
    pub comps: Vec<CompFilter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    pub name: String,
    pub not_defined: bool,
    pub text: Option<TextMatch>,
    pub params: Vec<ParamFilter>,
}

fn unsupported(why: &str) -> Response {
    precondition(403, CALDAV, "supported-filter", why)
}

fn name_of(element: &Element) -> Result<String, Response> {
    filter_name(element, CALDAV)
}

/// Reads `C:filter`: exactly one comp-filter, for VCALENDAR.
pub fn parse(filter: &Element) -> Result<CompFilter, Response> {
    let mut comps = filter.children_named(CALDAV, "comp-filter");
    let root = comps
        .next()
        .ok_or_else(|| precondition(403, CALDAV, "valid-filter", "a filter holds one comp-filter"))?;
    if comps.next().is_some() {
        return Err(precondition(
            403,
            CALDAV,
            "valid-filter",
            "a filter holds one comp-filter",
        ));
    }
    let root = comp_filter(root)?;
    if root.name != "VCALENDAR" {
        return Err(precondition(
            403,
            CALDAV,
            "valid-filter",
            "the outer comp-filter is VCALENDAR",
        ));
    }
    Ok(root)
}

fn comp_filter(element: &Element) -> Result<CompFilter, Response> {
    let name = name_of(element)?;
    let time_range = match element.child(CALDAV, "time-range") {
        None => None,
        Some(range) if matches!(name.as_str(), "VEVENT" | "VTODO" | "VJOURNAL" | "VFREEBUSY" | "VALARM") => {
            Some(TimeRange::parse(range)?)
        }
        Some(_) => return Err(unsupported(&format!("a time-range on {name} is not supported"))),
    };
    Ok(CompFilter {
        not_defined: element.child(CALDAV, "is-not-defined").is_some(),
        time_range,
        props: element
            .children_named(CALDAV, "prop-filter")
            .map(prop_filter)
            .collect::<Result<_, _>>()?,
        comps: element
            .children_named(CALDAV, "comp-filter")
            .map(comp_filter)
            .collect::<Result<_, _>>()?,
        name,
    })
}

fn text_match(element: &Element) -> Result<Option<TextMatch>, Response> {
    element
        .child(CALDAV, "text-match")
        .map(|text| TextMatch::parse(text, CALDAV, Collation::AsciiCasemap))
        .transpose()
}

fn prop_filter(element: &Element) -> Result<PropFilter, Response> {
    if element.child(CALDAV, "time-range").is_some() {
        return Err(unsupported("a time-range on a property is not supported"));
    }
    Ok(PropFilter {
        name: name_of(element)?,
        not_defined: element.child(CALDAV, "is-not-defined").is_some(),
        text: text_match(element)?,
        params: element
            .children_named(CALDAV, "param-filter")
            .map(|param| ParamFilter::parse(param, CALDAV, Collation::AsciiCasemap))
            .collect::<Result<_, Response>>()?,
    })
}

/// Each component's instances as UTC spans, by component index.
struct Instances(HashMap<u32, Vec<(i64, i64)>>);

impl Instances {
    fn of(calendar: &ICalendar) -> Instances {
        let mut spans: HashMap<u32, Vec<(i64, i64)>> = HashMap::new();
        for instance in instances(calendar) {
            spans
                .entry(instance.component)
                .or_default()
                .push((instance.start, instance.end));
        }
        Instances(spans)
    }
}

/// Whether the calendar object matches the filter.
pub fn matches(filter: &CompFilter, calendar: &ICalendar) -> bool {
    let Some(root) = calendar.components.first() else {
        return false;
    };
    if root.component_type != ICalendarComponentType::VCalendar {
        return false;
    }
    let mut instances = None;
    component_matches(filter, calendar, 0, None, &mut instances)
}

fn component_matches(
    filter: &CompFilter,
    calendar: &ICalendar,
    index: u32,
    parent: Option<u32>,
    instances: &mut Option<Instances>,
) -> bool {
    let Some(component) = calendar.components.get(index as usize) else {
        return false;
    };
    if let Some(range) = &filter.time_range {
        let hit = match (component.component_type == ICalendarComponentType::VAlarm, parent) {
            (true, Some(parent)) => alarm_in_range(range, calendar, parent, component, instances),
            (true, None) => false,
            (false, _) => in_range(range, calendar, index, component, instances),
        };
        if !hit {
            return false;
        }
    }
    if !filter.props.iter().all(|prop| prop_matches(prop, component)) {
        return false;
    }
    filter.comps.iter().all(|inner| {
        let mut children = component
            .component_ids
            .iter()
            .copied()
            .filter(|child| {
                calendar
                    .components
                    .get(*child as usize)
                    .is_some_and(|c| c.component_type.as_str().eq_ignore_ascii_case(&inner.name))
            })
            .peekable();
        if inner.not_defined {
            children.peek().is_none()
        } else {
            children.any(|child| component_matches(inner, calendar, child, Some(index), instances))
        }
    })
}

fn in_range(
    range: &TimeRange,
    calendar: &ICalendar,
    index: u32,
    component: &ICalendarComponent,
    instances: &mut Option<Instances>,
) -> bool {
    // RFC 4791 9.9: a VTODO with no date at all is in every range.
    if component.component_type == ICalendarComponentType::VTodo
        && ![
            ICalendarProperty::Dtstart,
            ICalendarProperty::Due,
            ICalendarProperty::Completed,
            ICalendarProperty::Created,
        ]
        .iter()
        .any(|date| component.has_property(date))
    {
        return true;
    }
    let instances = instances.get_or_insert_with(|| Instances::of(calendar));
    instances
        .0
        .get(&index)
        .is_some_and(|spans| spans.iter().any(|(start, end)| range.overlaps(*start, *end)))
}

/// RFC 4791 9.9 for VALARM: an alarm is in range when one of its
/// triggers (and of their repetitions, RFC 5545 3.8.6.2) falls in it, for
/// any instance of the component that holds it. A trigger is a time, or a
/// duration from the instance's start (or end, `RELATED=END`).
fn alarm_in_range(
    range: &TimeRange,
    calendar: &ICalendar,
    parent: u32,
    alarm: &ICalendarComponent,
    instances: &mut Option<Instances>,
) -> bool {
    let Some(trigger) = alarm.property(&ICalendarProperty::Trigger) else {
        return false;
    };
    let repeat = alarm
        .property(&ICalendarProperty::Repeat)
        .and_then(|entry| entry.values.first())
        .and_then(|value| match value {
            ICalendarValue::Integer(n) => Some((*n).clamp(0, 1000)),
            _ => None,
        })
        .unwrap_or(0);
    let every = alarm
        .property(&ICalendarProperty::Duration)
        .and_then(|entry| entry.values.first())
        .and_then(|value| match value {
            ICalendarValue::Duration(duration) => Some(duration.as_seconds()),
            _ => None,
        })
        .unwrap_or(0);
    let hits = |first: i64| (0..=repeat).any(|n| range.overlaps(first + n * every, first + n * every));
    match trigger.values.first() {
        Some(ICalendarValue::PartialDateTime(time)) => time
            .to_date_time_with_tz(Tz::UTC)
            .is_some_and(|time| hits(time.timestamp())),
        Some(ICalendarValue::Duration(offset)) => {
            let from_end = trigger
                .params
                .iter()
                .any(|param| param.value.as_text().is_some_and(|v| v.eq_ignore_ascii_case("END")));
            let instances = instances.get_or_insert_with(|| Instances::of(calendar));
            instances.0.get(&parent).is_some_and(|spans| {
                spans.iter().any(|(start, end)| {
                    let anchor = if from_end { *end } else { *start };
                    hits(anchor + offset.as_seconds())
                })
            })
        }
        _ => false,
    }
}

/// A property's value as text, for text-match.
fn entry_text(entry: &ICalendarEntry) -> String {
    entry
        .values
        .iter()
        .filter_map(|value| value.as_text())
        .collect::<Vec<_>>()
        .join(",")
}

fn prop_matches(filter: &PropFilter, component: &ICalendarComponent) -> bool {
    let mut entries = component
        .entries
        .iter()
        .filter(|entry| entry.name.as_str().eq_ignore_ascii_case(&filter.name))
        .peekable();
    if filter.not_defined {
        return entries.peek().is_none();
    }
    entries.any(|entry| {
        filter.text.as_ref().is_none_or(|text| text.matches(&entry_text(entry)))
            && filter.params.iter().all(|param| {
                param.matches(
                    entry
                        .params
                        .iter()
                        .filter(|have| have.name.as_str().eq_ignore_ascii_case(&param.name))
                        .map(|have| have.value.as_text().unwrap_or_default().to_owned()),
                )
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse as xml;

    const WEEKLY: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Team stand-up\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.org\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

    fn filter(inner: &str) -> CompFilter {
        let body = format!(
            "<C:filter xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><C:comp-filter name=\"VCALENDAR\">{inner}</C:comp-filter></C:filter>"
        );
        parse(&xml(body.as_bytes()).unwrap()).unwrap()
    }

    fn hits(inner: &str) -> bool {
        matches(&filter(inner), &ICalendar::parse(WEEKLY).unwrap())
    }

    #[test]
    fn a_time_range_finds_any_instance_of_a_recurrence() {
        // Monday 2026-03-02 is an instance; Tuesday is not.
        assert!(hits(
            "<C:comp-filter name=\"VEVENT\"><C:time-range start=\"20260302T103000Z\" end=\"20260302T120000Z\"/></C:comp-filter>"
        ));
        assert!(!hits(
            "<C:comp-filter name=\"VEVENT\"><C:time-range start=\"20260303T000000Z\" end=\"20260304T000000Z\"/></C:comp-filter>"
        ));
        // Before the first instance, and touching its end only.
        assert!(!hits(
            "<C:comp-filter name=\"VEVENT\"><C:time-range end=\"20260105T100000Z\"/></C:comp-filter>"
        ));
        assert!(hits("<C:comp-filter name=\"VEVENT\"/>"));
        assert!(!hits("<C:comp-filter name=\"VTODO\"/>"));
        assert!(hits(
            "<C:comp-filter name=\"VTODO\"><C:is-not-defined/></C:comp-filter>"
        ));
    }

    #[test]
    fn properties_parameters_and_alarms_filter_by_text_and_presence() {
        assert!(hits(
            "<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"SUMMARY\"><C:text-match>STAND</C:text-match></C:prop-filter></C:comp-filter>"
        ));
        assert!(!hits(
            "<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"SUMMARY\"><C:text-match negate-condition=\"yes\">stand</C:text-match></C:prop-filter></C:comp-filter>"
        ));
        assert!(hits(
            "<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"LOCATION\"><C:is-not-defined/></C:prop-filter></C:comp-filter>"
        ));
        assert!(hits(
            "<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"ATTENDEE\"><C:param-filter name=\"PARTSTAT\"><C:text-match>accepted</C:text-match></C:param-filter></C:prop-filter></C:comp-filter>"
        ));
        assert!(hits(
            "<C:comp-filter name=\"VEVENT\"><C:comp-filter name=\"VALARM\"/></C:comp-filter>"
        ));
        assert!(!hits(
            "<C:comp-filter name=\"VEVENT\"><C:comp-filter name=\"VALARM\"><C:is-not-defined/></C:comp-filter></C:comp-filter>"
        ));
        // The alarm rings five minutes before each instance: 09:55 on
        // Monday 2026-03-02, not at 10:00.
        let alarm = |start: &str, end: &str| {
            format!(
                "<C:comp-filter name=\"VEVENT\"><C:comp-filter name=\"VALARM\"><C:time-range start=\"{start}\" end=\"{end}\"/></C:comp-filter></C:comp-filter>"
            )
        };
        assert!(hits(&alarm("20260302T095000Z", "20260302T100000Z")));
        assert!(!hits(&alarm("20260302T100000Z", "20260302T110000Z")));
    }

    #[test]
    fn filters_the_server_cannot_apply_are_refused() {
        for inner in [
            "<C:comp-filter name=\"VTODO\"><C:comp-filter name=\"VTIMEZONE\"><C:time-range start=\"20260101T000000Z\"/></C:comp-filter></C:comp-filter>",
            "<C:comp-filter name=\"VEVENT\"><C:time-range start=\"2026-01-01\"/></C:comp-filter>",
            "<C:comp-filter name=\"VEVENT\"><C:time-range/></C:comp-filter>",
            "<C:comp-filter name=\"VEVENT\"><C:prop-filter name=\"SUMMARY\"><C:text-match collation=\"i;x\">a</C:text-match></C:prop-filter></C:comp-filter>",
        ] {
            let body = format!(
                "<C:filter xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><C:comp-filter name=\"VCALENDAR\">{inner}</C:comp-filter></C:filter>"
            );
            assert_eq!(
                parse(&xml(body.as_bytes()).unwrap()).unwrap_err().status,
                403,
                "{inner}"
            );
        }
        let no_calendar =
            "<C:filter xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><C:comp-filter name=\"VEVENT\"/></C:filter>";
        assert!(parse(&xml(no_calendar.as_bytes()).unwrap()).is_err());
    }
}
