//! POP3 command lines (RFC 1939 3, RFC 2449, RFC 2595, RFC 5034, RFC 6856).
//!
//! A keyword of three or four letters, case-insensitive, then arguments
//! separated by spaces. PASS takes the rest of the line as it is, spaces
//! and all (RFC 1939 7: a password may contain spaces).

/// RFC 2449 4: 255 octets with CRLF. AUTH initial responses and SASL
/// answers may be longer (RFC 5034 4), so lines up to this are read.
pub const MAX_LINE: usize = 8 * 1024;
/// RFC 1939 3: arguments up to 40 characters; we allow more for long
/// addresses and passwords, but not without bound.
const MAX_ARGUMENT: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Capa,
    Quit,
    /// RFC 2595 4.
    Stls,
    /// RFC 6856 3.
    Utf8,
    User(Vec<u8>),
    Pass(Vec<u8>),
    /// RFC 5034: `AUTH` alone lists the mechanisms (the older RFC 1734
    /// habit clients still use); with a mechanism it starts an exchange.
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    Apop,
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Retr(u32),
    Top(u32, u64),
    Dele(u32),
    Rset,
    Noop,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown command")]
    Unknown,
    #[error("{0}")]
    Syntax(&'static str),
}

fn text(bytes: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(bytes).map_err(|_| ParseError::Syntax("arguments must be UTF-8"))
}

/// RFC 1939 3: a message-number is a decimal number, at least 1. Zero
/// parses, to be answered "no such message" like any other absent number.
fn number(word: &[u8]) -> Result<u32, ParseError> {
    if word.is_empty() || word.len() > 10 || !word.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::Syntax("a message number is a decimal number"));
    }
    text(word)?
        .parse()
        .map_err(|_| ParseError::Syntax("message number out of range"))
}

fn count(word: &[u8]) -> Result<u64, ParseError> {
    if word.is_empty() || word.len() > 19 || !word.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::Syntax("a line count is a non-negative decimal number"));
    }
    text(word)?
        .parse()
        .map_err(|_| ParseError::Syntax("line count out of range"))
}

/// Parses one line, without its CRLF.
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let (keyword, rest) = match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], Some(&line[space + 1..])),
        None => (line, None),
    };
    if keyword.is_empty() || keyword.len() > 4 || !keyword.iter().all(u8::is_ascii_alphanumeric) {
        return Err(ParseError::Unknown);
    }
    let keyword = keyword.to_ascii_uppercase();
    if keyword == b"PASS" {
        return match rest {
            Some(password) if !password.is_empty() && password.len() <= MAX_ARGUMENT => {
                Ok(Command::Pass(password.to_vec()))
            }
            _ => Err(ParseError::Syntax("PASS needs a password")),
        };
    }
    let arguments: Vec<&[u8]> = match rest {
        Some(rest) => rest.split(|&b| b == b' ').filter(|word| !word.is_empty()).collect(),
        None => Vec::new(),
    };
    if arguments.iter().any(|word| word.len() > MAX_ARGUMENT) && keyword != b"AUTH" {
        return Err(ParseError::Syntax("argument too long"));
    }
    let none = |command: Command| {
        if arguments.is_empty() {
            Ok(command)
        } else {
            Err(ParseError::Syntax("this command takes no arguments"))
        }
    };
    let optional_number = |arguments: &[&[u8]]| match arguments {
        [] => Ok(None),
        [n] => number(n).map(Some),
        _ => Err(ParseError::Syntax("at most one message number")),
    };
    match &keyword[..] {
        b"CAPA" => none(Command::Capa),
        b"QUIT" => none(Command::Quit),
        b"STLS" => none(Command::Stls),
        b"UTF8" => none(Command::Utf8),
        b"STAT" => none(Command::Stat),
        b"RSET" => none(Command::Rset),
        b"NOOP" => none(Command::Noop),
        b"APOP" => Ok(Command::Apop),
        b"USER" => match arguments[..] {
            [name] => Ok(Command::User(name.to_vec())),
            _ => Err(ParseError::Syntax("USER needs one name")),
        },
        b"AUTH" => match arguments[..] {
            [] => Ok(Command::Auth {
                mechanism: None,
                initial: None,
            }),
            [mechanism] => Ok(Command::Auth {
                mechanism: Some(text(mechanism)?.to_ascii_uppercase()),
                initial: None,
            }),
            [mechanism, initial] => Ok(Command::Auth {
                mechanism: Some(text(mechanism)?.to_ascii_uppercase()),
                initial: Some(text(initial)?.to_owned()),
            }),
            _ => Err(ParseError::Syntax("AUTH takes a mechanism and an initial response")),
        },
        b"LIST" => optional_number(&arguments).map(Command::List),
        b"UIDL" => optional_number(&arguments).map(Command::Uidl),
        b"RETR" => match arguments[..] {
            [n] => number(n).map(Command::Retr),
            _ => Err(ParseError::Syntax("RETR needs one message number")),
        },
        b"DELE" => match arguments[..] {
            [n] => number(n).map(Command::Dele),
            _ => Err(ParseError::Syntax("DELE needs one message number")),
        },
        b"TOP" => match arguments[..] {
            [n, lines] => Ok(Command::Top(number(n)?, count(lines)?)),
            _ => Err(ParseError::Syntax("TOP needs a message number and a line count")),
        },
        _ => Err(ParseError::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(parse(b"capa"), Ok(Command::Capa));
        assert_eq!(parse(b"StAt"), Ok(Command::Stat));
        assert_eq!(parse(b"top 1 10"), Ok(Command::Top(1, 10)));
    }

    #[test]
    fn pass_keeps_its_spaces() {
        assert_eq!(parse(b"PASS a b  c "), Ok(Command::Pass(b"a b  c ".to_vec())));
        assert!(parse(b"PASS").is_err());
        assert!(parse(b"PASS ").is_err());
    }

    #[test]
    fn numbers_and_their_errors() {
        assert_eq!(parse(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse(b"LIST 2"), Ok(Command::List(Some(2))));
        assert_eq!(parse(b"UIDL 0"), Ok(Command::Uidl(Some(0))));
        assert_eq!(parse(b"RETR 4294967295"), Ok(Command::Retr(u32::MAX)));
        for bad in [
            &b"RETR"[..],
            b"RETR -1",
            b"RETR 1 2",
            b"RETR x",
            b"RETR 4294967296",
            b"DELE",
            b"TOP 1",
            b"TOP 1 -5",
            b"LIST 1 2",
            b"STAT 1",
        ] {
            assert!(
                matches!(parse(bad), Err(ParseError::Syntax(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn auth_forms() {
        assert_eq!(
            parse(b"AUTH"),
            Ok(Command::Auth {
                mechanism: None,
                initial: None
            })
        );
        assert_eq!(
            parse(b"auth plain AGEAYg=="),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGEAYg==".into())
            })
        );
    }

    #[test]
    fn unknown_and_garbage() {
        assert_eq!(parse(b""), Err(ParseError::Unknown));
        assert_eq!(parse(b"XTND XMIT"), Err(ParseError::Unknown));
        assert_eq!(parse(b"LAST"), Err(ParseError::Unknown));
        assert_eq!(parse(b"\xff\xfe"), Err(ParseError::Unknown));
        assert_eq!(parse(b"USER \xc3\xa9"), Ok(Command::User("é".as_bytes().to_vec())));
    }
}
