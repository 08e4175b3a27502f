//! Mailbox commands over real sockets (RFC 9051 6.3, LIST-EXTENDED,
//! LIST-STATUS, SPECIAL-USE, CHILDREN, modified UTF-7).

use crate::common;

use crate::common::{Imap, VERSIONS, Version, message, server};

fn names(response: &common::Response) -> Vec<String> {
    response
        .lines("LIST")
        .iter()
        .map(|l| l.rsplit_once(" \"/\" ").unwrap().1.trim_matches('"').to_owned())
        .collect()
}

#[tokio::test]
async fn default_mailboxes_with_special_use_and_tabs() {
    let server = server().await;
    let mut imap = Imap::login(&server).await;
    let list = imap.ok("LIST \"\" \"*\"").await;
    let mut all = names(&list);
    all.sort();
    assert_eq!(
        all,
        [
            "Archive",
            "Drafts",
            "INBOX",
            "Junk",
            "Promotions",
            "Sent",
            "Social",
            "Trash",
            "Updates"
        ]
    );
    for (name, attribute) in [
        ("Sent", "\\Sent"),
        ("Junk", "\\Junk"),
        ("Trash", "\\Trash"),
        ("Drafts", "\\Drafts"),
    ] {
        assert!(
            list.lines("LIST")
                .iter()
                .any(|l| l.contains(attribute) && l.ends_with(&format!("\"{name}\""))),
            "{name}: {list:?}"
        );
    }
    // RFC 6154 LIST (SPECIAL-USE): only those.
    let special = imap.ok("LIST (SPECIAL-USE) \"\" \"*\"").await;
    assert_eq!(names(&special).len(), 5, "{special:?}");
    // RFC 9051 6.3.9: the empty pattern gives the delimiter.
    let delimiter = imap.ok("LIST \"\" \"\"").await;
    assert_eq!(delimiter.lines("LIST"), vec!["LIST (\\Noselect) \"/\" \"\""]);
}

#[tokio::test]
async fn create_with_hierarchy_and_list_patterns() {
    let server = server().await;
    let mut imap = Imap::login(&server).await;
    imap.ok("CREATE Work/2026/Q4").await;
    let created = imap.command("CREATE Work").await;
    assert!(created.tagged.starts_with("NO [ALREADYEXISTS]"), "{created:?}");
    imap.command("CREATE INBOX").await.no();
    imap.command("CREATE \"a//b\"").await.no();
    let top = imap.ok("LIST \"\" %").await;
    assert!(
        top.lines("LIST").contains(&"LIST (\\HasChildren) \"/\" \"Work\""),
        "{top:?}"
    );
    assert!(!names(&top).contains(&"Work/2026".to_owned()));
    let under = imap.ok("LIST Work/ %").await;
    assert_eq!(names(&under), ["Work/2026"]);
    let deep = imap.ok("LIST \"\" Work/*").await;
    assert_eq!(names(&deep), ["Work/2026", "Work/2026/Q4"]);
    assert!(deep.has("\\HasNoChildren) \"/\" \"Work/2026/Q4\""));
    let inbox = imap.ok("LIST \"\" inbox").await;
    assert_eq!(names(&inbox), ["INBOX"]);
}

#[tokio::test]
async fn rename_moves_inferiors_and_inbox_rule() {
    let server = server().await;
    common::deliver(&server, &message("one", "x")).await;
    let mut imap = Imap::login(&server).await;
    imap.ok("CREATE Projects/Alpha").await;
    imap.ok("RENAME Projects Clients").await;
    let list = imap.ok("LIST \"\" *").await;
    assert!(names(&list).contains(&"Clients/Alpha".to_owned()), "{list:?}");
    assert!(!names(&list).iter().any(|n| n.starts_with("Projects")));
    // RFC 9051 6.3.6: renaming INBOX moves its messages, INBOX stays.
    imap.ok("RENAME INBOX Old").await;
    let status = imap.ok("STATUS Old (MESSAGES)").await;
    assert_eq!(status.lines("STATUS"), vec!["STATUS \"Old\" (MESSAGES 1)"]);
    let status = imap.ok("STATUS INBOX (MESSAGES)").await;
    assert_eq!(status.lines("STATUS"), vec!["STATUS \"INBOX\" (MESSAGES 0)"]);
    let taken = imap.command("RENAME Old Clients").await;
    assert!(taken.tagged.starts_with("NO [ALREADYEXISTS]"), "{taken:?}");
    let missing = imap.command("RENAME Nothing Else").await;
    assert!(missing.tagged.starts_with("NO [NONEXISTENT]"), "{missing:?}");
}

#[tokio::test]
async fn delete_and_subscriptions() {
    let server = server().await;
    let mut imap = Imap::login(&server).await;
    imap.ok("CREATE Temp").await;
    imap.ok("UNSUBSCRIBE Temp").await;
    let lsub = imap.ok("LSUB \"\" *").await;
    assert!(!lsub.has("\"Temp\""), "{lsub:?}");
    imap.ok("SUBSCRIBE Temp").await;
    let lsub = imap.ok("LSUB \"\" T*").await;
    assert_eq!(
        lsub.lines("LSUB"),
        vec!["LSUB () \"/\" \"Temp\"", "LSUB () \"/\" \"Trash\""]
    );
    let subscribed = imap.ok("LIST (SUBSCRIBED) \"\" Te*").await;
    assert_eq!(
        subscribed.lines("LIST"),
        vec!["LIST (\\HasNoChildren \\Subscribed) \"/\" \"Temp\""]
    );
    imap.ok("DELETE Temp").await;
    imap.command("DELETE Temp").await.no();
    imap.command("DELETE INBOX").await.no();
    assert!(!names(&imap.ok("LIST \"\" *").await).contains(&"Temp".to_owned()));
}

#[tokio::test]
async fn status_and_list_status() {
    let server = server().await;
    common::deliver(&server, &message("a", "x")).await;
    common::deliver(&server, &message("b", "y")).await;
    let mut imap = Imap::login(&server).await;
    let status = imap
        .ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)")
        .await;
    let line = status.lines("STATUS")[0];
    assert!(
        line.starts_with("STATUS \"INBOX\" (MESSAGES 2 UIDNEXT 3 UIDVALIDITY "),
        "{line}"
    );
    assert!(
        line.contains("UNSEEN 2 DELETED 0 SIZE ") && line.contains("HIGHESTMODSEQ "),
        "{line}"
    );
    imap.command("STATUS Nope (MESSAGES)").await.no();
    // RFC 5819: STATUS after each LIST line.
    let list = imap.ok("LIST \"\" INBOX RETURN (STATUS (MESSAGES UNSEEN))").await;
    assert_eq!(list.lines("STATUS"), vec!["STATUS \"INBOX\" (MESSAGES 2 UNSEEN 2)"]);
}

#[tokio::test]
async fn international_names_in_modified_utf7_and_utf8() {
    let server = server().await;
    let mut imap = Imap::login(&server).await;
    // IMAP4rev1 clients: modified UTF-7 (RFC 3501 5.1.3).
    imap.ok("CREATE Entw&APw-rfe").await;
    let list = imap.ok("LIST \"\" Entw*").await;
    assert_eq!(names(&list), ["Entw&APw-rfe"]);
    // After ENABLE UTF8=ACCEPT (RFC 6855) the same name is UTF-8.
    imap.ok("ENABLE UTF8=ACCEPT").await;
    let list = imap.ok("LIST \"\" Entw*").await;
    assert_eq!(names(&list), ["Entwürfe"]);
    imap.ok("SELECT \"Entwürfe\"").await;
}

#[tokio::test]
async fn select_and_examine_report_the_mailbox() {
    let server = server().await;
    common::deliver(&server, &message("a", "x")).await;
    let mut imap = Imap::login(&server).await;
    let select = imap.ok("SELECT INBOX").await;
    assert_eq!(select.lines("1 EXISTS").len(), 1);
    assert!(select.has("[UIDVALIDITY ") && select.has("[UIDNEXT 2]") && select.has("[HIGHESTMODSEQ "));
    assert!(select.has("[PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]"));
    assert!(select.tagged.starts_with("OK [READ-WRITE]"));
    let examine = imap.ok("EXAMINE INBOX").await;
    assert!(examine.tagged.starts_with("OK [READ-ONLY]"), "{examine:?}");
    assert!(examine.has("[PERMANENTFLAGS ()]"));
    imap.command("STORE 1 +FLAGS (\\Seen)").await.no();
    let missing = imap.command("SELECT Nope").await;
    assert!(missing.tagged.starts_with("NO [NONEXISTENT]"));
    // A failed SELECT leaves no mailbox selected (RFC 9051 6.3.2).
    imap.command("FETCH 1 FLAGS").await.bad();
}

/// Every printable character that is no atom-special (RFC 3501 9), as
/// the independent conformance suite sent it; `&` starts no valid
/// modified UTF-7 here.
const ATOM_CHARS: &str = "!#$&'+,-.0123456789:;<=>?@^_`|[}";

#[tokio::test]
async fn names_and_patterns_of_any_atom_characters_are_answered_not_refused_as_syntax() {
    let server = server().await;
    let mut imap = Imap::login(&server).await;
    // RFC 3501 6.3.8 list-mailbox: any ATOM-CHAR and the wildcards. A
    // pattern that is not valid modified UTF-7 matches nothing: OK.
    for _ in 0..5 {
        let list = imap.ok(&format!("LIST \"\" {ATOM_CHARS}%*")).await;
        assert!(list.lines("LIST").is_empty(), "{list:?}");
        let quoted = imap.ok(&format!("LIST \"\" \"{ATOM_CHARS}%*\"")).await;
        assert!(quoted.lines("LIST").is_empty(), "{quoted:?}");
        imap.ok(&format!("LSUB \"\" {ATOM_CHARS}*")).await;
        // RFC 3501 5.1.3: such a name is refused with NO; it is no
        // protocol error, and repeating it must not end the session.
        imap.command(&format!("SELECT {ATOM_CHARS}")).await.no();
        imap.command(&format!("CREATE {ATOM_CHARS}")).await.no();
    }
    // A pattern matches names as this rev1 client reads them.
    imap.ok("CREATE &AOk-t&AOk-").await;
    let wire = imap.ok("LIST \"\" &AOk-t*").await;
    assert_eq!(names(&wire), ["&AOk-t&AOk-"], "{wire:?}");
    let odd = imap.ok("LIST \"\" &AOk*").await;
    assert_eq!(
        names(&odd),
        ["&AOk-t&AOk-"],
        "an undecodable pattern matched as written: {odd:?}"
    );
    imap.ok("NOOP").await;
}

#[tokio::test]
async fn in_imap4rev2_a_name_of_atom_characters_is_an_ordinary_utf8_name() {
    // RFC 9051 5.1: names are UTF-8 once IMAP4rev2 is enabled, so the
    // same atom characters make a valid name: created, selected and
    // listed, again and again without the session ending. An IMAP4rev1
    // session sees it in modified UTF-7, its "&" as "&-" (RFC 3501 5.1.3).
    let server = server().await;
    let mut imap = Imap::login_as(&server, Version::Rev2).await;
    imap.ok(&format!("CREATE {ATOM_CHARS}")).await;
    for _ in 0..5 {
        let list = imap.ok(&format!("LIST \"\" {ATOM_CHARS}%*")).await;
        assert_eq!(names(&list), [ATOM_CHARS], "{list:?}");
        let quoted = imap.ok(&format!("LIST \"\" \"{ATOM_CHARS}%*\"")).await;
        assert_eq!(names(&quoted), [ATOM_CHARS], "{quoted:?}");
        imap.ok(&format!("SELECT {ATOM_CHARS}")).await;
        imap.command(&format!("CREATE {ATOM_CHARS}")).await.no();
    }
    let mut rev1 = Imap::login(&server).await;
    let seen = rev1.ok("LIST \"\" \"!*\"").await;
    assert_eq!(names(&seen), [ATOM_CHARS.replace('&', "&-")], "{seen:?}");
}

#[tokio::test]
async fn recursivematch_names_parents_of_subscribed_children_with_childinfo() {
    // RFC 5258 3.5: CHILDINFO marks a name whose subscribed descendants
    // are not being returned; redundant ones are left out; never without
    // RECURSIVEMATCH.
    for version in VERSIONS {
        let server = server().await;
        let mut imap = Imap::login_as(&server, version).await;
        imap.ok("CREATE Work/Alpha").await;
        imap.ok("CREATE Work/Beta").await;
        imap.ok("SUBSCRIBE Work/Alpha").await;
        let work = |reply: &common::Response| -> Vec<String> {
            reply
                .lines("LIST")
                .into_iter()
                .filter(|l| l.contains("\"Work"))
                .map(str::to_owned)
                .collect()
        };
        let top = imap.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"").await;
        assert_eq!(
            work(&top),
            ["LIST (\\HasChildren) \"/\" \"Work\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"]
        );
        let everything = imap.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"*\"").await;
        assert_eq!(
            work(&everything),
            ["LIST (\\HasNoChildren \\Subscribed) \"/\" \"Work/Alpha\""],
            "Work/Alpha is returned itself: no CHILDINFO for Work"
        );
        assert!(work(&imap.ok("LIST (SUBSCRIBED) \"\" \"%\"").await).is_empty());
        imap.ok("SUBSCRIBE Work").await;
        let both = imap.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"").await;
        assert_eq!(
            work(&both),
            ["LIST (\\HasChildren \\Subscribed) \"/\" \"Work\" (\"CHILDINFO\" (\"SUBSCRIBED\"))"]
        );
    }
}

#[tokio::test]
async fn subscriptions_of_names_without_a_mailbox() {
    // RFC 9051 6.3.7: SUBSCRIBE of a name that does not exist (yet) is
    // kept, and a deleted mailbox stays subscribed (6.3.4); LIST
    // (SUBSCRIBED) shows such names \NonExistent (RFC 5258 3); LSUB shows
    // them, and a level above subscribed names that "%" does not reach
    // as \Noselect (RFC 3501 6.3.9).
    for version in VERSIONS {
        let server = server().await;
        let mut imap = Imap::login_as(&server, version).await;
        imap.ok("SUBSCRIBE Future").await;
        imap.ok("SUBSCRIBE Projects/Alpha").await;
        imap.ok("CREATE Old").await;
        imap.ok("SUBSCRIBE Old").await;
        imap.ok("DELETE Old").await;
        // CREATE itself subscribes nothing: that is the client's to ask.
        imap.ok("CREATE Plain").await;
        assert!(!imap.ok("LSUB \"\" \"*\"").await.has("\"Plain\""));
        assert!(!imap.ok("LIST (SUBSCRIBED) \"\" \"*\"").await.has("\"Plain\""));
        assert!(imap.ok("LIST \"\" \"*\"").await.has("\"Plain\""));
        let subscribed = imap.ok("LIST (SUBSCRIBED) \"\" \"*\"").await;
        for name in ["Future", "Old", "Projects/Alpha"] {
            let line = format!("\\NonExistent \\HasNoChildren \\Subscribed) \"/\" \"{name}\"");
            assert!(subscribed.has(&line), "{name}: {subscribed:?}");
        }
        assert!(!subscribed.has("\"Projects\""), "{subscribed:?}");
        // Not in a plain LIST: they are no mailboxes.
        assert!(!imap.ok("LIST \"\" \"*\"").await.has("Future"));
        let lsub = imap.ok("LSUB \"\" \"%\"").await;
        assert!(lsub.has("* LSUB () \"/\" \"Future\""), "{lsub:?}");
        assert!(lsub.has("* LSUB (\\Noselect) \"/\" \"Projects\""), "{lsub:?}");
        let deep = imap.ok("LSUB \"\" \"Projects/*\"").await;
        assert_eq!(deep.lines("LSUB"), ["LSUB () \"/\" \"Projects/Alpha\""]);
        // Created, it is an ordinary subscribed mailbox.
        imap.ok("CREATE Future").await;
        let created = imap.ok("LIST (SUBSCRIBED) \"\" Future").await;
        assert_eq!(
            created.lines("LIST"),
            ["LIST (\\HasNoChildren \\Subscribed) \"/\" \"Future\""]
        );
        imap.ok("UNSUBSCRIBE Old").await;
        assert!(!imap.ok("LSUB \"\" \"*\"").await.has("\"Old\""));
    }
}
