//! SASL PLAIN (RFC 4616) and LOGIN decoding, the same for every protocol.
//! The protocol sessions carry the base64 lines; this turns them into
//! credentials and enforces the mechanisms' own rules.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    Login,
}

impl SaslMechanism {
    /// Mechanism names are case-insensitive (RFC 4422 3.1).
    pub fn parse(name: &str) -> Option<SaslMechanism> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Some(SaslMechanism::Plain)
        } else if name.eq_ignore_ascii_case("LOGIN") {
            Some(SaslMechanism::Login)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::Login => "LOGIN",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Authentication identity: the account that proves itself.
    pub authcid: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("authcid", &self.authcid)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("invalid base64")]
    Base64,
    #[error("not valid UTF-8")]
    Utf8,
    #[error("malformed PLAIN message")]
    Malformed,
    #[error("empty user name or password")]
    Empty,
    #[error("field longer than 255 octets")]
    TooLong,
    #[error("authorization identity differs from the authentication identity")]
    AuthzidNotAllowed,
    #[error("authentication cancelled")]
    Cancelled,
}

/// RFC 4616 2: `[authzid] NUL authcid NUL passwd`. We do not let one user
/// act as another, so an authzid, if given, must name the same account.
pub fn decode_plain(base64_text: &str) -> Result<Credentials, SaslError> {
    let raw = decode_base64(base64_text)?;
    let mut fields = raw.split(|&byte| byte == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(SaslError::Malformed);
    };
    let text = |bytes: &[u8]| -> Result<String, SaslError> {
        // RFC 4616 2: each field is at most 255 octets of UTF-8.
        if bytes.len() > 255 {
            return Err(SaslError::TooLong);
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::Utf8)
    };
    let (authzid, authcid, password) = (text(authzid)?, text(authcid)?, text(password)?);
    if authcid.is_empty() || password.is_empty() {
        return Err(SaslError::Empty);
    }
    if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(&authcid) {
        return Err(SaslError::AuthzidNotAllowed);
    }
    Ok(Credentials { authcid, password })
}

/// An HTTP `Authorization: Basic` value (RFC 7617 2): base64 of
/// `user-id ":" password`, UTF-8 (we announce charset="UTF-8"). The same
/// limits as PLAIN apply.
pub fn decode_basic(header: &str) -> Result<Credentials, SaslError> {
    let (scheme, token) = header.trim().split_once(' ').ok_or(SaslError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(SaslError::Malformed);
    }
    let token = token.trim();
    if token == "*" || token == "=" {
        return Err(SaslError::Malformed);
    }
    let raw = String::from_utf8(decode_base64(token)?).map_err(|_| SaslError::Utf8)?;
    // RFC 7617 2: the user-id cannot contain a colon; the password can.
    let (authcid, password) = raw.split_once(':').ok_or(SaslError::Malformed)?;
    if authcid.is_empty() || password.is_empty() {
        return Err(SaslError::Empty);
    }
    if authcid.len() > 255 || password.len() > 255 {
        return Err(SaslError::TooLong);
    }
    if authcid.contains('\0') || password.contains('\0') {
        return Err(SaslError::Malformed);
    }
    Ok(Credentials {
        authcid: authcid.to_owned(),
        password: password.to_owned(),
    })
}

/// Base64 for a SASL line; `*` alone is the client cancelling (RFC 4954 4,
/// RFC 9051 6.2.2, RFC 5034 4), and `=` alone an empty initial response.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, SaslError> {
    let text = text.trim_end_matches(['\r', '\n']);
    match text {
        "*" => Err(SaslError::Cancelled),
        "=" => Ok(Vec::new()),
        _ => STANDARD.decode(text).map_err(|_| SaslError::Base64),
    }
}

/// The LOGIN mechanism (draft-murchison-sasl-login): the server asks for a
/// user name and then a password, each a base64 line.
#[derive(Debug, Default)]
pub struct LoginExchange {
    user: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum LoginStep {
    /// Send this base64 challenge and wait for the next line.
    Challenge(&'static str),
    Done(Credentials),
}

impl LoginExchange {
    /// "Username:" and "Password:" in base64.
    pub const USER_PROMPT: &'static str = "VXNlcm5hbWU6";
    pub const PASSWORD_PROMPT: &'static str = "UGFzc3dvcmQ6";

    /// Starts the exchange, with the user name if the client sent an
    /// initial response.
    pub fn start(initial: Option<&str>) -> Result<(LoginExchange, LoginStep), SaslError> {
        let mut exchange = LoginExchange::default();
        match initial {
            None => Ok((exchange, LoginStep::Challenge(Self::USER_PROMPT))),
            Some(line) => {
                let step = exchange.step(line)?;
                Ok((exchange, step))
            }
        }
    }

    pub fn step(&mut self, line: &str) -> Result<LoginStep, SaslError> {
        let raw = decode_base64(line)?;
        if raw.len() > 255 {
            return Err(SaslError::TooLong);
        }
        let value = String::from_utf8(raw).map_err(|_| SaslError::Utf8)?;
        if value.is_empty() {
            return Err(SaslError::Empty);
        }
        match self.user.take() {
            None => {
                self.user = Some(value);
                Ok(LoginStep::Challenge(Self::PASSWORD_PROMPT))
            }
            Some(authcid) => Ok(LoginStep::Done(Credentials {
                authcid,
                password: value,
            })),
        }
    }
}

/// How a protocol sends a SASL challenge and reads the client's answer
/// (SMTP `334`, IMAP `+`, POP3 `+`).
pub trait Challenge {
    /// Sends the base64 `prompt` and returns the client's next line;
    /// `Err(None)` when the connection went away.
    fn challenge(&mut self, prompt: &'static str) -> impl Future<Output = Result<String, Option<SaslError>>> + Send;
}

/// Runs a PLAIN or LOGIN exchange, the same for every protocol.
/// `Err(None)`: the connection is gone; `Err(Some(_))`: a bad or
/// cancelled exchange.
pub async fn exchange(
    mechanism: SaslMechanism,
    initial: Option<String>,
    mut client: impl Challenge,
) -> Result<Credentials, Option<SaslError>> {
    match mechanism {
        SaslMechanism::Plain => {
            let response = match initial {
                Some(response) => response,
                None => client.challenge("").await?,
            };
            decode_plain(&response).map_err(Some)
        }
        SaslMechanism::Login => {
            let (mut exchange, mut step) = LoginExchange::start(initial.as_deref()).map_err(Some)?;
            loop {
                match step {
                    LoginStep::Done(credentials) => return Ok(credentials),
                    LoginStep::Challenge(prompt) => {
                        let response = client.challenge(prompt).await?;
                        step = exchange.step(&response).map_err(Some)?;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(raw: &[u8]) -> String {
        STANDARD.encode(raw)
    }

    #[test]
    fn plain_without_authzid() {
        let credentials = decode_plain(&b64(b"\0tim\0tanstaaftanstaaf")).unwrap();
        assert_eq!(credentials.authcid, "tim");
        assert_eq!(credentials.password, "tanstaaftanstaaf");
    }

    #[test]
    fn plain_authzid_must_match() {
        // RFC 4616 4's example: Kurt acting as Ursel is not allowed here.
        let error = decode_plain(&b64(b"Ursel\0Kurt\0xipj3plmq")).unwrap_err();
        assert_eq!(error, SaslError::AuthzidNotAllowed);
        assert!(decode_plain(&b64(b"kurt\0Kurt\0xipj3plmq")).is_ok());
    }

    #[test]
    fn plain_refusals() {
        assert_eq!(decode_plain("!!!").unwrap_err(), SaslError::Base64);
        assert_eq!(decode_plain(&b64(b"tim")).unwrap_err(), SaslError::Malformed);
        assert_eq!(decode_plain(&b64(b"\0tim\0pw\0x")).unwrap_err(), SaslError::Malformed);
        assert_eq!(decode_plain(&b64(b"\0\0pw")).unwrap_err(), SaslError::Empty);
        assert_eq!(decode_plain(&b64(b"\0tim\0")).unwrap_err(), SaslError::Empty);
        assert_eq!(decode_plain(&b64(b"\0t\xffm\0pw")).unwrap_err(), SaslError::Utf8);
        let long = [b"\0".as_slice(), &[b'a'; 256], b"\0pw"].concat();
        assert_eq!(decode_plain(&b64(&long)).unwrap_err(), SaslError::TooLong);
        assert_eq!(decode_plain("*").unwrap_err(), SaslError::Cancelled);
    }

    #[test]
    fn login_exchange() {
        let (mut exchange, step) = LoginExchange::start(None).unwrap();
        assert_eq!(step, LoginStep::Challenge(LoginExchange::USER_PROMPT));
        assert_eq!(
            exchange.step(&b64(b"tim")).unwrap(),
            LoginStep::Challenge(LoginExchange::PASSWORD_PROMPT)
        );
        let LoginStep::Done(credentials) = exchange.step(&b64(b"secret")).unwrap() else {
            panic!("expected credentials");
        };
        assert_eq!(
            (credentials.authcid.as_str(), credentials.password.as_str()),
            ("tim", "secret")
        );
    }

    #[test]
    fn login_with_initial_response_and_cancel() {
        let (mut exchange, step) = LoginExchange::start(Some(&b64(b"tim"))).unwrap();
        assert_eq!(step, LoginStep::Challenge(LoginExchange::PASSWORD_PROMPT));
        assert_eq!(exchange.step("*").unwrap_err(), SaslError::Cancelled);
    }

    #[test]
    fn mechanism_names() {
        assert_eq!(SaslMechanism::parse("plain"), Some(SaslMechanism::Plain));
        assert_eq!(SaslMechanism::parse("LOGIN"), Some(SaslMechanism::Login));
        assert_eq!(SaslMechanism::parse("CRAM-MD5"), None);
    }

    #[test]
    fn credentials_debug_hides_password() {
        let credentials = Credentials {
            authcid: "tim".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }

    #[test]
    fn http_basic_values() {
        let basic = |raw: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
        let credentials = decode_basic(&basic("ana@example.com:pa:ss word")).unwrap();
        assert_eq!(credentials.authcid, "ana@example.com");
        assert_eq!(credentials.password, "pa:ss word");
        assert!(decode_basic(&basic("josé:contraseña")).is_ok());
        assert_eq!(decode_basic(&basic("nopassword")), Err(SaslError::Malformed));
        assert_eq!(decode_basic(&basic("ana:")), Err(SaslError::Empty));
        assert_eq!(decode_basic(&basic(":pw")), Err(SaslError::Empty));
        assert_eq!(decode_basic("Bearer abc"), Err(SaslError::Malformed));
        assert!(decode_basic("Basic !!!").is_err());
        assert!(decode_basic("Basic").is_err());
    }
}
