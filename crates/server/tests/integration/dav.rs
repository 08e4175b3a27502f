//! CalDAV and CardDAV on a running server, over real sockets: discovery
//! from the well-known name to the default collections, making
//! collections, writing resources under their preconditions (RFC 4791
//! 5.3.2.1, RFC 6352 6.3.2.1, RFC 9110 13.1), properties of the client's
//! own, COPY, MOVE and DELETE; each error with its status and its
//! precondition element (RFC 4918 16).

use base64::Engine;
use estafeta_core::config::Service;
use estafeta_dav::xml::{self, APPLE_ICAL, CALDAV, CARDDAV, DAV, Element};
use estafeta_testkit::{HttpResponse, TestServer, http_request};

pub(crate) const HOME: &str = "/dav/calendars/ann@example.com/";
pub(crate) const BOOKS: &str = "/dav/addressbooks/ann@example.com/";

pub(crate) struct Client {
    pub server: TestServer,
    credentials: String,
}

pub(crate) fn event(uid: &str, start: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
DTSTAMP:20261201T000000Z\r\nDTSTART:{start}\r\nDURATION:PT1H\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

pub(crate) fn card(uid: &str, name: &str, email: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEMAIL;TYPE=work:{email}\r\nEND:VCARD\r\n"
    )
}

impl Client {
    pub async fn start() -> Client {
        let server = TestServer::start().await;
        server.add_account("ann@example.com", "ann's password").await;
        server.add_account("bob@example.com", "bob's password").await;
        Client {
            server,
            credentials: "ann@example.com:ann's password".into(),
        }
    }

    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        let authorization = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(&self.credentials)
        );
        let mut all = vec![("Authorization", authorization.as_str())];
        all.extend_from_slice(headers);
        http_request(self.server.addr(Service::Http), method, path, &all, body.as_bytes()).await
    }

    /// A request whose answer is a 207 multistatus.
    pub async fn multistatus(&self, method: &str, path: &str, depth: &str, body: &str) -> Element {
        let response = self
            .send(
                method,
                path,
                &[("Depth", depth), ("Content-Type", "application/xml")],
                body,
            )
            .await;
        assert_eq!(response.status, 207, "{method} {path}: {}", response.body);
        let root = xml::parse(response.body.as_bytes()).expect("a multistatus is XML");
        assert!(root.is(DAV, "multistatus"));
        root
    }

    pub async fn put(&self, path: &str, content_type: &str, body: &str, headers: &[(&str, &str)]) -> HttpResponse {
        let mut all = vec![("Content-Type", content_type)];
        all.extend_from_slice(headers);
        self.send("PUT", path, &all, body).await
    }
}

/// The hrefs of a multistatus's responses.
pub(crate) fn hrefs(multistatus: &Element) -> Vec<String> {
    multistatus
        .children_named(DAV, "response")
        .filter_map(|response| response.child(DAV, "href"))
        .map(Element::text)
        .collect()
}

/// A property of the response for `href`, as found (200) there.
pub(crate) fn prop<'a>(multistatus: &'a Element, href: &str, ns: &str, local: &str) -> Option<&'a Element> {
    let response = multistatus
        .children_named(DAV, "response")
        .find(|response| response.child(DAV, "href").is_some_and(|h| h.text() == href))?;
    response
        .children_named(DAV, "propstat")
        .filter(|stat| stat.child(DAV, "status").is_some_and(|s| s.text().contains(" 200 ")))
        .find_map(|stat| stat.child(DAV, "prop")?.child(ns, local))
}

/// The status of each property of a one-response multistatus.
fn statuses(multistatus: &Element) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for stat in multistatus
        .children_named(DAV, "response")
        .flat_map(|response| response.children_named(DAV, "propstat"))
    {
        let status = stat.child(DAV, "status").map(Element::text).unwrap_or_default();
        for element in stat.child(DAV, "prop").into_iter().flat_map(Element::elements) {
            out.push((element.name.local.clone(), status.clone()));
        }
    }
    out.sort();
    out
}

/// The precondition element named in an error body.
pub(crate) fn condition(response: &HttpResponse) -> String {
    let root = xml::parse(response.body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {}", response.body));
    assert!(root.is(DAV, "error"), "{}", response.body);
    root.elements()
        .find(|element| element.name.local != "responsedescription")
        .map(|element| element.name.local.clone())
        .unwrap_or_default()
}

const PROPS: &str = r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"
 xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:A="http://apple.com/ns/ical/" xmlns:CS="http://calendarserver.org/ns/">
<D:prop><D:resourcetype/><D:displayname/><D:current-user-principal/><C:calendar-home-set/><CR:addressbook-home-set/>
<C:supported-calendar-component-set/><A:calendar-color/><D:sync-token/><CS:getctag/><D:getetag/>
<D:current-user-privilege-set/><D:supported-report-set/><X:order xmlns:X="urn:example:client"/></D:prop></D:propfind>"#;

#[tokio::test]
async fn a_client_finds_its_principal_homes_and_default_collections() {
    let client = Client::start().await;
    // Before any login: OPTIONS names what the server speaks.
    let options = http_request(client.server.addr(Service::Http), "OPTIONS", "/dav/", &[], b"").await;
    assert_eq!(options.status, 200);
    let dav = options.header("dav").unwrap();
    assert!(
        dav.contains("calendar-access") && dav.contains("addressbook") && dav.starts_with('1'),
        "{dav}"
    );
    assert!(options.header("allow").unwrap().contains("REPORT"));
    let anonymous = http_request(
        client.server.addr(Service::Http),
        "PROPFIND",
        "/dav/",
        &[("Depth", "0")],
        b"",
    )
    .await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").unwrap().starts_with("Basic"));

    for name in ["/.well-known/caldav", "/.well-known/carddav"] {
        let moved = client.send("PROPFIND", name, &[("Depth", "0")], "").await;
        assert_eq!((moved.status, moved.header("location")), (301, Some("/dav/")), "{name}");
    }
    let root = client.multistatus("PROPFIND", "/dav/", "0", PROPS).await;
    let principal = prop(&root, "/dav/", DAV, "current-user-principal").unwrap().text();
    assert_eq!(principal, "/dav/principals/ann@example.com/");
    let found = client.multistatus("PROPFIND", &principal, "0", PROPS).await;
    let home = prop(&found, &principal, CALDAV, "calendar-home-set").unwrap().text();
    let books = prop(&found, &principal, CARDDAV, "addressbook-home-set")
        .unwrap()
        .text();
    assert_eq!((home.as_str(), books.as_str()), (HOME, BOOKS));
    assert!(
        prop(&found, &principal, DAV, "resourcetype")
            .unwrap()
            .child(DAV, "principal")
            .is_some()
    );

    // A new account has a calendar and an address book from its first look.
    let calendars = client.multistatus("PROPFIND", &home, "1", PROPS).await;
    assert_eq!(hrefs(&calendars), [HOME, "/dav/calendars/ann@example.com/default/"]);
    let default = "/dav/calendars/ann@example.com/default/";
    let kind = prop(&calendars, default, DAV, "resourcetype").unwrap();
    assert!(kind.child(CALDAV, "calendar").is_some() && kind.child(DAV, "collection").is_some());
    assert_eq!(
        prop(&calendars, default, DAV, "displayname").unwrap().text(),
        "Calendar"
    );
    let components: Vec<_> = prop(&calendars, default, CALDAV, "supported-calendar-component-set")
        .unwrap()
        .children_named(CALDAV, "comp")
        .filter_map(|comp| comp.attr("name"))
        .map(str::to_owned)
        .collect();
    assert_eq!(components, ["VEVENT", "VTODO", "VJOURNAL"]);
    let token = prop(&calendars, default, DAV, "sync-token").unwrap().text();
    assert_eq!(
        prop(&calendars, default, "http://calendarserver.org/ns/", "getctag")
            .unwrap()
            .text(),
        token
    );
    let reports = prop(&calendars, default, DAV, "supported-report-set").unwrap().to_xml();
    assert!(
        reports.contains("calendar-query") && reports.contains("sync-collection"),
        "{reports}"
    );
    let books_found = client.multistatus("PROPFIND", &books, "1", PROPS).await;
    let book = "/dav/addressbooks/ann@example.com/default/";
    assert!(
        prop(&books_found, book, DAV, "resourcetype")
            .unwrap()
            .child(CARDDAV, "addressbook")
            .is_some()
    );

    // Properties nobody has are listed under 404, unless the client prefers
    // a minimal answer.
    let missing = statuses(&client.multistatus("PROPFIND", default, "0", PROPS).await);
    assert!(
        missing.contains(&("order".into(), "HTTP/1.1 404 Not Found".into())),
        "{missing:?}"
    );
    let minimal = client
        .send(
            "PROPFIND",
            default,
            &[("Depth", "0"), ("Prefer", "return=minimal")],
            PROPS,
        )
        .await;
    assert!(!minimal.body.contains("404"), "{}", minimal.body);
    // allprop and propname.
    let all = client.multistatus("PROPFIND", default, "0", "").await;
    assert!(prop(&all, default, DAV, "displayname").is_some());
    let names = client
        .multistatus(
            "PROPFIND",
            default,
            "0",
            r#"<propfind xmlns="DAV:"><propname/></propfind>"#,
        )
        .await;
    let listed = prop(&names, default, DAV, "sync-token").unwrap();
    assert!(listed.children.is_empty());
}

#[tokio::test]
async fn requests_dav_cannot_answer_get_their_status_and_precondition() {
    let client = Client::start().await;
    let infinite = client.send("PROPFIND", HOME, &[("Depth", "infinity")], PROPS).await;
    assert_eq!(
        (infinite.status, condition(&infinite).as_str()),
        (403, "propfind-finite-depth")
    );
    let no_depth = client.send("PROPFIND", HOME, &[], PROPS).await;
    assert_eq!(no_depth.status, 403);
    let broken = client
        .send("PROPFIND", HOME, &[("Depth", "0")], "<propfind xmlns=\"DAV:\"><prop>")
        .await;
    assert_eq!(broken.status, 400);
    let undeclared = client
        .send(
            "PROPFIND",
            HOME,
            &[("Depth", "0")],
            "<D:propfind xmlns:D=\"DAV:\"><E:prop/></D:propfind>",
        )
        .await;
    assert_eq!(undeclared.status, 400);
    let entity = client
        .send(
            "PROPFIND",
            HOME,
            &[("Depth", "0")],
            "<!DOCTYPE d [<!ENTITY x \"xx\">]><propfind xmlns=\"DAV:\">&x;</propfind>",
        )
        .await;
    assert_eq!(entity.status, 400);
    let theirs = client
        .send("PROPFIND", "/dav/calendars/bob@example.com/", &[("Depth", "0")], "")
        .await;
    assert_eq!(theirs.status, 403);
    let nowhere = client.send("PROPFIND", "/dav/files/", &[("Depth", "0")], "").await;
    assert_eq!(nowhere.status, 404);
    let missing = client
        .send(
            "PROPFIND",
            "/dav/calendars/ann@example.com/nope/",
            &[("Depth", "0")],
            "",
        )
        .await;
    assert_eq!(missing.status, 404);
    let report = client
        .send(
            "REPORT",
            "/dav/calendars/ann@example.com/default/",
            &[("Depth", "1")],
            r#"<D:expand-property xmlns:D="DAV:"/>"#,
        )
        .await;
    assert_eq!((report.status, condition(&report).as_str()), (403, "supported-report"));
    let unknown = client.send("LOCK", HOME, &[], "").await;
    assert_eq!(unknown.status, 405);
}

#[tokio::test]
async fn collections_are_made_with_their_properties_and_keep_the_clients_own() {
    let client = Client::start().await;
    let tasks = format!("{HOME}tasks/");
    let made = client
        .send(
            "MKCALENDAR",
            &tasks,
            &[],
            r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<D:displayname>Tasks</D:displayname><C:calendar-description>To do</C:calendar-description>
<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
<A:calendar-color xmlns:A="http://apple.com/ns/ical/">#00aa00</A:calendar-color>
<C:calendar-timezone>BEGIN:VCALENDAR&#13;
END:VCALENDAR</C:calendar-timezone></D:prop></D:set></C:mkcalendar>"#,
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let again = client.send("MKCALENDAR", &tasks, &[], "").await;
    assert_eq!(
        (again.status, condition(&again).as_str()),
        (405, "resource-must-be-null")
    );
    let misplaced = client.send("MKCALENDAR", &format!("{BOOKS}cal/"), &[], "").await;
    assert_eq!(
        (misplaced.status, condition(&misplaced).as_str()),
        (403, "calendar-collection-location-ok")
    );
    let plain = client.send("MKCOL", &format!("{HOME}plain/"), &[], "").await;
    assert_eq!((plain.status, condition(&plain).as_str()), (403, "valid-resourcetype"));
    let not_xml = client
        .send(
            "MKCOL",
            &format!("{BOOKS}x/"),
            &[("Content-Type", "text/plain")],
            "hello",
        )
        .await;
    assert_eq!(not_xml.status, 415);

    let found = client.multistatus("PROPFIND", &tasks, "0", PROPS).await;
    assert_eq!(prop(&found, &tasks, DAV, "displayname").unwrap().text(), "Tasks");
    assert_eq!(
        prop(&found, &tasks, APPLE_ICAL, "calendar-color").unwrap().text(),
        "#00aa00"
    );
    let comps = prop(&found, &tasks, CALDAV, "supported-calendar-component-set")
        .unwrap()
        .to_xml();
    assert!(comps.contains("VTODO") && !comps.contains("VEVENT"), "{comps}");
    let zone = client
        .multistatus(
            "PROPFIND",
            &tasks,
            "0",
            r#"<propfind xmlns="DAV:"><prop><calendar-timezone xmlns="urn:ietf:params:xml:ns:caldav"/></prop></propfind>"#,
        )
        .await;
    assert_eq!(
        prop(&zone, &tasks, CALDAV, "calendar-timezone").unwrap().text(),
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR"
    );

    // An extended MKCOL makes an address book (RFC 5689).
    let friends = format!("{BOOKS}friends/");
    let book = client
        .send(
            "MKCOL",
            &friends,
            &[("Content-Type", "application/xml")],
            r#"<D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>
<D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype><D:displayname>Friends</D:displayname>
</D:prop></D:set></D:mkcol>"#,
        )
        .await;
    assert_eq!(book.status, 201, "{}", book.body);

    // PROPPATCH: name and a property of the client's own, together.
    let patch = client
        .multistatus(
            "PROPPATCH",
            &tasks,
            "0",
            r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Chores</D:displayname>
<X:order xmlns:X="urn:example:client">3</X:order></D:prop></D:set></D:propertyupdate>"#,
        )
        .await;
    assert_eq!(
        statuses(&patch),
        [
            ("displayname".to_string(), "HTTP/1.1 200 OK".to_string()),
            ("order".into(), "HTTP/1.1 200 OK".into())
        ]
    );
    let found = client.multistatus("PROPFIND", &tasks, "0", PROPS).await;
    assert_eq!(prop(&found, &tasks, DAV, "displayname").unwrap().text(), "Chores");
    assert_eq!(prop(&found, &tasks, "urn:example:client", "order").unwrap().text(), "3");
    // One protected property fails the whole update (RFC 4918 9.2).
    let refused = client
        .multistatus(
            "PROPPATCH",
            &tasks,
            "0",
            r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Other</D:displayname>
<D:getetag>"x"</D:getetag></D:prop></D:set><D:remove><D:prop><X:order xmlns:X="urn:example:client"/></D:prop></D:remove></D:propertyupdate>"#,
        )
        .await;
    assert_eq!(
        statuses(&refused),
        [
            ("displayname".to_string(), "HTTP/1.1 424 Failed Dependency".to_string()),
            ("getetag".into(), "HTTP/1.1 403 Forbidden".into()),
            ("order".into(), "HTTP/1.1 424 Failed Dependency".into())
        ]
    );
    let found = client.multistatus("PROPFIND", &tasks, "0", PROPS).await;
    assert_eq!(prop(&found, &tasks, DAV, "displayname").unwrap().text(), "Chores");
    assert!(prop(&found, &tasks, "urn:example:client", "order").is_some());
    let removed = client
        .multistatus(
            "PROPPATCH",
            &tasks,
            "0",
            r#"<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><X:order xmlns:X="urn:example:client"/></D:prop></D:remove></D:propertyupdate>"#,
        )
        .await;
    assert_eq!(
        statuses(&removed),
        [("order".to_string(), "HTTP/1.1 200 OK".to_string())]
    );
    let found = client.multistatus("PROPFIND", &tasks, "0", PROPS).await;
    assert!(prop(&found, &tasks, "urn:example:client", "order").is_none());

    let gone = client.send("DELETE", &tasks, &[], "").await;
    assert_eq!(gone.status, 204);
    let after = client.send("PROPFIND", &tasks, &[("Depth", "0")], "").await;
    assert_eq!(after.status, 404);
}

#[tokio::test]
async fn resources_are_written_only_as_their_preconditions_allow() {
    let client = Client::start().await;
    let calendar = "/dav/calendars/ann@example.com/default/";
    let path = format!("{calendar}standup.ics");
    let body = event("standup", "20261210T090000Z", "Stand-up");
    let created = client
        .put(&path, "text/calendar", &body, &[("If-None-Match", "*")])
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let etag = created.header("etag").unwrap().to_owned();
    let got = client.send("GET", &path, &[], "").await;
    assert_eq!((got.status, got.body.as_str()), (200, body.as_str()));
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    assert!(got.header("content-type").unwrap().starts_with("text/calendar"));
    let unchanged = client.send("GET", &path, &[("If-None-Match", &etag)], "").await;
    assert_eq!(unchanged.status, 304);

    let again = client
        .put(&path, "text/calendar", &body, &[("If-None-Match", "*")])
        .await;
    assert_eq!(again.status, 412);
    let stale = client
        .put(&path, "text/calendar", &body, &[("If-Match", "\"not-the-tag\"")])
        .await;
    assert_eq!(stale.status, 412);
    let changed = event("standup", "20261210T093000Z", "Stand-up, later");
    let replaced = client
        .put(&path, "text/calendar", &changed, &[("If-Match", &etag)])
        .await;
    assert_eq!(replaced.status, 204);
    assert_ne!(replaced.header("etag"), Some(etag.as_str()));

    // RFC 4791 5.3.2.1: one UID per collection, and a resource keeps its UID.
    let twin = client
        .put(&format!("{calendar}twin.ics"), "text/calendar", &changed, &[])
        .await;
    assert_eq!((twin.status, condition(&twin).as_str()), (409, "no-uid-conflict"));
    assert!(twin.body.contains(&path), "{}", twin.body);
    let other_uid = client
        .put(&path, "text/calendar", &event("other", "20261210T090000Z", "x"), &[])
        .await;
    assert_eq!(
        (other_uid.status, condition(&other_uid).as_str()),
        (409, "no-uid-conflict")
    );

    for (data, content_type, status, expected) in [
        ("not a calendar", "text/calendar", 403, "valid-calendar-data"),
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:m\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "text/calendar",
            403,
            "valid-calendar-object-resource",
        ),
        (body.as_str(), "text/vcard", 415, "supported-calendar-data"),
    ] {
        let refused = client.put(&format!("{calendar}bad.ics"), content_type, data, &[]).await;
        assert_eq!(
            (refused.status, condition(&refused).as_str()),
            (status, expected),
            "{data}"
        );
    }
    let orphan = client
        .put(
            "/dav/calendars/ann@example.com/missing/x.ics",
            "text/calendar",
            &body,
            &[],
        )
        .await;
    assert_eq!(orphan.status, 409);
    let big = format!(
        "{}X-PAD:{}\r\nEND:VCALENDAR\r\n",
        body.trim_end_matches("END:VCALENDAR\r\n"),
        "x".repeat(1 << 20)
    );
    let too_big = client
        .put(&format!("{calendar}big.ics"), "text/calendar", &big, &[])
        .await;
    assert_eq!(
        (too_big.status, condition(&too_big).as_str()),
        (403, "max-resource-size")
    );
    // A calendar made for tasks takes no event.
    client
        .send(
            "MKCALENDAR",
            &format!("{HOME}todo/"),
            &[],
            r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>
<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#,
        )
        .await;
    let wrong = client
        .put(
            &format!("{HOME}todo/e.ics"),
            "text/calendar",
            &event("e", "20261210T090000Z", "x"),
            &[],
        )
        .await;
    assert_eq!(
        (wrong.status, condition(&wrong).as_str()),
        (403, "supported-calendar-component")
    );

    // Cards: a vCard needs its UID.
    let card_path = format!("{BOOKS}default/ana.vcf");
    let no_uid = client
        .put(
            &card_path,
            "text/vcard",
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana\r\nEND:VCARD\r\n",
            &[],
        )
        .await;
    assert_eq!(
        (no_uid.status, condition(&no_uid).as_str()),
        (403, "valid-address-data")
    );
    let stored = client
        .put(
            &card_path,
            "text/vcard; charset=utf-8",
            &card("ana", "Ana Souza", "ana@example.com.br"),
            &[],
        )
        .await;
    assert_eq!(stored.status, 201);

    // DELETE: If-Match guards it too.
    let current = client
        .send("GET", &path, &[], "")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let guarded = client.send("DELETE", &path, &[("If-Match", "\"old\"")], "").await;
    assert_eq!(guarded.status, 412);
    let deleted = client.send("DELETE", &path, &[("If-Match", &current)], "").await;
    assert_eq!(deleted.status, 204);
    assert_eq!(client.send("GET", &path, &[], "").await.status, 404);
    assert_eq!(client.send("DELETE", &path, &[], "").await.status, 404);
    assert_eq!(client.send("DELETE", HOME, &[], "").await.status, 403);
}

#[tokio::test]
async fn copy_and_move_keep_one_uid_per_collection() {
    let client = Client::start().await;
    let default = "/dav/calendars/ann@example.com/default/";
    // The default calendar comes with the first look at the home.
    client.multistatus("PROPFIND", HOME, "1", "").await;
    let work = format!("{HOME}work/");
    assert_eq!(client.send("MKCALENDAR", &work, &[], "").await.status, 201);
    let source = format!("{default}a.ics");
    let body = event("a", "20261210T090000Z", "Review");
    assert_eq!(client.put(&source, "text/calendar", &body, &[]).await.status, 201);

    let twin = client
        .send("COPY", &source, &[("Destination", &format!("{default}b.ics"))], "")
        .await;
    assert_eq!((twin.status, condition(&twin).as_str()), (409, "no-uid-conflict"));
    let copied = client
        .send(
            "COPY",
            &source,
            &[("Destination", &format!("http://localhost{work}a.ics"))],
            "",
        )
        .await;
    assert_eq!(copied.status, 201);
    let kept = client
        .send(
            "COPY",
            &source,
            &[("Destination", &format!("{work}a.ics")), ("Overwrite", "F")],
            "",
        )
        .await;
    assert_eq!(kept.status, 412);
    assert_eq!(
        client.send("DELETE", &format!("{work}a.ics"), &[], "").await.status,
        204
    );

    let moved = client
        .send("MOVE", &source, &[("Destination", &format!("{work}moved.ics"))], "")
        .await;
    assert_eq!(moved.status, 201);
    assert_eq!(client.send("GET", &source, &[], "").await.status, 404);
    let there = client.send("GET", &format!("{work}moved.ics"), &[], "").await;
    assert_eq!((there.status, there.body.as_str()), (200, body.as_str()));
    // A rename within a collection keeps the UID.
    let renamed = client
        .send(
            "MOVE",
            &format!("{work}moved.ics"),
            &[("Destination", &format!("{work}renamed.ics"))],
            "",
        )
        .await;
    assert_eq!(renamed.status, 201);
    assert_eq!(
        client.send("GET", &format!("{work}renamed.ics"), &[], "").await.status,
        200
    );
    let across = client
        .send(
            "MOVE",
            &format!("{work}renamed.ics"),
            &[("Destination", &format!("{BOOKS}default/x.vcf"))],
            "",
        )
        .await;
    assert_eq!(across.status, 403);
}

#[tokio::test]
async fn the_file_space_holds_any_bytes_in_nested_collections() {
    let client = Client::start().await;
    let space = "/dav/files/ann@example.com/";
    let listing = client.multistatus("PROPFIND", space, "1", "").await;
    assert_eq!(hrefs(&listing), [space]);
    assert_eq!(
        client.send("MKCOL", &format!("{space}docs/"), &[], "").await.status,
        201
    );
    assert_eq!(
        client.send("MKCOL", &format!("{space}docs/"), &[], "").await.status,
        405
    );
    assert_eq!(client.send("MKCOL", &format!("{space}a/b/"), &[], "").await.status, 409);
    let body_refused = client.send("MKCOL", &format!("{space}x/"), &[], "<x/>").await;
    assert_eq!(body_refused.status, 415);
    let file = format!("{space}docs/r%C3%A9sum%C3%A9.txt");
    let put = client.put(&file, "text/plain", "twelve bytes", &[]).await;
    assert_eq!(put.status, 201);
    assert_eq!(
        client
            .put(&format!("{space}none/x"), "text/plain", "x", &[])
            .await
            .status,
        409
    );
    let got = client.send("GET", &file, &[], "").await;
    assert_eq!((got.status, got.body.as_str()), (200, "twelve bytes"));
    assert_eq!(got.header("content-type"), Some("text/plain"));
    assert_eq!(got.header("etag"), put.header("etag"));
    let stale = client.put(&file, "text/plain", "x", &[("If-Match", "\"nope\"")]).await;
    assert_eq!(stale.status, 412);

    let docs = client.multistatus("PROPFIND", &format!("{space}docs/"), "1", "").await;
    assert_eq!(hrefs(&docs), [format!("{space}docs/"), file.clone()]);
    assert_eq!(prop(&docs, &file, DAV, "getcontentlength").unwrap().text(), "12");
    assert!(
        prop(&docs, &format!("{space}docs/"), DAV, "resourcetype")
            .unwrap()
            .child(DAV, "collection")
            .is_some()
    );

    // A property of the client's own travels with a MOVE.
    let patch = client
        .multistatus(
            "PROPPATCH",
            &file,
            "0",
            r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><T:tag xmlns:T="urn:example:t">blue</T:tag></D:prop></D:set></D:propertyupdate>"#,
        )
        .await;
    assert!(patch.to_xml().contains("200 OK"));
    let protected = client
        .multistatus(
            "PROPPATCH",
            &file,
            "0",
            r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag></D:prop></D:set></D:propertyupdate>"#,
        )
        .await;
    assert!(protected.to_xml().contains("403 Forbidden"));
    let moved = client
        .send(
            "MOVE",
            &format!("{space}docs/"),
            &[("Destination", &format!("{space}archive/"))],
            "",
        )
        .await;
    assert_eq!(moved.status, 201);
    let archived = format!("{space}archive/r%C3%A9sum%C3%A9.txt");
    let found = client
        .multistatus(
            "PROPFIND",
            &archived,
            "0",
            r#"<propfind xmlns="DAV:"><prop><tag xmlns="urn:example:t"/></prop></propfind>"#,
        )
        .await;
    assert_eq!(prop(&found, &archived, "urn:example:t", "tag").unwrap().text(), "blue");
    assert_eq!(client.send("GET", &file, &[], "").await.status, 404);
    let into_itself = client
        .send(
            "COPY",
            &format!("{space}archive/"),
            &[("Destination", &format!("{space}archive/in/"))],
            "",
        )
        .await;
    assert_eq!(into_itself.status, 403);
    assert_eq!(
        client.send("DELETE", &format!("{space}archive/"), &[], "").await.status,
        204
    );
    assert_eq!(client.send("GET", &archived, &[], "").await.status, 404);
    let theirs = client
        .send("PROPFIND", "/dav/files/bob@example.com/", &[("Depth", "0")], "")
        .await;
    assert_eq!(theirs.status, 403);
}
