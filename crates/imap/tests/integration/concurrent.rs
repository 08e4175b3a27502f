//! Several sessions on one mailbox: when EXPUNGE may be sent, IDLE woken by
//! SMTP and by other sessions, CONDSTORE/QRESYNC resynchronisation, and
//! COMPRESS=DEFLATE.

use crate::common;

use crate::common::{Imap, deliver, message, server};
use std::time::Duration;

#[tokio::test]
async fn expunge_waits_while_sequence_numbers_are_in_use() {
    let server = server().await;
    for subject in ["a", "b", "c"] {
        deliver(&server, &message(subject, "x")).await;
    }
    let mut one = Imap::inbox(&server).await;
    let mut two = Imap::inbox(&server).await;
    one.ok("STORE 2 +FLAGS (\\Deleted)").await;
    assert_eq!(one.ok("EXPUNGE").await.untagged, ["* 2 EXPUNGE"]);
    // RFC 9051 7.5.1: not during FETCH/STORE/SEARCH by number...
    let fetch = two.ok("FETCH 1:* FLAGS").await;
    assert!(!fetch.has("EXPUNGE"), "{fetch:?}");
    // ... so message 3 is still message 3.
    assert_eq!(fetch.untagged.len(), 3, "{fetch:?}");
    let search = two.ok("SEARCH ALL").await;
    assert_eq!(search.lines("SEARCH"), ["SEARCH 1 2 3"]);
    // NOOP may say it.
    let noop = two.ok("NOOP").await;
    assert_eq!(noop.untagged, ["* 2 EXPUNGE"]);
    assert_eq!(two.ok("SEARCH ALL").await.lines("SEARCH"), ["SEARCH 1 2"]);
    // A UID command may carry it too.
    one.ok("STORE 1 +FLAGS (\\Deleted)").await;
    one.ok("EXPUNGE").await;
    let uid_fetch = two.ok("UID FETCH 1:* FLAGS").await;
    assert_eq!(uid_fetch.untagged.last().unwrap(), "* 1 EXPUNGE", "{uid_fetch:?}");
}

#[tokio::test]
async fn new_mail_is_announced_with_exists() {
    let server = server().await;
    let mut imap = Imap::inbox(&server).await;
    deliver(&server, &message("new", "x")).await;
    let noop = imap.ok("NOOP").await;
    assert_eq!(noop.untagged, ["* 1 EXISTS", "* 1 RECENT"]);
    assert!(imap.ok("NOOP").await.untagged.is_empty());
}

async fn idle(imap: &mut Imap) -> String {
    let tag = imap.tag();
    imap.send_raw(format!("{tag} IDLE\r\n").as_bytes()).await;
    assert_eq!(imap.read_line().await.unwrap(), "+ idling");
    tag
}

#[tokio::test]
async fn idle_wakes_on_smtp_delivery_and_on_other_sessions() {
    let server = server().await;
    let mut idler = Imap::inbox(&server).await;
    let tag = idle(&mut idler).await;

    // A delivery over SMTP, from a real client socket.
    let body = message("pushed", "hello");
    let replies = common::smtp(
        &server,
        &[
            "EHLO client.test".to_owned(),
            "MAIL FROM:<>".to_owned(),
            format!("RCPT TO:<{}>", common::USER),
            "DATA".to_owned(),
            format!("{body}."),
        ],
    )
    .await;
    assert!(replies.last().unwrap().starts_with("250"), "{replies:?}");
    let pushed = idler.read_line().await.unwrap();
    assert_eq!(pushed, "* 1 EXISTS");
    // RFC 3501 7.3.2: an IMAP4rev1 client hears RECENT with it.
    assert_eq!(idler.read_line().await.unwrap(), "* 1 RECENT");
    // How fast is measured by bench/imap (IDLE wake-up), not asserted here.

    // Another session's flag change and expunge.
    let mut other = Imap::inbox(&server).await;
    other.ok("STORE 1 +FLAGS (\\Deleted)").await;
    assert_eq!(
        idler.read_line().await.unwrap(),
        "* 1 FETCH (FLAGS (\\Deleted \\Recent))"
    );
    other.ok("EXPUNGE").await;
    assert_eq!(idler.read_line().await.unwrap(), "* 1 EXPUNGE");

    idler.send_raw(b"DONE\r\n").await;
    idler.finish(&tag).await.ok();
    idler.ok("NOOP").await;
}

#[tokio::test]
async fn condstore_fetch_changedsince_and_unchangedsince() {
    let server = server().await;
    for subject in ["a", "b", "c"] {
        deliver(&server, &message(subject, "x")).await;
    }
    let mut imap = Imap::login(&server).await;
    let select = imap.ok("SELECT INBOX (CONDSTORE)").await;
    let highest: u64 = select
        .untagged
        .iter()
        .find_map(|l| l.strip_prefix("* OK [HIGHESTMODSEQ "))
        .and_then(|l| l.split(']').next())
        .unwrap()
        .parse()
        .unwrap();
    let stored = imap.ok("STORE 2 +FLAGS (\\Seen)").await;
    assert!(stored.has("MODSEQ ("), "{stored:?}");
    let changed = imap.ok(&format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})")).await;
    assert_eq!(changed.untagged.len(), 1, "{changed:?}");
    assert!(
        changed.untagged[0].starts_with("* 2 FETCH (FLAGS (\\Seen \\Recent) MODSEQ ("),
        "{changed:?}"
    );
    // UNCHANGEDSINCE older than the message's MODSEQ fails for it (RFC 7162 3.1.3).
    let conditional = imap
        .ok(&format!("STORE 1:2 (UNCHANGEDSINCE {highest}) +FLAGS (\\Flagged)"))
        .await;
    assert!(conditional.tagged.starts_with("OK [MODIFIED 2]"), "{conditional:?}");
    assert!(conditional.has("* 1 FETCH ("));
}

#[tokio::test]
async fn qresync_select_reports_vanished_and_changed() {
    let server = server().await;
    for subject in ["a", "b", "c", "d"] {
        deliver(&server, &message(subject, "x")).await;
    }
    let mut imap = Imap::login(&server).await;
    imap.ok("ENABLE QRESYNC").await;
    let select = imap.ok("SELECT INBOX").await;
    let find = |prefix: &str| -> u64 {
        select
            .untagged
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|l| l.split(']').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let (validity, modseq) = (find("* OK [UIDVALIDITY "), find("* OK [HIGHESTMODSEQ "));
    imap.ok("UNSELECT").await;

    // While the client is away: one expunged, one flagged, one new.
    let mut other = Imap::inbox(&server).await;
    other.ok("STORE 2 +FLAGS (\\Deleted)").await;
    other.ok("EXPUNGE").await;
    other.ok("STORE 3 +FLAGS (\\Flagged)").await;
    deliver(&server, &message("e", "x")).await;

    let resync = imap
        .ok(&format!("SELECT INBOX (QRESYNC ({validity} {modseq} 1:5))"))
        .await;
    assert!(resync.has("* VANISHED (EARLIER) 2"), "{resync:?}");
    assert!(
        resync
            .untagged
            .iter()
            .any(|l| l.contains("(UID 4 FLAGS (\\Flagged) MODSEQ (")),
        "{resync:?}"
    );
    assert!(
        resync
            .untagged
            .iter()
            .any(|l| l.contains("(UID 5 FLAGS (\\Recent) MODSEQ (")),
        "{resync:?}"
    );
    // Live: VANISHED instead of EXPUNGE once QRESYNC is on (RFC 7162 3.2.10).
    other.ok("STORE 1 +FLAGS (\\Deleted)").await;
    other.ok("EXPUNGE").await;
    let noop = imap.ok("NOOP").await;
    assert!(noop.has("* VANISHED 1"), "{noop:?}");
    // UID FETCH ... (CHANGEDSINCE n VANISHED).
    let fetch = imap
        .ok(&format!("UID FETCH 1:* FLAGS (CHANGEDSINCE {modseq} VANISHED)"))
        .await;
    assert!(fetch.untagged[0].starts_with("* VANISHED (EARLIER) 1:2"), "{fetch:?}");
    // A UIDVALIDITY that does not match gets no resync data.
    imap.ok("UNSELECT").await;
    let stale = imap
        .ok(&format!("SELECT INBOX (QRESYNC ({} {modseq}))", validity + 1))
        .await;
    assert!(!stale.has("VANISHED"), "{stale:?}");
}

#[tokio::test]
async fn compress_deflate_carries_the_session() {
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = server().await;
    deliver(&server, &message("squeezed", &"compressible text ".repeat(200))).await;
    let mut imap = Imap::login(&server).await;
    let caps = imap.ok("CAPABILITY").await;
    assert!(caps.has("COMPRESS=DEFLATE"));
    imap.ok("COMPRESS DEFLATE").await;
    // From here on, raw DEFLATE both ways (RFC 4978).
    let mut stream = imap.into_stream();
    let (mut deflate, mut inflate) = (Compress::new(Compression::default(), false), Decompress::new(false));
    let mut packet = Vec::with_capacity(256);
    deflate
        .compress_vec(
            b"c1 SELECT INBOX\r\nc2 FETCH 1 BODY[]\r\n",
            &mut packet,
            FlushCompress::Sync,
        )
        .unwrap();
    stream.write_all(&packet).await.unwrap();
    let mut plain = Vec::new();
    let mut buf = vec![0; 65536];
    while !String::from_utf8_lossy(&plain).contains("c2 OK") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&plain));
        let mut consumed = 0;
        while consumed < n {
            let before = inflate.total_in();
            let mut out = Vec::with_capacity(65536);
            inflate
                .decompress_vec(&buf[consumed..n], &mut out, FlushDecompress::Sync)
                .unwrap();
            consumed += (inflate.total_in() - before) as usize;
            plain.extend_from_slice(&out);
        }
    }
    let text = String::from_utf8_lossy(&plain);
    assert!(text.contains("c1 OK [READ-WRITE]"), "{text}");
    assert!(text.contains("compressible text compressible text"), "{text}");
    assert!(!text.contains("COMPRESS=DEFLATE"));
}

#[tokio::test]
async fn many_idle_sessions_see_the_same_updates() {
    let server = server().await;
    for subject in ["a", "b"] {
        deliver(&server, &message(subject, "x")).await;
    }
    let mut idlers = Vec::new();
    for _ in 0..4 {
        let mut imap = Imap::inbox(&server).await;
        let tag = idle(&mut imap).await;
        idlers.push((imap, tag));
    }
    let mut other = Imap::inbox(&server).await;
    deliver(&server, &message("c", "x")).await;
    // RFC 3501 2.3.2: the first of them selected the first two messages
    // and holds them as recent; exactly one of them takes the third.
    let mut recent = 0;
    for (imap, _) in &mut idlers {
        assert_eq!(imap.read_line().await.unwrap(), "* 3 EXISTS");
        let line = imap.read_line().await.unwrap();
        let count = line.strip_prefix("* ").and_then(|l| l.strip_suffix(" RECENT"));
        recent += count.and_then(|n| n.parse::<u32>().ok()).expect(&line);
    }
    assert_eq!(recent, 3);
    other.ok("NOOP").await;
    other.ok("STORE 2 +FLAGS (\\Deleted)").await;
    other.ok("EXPUNGE").await;
    for (imap, _) in &mut idlers {
        let mut lines = vec![imap.read_line().await.unwrap()];
        if !lines[0].contains("EXPUNGE") {
            lines.push(imap.read_line().await.unwrap());
        }
        assert_eq!(lines.last().unwrap(), "* 2 EXPUNGE", "{lines:?}");
    }
    for (imap, tag) in &mut idlers {
        imap.send_raw(b"DONE\r\n").await;
        imap.finish(tag).await.ok();
        let uids = imap.ok("UID SEARCH ALL").await;
        assert_eq!(uids.lines("SEARCH"), ["SEARCH 1 3"]);
    }
}
