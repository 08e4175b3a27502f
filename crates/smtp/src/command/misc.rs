//! RSET, QUIT, VRFY and HELP.

use crate::proto::Reply;
use crate::session::{Flow, Session};

pub fn rset(session: &mut Session) -> Flow {
    // RFC 5321 4.1.1.5: drops the transaction, keeps EHLO and AUTH.
    session.transaction = None;
    session.reply(Reply::new(250, "2.0.0", "OK"))
}

pub fn quit(session: &mut Session) -> Flow {
    let text = format!("{} Bye", session.hostname());
    session.reply(Reply::new(221, "2.0.0", text));
    Flow::Close
}

pub fn vrfy(session: &mut Session) -> Flow {
    // RFC 5321 3.5.3: 252 lets a client go on without us confirming which
    // addresses exist (which would feed address harvesters).
    session.reply(Reply::new(
        252,
        "2.5.0",
        "Cannot verify the user, but will accept the message and attempt delivery",
    ))
}

pub fn help(session: &mut Session) -> Flow {
    session.reply(Reply::new(
        214,
        "2.0.0",
        "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT STARTTLS AUTH",
    ))
}
