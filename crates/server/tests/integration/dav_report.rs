//! The DAV REPORTs on a running server: calendar-query with time ranges
//! over recurrences, calendar-multiget, free-busy-query (RFC 4791 7),
//! addressbook-query and addressbook-multiget (RFC 6352 8), and
//! sync-collection (RFC 6578) through writes and removals.

use crate::dav::{BOOKS, Client, card, condition, event, hrefs, prop};
use estafeta_dav::xml::{CALDAV, CARDDAV, DAV, Element};

const CALENDAR: &str = "/dav/calendars/ann@example.com/default/";

fn query(inner: &str) -> String {
    format!(
        r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR">{inner}</C:comp-filter></C:filter></C:calendar-query>"#
    )
}

fn status_of(multistatus: &Element, href: &str) -> Option<String> {
    multistatus
        .children_named(DAV, "response")
        .find(|response| response.child(DAV, "href").is_some_and(|h| h.text() == href))
        .and_then(|response| response.child(DAV, "status"))
        .map(Element::text)
}

#[tokio::test]
async fn calendar_query_finds_events_by_time_and_text_across_recurrences() {
    let client = Client::start().await;
    let weekly = event("weekly", "20261207T100000Z", "Team sync")
        .replace("DURATION:PT1H\r\n", "DURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\n");
    let items = [
        ("weekly.ics", weekly),
        ("dentist.ics", event("dentist", "20261215T140000Z", "Dentist")),
        ("trip.ics", event("trip", "20270310T080000Z", "Lisbon trip")),
        (
            "rent.ics",
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:rent\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:Pay rent\r\nEND:VTODO\r\nEND:VCALENDAR\r\n".to_owned(),
        ),
    ];
    for (name, body) in &items {
        let put = client
            .put(&format!("{CALENDAR}{name}"), "text/calendar", body, &[])
            .await;
        assert_eq!(put.status, 201, "{name}: {}", put.body);
    }
    let in_range = |start: &str, end: &str| {
        query(&format!(
            r#"<C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter>"#
        ))
    };
    // A Monday months after the first instance, a week with the dentist,
    // and a day with nothing.
    let monday = client
        .multistatus(
            "REPORT",
            CALENDAR,
            "1",
            &in_range("20270503T000000Z", "20270504T000000Z"),
        )
        .await;
    assert_eq!(hrefs(&monday), [format!("{CALENDAR}weekly.ics")]);
    let data = prop(&monday, &format!("{CALENDAR}weekly.ics"), CALDAV, "calendar-data").unwrap();
    assert!(data.text().contains("RRULE:FREQ=WEEKLY"));
    assert!(prop(&monday, &format!("{CALENDAR}weekly.ics"), DAV, "getetag").is_some());
    let mut week = hrefs(
        &client
            .multistatus(
                "REPORT",
                CALENDAR,
                "1",
                &in_range("20261214T000000Z", "20261221T000000Z"),
            )
            .await,
    );
    week.sort();
    assert_eq!(
        week,
        [format!("{CALENDAR}dentist.ics"), format!("{CALENDAR}weekly.ics")]
    );
    let sunday = client
        .multistatus(
            "REPORT",
            CALENDAR,
            "1",
            &in_range("20261206T000000Z", "20261207T000000Z"),
        )
        .await;
    assert!(hrefs(&sunday).is_empty());
    let text = client
        .multistatus(
            "REPORT",
            CALENDAR,
            "1",
            &query(r#"<C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:text-match>LISBON</C:text-match></C:prop-filter></C:comp-filter>"#),
        )
        .await;
    assert_eq!(hrefs(&text), [format!("{CALENDAR}trip.ics")]);
    let todos = client
        .multistatus("REPORT", CALENDAR, "1", &query(r#"<C:comp-filter name="VTODO"/>"#))
        .await;
    assert_eq!(hrefs(&todos), [format!("{CALENDAR}rent.ics")]);

    let bad = client
        .send(
            "REPORT",
            CALENDAR,
            &[("Depth", "1")],
            &query(r#"<C:comp-filter name="VEVENT"><C:time-range start="tomorrow"/></C:comp-filter>"#),
        )
        .await;
    assert_eq!((bad.status, condition(&bad).as_str()), (403, "valid-filter"));

    // calendar-multiget: each href found or 404.
    let multiget = client
        .multistatus(
            "REPORT",
            CALENDAR,
            "1",
            &format!(
                r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>
<D:href>{CALENDAR}dentist.ics</D:href><D:href>{CALENDAR}nothing.ics</D:href></C:calendar-multiget>"#
            ),
        )
        .await;
    assert!(
        prop(&multiget, &format!("{CALENDAR}dentist.ics"), CALDAV, "calendar-data")
            .unwrap()
            .text()
            .contains("SUMMARY:Dentist")
    );
    assert_eq!(
        status_of(&multiget, &format!("{CALENDAR}nothing.ics")).as_deref(),
        Some("HTTP/1.1 404 Not Found")
    );

    // free-busy-query: the instances in the range, transparent ones left out.
    let free_busy = client
        .send(
            "REPORT",
            CALENDAR,
            &[("Depth", "1")],
            r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20261214T000000Z" end="20261216T000000Z"/></C:free-busy-query>"#,
        )
        .await;
    assert_eq!(free_busy.status, 200, "{}", free_busy.body);
    assert!(free_busy.header("content-type").unwrap().starts_with("text/calendar"));
    let busy: Vec<&str> = free_busy.body.lines().filter(|l| l.starts_with("FREEBUSY")).collect();
    assert_eq!(
        busy,
        [
            "FREEBUSY;FBTYPE=BUSY:20261214T100000Z/20261214T110000Z",
            "FREEBUSY;FBTYPE=BUSY:20261215T140000Z/20261215T150000Z"
        ]
    );
}

#[tokio::test]
async fn sync_collection_reports_writes_and_removals_since_a_token() {
    let client = Client::start().await;
    for uid in ["a", "b", "c"] {
        client
            .put(
                &format!("{CALENDAR}{uid}.ics"),
                "text/calendar",
                &event(uid, "20261210T090000Z", uid),
                &[],
            )
            .await;
    }
    let sync = |token: &str| {
        format!(
            r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#
        )
    };
    let first = client.multistatus("REPORT", CALENDAR, "0", &sync("")).await;
    let mut all = hrefs(&first);
    all.sort();
    assert_eq!(all, ["a", "b", "c"].map(|n| format!("{CALENDAR}{n}.ics")));
    let token = first.child(DAV, "sync-token").unwrap().text();

    let quiet = client.multistatus("REPORT", CALENDAR, "0", &sync(&token)).await;
    assert!(hrefs(&quiet).is_empty());
    assert_eq!(quiet.child(DAV, "sync-token").unwrap().text(), token);

    client
        .put(
            &format!("{CALENDAR}b.ics"),
            "text/calendar",
            &event("b", "20261211T090000Z", "b2"),
            &[],
        )
        .await;
    client
        .put(
            &format!("{CALENDAR}d.ics"),
            "text/calendar",
            &event("d", "20261210T090000Z", "d"),
            &[],
        )
        .await;
    assert_eq!(
        client.send("DELETE", &format!("{CALENDAR}c.ics"), &[], "").await.status,
        204
    );
    let changes = client.multistatus("REPORT", CALENDAR, "0", &sync(&token)).await;
    let mut changed = hrefs(&changes);
    changed.sort();
    assert_eq!(changed, ["b", "c", "d"].map(|n| format!("{CALENDAR}{n}.ics")));
    assert_eq!(
        status_of(&changes, &format!("{CALENDAR}c.ics")).as_deref(),
        Some("HTTP/1.1 404 Not Found")
    );
    assert!(prop(&changes, &format!("{CALENDAR}d.ics"), DAV, "getetag").is_some());
    let newer = changes.child(DAV, "sync-token").unwrap().text();
    assert_ne!(newer, token);

    // The ctag moved with it.
    let props = client
        .multistatus(
            "PROPFIND",
            CALENDAR,
            "0",
            r#"<propfind xmlns="DAV:"><prop><getctag xmlns="http://calendarserver.org/ns/"/></prop></propfind>"#,
        )
        .await;
    assert_eq!(
        prop(&props, CALENDAR, "http://calendarserver.org/ns/", "getctag")
            .unwrap()
            .text(),
        newer
    );
    for foreign in [
        "urn:x-estafeta:sync:999999:1",
        "http://example.com/sync/1",
        "urn:x-estafeta:sync:1:99999",
    ] {
        let refused = client.send("REPORT", CALENDAR, &[("Depth", "0")], &sync(foreign)).await;
        assert_eq!(
            (refused.status, condition(&refused).as_str()),
            (403, "valid-sync-token"),
            "{foreign}"
        );
    }
}

#[tokio::test]
async fn addressbook_query_and_multiget_find_cards() {
    let client = Client::start().await;
    let book = format!("{BOOKS}default/");
    let people = [
        ("ana", "Ana Souza", "ana@example.com.br"),
        ("bob", "Bob Stone", "bob@example.org"),
        ("carla", "Carla Dias", "carla@example.com.br"),
    ];
    for (uid, name, email) in people {
        let put = client
            .put(&format!("{book}{uid}.vcf"), "text/vcard", &card(uid, name, email), &[])
            .await;
        assert_eq!(put.status, 201, "{}", put.body);
    }
    let search = |filter: &str, limit: &str| {
        format!(
            r#"<CR:addressbook-query xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><CR:address-data/></D:prop>
{filter}{limit}</CR:addressbook-query>"#
        )
    };
    let brazil = client
        .multistatus(
            "REPORT",
            &book,
            "1",
            &search(
                r#"<CR:filter><CR:prop-filter name="EMAIL"><CR:text-match match-type="ends-with">.BR</CR:text-match></CR:prop-filter></CR:filter>"#,
                "",
            ),
        )
        .await;
    let mut found = hrefs(&brazil);
    found.sort();
    assert_eq!(found, [format!("{book}ana.vcf"), format!("{book}carla.vcf")]);
    assert!(
        prop(&brazil, &format!("{book}ana.vcf"), CARDDAV, "address-data")
            .unwrap()
            .text()
            .contains("FN:Ana Souza")
    );
    let both = client
        .multistatus(
            "REPORT",
            &book,
            "1",
            &search(
                r#"<CR:filter test="allof"><CR:prop-filter name="FN"><CR:text-match>s</CR:text-match></CR:prop-filter>
<CR:prop-filter name="EMAIL"><CR:text-match match-type="ends-with">.org</CR:text-match></CR:prop-filter></CR:filter>"#,
                "",
            ),
        )
        .await;
    assert_eq!(hrefs(&both), [format!("{book}bob.vcf")]);
    // A limit caps the answer and says so with a 507 for the collection.
    let capped = client
        .multistatus(
            "REPORT",
            &book,
            "1",
            &search("<CR:filter/>", "<CR:limit><CR:nresults>1</CR:nresults></CR:limit>"),
        )
        .await;
    assert_eq!(hrefs(&capped).len(), 2);
    assert_eq!(
        status_of(&capped, &book).as_deref(),
        Some("HTTP/1.1 507 Insufficient Storage")
    );
    let collation = client
        .send(
            "REPORT",
            &book,
            &[("Depth", "1")],
            &search(
                r#"<CR:filter><CR:prop-filter name="FN"><CR:text-match collation="i;klingon">a</CR:text-match></CR:prop-filter></CR:filter>"#,
                "",
            ),
        )
        .await;
    assert_eq!(
        (collation.status, condition(&collation).as_str()),
        (403, "supported-collation")
    );

    let multiget = client
        .multistatus(
            "REPORT",
            &book,
            "1",
            &format!(
                r#"<CR:addressbook-multiget xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:prop><CR:address-data/></D:prop>
<D:href>{book}bob.vcf</D:href><D:href>{book}zed.vcf</D:href></CR:addressbook-multiget>"#
            ),
        )
        .await;
    assert!(prop(&multiget, &format!("{book}bob.vcf"), CARDDAV, "address-data").is_some());
    assert_eq!(
        status_of(&multiget, &format!("{book}zed.vcf")).as_deref(),
        Some("HTTP/1.1 404 Not Found")
    );
    // A calendar report on an address book is not one it runs.
    let wrong = client
        .send(
            "REPORT",
            &book,
            &[("Depth", "1")],
            &query("<C:comp-filter name=\"VEVENT\"/>"),
        )
        .await;
    assert_eq!((wrong.status, condition(&wrong).as_str()), (403, "supported-report"));
}

#[tokio::test]
async fn expand_alarms_and_principal_search_answer_as_the_rfcs_say() {
    let client = Client::start().await;
    let daily = event("daily", "20261207T090000Z", "Stand-up").replace(
        "DURATION:PT1H\r\n",
        "DURATION:PT15M\r\nRRULE:FREQ=DAILY\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\n",
    );
    let put = client
        .put(&format!("{CALENDAR}daily.ics"), "text/calendar", &daily, &[])
        .await;
    assert_eq!(put.status, 201, "{}", put.body);

    // RFC 4791 9.6.5: two days of a daily event come back as two instances.
    let expanded = client
        .multistatus(
            "REPORT",
            CALENDAR,
            "1",
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop>
<C:calendar-data><C:expand start="20261210T000000Z" end="20261212T000000Z"/></C:calendar-data></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
<C:time-range start="20261210T000000Z" end="20261212T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#,
        )
        .await;
    let data = prop(&expanded, &format!("{CALENDAR}daily.ics"), CALDAV, "calendar-data")
        .unwrap()
        .text();
    assert_eq!(data.matches("BEGIN:VEVENT").count(), 2, "{data}");
    assert!(!data.contains("RRULE"), "{data}");
    assert!(data.contains("RECURRENCE-ID:20261210T090000Z") && data.contains("RECURRENCE-ID:20261211T090000Z"));
    assert!(data.contains("BEGIN:VALARM"), "{data}");

    // RFC 4791 9.9: the alarm rings at 08:50 each day.
    let alarm = |start: &str, end: &str| {
        format!(
            r#"<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>
<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VALARM">
<C:time-range start="{start}" end="{end}"/></C:comp-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#
        )
    };
    let ringing = client
        .multistatus("REPORT", CALENDAR, "1", &alarm("20261215T084500Z", "20261215T085500Z"))
        .await;
    assert_eq!(hrefs(&ringing), [format!("{CALENDAR}daily.ics")]);
    let quiet = client
        .multistatus("REPORT", CALENDAR, "1", &alarm("20261215T090000Z", "20261215T100000Z"))
        .await;
    assert!(hrefs(&quiet).is_empty());

    // RFC 3744 9.4: the caller finds itself, and nobody else.
    let search = |name: &str| {
        format!(
            r#"<D:principal-property-search xmlns:D="DAV:"><D:property-search><D:prop><D:displayname/></D:prop>
<D:match>{name}</D:match></D:property-search><D:prop><D:displayname/></D:prop></D:principal-property-search>"#
        )
    };
    let me = client
        .multistatus("REPORT", "/dav/principals/", "0", &search("ANN"))
        .await;
    assert_eq!(hrefs(&me), ["/dav/principals/ann@example.com/"]);
    let bob = client
        .multistatus("REPORT", "/dav/principals/", "0", &search("bob"))
        .await;
    assert!(hrefs(&bob).is_empty());
    let set = client
        .send(
            "REPORT",
            "/dav/principals/",
            &[("Depth", "0")],
            r#"<D:principal-search-property-set xmlns:D="DAV:"/>"#,
        )
        .await;
    assert_eq!(set.status, 200);
    assert!(set.body.contains("displayname"), "{}", set.body);
}
