//! SMTP command lines (RFC 5321 4.1.1) and their ESMTP parameters.

use super::path::{ForwardPath, ReversePath, parse_forward_path, parse_reverse_path, split_path};

/// RFC 5321 4.5.3.1.4 allows 512 octets; extensions add parameters, so we
/// take up to this much before calling a line too long.
pub const MAX_COMMAND_LINE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    Mail {
        from: ReversePath,
        params: MailParams,
    },
    Rcpt {
        to: ForwardPath,
        params: RcptParams,
    },
    Data,
    /// RFC 3030 2: `BDAT size [LAST]`.
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy(String),
    Expn(String),
    Help,
    StartTls,
    /// RFC 4954 4: `AUTH mechanism [initial-response]`.
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    SevenBit,
    EightBitMime,
    BinaryMime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Full,
    Headers,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    /// RFC 1870: the size the client announces.
    pub size: Option<u64>,
    /// RFC 6152 / RFC 3030.
    pub body: Option<Body>,
    /// RFC 6531 3.4.
    pub smtputf8: bool,
    /// RFC 3461 4.3 and 4.4.
    pub ret: Option<Ret>,
    pub envid: Option<String>,
    /// RFC 4954 5: `AUTH=<mailbox>` or `<>`, as given (xtext decoded).
    pub auth: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RcptParams {
    /// RFC 3461 4.1: `NEVER` or a set of SUCCESS, FAILURE, DELAY.
    pub notify: Option<Notify>,
    /// RFC 3461 4.2: `addr-type;xtext`, kept as given (xtext decoded in the address).
    pub orcpt: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notify {
    pub never: bool,
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

impl Notify {
    pub fn to_param(self) -> String {
        if self.never {
            return "NEVER".to_owned();
        }
        let parts: Vec<&str> = [
            (self.success, "SUCCESS"),
            (self.failure, "FAILURE"),
            (self.delay, "DELAY"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        parts.join(",")
    }
}

/// Why a command line was not accepted; each maps to one standard reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// 500 5.5.1
    Unknown,
    /// 501 5.5.4 (arguments) or 501 5.1.7 / 5.1.3 (addresses)
    Syntax(&'static str),
    BadSender(&'static str),
    BadRecipient(&'static str),
    /// 555 5.5.4 (RFC 5321 4.1.1.11)
    UnknownParameter(String),
    /// 501 5.5.4
    BadParameter(&'static str),
    /// 500 5.5.6
    TooLong,
    /// 500 5.5.2: NUL or other bytes that have no place in a command.
    BadBytes,
}

/// Parses one command line, without its CRLF.
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    if line.len() > MAX_COMMAND_LINE {
        return Err(ParseError::TooLong);
    }
    // Commands are ASCII except addresses under SMTPUTF8; never controls.
    let text = std::str::from_utf8(line).map_err(|_| ParseError::BadBytes)?;
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ParseError::BadBytes);
    }
    let (verb, rest) = match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let verb = verb.to_ascii_uppercase();
    let no_args = |command: Command| {
        if rest.trim().is_empty() {
            Ok(command)
        } else {
            Err(ParseError::Syntax("no arguments allowed"))
        }
    };
    match verb.as_str() {
        "EHLO" | "HELO" => {
            let host = rest.trim();
            if host.is_empty() || host.contains(' ') {
                return Err(ParseError::Syntax("EHLO needs one domain or address literal"));
            }
            Ok(if verb == "EHLO" {
                Command::Ehlo(host.to_owned())
            } else {
                Command::Helo(host.to_owned())
            })
        }
        "MAIL" => parse_mail(rest),
        "RCPT" => parse_rcpt(rest),
        "DATA" => no_args(Command::Data),
        "BDAT" => parse_bdat(rest),
        "RSET" => no_args(Command::Rset),
        // RFC 5321 4.1.1.9: NOOP may carry a string, which is ignored.
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_args(Command::Quit),
        "VRFY" => Ok(Command::Vrfy(rest.trim().to_owned())),
        "EXPN" => Ok(Command::Expn(rest.trim().to_owned())),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_args(Command::StartTls),
        "AUTH" => {
            let mut words = rest.split(' ').filter(|w| !w.is_empty());
            let mechanism = words
                .next()
                .ok_or(ParseError::Syntax("AUTH needs a mechanism"))?
                .to_ascii_uppercase();
            let initial = words.next().map(str::to_owned);
            if words.next().is_some() {
                return Err(ParseError::Syntax("AUTH takes a mechanism and an initial response"));
            }
            Ok(Command::Auth { mechanism, initial })
        }
        _ => Err(ParseError::Unknown),
    }
}

/// `FROM:` or `TO:` then the path; RFC 5321 says no space after the
/// colon, but many clients send one and every server takes it.
fn after_keyword<'a>(rest: &'a str, keyword: &str) -> Option<&'a str> {
    let head = rest.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword)
        .then(|| rest[keyword.len()..].trim_start_matches(' '))
}

/// esmtp-param = esmtp-keyword ["=" esmtp-value]
fn params(text: &str) -> Result<Vec<(String, Option<&str>)>, ParseError> {
    let mut out: Vec<(String, Option<&str>)> = Vec::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let (keyword, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word, None),
        };
        let valid_keyword = keyword.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && keyword.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_keyword || value.is_some_and(|v| v.is_empty() || v.contains('=')) {
            return Err(ParseError::BadParameter("malformed parameter"));
        }
        let keyword = keyword.to_ascii_uppercase();
        if out.iter().any(|(k, _)| *k == keyword) {
            return Err(ParseError::BadParameter("parameter given twice"));
        }
        out.push((keyword, value));
    }
    Ok(out)
}

/// RFC 3461 4: xtext, `+XX` for bytes outside 33..126 and `+` and `=`.
pub fn decode_xtext(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let hex = text.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b @ 33..=126 if b != b'=' => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

fn parse_mail(rest: &str) -> Result<Command, ParseError> {
    let rest = after_keyword(rest, "FROM:").ok_or(ParseError::Syntax("use MAIL FROM:<address>"))?;
    let (path, tail) = split_path(rest).map_err(|e| ParseError::BadSender(e.0))?;
    let from = parse_reverse_path(path).map_err(|e| ParseError::BadSender(e.0))?;
    let mut p = MailParams::default();
    for (keyword, value) in params(tail)? {
        match (keyword.as_str(), value) {
            ("SIZE", Some(v)) => {
                p.size = Some(
                    v.parse()
                        .map_err(|_| ParseError::BadParameter("SIZE must be a number"))?,
                );
            }
            ("BODY", Some(v)) => {
                p.body = Some(match v.to_ascii_uppercase().as_str() {
                    "7BIT" => Body::SevenBit,
                    "8BITMIME" => Body::EightBitMime,
                    "BINARYMIME" => Body::BinaryMime,
                    _ => return Err(ParseError::BadParameter("BODY must be 7BIT, 8BITMIME or BINARYMIME")),
                });
            }
            ("SMTPUTF8", None) => p.smtputf8 = true,
            ("RET", Some(v)) => {
                p.ret = Some(match v.to_ascii_uppercase().as_str() {
                    "FULL" => Ret::Full,
                    "HDRS" => Ret::Headers,
                    _ => return Err(ParseError::BadParameter("RET must be FULL or HDRS")),
                });
            }
            ("ENVID", Some(v)) => {
                // RFC 3461 4.4: at most 100 characters of xtext.
                let id = decode_xtext(v).filter(|id| id.len() <= 100);
                p.envid = Some(id.ok_or(ParseError::BadParameter(
                    "ENVID must be xtext of at most 100 characters",
                ))?);
            }
            ("AUTH", Some(v)) => p.auth = Some(decode_xtext(v).ok_or(ParseError::BadParameter("AUTH= must be xtext"))?),
            ("SIZE" | "BODY" | "RET" | "ENVID" | "AUTH", None) | ("SMTPUTF8", Some(_)) => {
                return Err(ParseError::BadParameter("parameter value missing or not allowed"));
            }
            _ => return Err(ParseError::UnknownParameter(keyword)),
        }
    }
    Ok(Command::Mail { from, params: p })
}

fn parse_rcpt(rest: &str) -> Result<Command, ParseError> {
    let rest = after_keyword(rest, "TO:").ok_or(ParseError::Syntax("use RCPT TO:<address>"))?;
    let (path, tail) = split_path(rest).map_err(|e| ParseError::BadRecipient(e.0))?;
    let to = parse_forward_path(path).map_err(|e| ParseError::BadRecipient(e.0))?;
    let mut p = RcptParams::default();
    for (keyword, value) in params(tail)? {
        match (keyword.as_str(), value) {
            ("NOTIFY", Some(v)) => {
                let mut notify = Notify::default();
                for item in v.split(',') {
                    match item.to_ascii_uppercase().as_str() {
                        "NEVER" => notify.never = true,
                        "SUCCESS" => notify.success = true,
                        "FAILURE" => notify.failure = true,
                        "DELAY" => notify.delay = true,
                        _ => {
                            return Err(ParseError::BadParameter(
                                "NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY",
                            ));
                        }
                    }
                }
                // RFC 3461 4.1: NEVER stands alone.
                if notify.never && (notify.success || notify.failure || notify.delay) {
                    return Err(ParseError::BadParameter("NOTIFY=NEVER cannot be combined"));
                }
                p.notify = Some(notify);
            }
            ("ORCPT", Some(v)) => {
                let (kind, address) = v
                    .split_once(';')
                    .ok_or(ParseError::BadParameter("ORCPT must be type;address"))?;
                let address = decode_xtext(address).ok_or(ParseError::BadParameter("ORCPT address must be xtext"))?;
                if kind.is_empty() || address.is_empty() || address.len() > 500 {
                    return Err(ParseError::BadParameter("ORCPT must be type;address"));
                }
                p.orcpt = Some(format!("{kind};{address}"));
            }
            ("NOTIFY" | "ORCPT", None) => return Err(ParseError::BadParameter("parameter value missing")),
            _ => return Err(ParseError::UnknownParameter(keyword)),
        }
    }
    Ok(Command::Rcpt { to, params: p })
}

fn parse_bdat(rest: &str) -> Result<Command, ParseError> {
    let mut words = rest.split(' ').filter(|w| !w.is_empty());
    let size = words
        .next()
        .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|w| w.parse().ok())
        .ok_or(ParseError::Syntax("BDAT needs a chunk size"))?;
    let last = match words.next() {
        None => false,
        Some(word) if word.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(ParseError::Syntax("use BDAT size [LAST]")),
    };
    if words.next().is_some() {
        return Err(ParseError::Syntax("use BDAT size [LAST]"));
    }
    Ok(Command::Bdat { size, last })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::path::{Domain, Mailbox};

    fn parse(line: &str) -> Result<Command, ParseError> {
        parse_command(line.as_bytes())
    }

    #[test]
    fn simple_commands() {
        assert_eq!(parse("ehlo client.test").unwrap(), Command::Ehlo("client.test".into()));
        assert_eq!(parse("HELO [127.0.0.1]").unwrap(), Command::Helo("[127.0.0.1]".into()));
        assert_eq!(parse("DATA").unwrap(), Command::Data);
        assert_eq!(parse("noop anything at all").unwrap(), Command::Noop);
        assert_eq!(parse("Quit").unwrap(), Command::Quit);
        assert_eq!(parse("STARTTLS").unwrap(), Command::StartTls);
        assert_eq!(
            parse("BDAT 1000 LAST").unwrap(),
            Command::Bdat { size: 1000, last: true }
        );
        assert_eq!(parse("BDAT 0").unwrap(), Command::Bdat { size: 0, last: false });
        assert_eq!(
            parse("AUTH plain dGVzdA==").unwrap(),
            Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("dGVzdA==".into())
            }
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(parse("FOO bar"), Err(ParseError::Unknown));
        assert_eq!(parse(""), Err(ParseError::Unknown));
        assert!(matches!(parse("EHLO"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse("DATA now"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse("BDAT -1"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse("BDAT 10 FIRST"), Err(ParseError::Syntax(_))));
        assert_eq!(parse_command(b"NOOP \x00"), Err(ParseError::BadBytes));
        assert_eq!(parse_command(b"EHLO \xff"), Err(ParseError::BadBytes));
        assert_eq!(parse_command(&[b'A'; 5000]), Err(ParseError::TooLong));
    }

    #[test]
    fn mail_with_parameters() {
        let Command::Mail { from, params } =
            parse("MAIL FROM:<a@example.com> SIZE=1024 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B314").unwrap()
        else {
            panic!()
        };
        let expected = Mailbox {
            local: "a".into(),
            quoted: false,
            domain: Domain::Name("example.com".into()),
        };
        assert_eq!(from, ReversePath::Mailbox(expected));
        assert_eq!(params.size, Some(1024));
        assert_eq!(params.body, Some(Body::EightBitMime));
        assert!(params.smtputf8);
        assert_eq!(params.ret, Some(Ret::Headers));
        assert_eq!(params.envid.as_deref(), Some("QQ+314"));
        // A space after the colon is tolerated.
        assert!(parse("mail from: <>").is_ok());
    }

    #[test]
    fn mail_refusals() {
        assert!(matches!(parse("MAIL <a@b.test>"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse("MAIL FROM:a@b.test"), Err(ParseError::BadSender(_))));
        assert!(matches!(parse("MAIL FROM:<a@@b.test>"), Err(ParseError::BadSender(_))));
        assert_eq!(
            parse("MAIL FROM:<a@b.test> FOO=BAR"),
            Err(ParseError::UnknownParameter("FOO".into()))
        );
        assert!(matches!(
            parse("MAIL FROM:<a@b.test> SIZE=big"),
            Err(ParseError::BadParameter(_))
        ));
        assert!(matches!(
            parse("MAIL FROM:<a@b.test> SIZE=1 SIZE=2"),
            Err(ParseError::BadParameter(_))
        ));
        assert!(matches!(
            parse("MAIL FROM:<a@b.test> BODY=9BIT"),
            Err(ParseError::BadParameter(_))
        ));
        assert!(matches!(
            parse("MAIL FROM:<a@b.test> ENVID=a=b"),
            Err(ParseError::BadParameter(_))
        ));
        assert!(matches!(
            parse(&format!("MAIL FROM:<a@b.test> ENVID={}", "x".repeat(101))),
            Err(ParseError::BadParameter(_))
        ));
    }

    #[test]
    fn rcpt_with_dsn_parameters() {
        let Command::Rcpt { to, params } =
            parse("RCPT TO:<b@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+40example.com").unwrap()
        else {
            panic!()
        };
        assert!(matches!(to, ForwardPath::Mailbox { routed: false, .. }));
        assert_eq!(params.notify.unwrap().to_param(), "SUCCESS,FAILURE");
        assert_eq!(params.orcpt.as_deref(), Some("rfc822;b@example.com"));
        assert_eq!(
            parse("RCPT TO:<postmaster>").unwrap(),
            Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: RcptParams::default()
            }
        );
        assert!(matches!(
            parse("RCPT TO:<b@x.test> NOTIFY=NEVER,DELAY"),
            Err(ParseError::BadParameter(_))
        ));
        assert!(matches!(
            parse("RCPT TO:<b@x.test> ORCPT=b@x.test"),
            Err(ParseError::BadParameter(_))
        ));
        assert!(matches!(parse("RCPT TO:<>"), Err(ParseError::BadRecipient(_))));
    }

    #[test]
    fn xtext() {
        assert_eq!(decode_xtext("abc+2Bdef+3D").as_deref(), Some("abc+def="));
        assert_eq!(decode_xtext("bad+2"), None);
        assert_eq!(decode_xtext("bad+zz"), None);
        assert_eq!(decode_xtext("sp ace"), None);
    }
}
