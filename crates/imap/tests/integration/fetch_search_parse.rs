//! FETCH, SEARCH, SORT and THREAD commands, from the RFCs' examples.

use estafeta_imap::proto::fetch::{FetchAttribute as F, Section, SectionText};
use estafeta_imap::proto::search::{SearchKey as K, SearchReturn, SortCriterion, SortKey, ThreadAlgorithm};
use estafeta_imap::proto::{CommandBody, ParseError, SequenceSet, parse_command};

fn parse(text: &str) -> CommandBody {
    parse_command(text.as_bytes())
        .unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
        .body
}

fn attributes(text: &str) -> Vec<F> {
    match parse(text) {
        CommandBody::Fetch { attributes, .. } => attributes,
        other => panic!("{other:?}"),
    }
}

fn key(text: &str) -> K {
    match parse(text) {
        CommandBody::Search { key, .. } => key,
        other => panic!("{other:?}"),
    }
}

fn bad(text: &str) {
    assert!(
        matches!(parse_command(text.as_bytes()), Err(ParseError::Bad { .. })),
        "{text} was accepted"
    );
}

#[test]
fn fetch_items_and_macros() {
    // RFC 9051 6.4.5 example.
    let CommandBody::Fetch {
        set,
        uid,
        attributes: items,
        ..
    } = parse("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")
    else {
        panic!()
    };
    assert_eq!((set, uid), (SequenceSet::parse("2:4").unwrap(), false));
    assert_eq!(
        items,
        vec![
            F::Flags,
            F::BodySection {
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields {
                        not: false,
                        fields: vec!["DATE".into(), "FROM".into()]
                    })
                },
                partial: None,
                peek: false,
            },
        ]
    );
    assert_eq!(
        attributes_of_macro("ALL"),
        vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope]
    );
    assert_eq!(
        attributes_of_macro("fast"),
        vec![F::Flags, F::InternalDate, F::Rfc822Size]
    );
    assert_eq!(attributes_of_macro("FULL").last(), Some(&F::Body));
    assert_eq!(attributes("a FETCH 1 body"), vec![F::Body]);
    assert_eq!(
        attributes("a FETCH 1 (UID MODSEQ BODYSTRUCTURE RFC822.SIZE)"),
        vec![F::Uid, F::Modseq, F::BodyStructure, F::Rfc822Size]
    );
}

fn attributes_of_macro(name: &str) -> Vec<F> {
    attributes(&format!("a FETCH 1:* {name}"))
}

#[test]
fn sections_partials_and_binary() {
    assert_eq!(
        attributes("a FETCH 1 BODY.PEEK[1.2.MIME]<0.2048>"),
        vec![F::BodySection {
            section: Section {
                part: vec![1, 2],
                text: Some(SectionText::Mime)
            },
            partial: Some((0, 2048)),
            peek: true,
        }]
    );
    assert_eq!(
        attributes("a FETCH 1 BODY[]"),
        vec![F::BodySection {
            section: Section::default(),
            partial: None,
            peek: false
        }]
    );
    assert_eq!(
        attributes("a FETCH 1 BODY[3.TEXT]"),
        vec![F::BodySection {
            section: Section {
                part: vec![3],
                text: Some(SectionText::Text)
            },
            partial: None,
            peek: false,
        }]
    );
    assert_eq!(
        attributes("a FETCH 1 BODY[HEADER.FIELDS.NOT (Received)]"),
        vec![F::BodySection {
            section: Section {
                part: vec![],
                text: Some(SectionText::HeaderFields {
                    not: true,
                    fields: vec!["Received".into()]
                })
            },
            partial: None,
            peek: false,
        }]
    );
    assert_eq!(
        attributes("a FETCH 1 (BINARY.PEEK[1.3]<10.20> BINARY.SIZE[2])"),
        vec![
            F::Binary {
                section: Section {
                    part: vec![1, 3],
                    text: None
                },
                partial: Some((10, 20)),
                peek: true
            },
            F::BinarySize {
                section: Section {
                    part: vec![2],
                    text: None
                }
            },
        ]
    );
    // Beyond RFC 3516's part numbers, as Dovecot takes them: a MIME header
    // or TEXT section.
    assert_eq!(
        attributes("a FETCH 1 (BINARY.SIZE[1.MIME] BINARY[TEXT])"),
        vec![
            F::BinarySize {
                section: Section {
                    part: vec![1],
                    text: Some(SectionText::Mime)
                }
            },
            F::Binary {
                section: Section {
                    part: vec![],
                    text: Some(SectionText::Text)
                },
                partial: None,
                peek: false
            },
        ]
    );
    for text in [
        "a FETCH 1 BODY[MIME]",
        "a FETCH 1 BODY[0]",
        "a FETCH 1 BODY[1.]",
        "a FETCH 1 BODY[]<5.0>",
        "a FETCH 1 BODY[]<5.>",
        "a FETCH 1 BODY[]<>",
        "a FETCH 1 BODY[HEADER.FIELDS ()]",
        "a FETCH 1 (FLAGS",
        "a FETCH 1 BOGUS",
        "a FETCH 1 BINARY[MIME]",
        "a FETCH 1 BINARY.SIZE[1.BOGUS]",
    ] {
        bad(text);
    }
}

#[test]
fn fetch_modifiers() {
    // RFC 7162 3.1.4.1 and 3.2.6 examples.
    let CommandBody::Fetch { modifiers, .. } = parse("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)") else {
        panic!()
    };
    assert_eq!((modifiers.changed_since, modifiers.vanished), (Some(12345), false));
    let CommandBody::Fetch { modifiers, .. } = parse("A01 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)")
    else {
        panic!()
    };
    assert!(modifiers.vanished);
    bad("a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)");
    bad("a UID FETCH 1 FLAGS (VANISHED)");
}

#[test]
fn search_keys() {
    // RFC 9051 6.4.4 example.
    assert_eq!(
        key("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
        K::And(vec![
            K::Flagged,
            K::Since(8797),
            K::Not(Box::new(K::From(b"Smith".to_vec()))),
        ])
    );
    assert_eq!(
        key("a SEARCH OR (SEEN ANSWERED) 1:5 UID 10:*"),
        K::And(vec![
            K::Or(
                Box::new(K::And(vec![K::Seen, K::Answered])),
                Box::new(K::Sequence(SequenceSet::parse("1:5").unwrap()))
            ),
            K::Uid(SequenceSet::parse("10:*").unwrap()),
        ])
    );
    assert_eq!(
        key("a SEARCH HEADER X-Spam yes LARGER 1024 KEYWORD $Junk"),
        K::And(vec![
            K::Header("X-Spam".into(), b"yes".to_vec()),
            K::Larger(1024),
            K::Keyword("$Junk".into()),
        ])
    );
    assert_eq!(key("a SEARCH SENTON \"26-Nov-2026\""), K::SentOn(20_783));
    assert_eq!(
        key("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338"),
        K::Modseq(620162338)
    );
    assert_eq!(key("a SEARCH $"), K::Sequence(SequenceSet::SavedResult));
    let CommandBody::Search { charset, uid, .. } = parse("a UID SEARCH CHARSET UTF-8 TEXT {5+}\r\nol\u{e1}!") else {
        panic!()
    };
    assert_eq!((charset.as_deref(), uid), (Some("UTF-8"), true));
    for text in [
        "a SEARCH",
        "a SEARCH BOGUS",
        "a SEARCH SINCE 31-Foo-2026",
        "a SEARCH FROM",
        "a SEARCH OR SEEN",
        "a SEARCH (SEEN",
    ] {
        bad(text);
    }
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    bad(&format!("a SEARCH {}SEEN", "NOT ".repeat(10_000)));
    bad(&format!("a SEARCH {}SEEN{}", "(".repeat(10_000), ")".repeat(10_000)));
    assert!(matches!(key(&format!("a SEARCH {}SEEN", "NOT ".repeat(10))), K::Not(_)));
}

#[test]
fn esearch_return_options() {
    // RFC 4731 3.1 examples.
    let CommandBody::Search { returns, .. } = parse("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994") else {
        panic!()
    };
    assert_eq!(
        returns,
        Some(SearchReturn {
            min: true,
            count: true,
            ..Default::default()
        })
    );
    let CommandBody::Search { returns, .. } = parse("A283 SEARCH RETURN () FLAGGED") else {
        panic!()
    };
    assert_eq!(
        returns,
        Some(SearchReturn {
            all: true,
            ..Default::default()
        })
    );
    let CommandBody::Search { returns, .. } = parse("A284 SEARCH RETURN (SAVE) UNSEEN") else {
        panic!()
    };
    assert!(returns.unwrap().save);
    bad("a SEARCH RETURN (BOGUS) ALL");
}

#[test]
fn context_search_options_and_cancelupdate() {
    // RFC 5267 5: UPDATE and CONTEXT are return options; CONTEXT alone
    // is a hint, so the answer is ALL; ALL and PARTIAL exclude each other.
    let returns = |text: &str| match parse(text) {
        CommandBody::Search { returns, .. } => returns.unwrap(),
        other => panic!("{other:?}"),
    };
    let update = returns("a SEARCH RETURN (UPDATE COUNT) DELETED");
    assert!(update.update && update.count && !update.all);
    let hint = returns("a UID SEARCH RETURN (CONTEXT) UNDELETED");
    assert!(hint.context && hint.all);
    bad("a SEARCH RETURN (ALL PARTIAL 1:10) ALL");
    assert_eq!(
        parse("a CANCELUPDATE \"B01\" \"B02\""),
        CommandBody::CancelUpdate(vec!["B01".into(), "B02".into()])
    );
    bad("a CANCELUPDATE");
    bad("a CANCELUPDATE B01");
}

#[test]
fn sort_and_thread() {
    // RFC 5256 examples.
    let CommandBody::Sort {
        criteria,
        charset,
        key,
        uid,
        returns,
    } = parse("A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994")
    else {
        panic!()
    };
    assert_eq!(returns, None);
    assert_eq!(
        criteria,
        vec![SortCriterion {
            reverse: false,
            key: SortKey::Subject
        }]
    );
    assert_eq!((charset.as_str(), key, uid), ("UTF-8", K::Since(8797), false));
    // RFC 5267 3 and RFC 9394 3.1: RETURN options before the criteria.
    let CommandBody::Sort { returns, .. } = parse("B283 SORT RETURN (MIN PARTIAL 200:101) (DATE) UTF-8 ALL") else {
        panic!()
    };
    let returns = returns.expect("RETURN options");
    assert!(returns.min && !returns.all);
    assert_eq!(returns.partial.map(|p| (p.first, p.last)), Some((101, 200)));
    let CommandBody::Sort { criteria, .. } = parse("a UID SORT (REVERSE DATE SIZE) US-ASCII ALL") else {
        panic!()
    };
    assert_eq!(
        criteria,
        vec![
            SortCriterion {
                reverse: true,
                key: SortKey::Date
            },
            SortCriterion {
                reverse: false,
                key: SortKey::Size
            }
        ]
    );
    let CommandBody::Thread { algorithm, .. } = parse("A283 THREAD REFERENCES UTF-8 SINCE 5-MAR-2000") else {
        panic!()
    };
    assert_eq!(algorithm, ThreadAlgorithm::References);
    bad("a SORT (REVERSE) UTF-8 ALL");
    bad("a SORT () UTF-8 ALL");
    bad("a THREAD BOGUS UTF-8 ALL");
}
