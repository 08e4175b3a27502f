//! Message commands over real sockets: APPEND, FETCH (every item), STORE,
//! COPY/MOVE with UIDPLUS, EXPUNGE, SEARCH/ESEARCH, SORT and THREAD.

use crate::common::{Imap, VERSIONS, deliver, message, server};

const MULTIPART: &str = "From: =?utf-8?q?Jos=C3=A9?= <jose@remote.test>\r\nTo: alice@example.test\r\n\
Subject: report\r\nDate: Wed, 25 Nov 2026 10:00:00 +0100\r\nMessage-ID: <report@remote.test>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Le caf=E9 est pr=EAt.\r\n\
--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\nAAECAw==\r\n--b1--\r\n";

#[tokio::test]
async fn append_with_flags_date_and_multiappend() {
    let server = server().await;
    let mut imap = Imap::inbox(&server).await;
    let appended = imap
        .append(
            "INBOX",
            "(\\Seen $Work) \"05-Nov-2026 10:20:30 +0100\"",
            message("one", "x").as_bytes(),
        )
        .await;
    appended.ok();
    assert!(appended.tagged.contains("[APPENDUID "), "{appended:?}");
    assert!(appended.has("* 1 EXISTS"), "the selected mailbox grows: {appended:?}");
    let fetched = imap.ok("FETCH 1 (FLAGS INTERNALDATE)").await;
    // Appended to the selected mailbox: this session is the first to see it.
    assert!(fetched.has("FLAGS (\\Seen \\Recent $Work)"), "{fetched:?}");
    // RFC 3501 6.3.11: the date as the client gave it, zone and all.
    assert!(
        fetched.has("INTERNALDATE \"05-Nov-2026 10:20:30 +0100\""),
        "{fetched:?}"
    );
    // MULTIAPPEND (RFC 3502): two messages, one command, UIDs in order.
    let (a, b) = (message("two", "y"), message("three", "z"));
    let tag = imap.tag();
    imap.send_raw(
        format!(
            "{tag} APPEND INBOX {{{}+}}\r\n{a} (\\Flagged) {{{}+}}\r\n{b}\r\n",
            a.len(),
            b.len()
        )
        .as_bytes(),
    )
    .await;
    let multi = imap.finish(&tag).await;
    multi.ok();
    assert!(multi.tagged.contains(" 2:3]"), "{multi:?}");
    // The message as given: no CRLF is added at its end (clients compare
    // RFC822.SIZE with what they sent); bare line ends become CRLF.
    let unterminated = b"Subject: end\r\n\r\nno line end";
    let kept = imap.append("INBOX", "()", unterminated).await;
    kept.ok();
    let uid = kept.tagged.split(' ').nth(3).unwrap().trim_end_matches(']');
    let size = imap.ok(&format!("UID FETCH {uid} (RFC822.SIZE BODY.PEEK[TEXT])")).await;
    assert!(
        size.has(&format!("RFC822.SIZE {}", unterminated.len())) && size.has("{11}\r\nno line end)"),
        "{size:?}"
    );
    let missing = imap.append("Nope", "()", b"Subject: x\r\n\r\ny\r\n").await;
    assert!(missing.tagged.starts_with("NO [TRYCREATE]"), "{missing:?}");
    let impossible = imap.append("\"\"", "()", b"Subject: x\r\n\r\ny\r\n").await;
    assert!(impossible.tagged.starts_with("NO [NONEXISTENT]"), "{impossible:?}");
}

/// RFC 3501 6.4.4 (RFC 9051 6.4.4.1): BEFORE, ON and SINCE compare the
/// internal date's day "disregarding time and timezone": the day as the
/// date is written, in the zone APPEND gave it, not the day in UTC.
#[tokio::test]
async fn internal_dates_keep_their_zone_for_fetch_search_and_copy() {
    for version in VERSIONS {
        let server = server().await;
        let mut imap = Imap::inbox_as(&server, version).await;
        // In UTC these are 24 Mar 21:00, 24 Mar 22:00 and 25 Mar 21:00.
        let dates = [
            "24-Mar-2007 23:00:00 +0200",
            "25-Mar-2007 00:00:00 +0200",
            "26-Mar-2007 00:00:00 +0300",
        ];
        for (n, date) in dates.iter().enumerate() {
            imap.append("INBOX", &format!("\"{date}\""), message(&n.to_string(), "x").as_bytes())
                .await
                .ok();
        }
        let fetched = imap.ok("FETCH 1:3 INTERNALDATE").await;
        for (n, date) in dates.iter().enumerate() {
            assert!(
                fetched.has(&format!("{} FETCH (INTERNALDATE \"{date}\")", n + 1)),
                "{version:?}: {fetched:?}"
            );
        }
        // ESEARCH in both versions (IMAP4rev2 answers no plain SEARCH).
        for (key, expected) in [
            ("ON 24-Mar-2007", "ALL 1"),
            ("ON 25-Mar-2007", "ALL 2"),
            ("ON 26-Mar-2007", "ALL 3"),
            ("BEFORE 25-Mar-2007", "ALL 1"),
            ("SINCE 25-Mar-2007", "ALL 2:3"),
            ("SINCE 27-Mar-2007", ""),
        ] {
            let found = imap.ok(&format!("SEARCH RETURN (ALL) {key}")).await;
            let line = found.lines("ESEARCH");
            let results = line[0].split_once(") ").map_or("", |(_, rest)| rest);
            assert_eq!(results, expected, "{version:?} {key}: {found:?}");
        }
        // A copy keeps the date as written.
        imap.ok("COPY 3 Archive").await;
        imap.ok("SELECT Archive").await;
        let copied = imap.ok("FETCH 1 INTERNALDATE").await;
        assert!(
            copied.has(&format!("INTERNALDATE \"{}\"", dates[2])),
            "{version:?}: {copied:?}"
        );
    }
}

#[tokio::test]
async fn catenate_joins_text_and_parts_of_stored_messages() {
    // RFC 4469: APPEND ... CATENATE (TEXT literal / URL "imap-url").
    for version in VERSIONS {
        let server = server().await;
        let mut imap = Imap::inbox_as(&server, version).await;
        assert!(imap.ok("CAPABILITY").await.has(" CATENATE"));
        let catenate = |imap: &mut Imap, target: &str, parts: &[(&str, &str)]| {
            let tag = imap.tag();
            let mut command = format!("{tag} APPEND {target} (\\Seen) CATENATE (");
            for (i, (kind, value)) in parts.iter().enumerate() {
                if i > 0 {
                    command.push(' ');
                }
                match *kind {
                    "TEXT" => command.push_str(&format!("TEXT {{{}+}}\r\n{value}", value.len())),
                    _ => command.push_str(&format!("URL \"{value}\"")),
                }
            }
            command.push_str(")\r\n");
            (tag, command)
        };
        let (tag, command) = catenate(
            &mut imap,
            "INBOX",
            &[
                ("TEXT", "From: a@x.test\r\nSubject: first\r\n\r\n"),
                ("TEXT", "Hello world\r\n"),
            ],
        );
        imap.send_raw(command.as_bytes()).await;
        let first = imap.finish(&tag).await;
        assert!(first.tagged.starts_with("OK [APPENDUID "), "{version:?}: {first:?}");
        let validity: u32 = imap.ok("STATUS INBOX (UIDVALIDITY)").await.lines("STATUS")[0]
            .rsplit(' ')
            .next()
            .unwrap()
            .trim_end_matches(')')
            .parse()
            .unwrap();
        // The header of message 1 and a new body; then its body at an
        // offset; URLs relative to this server (RFC 5092 7.2).
        let header_url = format!("/INBOX;UIDVALIDITY={validity}/;UID=1/;SECTION=HEADER");
        let (tag, command) = catenate(
            &mut imap,
            "Archive",
            &[
                ("URL", header_url.as_str()),
                ("TEXT", "New body\r\n"),
                ("URL", "/INBOX/;UID=1/;SECTION=TEXT/;PARTIAL=6.5"),
            ],
        );
        imap.send_raw(command.as_bytes()).await;
        assert!(imap.finish(&tag).await.tagged.starts_with("OK"), "{version:?}");
        imap.ok("SELECT Archive").await;
        let joined = imap.ok("FETCH 1 BODY.PEEK[]").await;
        let expected = "From: a@x.test\r\nSubject: first\r\n\r\nNew body\r\nworld";
        assert!(
            joined.untagged[0].contains(&format!("{{{}}}\r\n{expected}", expected.len())),
            "{version:?}: {joined:?}"
        );
        // A URL naming nothing: NO [BADURL], and nothing is stored.
        for bad in [
            format!("/INBOX;UIDVALIDITY={}/;UID=1", validity + 1),
            "/INBOX/;UID=99".to_owned(),
            "/Nope/;UID=1".to_owned(),
            "imap://someone@elsewhere.test/INBOX/;UID=1".to_owned(),
        ] {
            let (tag, command) = catenate(&mut imap, "Archive", &[("TEXT", "X: y\r\n\r\n"), ("URL", bad.as_str())]);
            imap.send_raw(command.as_bytes()).await;
            let refused = imap.finish(&tag).await;
            assert!(
                refused.tagged.starts_with(&format!("NO [BADURL \"{bad}\"]")),
                "{version:?}: {refused:?}"
            );
        }
        assert!(imap.ok("NOOP").await.lines("").iter().all(|l| !l.ends_with("EXISTS")));
        assert_eq!(
            imap.ok("STATUS Archive (MESSAGES)").await.lines("STATUS"),
            ["STATUS \"Archive\" (MESSAGES 1)"]
        );
        // A target that does not exist: [TRYCREATE], before any URL is read.
        let (tag, command) = catenate(&mut imap, "Nope", &[("URL", "/INBOX/;UID=1")]);
        imap.send_raw(command.as_bytes()).await;
        assert!(
            imap.finish(&tag).await.tagged.starts_with("NO [TRYCREATE]"),
            "{version:?}"
        );
    }
}

#[tokio::test]
async fn fetch_envelope_bodystructure_and_sections() {
    let server = server().await;
    deliver(&server, MULTIPART).await;
    let mut imap = Imap::inbox(&server).await;
    let fetched = imap.ok("FETCH 1 (ENVELOPE BODYSTRUCTURE RFC822.SIZE UID)").await;
    let line = &fetched.untagged[0];
    assert!(line.contains("ENVELOPE (\"Wed, 25 Nov 2026 10:00:00 +0100\" \"report\" ((\"=?utf-8?b?Sm9zw6k=?=\" NIL \"jose\" \"remote.test\"))"), "{line}");
    assert!(line.contains("BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 21 1 NIL NIL NIL NIL)(\"application\" \"octet-stream\" (\"name\" \"data.bin\") NIL NIL \"base64\" 8 NIL (\"attachment\" (\"filename\" \"data.bin\")) NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)"), "{line}");
    assert!(line.contains(&format!("RFC822.SIZE {}", MULTIPART.len())), "{line}");
    assert!(line.contains("UID 1"));
    // PEEK leaves \Seen alone.
    let peek = imap
        .ok("FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (Subject)])")
        .await;
    let text = &peek.untagged[0];
    assert!(text.contains("BODY[1] {21}\r\nLe caf=E9 est pr=EAt."), "{text}");
    assert!(text.contains("BODY[2.MIME] {"), "{text}");
    assert!(
        text.contains("BODY[HEADER.FIELDS (Subject)] {19}\r\nSubject: report\r\n\r\n"),
        "{text}"
    );
    assert!(!imap.ok("FETCH 1 FLAGS").await.has("\\Seen"));
    // Partial (RFC 9051 6.4.5): origin echoed, bytes sliced.
    let partial = imap.ok("FETCH 1 BODY.PEEK[]<0.4>").await;
    assert!(partial.untagged[0].contains("BODY[]<0> {4}\r\nFrom"), "{partial:?}");
    // `<start>` alone runs to the end, as Dovecot takes it.
    let start = MULTIPART.len() - 8;
    let tail = imap.ok(&format!("FETCH 1 BODY.PEEK[]<{start}>")).await;
    assert!(
        tail.untagged[0].contains(&format!("BODY[]<{start}> {{8}}\r\n--b1--\r\n")),
        "{tail:?}"
    );
    // BINARY (RFC 3516): decoded, and its size.
    let binary = imap.ok("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.SIZE[1])").await;
    let line = &binary.untagged[0];
    assert!(line.contains("BINARY[2] ~{4}\r\n\0\u{1}\u{2}\u{3}"), "{line:?}");
    assert!(
        line.contains("BINARY.SIZE[2] 4") && line.contains("BINARY.SIZE[1] 17"),
        "{line}"
    );
    // A MIME header or HEADER.FIELDS section under BINARY is the header as
    // written (no transfer encoding to undo), as Dovecot answers it.
    let headers = imap
        .ok("FETCH 1 (BINARY.PEEK[2.MIME] BINARY.SIZE[2.MIME] BINARY.PEEK[HEADER.FIELDS (Subject)])")
        .await;
    let line = &headers.untagged[0];
    let mime = peek.untagged[0].split("BODY[2.MIME] {").nth(1).unwrap();
    let mime_len: usize = mime.split('}').next().unwrap().parse().unwrap();
    assert!(
        line.contains(&format!(
            "BINARY[2.MIME] {{{mime_len}}}\r\nContent-Type: application/octet-stream"
        )),
        "{line:?}"
    );
    assert!(line.contains(&format!("BINARY.SIZE[2.MIME] {mime_len}")), "{line:?}");
    assert!(
        line.contains("BINARY[HEADER.FIELDS (Subject)] {19}\r\nSubject: report\r\n\r\n"),
        "{line:?}"
    );
    // A body fetch without PEEK sets \Seen and says so.
    let read = imap.ok("FETCH 1 BODY[TEXT]").await;
    assert!(read.has("FLAGS (\\Seen \\Recent)"), "{read:?}");
    // RFC 3501 items for IMAP4rev1 clients.
    let old = imap.ok("FETCH 1 (RFC822.HEADER BODY)").await;
    assert!(old.untagged[0].contains("RFC822.HEADER {"), "{old:?}");
    assert!(old.untagged[0].contains("BODY ((\"text\" \"plain\""), "{old:?}");
    // Macros.
    let all = imap.ok("FETCH 1 ALL").await;
    assert!(all.has("FLAGS") && all.has("INTERNALDATE") && all.has("RFC822.SIZE") && all.has("ENVELOPE"));
    imap.command("FETCH 2 FLAGS").await.bad();
    imap.command("FETCH 1 (NOTANITEM)").await.bad();
}

#[tokio::test]
async fn store_flags_in_every_mode() {
    let server = server().await;
    for subject in ["a", "b", "c"] {
        deliver(&server, &message(subject, "x")).await;
    }
    // An IMAP4rev1 session that selects first holds the new messages as
    // \\Recent (RFC 3501 2.3.2), and FLAGS shows it.
    let mut imap = Imap::inbox(&server).await;
    let added = imap.ok("STORE 1:2 +FLAGS (\\Flagged $Label)").await;
    assert_eq!(
        added.lines("1 FETCH"),
        vec!["1 FETCH (FLAGS (\\Flagged \\Recent $Label))"]
    );
    let removed = imap.ok("STORE 1 -FLAGS ($Label)").await;
    assert_eq!(removed.lines("1 FETCH"), vec!["1 FETCH (FLAGS (\\Flagged \\Recent))"]);
    let silent = imap.ok("STORE 3 FLAGS.SILENT (\\Answered)").await;
    assert!(silent.untagged.is_empty(), "{silent:?}");
    let by_uid = imap.ok("UID STORE 3 +FLAGS (\\Seen)").await;
    assert_eq!(
        by_uid.lines("3 FETCH"),
        vec!["3 FETCH (UID 3 FLAGS (\\Seen \\Answered \\Recent))"]
    );
    let flags = imap.ok("FETCH 1:3 FLAGS").await;
    assert_eq!(
        flags.untagged,
        [
            "* 1 FETCH (FLAGS (\\Flagged \\Recent))",
            "* 2 FETCH (FLAGS (\\Flagged \\Recent $Label))",
            "* 3 FETCH (FLAGS (\\Seen \\Answered \\Recent))"
        ]
    );
}

#[tokio::test]
async fn copy_move_and_expunge_with_uidplus() {
    let server = server().await;
    for subject in ["a", "b", "c", "d"] {
        deliver(&server, &message(subject, "x")).await;
    }
    let mut imap = Imap::inbox(&server).await;
    let copied = imap.ok("COPY 1:2 Archive").await;
    assert!(copied.tagged.starts_with("OK [COPYUID "), "{copied:?}");
    assert!(copied.tagged.contains(" 1:2 1:2]"), "{copied:?}");
    let missing = imap.command("COPY 1 Nope").await;
    assert!(missing.tagged.starts_with("NO [TRYCREATE]"));
    // RFC 9051 6.4.7: no [TRYCREATE] where CREATE could not make it.
    for impossible in ["COPY 1 \"\"", "MOVE 1 \"/\""] {
        let refused = imap.command(impossible).await;
        assert!(
            refused.tagged.starts_with("NO [NONEXISTENT]"),
            "{impossible}: {refused:?}"
        );
    }
    // MOVE (RFC 6851): COPYUID untagged, then EXPUNGE.
    let moved = imap.ok("UID MOVE 2 Trash").await;
    assert!(moved.untagged[0].starts_with("* OK [COPYUID "), "{moved:?}");
    assert_eq!(moved.untagged[1], "* 2 EXPUNGE");
    // UID EXPUNGE (RFC 4315) removes only the named \Deleted messages.
    imap.ok("STORE 1:2 +FLAGS.SILENT (\\Deleted)").await;
    let expunged = imap.ok("UID EXPUNGE 3").await;
    assert_eq!(expunged.untagged, ["* 2 EXPUNGE"]);
    let rest = imap.ok("EXPUNGE").await;
    assert_eq!(rest.untagged, ["* 1 EXPUNGE"]);
    let status = imap.ok("STATUS Archive (MESSAGES)").await;
    assert_eq!(status.lines("STATUS"), ["STATUS \"Archive\" (MESSAGES 2)"]);
    let uids = imap.ok("UID SEARCH ALL").await;
    assert_eq!(uids.lines("SEARCH"), ["SEARCH 4"]);
    // CLOSE expunges quietly.
    imap.ok("STORE 1 +FLAGS (\\Deleted)").await;
    assert!(imap.ok("CLOSE").await.untagged.is_empty());
    let status = imap.ok("STATUS INBOX (MESSAGES)").await;
    assert_eq!(status.lines("STATUS"), ["STATUS \"INBOX\" (MESSAGES 0)"]);
}

async fn search(imap: &mut Imap, query: &str) -> String {
    let response = imap.ok(&format!("SEARCH {query}")).await;
    response.lines("SEARCH")[0].to_owned()
}

#[tokio::test]
async fn search_keys() {
    let server = server().await;
    deliver(&server, MULTIPART).await;
    deliver(&server, &message("lunch plans", "see you at noon")).await;
    deliver(&server, &message("Re: lunch plans", "ok")).await;
    let mut imap = Imap::inbox(&server).await;
    imap.ok("STORE 2 +FLAGS (\\Flagged)").await;
    assert_eq!(search(&mut imap, "ALL").await, "SEARCH 1 2 3");
    assert_eq!(search(&mut imap, "FLAGGED").await, "SEARCH 2");
    assert_eq!(search(&mut imap, "NOT FLAGGED").await, "SEARCH 1 3");
    assert_eq!(search(&mut imap, "OR FLAGGED SUBJECT report").await, "SEARCH 1 2");
    assert_eq!(search(&mut imap, "SUBJECT \"lunch\"").await, "SEARCH 2 3");
    // Charset-aware: the quoted-printable ISO-8859-1 body, searched in UTF-8.
    assert_eq!(search(&mut imap, "CHARSET UTF-8 BODY \"café\"").await, "SEARCH 1");
    assert_eq!(search(&mut imap, "TEXT noon").await, "SEARCH 2");
    // The decoded From: name.
    assert_eq!(search(&mut imap, "FROM \"José\"").await, "SEARCH 1");
    assert_eq!(search(&mut imap, "HEADER Message-ID report@").await, "SEARCH 1");
    assert_eq!(search(&mut imap, "SENTON 25-Nov-2026").await, "SEARCH 1");
    assert_eq!(search(&mut imap, "SENTSINCE 26-Nov-2026").await, "SEARCH 2 3");
    assert_eq!(search(&mut imap, "LARGER 500").await, "SEARCH 1");
    assert_eq!(search(&mut imap, "2:* UNFLAGGED").await, "SEARCH 3");
    assert_eq!(search(&mut imap, "UID 1,3").await, "SEARCH 1 3");
    assert_eq!(search(&mut imap, "(SEEN) (UNSEEN)").await, "SEARCH");
    let unknown = imap.command("SEARCH CHARSET X-NOPE TEXT a").await;
    assert!(unknown.tagged.starts_with("NO [BADCHARSET"), "{unknown:?}");
    imap.command("SEARCH NOSUCHKEY").await.bad();
}

#[tokio::test]
async fn esearch_searchres_and_modseq() {
    let server = server().await;
    for subject in ["a", "b", "c", "d"] {
        deliver(&server, &message(subject, "x")).await;
    }
    let mut imap = Imap::inbox(&server).await;
    let esearch = imap.ok("UID SEARCH RETURN (MIN MAX COUNT ALL) 2:4").await;
    let line = esearch.lines("ESEARCH")[0];
    assert!(line.ends_with("UID MIN 2 MAX 4 COUNT 3 ALL 2:4"), "{line}");
    let empty = imap.ok("SEARCH RETURN (COUNT) FLAGGED").await;
    assert!(empty.lines("ESEARCH")[0].ends_with(" COUNT 0"), "{empty:?}");
    // SEARCHRES (RFC 5182): SAVE alone answers nothing; `$` is the result.
    let saved = imap.ok("SEARCH RETURN (SAVE) 1:2").await;
    assert!(saved.untagged.is_empty(), "{saved:?}");
    let flagged = imap.ok("STORE $ +FLAGS (\\Flagged)").await;
    assert_eq!(flagged.untagged.len(), 2);
    assert_eq!(imap.ok("SEARCH FLAGGED").await.lines("SEARCH"), ["SEARCH 1 2"]);
    // CONDSTORE MODSEQ search key and result (RFC 7162 3.1.5).
    let fetched = imap.ok("FETCH 2 MODSEQ").await;
    let modseq: u64 = fetched.lines("2 FETCH")[0]
        .split("MODSEQ (")
        .nth(1)
        .unwrap()
        .trim_end_matches("))")
        .parse()
        .unwrap();
    let by_modseq = imap.ok(&format!("SEARCH MODSEQ {modseq}")).await;
    // Both were flagged by one STORE, so they share the MODSEQ.
    assert_eq!(
        by_modseq.lines("SEARCH"),
        [format!("SEARCH 1 2 (MODSEQ {modseq})").as_str()]
    );
    assert_eq!(
        imap.ok(&format!("SEARCH MODSEQ {}", modseq + 1)).await.lines("SEARCH"),
        ["SEARCH"]
    );
}

#[tokio::test]
async fn sort_and_thread() {
    let server = server().await;
    let first =
        "From: c@x.test\r\nSubject: Lunch\r\nMessage-ID: <1@x>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\na\r\n";
    let reply = "From: a@x.test\r\nSubject: Re: lunch\r\nMessage-ID: <2@x>\r\nIn-Reply-To: <1@x>\r\nReferences: <1@x>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nbb\r\n";
    let other = "From: b@x.test\r\nSubject: Budget\r\nMessage-ID: <3@x>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nccc\r\n";
    let reply2 = "From: d@x.test\r\nSubject: Re: Lunch\r\nMessage-ID: <4@x>\r\nReferences: <1@x> <2@x>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n\r\ndddd\r\n";
    for m in [first, reply, other, reply2] {
        deliver(&server, m).await;
    }
    let mut imap = Imap::inbox(&server).await;
    assert_eq!(imap.ok("SORT (DATE) UTF-8 ALL").await.lines("SORT"), ["SORT 3 1 2 4"]);
    let mut by_size: Vec<(usize, usize)> = [first, reply, other, reply2].iter().map(|m| m.len()).zip(1..).collect();
    by_size.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = by_size.iter().map(|(_, seq)| seq.to_string()).collect();
    assert_eq!(
        imap.ok("SORT (REVERSE SIZE) UTF-8 ALL").await.lines("SORT"),
        [format!("SORT {}", expected.join(" ")).as_str()]
    );
    assert_eq!(imap.ok("SORT (FROM) UTF-8 ALL").await.lines("SORT"), ["SORT 2 3 1 4"]);
    assert_eq!(
        imap.ok("SORT (SUBJECT DATE) UTF-8 ALL").await.lines("SORT"),
        ["SORT 3 1 2 4"]
    );
    assert_eq!(
        imap.ok("UID SORT (DATE) UTF-8 NOT FROM b").await.lines("SORT"),
        ["SORT 1 2 4"]
    );
    assert_eq!(
        imap.ok("THREAD REFERENCES UTF-8 ALL").await.lines("THREAD"),
        ["THREAD (3)(1 2 4)"]
    );
    assert_eq!(
        imap.ok("THREAD ORDEREDSUBJECT UTF-8 ALL").await.lines("THREAD"),
        ["THREAD (3)(1 (2)(4))"]
    );
}

#[tokio::test]
async fn esort_and_partial_answer_in_esearch_form() {
    // RFC 5267 3: SORT RETURN answers ESEARCH; MIN and MAX are the first
    // and last in sort order, ALL lists the result in sort order. RFC 9394:
    // PARTIAL gives the results at the positions asked for, counted from
    // the end when negative, NIL when there are none.
    let server = server().await;
    for (from, day) in [("c", 23), ("a", 24), ("b", 22), ("d", 25)] {
        let message = format!(
            "From: {from}@x.test\r\nSubject: s\r\nMessage-ID: <{from}@x>\r\n\
             Date: {day} Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n"
        );
        deliver(&server, &message).await;
    }
    for version in VERSIONS {
        let mut imap = Imap::inbox_as(&server, version).await;
        let capabilities = imap.ok("CAPABILITY").await;
        assert!(
            capabilities.has(" ESORT") && capabilities.has(" PARTIAL"),
            "{capabilities:?}"
        );
        // What follows the (TAG "...") correlator.
        let results = |reply: crate::common::Response| {
            let lines = reply.lines("ESEARCH");
            assert_eq!(lines.len(), 1, "{reply:?}");
            assert!(lines[0].starts_with("ESEARCH (TAG \""), "{reply:?}");
            lines[0]
                .split_once(") ")
                .map_or(String::new(), |(_, rest)| rest.to_owned())
        };
        let sorted = imap.ok("SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL").await;
        // RFC 5267 3: ALL in sort order; an ascending run is a range.
        assert_eq!(results(sorted), "MIN 3 MAX 4 COUNT 4 ALL 3,1:2,4", "{version:?}");
        let arrival = imap.ok("SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL").await;
        assert_eq!(results(arrival), "ALL 1:4", "{version:?}");
        let reversed = imap.ok("UID SORT RETURN () (REVERSE DATE) UTF-8 ALL").await;
        assert_eq!(results(reversed), "UID ALL 4,2,1,3");
        let first_two = imap.ok("SORT RETURN (PARTIAL 1:2) (DATE) UTF-8 ALL").await;
        assert!(first_two.has(" PARTIAL (1:2 3,1)"), "{first_two:?}");
        let last_two = imap.ok("SORT RETURN (PARTIAL -1:-2) (DATE) UTF-8 ALL").await;
        assert!(last_two.has(" PARTIAL (-1:-2 2,4)"), "{last_two:?}");
        // SEARCH keeps mailbox order, and ranges in its sets.
        let searched = imap.ok("SEARCH RETURN (PARTIAL 2:9) ALL").await;
        assert!(searched.has(" PARTIAL (2:9 2:4)"), "{searched:?}");
        let backwards = imap.ok("SEARCH RETURN (PARTIAL 3:2) ALL").await;
        assert!(backwards.has(" PARTIAL (2:3 2:3)"), "{backwards:?}");
        let beyond = imap.ok("SEARCH RETURN (COUNT PARTIAL 5:10) ALL").await;
        assert!(beyond.has(" COUNT 4 PARTIAL (5:10 NIL)"), "{beyond:?}");
        for bad in [
            "SEARCH RETURN (PARTIAL 0:5) ALL",
            "SEARCH RETURN (PARTIAL -1:5) ALL",
            "SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
            "SORT RETURN (PARTIAL) (DATE) UTF-8 ALL",
        ] {
            imap.command(bad).await.bad();
        }
        // SAVE keeps the set for `$` whatever the order.
        let saving = imap.ok("SORT RETURN (SAVE) (FROM) UTF-8 NOT FROM b").await;
        assert!(
            saving.lines("ESEARCH").is_empty(),
            "SAVE alone answers nothing: {saving:?}"
        );
        let saved = imap.ok("UID SEARCH RETURN (ALL) $").await;
        assert!(saved.has(" ALL 1:2,4"), "{saved:?}");
    }
}

#[tokio::test]
async fn envelope_addresses_carry_their_source_route() {
    // RFC 3501 7.4.2: an address is (name adl mailbox host); adl is the
    // source route of an RFC 822 route-addr (RFC 5322 4.4 obs-route).
    for version in VERSIONS {
        let server = server().await;
        let header = "From: <@route.test:user@domain.test>\r\nTo: Ann <@a.test,@b.test:ann@x.test>\r\n\
Subject: routed\r\nDate: Thu, 26 Nov 2026 05:00:00 +0000\r\n\r\nbody\r\n";
        deliver(&server, header).await;
        let mut imap = Imap::inbox_as(&server, version).await;
        let fetched = imap.ok("FETCH 1 (ENVELOPE)").await;
        let line = &fetched.untagged[0];
        assert!(
            line.contains("((NIL \"@route.test\" \"user\" \"domain.test\"))"),
            "{line}"
        );
        assert!(
            line.contains("((\"Ann\" \"@a.test,@b.test\" \"ann\" \"x.test\"))"),
            "{line}"
        );
    }
}

/// A message for the threading tests: `refs` is the References field.
fn threaded(id: &str, subject: &str, day: u32, refs: &str) -> String {
    let references = if refs.is_empty() {
        String::new()
    } else {
        format!("References: {refs}\r\n")
    };
    format!(
        "From: t@x.test\r\nSubject: {subject}\r\nMessage-ID: <{id}@x>\r\n{references}\
Date: {day:02} Nov 2026 10:00:00 +0000\r\n\r\nbody\r\n"
    )
}

#[tokio::test]
async fn thread_references_keeps_a_missing_parent_as_a_dummy_and_promotes_a_lone_child() {
    // RFC 5256 5 steps 1A and 4: two replies to a message the mailbox
    // does not hold share a dummy parent at the top; a lone reply to a
    // missing message stands on its own.
    for version in VERSIONS {
        let server = server().await;
        for m in [
            threaded("b", "Plan", 24, "<a@x>"),
            threaded("c", "Plan", 25, "<a@x>"),
            threaded("d", "Other", 23, ""),
            threaded("e", "Lone", 26, "<z@x>"),
        ] {
            deliver(&server, &m).await;
        }
        let mut imap = Imap::inbox_as(&server, version).await;
        assert_eq!(
            imap.ok("THREAD REFERENCES UTF-8 ALL").await.lines("THREAD"),
            ["THREAD (3)((1)(2))(4)"]
        );
    }
}

#[tokio::test]
async fn thread_references_gathers_threads_by_base_subject() {
    // RFC 5256 5 step 5: a reply without references joins the thread of
    // its subject as a child; two originals with one subject become
    // siblings under a dummy.
    for version in VERSIONS {
        let server = server().await;
        for m in [
            threaded("l1", "Lunch", 23, ""),
            threaded("l2", "Re: lunch", 24, ""),
            threaded("b1", "Budget", 25, ""),
            threaded("b2", "[team] budget", 26, ""),
        ] {
            deliver(&server, &m).await;
        }
        let mut imap = Imap::inbox_as(&server, version).await;
        assert_eq!(
            imap.ok("THREAD REFERENCES UTF-8 ALL").await.lines("THREAD"),
            ["THREAD (1 2)((3)(4))"]
        );
    }
}

#[tokio::test]
async fn thread_references_orders_siblings_by_their_own_date() {
    // RFC 5256 5 step 6: siblings by sent date, not by the earliest
    // message below them.
    for version in VERSIONS {
        let server = server().await;
        for m in [
            threaded("p", "Trip", 23, ""),
            threaded("x", "Re: Trip", 26, "<p@x>"),
            threaded("y", "Re: Trip", 25, "<p@x>"),
            threaded("g", "Re: Trip", 24, "<p@x> <x@x>"),
        ] {
            deliver(&server, &m).await;
        }
        let mut imap = Imap::inbox_as(&server, version).await;
        assert_eq!(
            imap.ok("THREAD REFERENCES UTF-8 ALL").await.lines("THREAD"),
            ["THREAD (1 (3)(2 4))"]
        );
    }
}

#[tokio::test]
async fn sort_subject_uses_the_base_subject_in_ascii_casemap() {
    // RFC 5256 2.1: markers and blobs go, a blob that is all there is
    // stays; i;ascii-casemap folds a-z to A-Z, so "[" sorts after "Z".
    for version in VERSIONS {
        let server = server().await;
        for m in [
            threaded("s1", "Zulu", 23, ""),
            threaded("s2", "[list] Re: alpha", 24, ""),
            threaded("s3", "[announce]", 25, ""),
            threaded("s4", "Fwd: ALPHA (fwd)", 22, ""),
        ] {
            deliver(&server, &m).await;
        }
        let mut imap = Imap::inbox_as(&server, version).await;
        assert_eq!(
            imap.ok("SORT (SUBJECT) UTF-8 ALL").await.lines("SORT"),
            ["SORT 2 4 1 3"]
        );
        assert_eq!(
            imap.ok("SORT (SUBJECT DATE) UTF-8 ALL").await.lines("SORT"),
            ["SORT 4 2 1 3"]
        );
    }
}

#[tokio::test]
async fn sort_display_orders_by_the_name_a_client_shows() {
    // RFC 5957 3: DISPLAYFROM/DISPLAYTO use the first address's display
    // name, decoded, or its addr-spec when it has none; FROM and TO use
    // the mailbox part (RFC 5256 3).
    for version in VERSIONS {
        let server = server().await;
        for (from, to) in [
            ("Zed <a@x.test>", "b@y.test"),
            ("b@x.test", "=?utf-8?q?=C3=81lvaro?= <c@y.test>"),
            ("=?utf-8?q?alice?= <z@x.test>", "Aaron <d@y.test>"),
        ] {
            deliver(
                &server,
                &format!("From: {from}\r\nTo: {to}\r\nSubject: s\r\n\r\nbody\r\n"),
            )
            .await;
        }
        let mut imap = Imap::inbox_as(&server, version).await;
        assert!(imap.ok("CAPABILITY").await.has(" SORT=DISPLAY"));
        for (criteria, expected) in [
            ("FROM", "SORT 1 2 3"),
            ("DISPLAYFROM", "SORT 3 2 1"),
            ("REVERSE DISPLAYFROM", "SORT 1 2 3"),
            // "aaron" < "b@y.test" < "álvaro" (a non-ASCII letter sorts after z).
            ("DISPLAYTO", "SORT 3 1 2"),
        ] {
            let sorted = imap.ok(&format!("SORT ({criteria}) UTF-8 ALL")).await;
            assert_eq!(sorted.lines("SORT"), [expected], "{version:?} {criteria}");
        }
    }
}

/// The ESEARCH lines of a response for the search tagged `tag`, without
/// the correlator: `["ADDTO (0 1:2,5)"]`.
fn context_updates(response: &crate::common::Response, tag: &str) -> Vec<String> {
    let prefix = format!("ESEARCH (TAG \"{tag}\") ");
    response
        .lines("ESEARCH")
        .iter()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn context_search_updates_follow_flags_expunges_and_new_mail() {
    // RFC 5267 4.3: RETURN (UPDATE) keeps the result current with ADDTO and
    // REMOVEFROM (position 0: mailbox order) until CANCELUPDATE.
    for version in VERSIONS {
        let server = server().await;
        for n in 1..=6 {
            deliver(&server, &message(&format!("m{n}"), "the body")).await;
        }
        let mut imap = Imap::inbox_as(&server, version).await;
        imap.ok("STORE 1:6 -FLAGS.SILENT (\\Seen)").await;
        assert!(imap.ok("CAPABILITY").await.has(" CONTEXT=SEARCH"));
        let tag = imap.tag();
        imap.send_raw(format!("{tag} SEARCH RETURN (UPDATE) BODY body SEEN\r\n").as_bytes())
            .await;
        let started = imap.finish(&tag).await;
        assert!(started.tagged.starts_with("OK"), "{started:?}");
        // UPDATE alone answers with the correlator and no result.
        assert_eq!(started.lines("ESEARCH"), [format!("ESEARCH (TAG \"{tag}\")").as_str()]);

        let seen = imap.ok("STORE 1,2,5 +FLAGS (\\Seen)").await;
        assert_eq!(context_updates(&seen, &tag), ["ADDTO (0 1:2,5)"], "{version:?}");
        let unseen = imap.ok("STORE 1,2 -FLAGS (\\Seen)").await;
        assert_eq!(context_updates(&unseen, &tag), ["REMOVEFROM (0 1:2)"], "{version:?}");
        // 4.3.4: a REMOVEFROM for expunged messages comes before the
        // EXPUNGE responses, in the numbers they had.
        imap.ok("STORE 3:6 +FLAGS.SILENT (\\Deleted)").await;
        let expunged = imap.ok("EXPUNGE").await;
        assert_eq!(context_updates(&expunged, &tag), ["REMOVEFROM (0 5)"], "{version:?}");
        let removefrom = expunged.untagged.iter().position(|l| l.contains("REMOVEFROM")).unwrap();
        let first_expunge = expunged.untagged.iter().position(|l| l.ends_with(" EXPUNGE")).unwrap();
        assert!(removefrom < first_expunge, "{expunged:?}");

        // Mail that arrives and matches: ADDTO after its EXISTS (4.3.3).
        let arrivals = imap.tag();
        imap.send_raw(format!("{arrivals} SEARCH RETURN (UPDATE) BODY another\r\n").as_bytes())
            .await;
        assert!(imap.finish(&arrivals).await.tagged.starts_with("OK"));
        deliver(&server, &message("m7", "another body")).await;
        let noop = imap.ok("NOOP").await;
        assert_eq!(
            context_updates(&noop, &arrivals),
            ["ADDTO (0 3)"],
            "{version:?}: {noop:?}"
        );
        let exists = noop.untagged.iter().position(|l| l == "* 3 EXISTS").unwrap();
        let addto = noop.untagged.iter().position(|l| l.contains("ADDTO")).unwrap();
        assert!(exists < addto, "{noop:?}");

        // A second updating search under a tag in use is refused.
        imap.send_raw(format!("{tag} SEARCH RETURN (UPDATE) ALL\r\n").as_bytes())
            .await;
        let reused = imap.finish(&tag).await;
        assert!(reused.tagged.starts_with("BAD"), "{reused:?}");

        imap.ok(&format!("CANCELUPDATE \"{tag}\"")).await;
        let quiet = imap.ok("STORE 1 +FLAGS (\\Seen)").await;
        assert!(context_updates(&quiet, &tag).is_empty(), "{version:?}: {quiet:?}");
    }
}

#[tokio::test]
async fn context_search_by_uid_and_message_numbers_fixed_when_asked() {
    // RFC 5267 4.3.2: UID SEARCH contexts update in UIDs; message numbers
    // in the program mean the messages they named when it came (4.3).
    for version in VERSIONS {
        let server = server().await;
        let mut uids = Vec::new();
        for n in 1..=4 {
            uids.push(deliver(&server, &message(&format!("m{n}"), "x")).await);
        }
        let mut imap = Imap::inbox_as(&server, version).await;
        let tag = imap.tag();
        imap.send_raw(format!("{tag} UID SEARCH RETURN (UPDATE ALL) 2:3 FLAGGED\r\n").as_bytes())
            .await;
        let started = imap.finish(&tag).await;
        assert!(started.tagged.starts_with("OK"), "{started:?}");
        let flagged = imap.ok("STORE 1:4 +FLAGS.SILENT (\\Flagged)").await;
        let noop = imap.ok("NOOP").await;
        let updates: Vec<String> = [context_updates(&flagged, &tag), context_updates(&noop, &tag)].concat();
        // Only the messages 2:3 named when the search came, by UID.
        assert_eq!(
            updates,
            [format!("UID ADDTO (0 {}:{})", uids[1], uids[2])],
            "{version:?}"
        );
        // Message 1 goes: 2:3 still means the same two messages.
        imap.ok("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
        imap.ok("EXPUNGE").await;
        let unflag = imap.ok("STORE 1 -FLAGS (\\Flagged)").await;
        assert_eq!(
            context_updates(&unflag, &tag),
            [format!("UID REMOVEFROM (0 {})", uids[1])],
            "{version:?}"
        );
        // SORT results are not kept up to date: NOUPDATE, the answer stands.
        let sort_tag = imap.tag();
        imap.send_raw(format!("{sort_tag} SORT RETURN (UPDATE COUNT) (ARRIVAL) UTF-8 ALL\r\n").as_bytes())
            .await;
        let sorted = imap.finish(&sort_tag).await;
        assert!(sorted.tagged.starts_with("OK"), "{sorted:?}");
        assert!(sorted.has(&format!("NO [NOUPDATE \"{sort_tag}\"]")), "{sorted:?}");
        assert!(sorted.has("COUNT 3"), "{sorted:?}");
    }
}

#[tokio::test]
async fn recent_goes_to_the_first_imap4rev1_session_that_selects() {
    // RFC 3501 2.3.2: \Recent is held by the first session to be told of a
    // message; EXAMINE looks without taking it (6.3.2); NEW is RECENT
    // UNSEEN and OLD is NOT RECENT (6.4.4); STATUS RECENT counts what no
    // session took (6.3.10).
    let server = server().await;
    for subject in ["a", "b"] {
        deliver(&server, &message(subject, "x")).await;
    }
    let mut looker = Imap::login(&server).await;
    let examined = looker.ok("EXAMINE INBOX").await;
    assert!(examined.has("* 2 RECENT"), "{examined:?}");
    assert!(
        examined.tagged.contains("[READ-ONLY] EXAMINE completed"),
        "{examined:?}"
    );
    assert!(looker.ok("FETCH 1 FLAGS").await.has("FLAGS (\\Recent)"));
    let mut status = Imap::login(&server).await;
    assert!(status.ok("STATUS INBOX (RECENT)").await.has("(RECENT 2)"));

    let mut first = Imap::login(&server).await;
    let selected = first.ok("SELECT INBOX").await;
    assert!(selected.has("* 2 RECENT"), "EXAMINE took nothing: {selected:?}");
    assert!(looker.ok("EXAMINE INBOX").await.has("* 0 RECENT"));
    let mut second = Imap::login(&server).await;
    assert!(second.ok("SELECT INBOX").await.has("* 0 RECENT"));
    assert!(status.ok("STATUS INBOX (RECENT)").await.has("(RECENT 0)"));
    assert_eq!(second.ok("SEARCH RECENT").await.lines("SEARCH"), ["SEARCH"]);
    assert_eq!(second.ok("SEARCH OLD").await.lines("SEARCH"), ["SEARCH 1 2"]);

    assert_eq!(first.ok("SEARCH RECENT").await.lines("SEARCH"), ["SEARCH 1 2"]);
    first.ok("STORE 1 +FLAGS.SILENT (\\Seen)").await;
    assert_eq!(first.ok("SEARCH NEW").await.lines("SEARCH"), ["SEARCH 2"]);
    assert_eq!(first.ok("SEARCH OLD").await.lines("SEARCH"), ["SEARCH"]);

    // New mail: whoever hears of it first holds it; the other is told
    // the count it holds.
    deliver(&server, &message("c", "x")).await;
    assert_eq!(first.ok("NOOP").await.untagged, ["* 3 EXISTS", "* 3 RECENT"]);
    assert_eq!(
        second.ok("NOOP").await.untagged,
        ["* 1 FETCH (FLAGS (\\Seen))", "* 3 EXISTS", "* 0 RECENT"]
    );
    assert!(first.ok("FETCH 3 FLAGS").await.has("FLAGS (\\Recent)"));
    assert!(second.ok("FETCH 3 FLAGS").await.has("FLAGS ()"));
    // STATUS counts messages with \Recent set: in the session that holds
    // them, that is the ones it holds (message 1 is \Seen, still recent).
    assert!(first.ok("STATUS INBOX (RECENT)").await.has("(RECENT 3)"));
    assert!(second.ok("STATUS INBOX (RECENT)").await.has("(RECENT 0)"));
    assert!(status.ok("STATUS INBOX (RECENT)").await.has("(RECENT 0)"));

    // A copy is new to the mailbox it lands in.
    first.ok("COPY 1:2 Archive").await;
    let mut archive = Imap::login(&server).await;
    assert!(archive.ok("SELECT Archive").await.has("* 2 RECENT"));
}

#[tokio::test]
async fn an_imap4rev2_session_neither_shows_nor_takes_recent() {
    // RFC 9051 dropped \Recent and the RECENT response.
    let server = server().await;
    deliver(&server, &message("a", "x")).await;
    let mut rev2 = Imap::login(&server).await;
    rev2.ok("ENABLE IMAP4rev2").await;
    let selected = rev2.ok("SELECT INBOX").await;
    assert!(!selected.has("RECENT"), "{selected:?}");
    assert!(rev2.ok("FETCH 1 FLAGS").await.has("FLAGS ()"));
    deliver(&server, &message("b", "x")).await;
    assert_eq!(rev2.ok("NOOP").await.untagged, ["* 2 EXISTS"]);
    // Both are still recent to the first IMAP4rev1 session.
    let mut rev1 = Imap::login(&server).await;
    assert!(rev1.ok("SELECT INBOX").await.has("* 2 RECENT"));
}

#[tokio::test]
async fn sections_of_enclosed_messages_at_every_depth() {
    // RFC 3501 6.4.5: a message whose body is itself a message (a
    // forward as message/rfc822) has that message as part 1; its HEADER
    // and TEXT, and the parts below, are numbered within it; twice over.
    for version in VERSIONS {
        let server = server().await;
        let forwarded = "From: a@x.test\r\nSubject: fwd\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
Content-Type: message/rfc822\r\n\r\nSubject: middle\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n\
--m\r\nContent-Type: text/plain\r\n\r\nmiddle text\r\n--m\r\nContent-Type: message/rfc822\r\n\r\n\
Subject: inner\r\n\r\ninner body\r\n--m--\r\n";
        deliver(&server, forwarded).await;
        let mut imap = Imap::inbox_as(&server, version).await;
        let fetch = |section: &str| format!("FETCH 1 (BODY.PEEK[{section}])");
        let expect = [
            (
                "1.HEADER",
                "Subject: middle\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n",
            ),
            ("1.1", "middle text"),
            ("1.1.MIME", "Content-Type: text/plain\r\n\r\n"),
            ("1.2.HEADER", "Subject: inner\r\n\r\n"),
            ("1.2.TEXT", "inner body"),
            ("1.2.1", "inner body"),
            ("1.2.MIME", "Content-Type: message/rfc822\r\n\r\n"),
        ];
        for (section, bytes) in expect {
            let reply = imap.ok(&fetch(section)).await;
            let line = &reply.untagged[0];
            assert!(
                line.contains(&format!("BODY[{section}] {{{}}}\r\n{bytes})", bytes.len())),
                "{section}: {line:?}"
            );
        }
        let whole = imap.ok(&fetch("1")).await;
        assert!(whole.untagged[0].contains("BODY[1] {"), "{whole:?}");
        assert!(whole.untagged[0].contains("\r\nSubject: middle\r\n"), "{whole:?}");
    }
}

#[tokio::test]
async fn append_of_binary_content_keeps_every_byte() {
    // RFC 3516 4.4: literal8 may carry NULs and bare CR/LF; the server
    // may change the transfer encoding but must lose nothing, so
    // BINARY[2] gives back exactly what was sent.
    for version in VERSIONS {
        let server = server().await;
        let mut imap = Imap::inbox_as(&server, version).await;
        let payload: &[u8] = b"\x00\x01\x02\nbare lf\rbare cr\r\n\xff\xfe\x00end";
        let mut message = b"From: a@x.test\r\nSubject: binary\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            .to_vec();
        message.extend_from_slice(payload);
        message.extend_from_slice(b"\r\n--x--\r\n");
        let tag = imap.tag();
        let mut command = format!("{tag} APPEND INBOX ~{{{}+}}\r\n", message.len()).into_bytes();
        command.extend_from_slice(&message);
        command.extend_from_slice(b"\r\n");
        imap.send_raw(&command).await;
        let appended = imap.finish(&tag).await;
        assert!(appended.tagged.starts_with("OK [APPENDUID "), "{appended:?}");
        let size = imap.ok("FETCH 1 (BINARY.SIZE[2] BODY.PEEK[2.MIME])").await;
        assert!(
            size.untagged[0].contains(&format!("BINARY.SIZE[2] {}", payload.len())),
            "{size:?}"
        );
        assert!(
            size.untagged[0].contains("Content-Transfer-Encoding: base64"),
            "{size:?}"
        );
        let body = imap.ok("FETCH 1 (BODY.PEEK[2])").await;
        let encoded: String = body.untagged[0]
            .split_once("}\r\n")
            .map(|(_, rest)| {
                rest.trim_end_matches(')')
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect()
            })
            .unwrap();
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        assert_eq!(decoded, payload);
        assert!(imap.ok("FETCH 1 (BODY.PEEK[1])").await.has("see attached"));
    }
}

#[tokio::test]
async fn esearch_with_a_modseq_key_reports_the_modseq_of_what_it_returns() {
    // RFC 4731 3.2 (and RFC 7162 3.1.10): a lone MIN or MAX carries its
    // own message's MODSEQ, MIN with MAX the higher of the two, ALL and
    // COUNT the highest of all found.
    for version in VERSIONS {
        let server = server().await;
        for subject in ["a", "b", "c"] {
            deliver(&server, &message(subject, "x")).await;
        }
        let mut imap = Imap::inbox_as(&server, version).await;
        imap.ok("STORE 1 +FLAGS.SILENT (\\Flagged)").await;
        imap.ok("STORE 3 +FLAGS.SILENT (\\Flagged)").await;
        imap.ok("STORE 2 +FLAGS.SILENT (\\Seen)").await;
        // RFC 7162 3.1: the first CONDSTORE enabling command with a mailbox
        // selected reports the mailbox's HIGHESTMODSEQ; later ones do not.
        let fetched = imap.ok("FETCH 1:3 (MODSEQ)").await;
        let highest = fetched.lines("OK [HIGHESTMODSEQ ");
        assert_eq!(highest.len(), 1, "{version:?}: {fetched:?}");
        let again = imap.ok("FETCH 1 (MODSEQ)").await;
        assert!(!again.has("HIGHESTMODSEQ"), "{version:?}: {again:?}");
        let modseq: Vec<u64> = fetched
            .lines("")
            .iter()
            .filter(|l| l.contains(" FETCH "))
            .map(|l| {
                l.rsplit_once("MODSEQ (")
                    .unwrap()
                    .1
                    .trim_end_matches("))")
                    .parse()
                    .unwrap()
            })
            .collect();
        assert!(modseq[0] < modseq[2] && modseq[2] < modseq[1], "{modseq:?}");
        let reported: u64 = highest[0]["OK [HIGHESTMODSEQ ".len()..]
            .split(']')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(reported, modseq[1], "{version:?}: the highest is the last STORE's");
        let search = |returns: &str| format!("SEARCH RETURN ({returns}) MODSEQ 1");
        let cases = [
            ("MIN", format!("MIN 1 MODSEQ {}", modseq[0])),
            ("MAX", format!("MAX 3 MODSEQ {}", modseq[2])),
            ("MIN MAX", format!("MIN 1 MAX 3 MODSEQ {}", modseq[2])),
            ("ALL", format!("ALL 1:3 MODSEQ {}", modseq[1])),
            ("MIN COUNT", format!("MIN 1 COUNT 3 MODSEQ {}", modseq[1])),
        ];
        for (returns, expected) in cases {
            let reply = imap.ok(&search(returns)).await;
            assert!(reply.untagged[0].ends_with(&expected), "{returns}: {reply:?}");
        }
    }
}
