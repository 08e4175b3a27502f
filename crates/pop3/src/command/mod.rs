//! The commands, one module per group, and which state takes which
//! (RFC 1939 4-6).

mod auth;
mod capa;
mod transaction;

use crate::proto::Command;
use crate::session::{Flow, Session, State};

pub async fn execute(session: &mut Session, command: Command) -> Flow {
    let authorized = matches!(session.state, State::Transaction(_));
    match command {
        Command::Capa => capa::capa(session),
        Command::Quit => capa::quit(session).await,
        Command::Stls | Command::Utf8 | Command::User(_) | Command::Pass(_) | Command::Auth { .. } | Command::Apop
            if authorized =>
        {
            session.err(None, "Already logged in")
        }
        Command::Stls => auth::stls(session).await,
        Command::Utf8 => auth::utf8(session),
        Command::User(name) => auth::user(session, name),
        Command::Pass(password) => auth::pass(session, password).await,
        Command::Auth { mechanism, initial } => auth::auth(session, mechanism, initial).await,
        // RFC 1939 7: APOP is optional; its MD5 of a shared secret would
        // need passwords stored in the clear, which we never do.
        Command::Apop => session.err(None, "APOP is not supported; use USER/PASS or AUTH over TLS"),
        _ if !authorized => session.err(None, "Log in first"),
        Command::Stat => transaction::stat(session),
        Command::List(number) => transaction::list(session, number),
        Command::Uidl(number) => transaction::uidl(session, number),
        Command::Retr(number) => transaction::retr(session, number, None).await,
        Command::Top(number, lines) => transaction::retr(session, number, Some(lines)).await,
        Command::Dele(number) => transaction::dele(session, number),
        Command::Rset => transaction::rset(session),
        Command::Noop => session.ok(""),
    }
}
