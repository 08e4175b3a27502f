//! What each SMTP command does, one file per command group.

mod auth;
mod data;
mod hello;
mod mail;
mod misc;
pub(crate) mod rcpt;
mod starttls;

use crate::proto::{Command, Reply};
use crate::session::{Flow, Session};

pub async fn dispatch(session: &mut Session, command: Command) -> Flow {
    match command {
        Command::Ehlo(host) => hello::ehlo(session, host, true),
        Command::Helo(host) => hello::ehlo(session, host, false),
        Command::StartTls => starttls::starttls(session).await,
        Command::Auth { mechanism, initial } => auth::auth(session, &mechanism, initial).await,
        Command::Mail { from, params } => mail::mail(session, from, params).await,
        Command::Rcpt { to, params } => rcpt::rcpt(session, to, params).await,
        Command::Data => data::data(session).await,
        Command::Bdat { size, last } => data::bdat(session, size, last).await,
        Command::Rset => misc::rset(session),
        Command::Noop => session.reply(Reply::new(250, "2.0.0", "OK")),
        Command::Quit => misc::quit(session),
        Command::Vrfy(_) => misc::vrfy(session),
        Command::Expn(_) => session.reply(Reply::new(502, "5.5.1", "EXPN not available")),
        Command::Help => misc::help(session),
    }
}
