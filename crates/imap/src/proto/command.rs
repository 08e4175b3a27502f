//! Typed IMAP commands and their parser (RFC 9051 6, with the extensions
//! the server announces). FETCH, SEARCH, SORT and THREAD have their own
//! modules; everything else is here.

use super::SequenceSet;
use super::fetch::{FetchAttribute, FetchModifiers};
use super::lexer::{Lexer, Result, SyntaxError};
use super::search::{SearchKey, SearchReturn, SortCriterion, ThreadAlgorithm};

/// A mailbox name as sent: UTF-8 under IMAP4rev2/UTF8=ACCEPT, modified
/// UTF-7 otherwise; the session decodes it. `INBOX` in any case is INBOX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxName(pub Vec<u8>);

impl MailboxName {
    fn new(raw: Vec<u8>) -> MailboxName {
        if raw.eq_ignore_ascii_case(b"INBOX") {
            MailboxName(b"INBOX".to_vec())
        } else {
            MailboxName(raw)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    /// A keyword (`$Forwarded`, `Work`); case-insensitive on the wire.
    Keyword(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    /// RFC 8438.
    Size,
    /// RFC 7162.
    HighestModseq,
    Recent,
}

/// RFC 7162 3.2.5: SELECT ... (QRESYNC (uidvalidity modseq [known-uids [seq-match]])).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QresyncParams {
    pub uid_validity: u32,
    pub modseq: u64,
    pub known_uids: Option<SequenceSet>,
    pub sequence_match: Option<(SequenceSet, SequenceSet)>,
}

/// One piece of a CATENATE message (RFC 4469 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatPart {
    /// An IMAP URL (RFC 5092) of a message or part of this account.
    Url(String),
    /// Text as sent; literal8 when `binary`.
    Text { data: Vec<u8>, binary: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<Flag>,
    /// Seconds since the epoch, and the zone in minutes east of UTC.
    pub date: Option<(i64, i16)>,
    pub data: Vec<u8>,
    /// Sent as literal8 (RFC 3516).
    pub binary: bool,
    /// CATENATE (RFC 4469): the message is these parts joined; `data` is
    /// then empty until they are.
    pub catenate: Vec<CatPart>,
}

/// RFC 5258 LIST-EXTENDED and RFC 5819 LIST-STATUS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub subscribed: bool,
    pub remote: bool,
    pub recursive_match: bool,
    pub special_use: bool,
    pub return_subscribed: bool,
    pub return_children: bool,
    pub return_special_use: bool,
    pub return_status: Vec<StatusItem>,
}

/// One RFC 2971 ID field and its value (NIL when absent).
pub type IdField = (Vec<u8>, Option<Vec<u8>>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    Capability,
    Noop,
    Logout,
    StartTls,
    /// RFC 9051 6.2.2 with SASL-IR (RFC 4959): `=` is an empty response.
    Authenticate {
        mechanism: String,
        initial: Option<Vec<u8>>,
    },
    Login {
        user: Vec<u8>,
        password: Vec<u8>,
    },
    /// RFC 5161.
    Enable(Vec<String>),
    /// RFC 2971: NIL or field/value pairs.
    Id(Option<Vec<IdField>>),
    Select {
        mailbox: MailboxName,
        read_only: bool,
        condstore: bool,
        qresync: Option<QresyncParams>,
    },
    Create(MailboxName),
    Delete(MailboxName),
    Rename {
        from: MailboxName,
        to: MailboxName,
    },
    Subscribe(MailboxName),
    Unsubscribe(MailboxName),
    List {
        reference: Vec<u8>,
        patterns: Vec<Vec<u8>>,
        options: ListOptions,
    },
    Lsub {
        reference: Vec<u8>,
        pattern: Vec<u8>,
    },
    /// RFC 2342.
    Namespace,
    Status {
        mailbox: MailboxName,
        items: Vec<StatusItem>,
    },
    /// One or more messages (MULTIAPPEND, RFC 3502).
    Append {
        mailbox: MailboxName,
        messages: Vec<AppendMessage>,
    },
    /// RFC 2177.
    Idle,
    Close,
    /// RFC 3691.
    Unselect,
    /// RFC 5267 4.3.5: stop updating the results of these searches.
    CancelUpdate(Vec<String>),
    /// EXPUNGE, or UID EXPUNGE (RFC 4315) with its set.
    Expunge {
        uids: Option<SequenceSet>,
    },
    Copy {
        set: SequenceSet,
        mailbox: MailboxName,
        uid: bool,
    },
    /// RFC 6851.
    Move {
        set: SequenceSet,
        mailbox: MailboxName,
        uid: bool,
    },
    Store {
        set: SequenceSet,
        uid: bool,
        mode: StoreMode,
        silent: bool,
        flags: Vec<Flag>,
        unchanged_since: Option<u64>,
    },
    Fetch {
        set: SequenceSet,
        uid: bool,
        attributes: Vec<FetchAttribute>,
        modifiers: FetchModifiers,
    },
    /// `returns` is `None` for a plain SEARCH (untagged `SEARCH` reply),
    /// `Some` with RETURN (untagged `ESEARCH`, RFC 4731).
    Search {
        uid: bool,
        charset: Option<String>,
        key: SearchKey,
        returns: Option<SearchReturn>,
    },
    /// RFC 5256; with RETURN, ESORT (RFC 5267 3).
    Sort {
        uid: bool,
        returns: Option<SearchReturn>,
        criteria: Vec<SortCriterion>,
        charset: String,
        key: SearchKey,
    },
    Thread {
        uid: bool,
        algorithm: ThreadAlgorithm,
        charset: String,
        key: SearchKey,
    },
    /// RFC 9208.
    GetQuota(Vec<u8>),
    GetQuotaRoot(MailboxName),
    /// RFC 4978.
    Compress(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: String,
    pub body: CommandBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No usable tag: answer with an untagged `* BAD`.
    NoTag,
    /// Tagged BAD with this text.
    Bad { tag: String, reason: &'static str },
}

/// Parses one framed command.
pub fn parse_command(input: &[u8]) -> std::result::Result<Command, ParseError> {
    let mut lexer = Lexer::new(input);
    let tag = lexer.tag().map_err(|_| ParseError::NoTag)?.to_owned();
    let body = lexer
        .sp()
        .and_then(|_| body(&mut lexer))
        .and_then(|body| lexer.end().map(|_| body));
    body.map(|body| Command { tag: tag.clone(), body })
        .map_err(|SyntaxError(reason)| ParseError::Bad { tag, reason })
}

fn mailbox(lexer: &mut Lexer) -> Result<MailboxName> {
    lexer.astring().map(MailboxName::new)
}

fn body(lexer: &mut Lexer) -> Result<CommandBody> {
    let name = lexer.atom()?.to_ascii_uppercase();
    let simple = |body: CommandBody| Ok(body);
    match name.as_str() {
        "CAPABILITY" => simple(CommandBody::Capability),
        "NOOP" => simple(CommandBody::Noop),
        // RFC 3501 6.4.1; gone from IMAP4rev2, where it is a NOOP.
        "CHECK" => simple(CommandBody::Noop),
        "LOGOUT" => simple(CommandBody::Logout),
        "STARTTLS" => simple(CommandBody::StartTls),
        "NAMESPACE" => simple(CommandBody::Namespace),
        "IDLE" => simple(CommandBody::Idle),
        "CLOSE" => simple(CommandBody::Close),
        "UNSELECT" => simple(CommandBody::Unselect),
        "CANCELUPDATE" => {
            let mut tags = Vec::new();
            while !lexer.at_end() {
                lexer.sp()?;
                let tag = lexer.quoted()?;
                tags.push(String::from_utf8(tag).map_err(|_| SyntaxError("a tag is ASCII"))?);
            }
            if tags.is_empty() {
                return Err(SyntaxError("CANCELUPDATE needs a tag"));
            }
            Ok(CommandBody::CancelUpdate(tags))
        }
        "EXPUNGE" => simple(CommandBody::Expunge { uids: None }),
        "AUTHENTICATE" => {
            lexer.sp()?;
            let mechanism = lexer.atom()?.to_ascii_uppercase();
            let initial = if lexer.at_end() {
                None
            } else {
                lexer.sp()?;
                let response = lexer.atom()?;
                Some(if response == "=" {
                    Vec::new()
                } else {
                    response.as_bytes().to_vec()
                })
            };
            Ok(CommandBody::Authenticate { mechanism, initial })
        }
        "LOGIN" => {
            lexer.sp()?;
            let user = lexer.astring()?;
            lexer.sp()?;
            let password = lexer.astring()?;
            Ok(CommandBody::Login { user, password })
        }
        "ENABLE" => {
            let mut capabilities = Vec::new();
            while !lexer.at_end() {
                lexer.sp()?;
                capabilities.push(lexer.atom()?.to_ascii_uppercase());
            }
            if capabilities.is_empty() {
                return Err(SyntaxError("ENABLE needs a capability"));
            }
            Ok(CommandBody::Enable(capabilities))
        }
        "ID" => {
            lexer.sp()?;
            if lexer.keyword("NIL") {
                return Ok(CommandBody::Id(None));
            }
            let items = lexer.list(true, |l| {
                let field = l.string()?;
                l.sp()?;
                Ok((field, l.nstring()?))
            })?;
            Ok(CommandBody::Id(Some(items)))
        }
        "SELECT" | "EXAMINE" => select(lexer, name == "EXAMINE"),
        "CREATE" | "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE" | "GETQUOTAROOT" => {
            lexer.sp()?;
            let mailbox = mailbox(lexer)?;
            // RFC 6154 CREATE ... (USE (...)) is not offered; nothing may follow.
            Ok(match name.as_str() {
                "CREATE" => CommandBody::Create(mailbox),
                "DELETE" => CommandBody::Delete(mailbox),
                "SUBSCRIBE" => CommandBody::Subscribe(mailbox),
                "UNSUBSCRIBE" => CommandBody::Unsubscribe(mailbox),
                _ => CommandBody::GetQuotaRoot(mailbox),
            })
        }
        "GETQUOTA" => {
            lexer.sp()?;
            Ok(CommandBody::GetQuota(lexer.astring()?))
        }
        "RENAME" => {
            lexer.sp()?;
            let from = mailbox(lexer)?;
            lexer.sp()?;
            let to = mailbox(lexer)?;
            Ok(CommandBody::Rename { from, to })
        }
        "LIST" => list(lexer),
        "LSUB" => {
            lexer.sp()?;
            let reference = lexer.astring()?;
            lexer.sp()?;
            let pattern = lexer.list_mailbox()?;
            Ok(CommandBody::Lsub { reference, pattern })
        }
        "STATUS" => {
            lexer.sp()?;
            let mailbox = mailbox(lexer)?;
            lexer.sp()?;
            let items = lexer.list(false, status_item)?;
            Ok(CommandBody::Status { mailbox, items })
        }
        "APPEND" => append(lexer),
        "COPY" | "MOVE" | "STORE" | "FETCH" => sequence_command(lexer, &name, false),
        "SEARCH" | "SORT" | "THREAD" => search_command(lexer, &name, false),
        "UID" => {
            lexer.sp()?;
            let name = lexer.atom()?.to_ascii_uppercase();
            match name.as_str() {
                "COPY" | "MOVE" | "STORE" | "FETCH" => sequence_command(lexer, &name, true),
                "SEARCH" | "SORT" | "THREAD" => search_command(lexer, &name, true),
                "EXPUNGE" => {
                    lexer.sp()?;
                    Ok(CommandBody::Expunge {
                        uids: Some(lexer.sequence_set()?),
                    })
                }
                _ => Err(SyntaxError("unknown UID command")),
            }
        }
        "COMPRESS" => {
            lexer.sp()?;
            Ok(CommandBody::Compress(lexer.atom()?.to_ascii_uppercase()))
        }
        _ => Err(SyntaxError("unknown command")),
    }
}

fn status_item(lexer: &mut Lexer) -> Result<StatusItem> {
    let item = lexer.atom()?.to_ascii_uppercase();
    Ok(match item.as_str() {
        "MESSAGES" => StatusItem::Messages,
        "UIDNEXT" => StatusItem::UidNext,
        "UIDVALIDITY" => StatusItem::UidValidity,
        "UNSEEN" => StatusItem::Unseen,
        "DELETED" => StatusItem::Deleted,
        "SIZE" => StatusItem::Size,
        "HIGHESTMODSEQ" => StatusItem::HighestModseq,
        "RECENT" => StatusItem::Recent,
        _ => return Err(SyntaxError("unknown STATUS item")),
    })
}

pub fn flag(lexer: &mut Lexer) -> Result<Flag> {
    if lexer.peek() == Some(b'\\') {
        lexer.byte(b'\\')?;
        let name = lexer.atom()?.to_ascii_lowercase();
        return Ok(match name.as_str() {
            "seen" => Flag::Seen,
            "answered" => Flag::Answered,
            "flagged" => Flag::Flagged,
            "deleted" => Flag::Deleted,
            "draft" => Flag::Draft,
            // \Recent cannot be set (RFC 3501 2.3.2); other \-flags are
            // extensions we do not support.
            _ => return Err(SyntaxError("unknown system flag")),
        });
    }
    Ok(Flag::Keyword(lexer.atom()?.to_owned()))
}

fn flag_list(lexer: &mut Lexer) -> Result<Vec<Flag>> {
    lexer.list(true, flag)
}

fn select(lexer: &mut Lexer, read_only: bool) -> Result<CommandBody> {
    lexer.sp()?;
    let mailbox = mailbox(lexer)?;
    let (mut condstore, mut qresync) = (false, None);
    if !lexer.at_end() {
        lexer.sp()?;
        lexer.list(false, |l| {
            if l.keyword("CONDSTORE") {
                condstore = true;
                return Ok(());
            }
            if l.keyword("QRESYNC") {
                l.sp()?;
                l.byte(b'(')?;
                let uid_validity = l.nz_number()?;
                l.sp()?;
                let modseq = l.number64()?;
                let mut params = QresyncParams {
                    uid_validity,
                    modseq,
                    known_uids: None,
                    sequence_match: None,
                };
                if l.peek() == Some(b' ') {
                    l.sp()?;
                    if l.peek() != Some(b'(') {
                        params.known_uids = Some(l.sequence_set()?);
                        if l.peek() == Some(b' ') {
                            l.sp()?;
                        }
                    }
                    if l.peek() == Some(b'(') {
                        l.byte(b'(')?;
                        let sequences = l.sequence_set()?;
                        l.sp()?;
                        let uids = l.sequence_set()?;
                        l.byte(b')')?;
                        params.sequence_match = Some((sequences, uids));
                    }
                }
                l.byte(b')')?;
                qresync = Some(params);
                return Ok(());
            }
            Err(SyntaxError("unknown SELECT parameter"))
        })?;
    }
    Ok(CommandBody::Select {
        mailbox,
        read_only,
        condstore,
        qresync,
    })
}

fn list(lexer: &mut Lexer) -> Result<CommandBody> {
    lexer.sp()?;
    let mut options = ListOptions::default();
    // RFC 5258 3: selection options come first, in parentheses.
    if lexer.peek() == Some(b'(') {
        lexer.list(true, |l| {
            let option = l.atom()?.to_ascii_uppercase();
            match option.as_str() {
                "SUBSCRIBED" => options.subscribed = true,
                "REMOTE" => options.remote = true,
                "RECURSIVEMATCH" => options.recursive_match = true,
                "SPECIAL-USE" => options.special_use = true,
                _ => return Err(SyntaxError("unknown LIST selection option")),
            }
            Ok(())
        })?;
        lexer.sp()?;
        // RFC 5258 3: RECURSIVEMATCH needs another selection option.
        if options.recursive_match && !options.subscribed && !options.special_use {
            return Err(SyntaxError("RECURSIVEMATCH needs another selection option"));
        }
    }
    let reference = lexer.astring()?;
    lexer.sp()?;
    let patterns = if lexer.peek() == Some(b'(') {
        lexer.list(false, |l| l.list_mailbox())?
    } else {
        vec![lexer.list_mailbox()?]
    };
    if !lexer.at_end() {
        lexer.sp()?;
        if !lexer.keyword("RETURN") {
            return Err(SyntaxError("expected RETURN"));
        }
        lexer.sp()?;
        lexer.list(true, |l| {
            let option = l.atom()?.to_ascii_uppercase();
            match option.as_str() {
                "SUBSCRIBED" => options.return_subscribed = true,
                "CHILDREN" => options.return_children = true,
                "SPECIAL-USE" => options.return_special_use = true,
                "STATUS" => {
                    l.sp()?;
                    options.return_status = l.list(false, status_item)?;
                }
                _ => return Err(SyntaxError("unknown LIST return option")),
            }
            Ok(())
        })?;
    }
    Ok(CommandBody::List {
        reference,
        patterns,
        options,
    })
}

fn append(lexer: &mut Lexer) -> Result<CommandBody> {
    lexer.sp()?;
    let mailbox = mailbox(lexer)?;
    let mut messages = Vec::new();
    // RFC 3502: one or more (flags, date, literal) groups.
    while !lexer.at_end() {
        lexer.sp()?;
        let flags = if lexer.peek() == Some(b'(') {
            let flags = flag_list(lexer)?;
            lexer.sp()?;
            flags
        } else {
            Vec::new()
        };
        let date = if lexer.peek() == Some(b'"') {
            let date = lexer.date_time()?;
            lexer.sp()?;
            Some(date)
        } else {
            None
        };
        if lexer.keyword("CATENATE") {
            lexer.sp()?;
            let catenate = lexer.list(false, |l| {
                let kind = l.atom()?.to_ascii_uppercase();
                l.sp()?;
                match kind.as_str() {
                    "URL" => Ok(CatPart::Url(
                        String::from_utf8(l.astring()?).map_err(|_| SyntaxError("a URL is ASCII"))?,
                    )),
                    "TEXT" => {
                        let (data, binary) = l.literal(true)?;
                        Ok(CatPart::Text {
                            data: data.to_vec(),
                            binary,
                        })
                    }
                    _ => Err(SyntaxError("CATENATE takes URL and TEXT parts")),
                }
            })?;
            messages.push(AppendMessage {
                flags,
                date,
                data: Vec::new(),
                binary: false,
                catenate,
            });
            continue;
        }
        let (data, binary) = lexer.literal(true)?;
        messages.push(AppendMessage {
            flags,
            date,
            data: data.to_vec(),
            binary,
            catenate: Vec::new(),
        });
    }
    if messages.is_empty() {
        return Err(SyntaxError("APPEND needs a message"));
    }
    Ok(CommandBody::Append { mailbox, messages })
}

fn sequence_command(lexer: &mut Lexer, name: &str, uid: bool) -> Result<CommandBody> {
    lexer.sp()?;
    let set = lexer.sequence_set()?;
    lexer.sp()?;
    if name == "STORE" {
        return store(lexer, set, uid);
    }
    if name == "FETCH" {
        let attributes = super::fetch::attributes(lexer)?;
        let modifiers = super::fetch::modifiers(lexer)?;
        // RFC 7162 3.2.6: VANISHED only in UID FETCH.
        if modifiers.vanished && !uid {
            return Err(SyntaxError("VANISHED needs UID FETCH"));
        }
        return Ok(CommandBody::Fetch {
            set,
            uid,
            attributes,
            modifiers,
        });
    }
    let mailbox = mailbox(lexer)?;
    Ok(if name == "COPY" {
        CommandBody::Copy { set, mailbox, uid }
    } else {
        CommandBody::Move { set, mailbox, uid }
    })
}

fn search_command(lexer: &mut Lexer, name: &str, uid: bool) -> Result<CommandBody> {
    use super::search;
    lexer.sp()?;
    match name {
        "SEARCH" => {
            let returns = search::return_options(lexer)?;
            let (charset, key) = search::program(lexer)?;
            Ok(CommandBody::Search {
                uid,
                charset,
                key,
                returns,
            })
        }
        "SORT" => {
            let returns = search::return_options(lexer)?;
            let criteria = search::sort_criteria(lexer)?;
            lexer.sp()?;
            let charset = String::from_utf8(lexer.astring()?).map_err(|_| SyntaxError("bad charset"))?;
            lexer.sp()?;
            let (_, key) = search::program(lexer)?;
            Ok(CommandBody::Sort {
                uid,
                returns,
                criteria,
                charset,
                key,
            })
        }
        _ => {
            let algorithm = search::thread_algorithm(lexer)?;
            lexer.sp()?;
            let charset = String::from_utf8(lexer.astring()?).map_err(|_| SyntaxError("bad charset"))?;
            lexer.sp()?;
            let (_, key) = search::program(lexer)?;
            Ok(CommandBody::Thread {
                uid,
                algorithm,
                charset,
                key,
            })
        }
    }
}

fn store(lexer: &mut Lexer, set: SequenceSet, uid: bool) -> Result<CommandBody> {
    // RFC 7162 3.1.3: STORE set (UNCHANGEDSINCE n) +FLAGS ...
    let mut unchanged_since = None;
    if lexer.peek() == Some(b'(') {
        lexer.list(false, |l| {
            if !l.keyword("UNCHANGEDSINCE") {
                return Err(SyntaxError("unknown STORE modifier"));
            }
            l.sp()?;
            unchanged_since = Some(l.number64()?);
            Ok(())
        })?;
        lexer.sp()?;
    }
    let item = lexer.atom()?.to_ascii_uppercase();
    let (mode, rest) = match item.as_bytes().first() {
        Some(b'+') => (StoreMode::Add, &item[1..]),
        Some(b'-') => (StoreMode::Remove, &item[1..]),
        _ => (StoreMode::Replace, item.as_str()),
    };
    let silent = match rest {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        _ => return Err(SyntaxError("STORE needs FLAGS, +FLAGS or -FLAGS")),
    };
    lexer.sp()?;
    // RFC 9051 9: flags as a list, or bare flags separated by spaces.
    let flags = if lexer.peek() == Some(b'(') {
        flag_list(lexer)?
    } else {
        let mut flags = vec![flag(lexer)?];
        while lexer.peek() == Some(b' ') {
            lexer.sp()?;
            flags.push(flag(lexer)?);
        }
        flags
    };
    Ok(CommandBody::Store {
        set,
        uid,
        mode,
        silent,
        flags,
        unchanged_since,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> CommandBody {
        parse_command(text.as_bytes())
            .unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
            .body
    }

    fn bad(text: &str) -> ParseError {
        parse_command(text.as_bytes()).expect_err(text)
    }

    fn name(text: &str) -> MailboxName {
        MailboxName(text.as_bytes().to_vec())
    }

    #[test]
    fn simple_commands_from_rfc_9051() {
        assert_eq!(
            parse_command(b"abcd CAPABILITY").unwrap(),
            Command {
                tag: "abcd".into(),
                body: CommandBody::Capability
            }
        );
        assert_eq!(parse("a002 NOOP"), CommandBody::Noop);
        assert_eq!(parse("A023 LOGOUT"), CommandBody::Logout);
        assert_eq!(
            parse("a001 login SMITH SESAME"),
            CommandBody::Login {
                user: b"SMITH".to_vec(),
                password: b"SESAME".to_vec()
            }
        );
        assert_eq!(
            parse("a LOGIN {5+}\r\nalice \"p w\""),
            CommandBody::Login {
                user: b"alice".to_vec(),
                password: b"p w".to_vec()
            }
        );
        assert_eq!(
            parse("A142 SELECT inbox"),
            CommandBody::Select {
                mailbox: name("INBOX"),
                read_only: false,
                condstore: false,
                qresync: None
            }
        );
        assert_eq!(
            parse("A932 EXAMINE blurdybloop"),
            CommandBody::Select {
                mailbox: name("blurdybloop"),
                read_only: true,
                condstore: false,
                qresync: None
            }
        );
        assert_eq!(
            parse("A683 RENAME blurdybloop sarasoop"),
            CommandBody::Rename {
                from: name("blurdybloop"),
                to: name("sarasoop")
            }
        );
        assert_eq!(
            parse("A003 APPEND saved-messages (\\Seen) {1+}\r\nx").clone(),
            CommandBody::Append {
                mailbox: name("saved-messages"),
                messages: vec![AppendMessage {
                    flags: vec![Flag::Seen],
                    date: None,
                    data: b"x".to_vec(),
                    binary: false,
                    catenate: Vec::new(),
                }],
            }
        );
        assert_eq!(
            parse("a UID EXPUNGE 3000:3002"),
            CommandBody::Expunge {
                uids: Some(SequenceSet::parse("3000:3002").unwrap())
            }
        );
        assert_eq!(
            parse("a AUTHENTICATE PLAIN ="),
            CommandBody::Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some(Vec::new())
            }
        );
        assert_eq!(
            parse("a ENABLE CONDSTORE utf8=accept"),
            CommandBody::Enable(vec!["CONDSTORE".into(), "UTF8=ACCEPT".into()])
        );
        assert_eq!(
            parse("a ID (\"name\" \"mutt\" \"version\" NIL)"),
            CommandBody::Id(Some(vec![
                (b"name".to_vec(), Some(b"mutt".to_vec())),
                (b"version".to_vec(), None),
            ]))
        );
    }

    #[test]
    fn status_store_copy_move() {
        assert_eq!(
            parse("A042 STATUS blurdybloop (UIDNEXT MESSAGES SIZE HIGHESTMODSEQ)"),
            CommandBody::Status {
                mailbox: name("blurdybloop"),
                items: vec![
                    StatusItem::UidNext,
                    StatusItem::Messages,
                    StatusItem::Size,
                    StatusItem::HighestModseq
                ],
            }
        );
        assert_eq!(
            parse("A003 STORE 2:4 +FLAGS (\\Deleted)"),
            CommandBody::Store {
                set: SequenceSet::parse("2:4").unwrap(),
                uid: false,
                mode: StoreMode::Add,
                silent: false,
                flags: vec![Flag::Deleted],
                unchanged_since: None,
            }
        );
        assert_eq!(
            parse("a UID STORE 1:* (UNCHANGEDSINCE 320162338) -FLAGS.SILENT \\Seen $Work"),
            CommandBody::Store {
                set: SequenceSet::parse("1:*").unwrap(),
                uid: true,
                mode: StoreMode::Remove,
                silent: true,
                flags: vec![Flag::Seen, Flag::Keyword("$Work".into())],
                unchanged_since: Some(320162338),
            }
        );
        assert_eq!(
            parse("A003 COPY 2:4 MEETING"),
            CommandBody::Copy {
                set: SequenceSet::parse("2:4").unwrap(),
                mailbox: name("MEETING"),
                uid: false
            }
        );
        assert_eq!(
            parse("a UID MOVE 42:69 foo"),
            CommandBody::Move {
                set: SequenceSet::parse("42:69").unwrap(),
                mailbox: name("foo"),
                uid: true
            }
        );
    }

    #[test]
    fn select_with_condstore_and_qresync() {
        // RFC 7162 3.2.5.2 example.
        let body = parse("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1,3,5 1,5,9)))");
        let CommandBody::Select { qresync: Some(q), .. } = body else {
            panic!("{body:?}")
        };
        assert_eq!((q.uid_validity, q.modseq), (67890007, 20050715194045000));
        assert_eq!(q.known_uids.unwrap().to_string(), "41,43:211,214:541");
        let (seqs, uids) = q.sequence_match.unwrap();
        assert_eq!((seqs.to_string(), uids.to_string()), ("1,3,5".into(), "1,5,9".into()));
        assert!(matches!(
            parse("a SELECT x (CONDSTORE)"),
            CommandBody::Select { condstore: true, .. }
        ));
        assert!(matches!(
            parse("a SELECT x (QRESYNC (1 2))"),
            CommandBody::Select { qresync: Some(_), .. }
        ));
    }

    #[test]
    fn list_extended() {
        assert_eq!(
            parse("A101 LIST \"\" \"\""),
            CommandBody::List {
                reference: vec![],
                patterns: vec![vec![]],
                options: ListOptions::default()
            }
        );
        let CommandBody::List { patterns, options, .. } = parse(
            "A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"%\" \"Work/*\") RETURN (CHILDREN STATUS (MESSAGES UNSEEN))",
        ) else {
            panic!()
        };
        assert_eq!(patterns, vec![b"%".to_vec(), b"Work/*".to_vec()]);
        assert!(options.subscribed && options.recursive_match && options.return_children);
        assert_eq!(options.return_status, vec![StatusItem::Messages, StatusItem::Unseen]);
        assert!(matches!(bad("a LIST (RECURSIVEMATCH) \"\" *"), ParseError::Bad { .. }));
    }

    #[test]
    fn multiappend_with_dates_and_binary() {
        let body = parse("a APPEND Sent (\\Seen $Sent) \"14-Jul-2026 02:44:25 -0700\" {2+}\r\nab ~{3+}\r\n\0x\n");
        let CommandBody::Append { messages, .. } = body else {
            panic!()
        };
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].flags, vec![Flag::Seen, Flag::Keyword("$Sent".into())]);
        assert!(messages[0].date.is_some() && !messages[0].binary);
        assert_eq!((messages[1].data.as_slice(), messages[1].binary), (&b"\0x\n"[..], true));
    }

    #[test]
    fn refusals_keep_the_tag() {
        assert_eq!(bad("+ NOOP"), ParseError::NoTag);
        assert_eq!(bad(""), ParseError::NoTag);
        for text in [
            "a1 FROB",
            "a1 NOOP extra",
            "a1 LOGIN onlyuser",
            "a1 SELECT",
            "a1 STORE 1 FLAGS",
            "a1 STORE 1 BOGUS (\\Seen)",
            "a1 STORE 1 +FLAGS (\\Recent)",
            "a1 STATUS x (BOGUS)",
            "a1 COPY 0 x",
            "a1 APPEND x",
            "a1 UID FETCHX 1",
            "a1 ENABLE",
            "a1 LIST \"\" \"\" RETURN (BOGUS)",
            "a1 SELECT x (QRESYNC (0 1))",
            "a1  NOOP",
        ] {
            match bad(text) {
                ParseError::Bad { tag, .. } => assert_eq!(tag, "a1", "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
