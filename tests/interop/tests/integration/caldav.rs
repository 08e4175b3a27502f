//! Python's `caldav` library (a CalDAV client) against the http listener:
//! it discovers the principal from the DAV root, makes a calendar, writes
//! events and a task, finds them by time range and by UID, changes and
//! deletes one, asks for free-busy time, and removes the calendar.

use estafeta_core::config::Service;
use estafeta_interop::{require_python, run, text};
use estafeta_testkit::TestServer;
use std::process::Command;

const SCRIPT: &str = r#"
import sys
from datetime import datetime, timezone
import caldav

url, user, password = sys.argv[1:4]
utc = timezone.utc
client = caldav.DAVClient(url=url, username=user, password=password)
principal = client.principal()
assert [c.get_display_name() for c in principal.calendars()] == ["Calendar"], principal.calendars()

work = principal.make_calendar(name="Work", cal_id="work")
work.save_event(dtstart=datetime(2026, 12, 10, 10, tzinfo=utc), dtend=datetime(2026, 12, 10, 11, tzinfo=utc),
                summary="Planning", uid="plan-1")
work.save_event(dtstart=datetime(2026, 12, 20, 18, tzinfo=utc), dtend=datetime(2026, 12, 20, 23, tzinfo=utc),
                summary="Party", uid="party-1")
work.save_event(dtstart=datetime(2026, 12, 7, 9, tzinfo=utc), dtend=datetime(2026, 12, 7, 9, 15, tzinfo=utc),
                summary="Stand-up", uid="standup-1", rrule={"FREQ": "DAILY"})

found = work.search(start=datetime(2026, 12, 10, tzinfo=utc), end=datetime(2026, 12, 11, tzinfo=utc),
                    event=True, expand=False)
summaries = sorted(str(e.icalendar_component["summary"]) for e in found)
assert summaries == ["Planning", "Stand-up"], summaries

party = work.event_by_uid("party-1")
party.icalendar_component["summary"] = "Year-end party"
party.save()
assert str(work.event_by_uid("party-1").icalendar_component["summary"]) == "Year-end party"

work.save_todo(summary="Book the venue", uid="todo-1")
assert [str(t.icalendar_component["summary"]) for t in work.todos()] == ["Book the venue"]

busy = work.freebusy_request(datetime(2026, 12, 20, tzinfo=utc), datetime(2026, 12, 21, tzinfo=utc))
periods = [line for line in busy.data.splitlines() if line.startswith("FREEBUSY")]
assert periods == ["FREEBUSY;FBTYPE=BUSY:20261220T090000Z/20261220T091500Z",
                   "FREEBUSY;FBTYPE=BUSY:20261220T180000Z/20261220T230000Z"], periods

work.event_by_uid("plan-1").delete()
assert sorted(str(e.icalendar_component["summary"]) for e in work.events()) == ["Stand-up", "Year-end party"]
work.delete()
assert [c.get_display_name() for c in principal.calendars()] == ["Calendar"]
print("caldav: all done")
"#;

#[tokio::test]
async fn python_caldav_creates_queries_and_deletes_events() {
    if !require_python("caldav") {
        return;
    }
    let server = TestServer::start().await;
    server.add_account("ann@example.com", "ann's password").await;
    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(SCRIPT)
        .arg(format!("http://{}/dav/", server.addr(Service::Http)))
        .arg("ann@example.com")
        .arg("ann's password");
    let output = run(command).await;
    let said = text(&output);
    assert!(output.status.success(), "python failed:\n{said}");
    assert!(said.contains("caldav: all done"), "{said}");
}
