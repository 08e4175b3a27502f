//! APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502), UIDPLUS's
//! APPENDUID (RFC 4315) and APPENDLIMIT (RFC 7889, enforced by the framer).

use super::mailbox::mailbox_name;
use super::to_flags;
use crate::message::binary::encode_binary_parts;
use crate::proto::command::{AppendMessage, MailboxName};
use crate::proto::response::{Code, Status};
use crate::session::{Flow, Session};
use estafeta_store::NewMessage;
use std::sync::Arc;

pub async fn append(session: &mut Session, tag: &str, name: MailboxName, messages: Vec<AppendMessage>) -> Flow {
    let name = match mailbox_name(session, tag, &name) {
        Ok(name) => name,
        Err(flow) => return flow,
    };
    let account = session.account.as_ref().expect("authenticated").id;
    let store = Arc::clone(&session.context.store);
    let mailbox = match store.mailbox_get(account, &name).await {
        Ok(Some(mailbox)) => mailbox,
        // RFC 9051 6.3.12: [TRYCREATE] tells the client to CREATE and retry.
        Ok(None) => return super::mailbox::no_such_destination(session, tag, &name),
        Err(error) => return session.store_error(tag, &error),
    };
    // CATENATE (RFC 4469 5): the parts are joined first; a URL that names
    // nothing fails the whole APPEND.
    let mut messages = messages;
    for message in &mut messages {
        if message.catenate.is_empty() {
            continue;
        }
        match super::catenate::join(session, &message.catenate).await {
            Ok((data, binary)) => {
                message.data = data;
                message.binary = binary;
            }
            Err(super::catenate::Refused::BadUrl(url, why)) => {
                return session.no(tag, Some(Code::BadUrl(url)), why);
            }
            Err(super::catenate::Refused::Store(error)) => return session.store_error(tag, &error),
        }
    }
    if messages.iter().any(|m| m.data.is_empty()) {
        return session.no(tag, Some(Code::Cannot), "Cannot store an empty message");
    }
    // Stored CRLF throughout, as SMTP stores it, its end as the client
    // wrote it (RFC 3501 6.3.11 stores the message given);
    // binary content (literal8, RFC 3516 4.4) goes to base64 first, so
    // that costs it no byte.
    let messages: Vec<AppendMessage> = messages
        .into_iter()
        .map(|message| {
            let data = if message.binary {
                encode_binary_parts(&message.data)
            } else {
                message.data
            };
            AppendMessage {
                data: estafeta_core::crlf::line_ends(data),
                ..message
            }
        })
        .collect();
    let size: u64 = messages.iter().map(|m| m.data.len() as u64).sum();
    match super::status::over_quota(session, size).await {
        Ok(false) => {}
        // RFC 9208 4.3: the APPEND fails, nothing is stored.
        Ok(true) => return session.no(tag, Some(Code::OverQuota), "Quota exceeded"),
        Err(error) => return session.store_error(tag, &error),
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let batch: Vec<NewMessage> = messages
        .into_iter()
        .map(|message| NewMessage {
            flags: to_flags(&message.flags),
            internal_date: message.date.map_or(now, |(secs, _)| secs),
            // RFC 3501 6.3.11: the date as the client gave it, zone and all.
            date_zone: message.date.map_or(0, |(_, zone)| zone),
            data: message.data,
        })
        .collect();
    // RFC 3502: all the messages of one MULTIAPPEND, or none.
    let uids = match store.append_messages(mailbox.id, batch).await {
        Ok(uids) => uids,
        Err(error) => return session.store_error(tag, &error),
    };
    session.sync(true).await;
    session.tagged(
        tag,
        Status::Ok,
        Some(Code::AppendUid {
            uid_validity: mailbox.uid_validity,
            uids,
        }),
        "APPEND completed",
    )
}
