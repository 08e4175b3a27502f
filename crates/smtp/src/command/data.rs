//! DATA (RFC 5321 4.1.1.4) and BDAT (RFC 3030).

use crate::delivery;
use crate::proto::{DataDecoder, Reply};
use crate::session::spool::Spool;
use crate::session::{Flow, Session, SmtpIo};

/// RFC 5321 4.5.3.2: a server that gives up on a slow client says so (421)
/// before closing; a client that went away gets nothing.
fn timed_out(session: &mut Session, error: &std::io::Error) -> Flow {
    if error.kind() == std::io::ErrorKind::TimedOut {
        let text = format!(
            "{} Timeout waiting for message data, closing connection",
            session.hostname()
        );
        session.io.reply(&Reply::new(421, "4.4.2", text));
    }
    Flow::Close
}

/// Where this session's message data goes while it arrives.
fn spool(session: &Session) -> Spool {
    let config = &session.context.config;
    Spool::new(config.data_dir.join("spool"), config.smtp.spool_above as usize)
}

/// The spool file could not be written or read back: the transaction
/// fails as a local error, to be retried (RFC 5321 4.2.5: 451).
fn spool_failed(session: &mut Session, error: &std::io::Error) -> Flow {
    tracing::error!(%error, "could not spool message data");
    session.transaction = None;
    session.reply(Reply::new(
        451,
        "4.3.0",
        "Temporary failure storing the message data, try again later",
    ))
}

fn bare_line_ending() -> Reply {
    Reply::new(550, "5.5.2", "Message contains a bare CR or LF (RFC 5321 2.3.8)")
}

/// Why a transaction cannot take message data now, if it cannot.
fn not_ready(session: &Session) -> Option<Reply> {
    match &session.transaction {
        None => Some(Reply::new(503, "5.5.1", "Need MAIL and RCPT first")),
        // RFC 2920 3.1: after only failed RCPTs, "no valid recipients".
        Some(transaction) if transaction.recipients.is_empty() => Some(Reply::new(554, "5.5.1", "No valid recipients")),
        Some(_) => None,
    }
}

pub async fn data(session: &mut Session) -> Flow {
    if let Some(reply) = not_ready(session) {
        return session.reply(reply);
    }
    if session.transaction.as_ref().is_some_and(|t| t.chunks.is_some()) {
        return session.reply(Reply::new(503, "5.5.1", "DATA not allowed after BDAT"));
    }
    session.io.reply(&Reply::plain(
        354,
        vec!["Start mail input; end with <CRLF>.<CRLF>".into()],
    ));
    let limit = session.context.config.smtp.max_message_size as usize;
    let mut decoder = DataDecoder::new(limit);
    let mut message = spool(session);
    session
        .io
        .connection
        .set_idle_timeout(session.context.config.smtp.data_timeout);
    let read = session.io.read_data(&mut decoder, &mut message).await;
    session
        .io
        .connection
        .set_idle_timeout(session.context.config.smtp.command_timeout);
    if let Err(error) = read {
        // A dropped or stalled connection mid-DATA: nothing was
        // acknowledged, so nothing is kept.
        return timed_out(session, &error);
    }
    let Some(transaction) = session.transaction.take() else {
        return Flow::Close;
    };
    if decoder.over_limit {
        return session.reply(Reply::new(
            552,
            "5.3.4",
            format!("Message exceeds fixed maximum of {limit} bytes"),
        ));
    }
    if decoder.bare_line_ending {
        return session.reply(bare_line_ending());
    }
    let message = match message.finish().await {
        Ok(message) => message,
        Err(error) => return spool_failed(session, &error),
    };
    let reply = delivery::deliver(session, transaction, message).await;
    session.reply(reply)
}

pub async fn bdat(session: &mut Session, size: u64, last: bool) -> Flow {
    let limit = session.context.config.smtp.max_message_size as usize;
    let refusal = not_ready(session).or_else(|| {
        let helo = session.helo.as_ref();
        (!helo.is_some_and(|h| h.extended)).then(|| Reply::new(503, "5.5.1", "BDAT needs EHLO"))
    });
    session
        .io
        .connection
        .set_idle_timeout(session.context.config.smtp.data_timeout);
    let fresh = spool(session);
    let outcome = match (&refusal, session.transaction.as_mut()) {
        (None, Some(transaction)) => {
            let chunks = transaction.chunks.get_or_insert(fresh);
            session.io.read_chunk(size, chunks, limit).await
        }
        // RFC 3030 2: the chunk is read (and dropped) even when refused.
        _ => {
            session
                .io
                .read_chunk(size, &mut Spool::new(Default::default(), usize::MAX), 0)
                .await
        }
    };
    session
        .io
        .connection
        .set_idle_timeout(session.context.config.smtp.command_timeout);
    let kept_all = match outcome {
        Ok(kept_all) => kept_all,
        Err(error) => return timed_out(session, &error),
    };
    if let Some(reply) = refusal {
        return session.reply(reply);
    }
    if !kept_all {
        // RFC 3030 2: a failed chunk fails the transaction; later chunks
        // are read and refused (503) until the client resets.
        session.transaction = None;
        return session.reply(Reply::new(
            552,
            "5.3.4",
            format!("Message exceeds fixed maximum of {limit} bytes"),
        ));
    }
    if !last {
        return session.reply(Reply::new(250, "2.0.0", format!("{size} octets received")));
    }
    let Some(mut transaction) = session.transaction.take() else {
        return Flow::Close;
    };
    let mut message = match transaction.chunks.take() {
        Some(chunks) => match chunks.finish().await {
            Ok(message) => message,
            Err(error) => return spool_failed(session, &error),
        },
        None => Vec::new(),
    };
    // The chunks carry the bytes unstuffed, so the message's last line may
    // lack its CRLF; stored mail ends with one (core/crlf.rs).
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        message.extend_from_slice(b"\r\n");
    }
    // The same door DATA has: without BINARYMIME, BDAT carries lines
    // (RFC 3030 3), and a bare CR or LF is refused (RFC 5321 2.3.8), so no
    // line ending passes here that a later hop would read differently.
    if !estafeta_core::crlf::is_canonical(&message) {
        return session.reply(bare_line_ending());
    }
    let reply = delivery::deliver(session, transaction, message).await;
    session.reply(reply)
}
