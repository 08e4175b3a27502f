//! CATENATE (RFC 4469): an APPENDed message made of text the client sends
//! and of messages or parts already in this account, named by IMAP URLs
//! (RFC 5092). Only URLs relative to this server are taken; they are read
//! with the account's own rights, so no URL reaches another account.

use crate::message::{Parsed, section};
use crate::proto::command::CatPart;
use crate::proto::imap_url;
use crate::proto::lexer::Lexer;
use crate::session::{Session, names};
use estafeta_store::StoreError;

/// Why a CATENATE message could not be made.
pub enum Refused {
    /// RFC 4469 6: NO [BADURL "url"].
    BadUrl(String, &'static str),
    Store(StoreError),
}

/// The bytes a URL names.
async fn fetch(session: &Session, url: &str) -> Result<Vec<u8>, Refused> {
    let bad = |why| Refused::BadUrl(url.to_owned(), why);
    let target = imap_url::parse(url).ok_or_else(|| bad("not an IMAP URL of a message on this server"))?;
    let name = names::decode(&target.mailbox, session.utf8()).map_err(|_| bad("no such mailbox"))?;
    let account = session.account.as_ref().expect("authenticated").id;
    let store = &session.context.store;
    let mailbox = store
        .mailbox_get(account, &name)
        .await
        .map_err(Refused::Store)?
        .ok_or_else(|| bad("no such mailbox"))?;
    if target.uid_validity.is_some_and(|v| v != mailbox.uid_validity) {
        return Err(bad("the mailbox's UIDVALIDITY has changed"));
    }
    let messages = store.messages(mailbox.id).await.map_err(Refused::Store)?;
    let meta = messages
        .iter()
        .find(|m| m.uid == target.uid)
        .ok_or_else(|| bad("no such message"))?;
    let bytes = match store.message_content(&meta.blob).await {
        Ok(bytes) => bytes,
        Err(StoreError::BlobMissing(_)) => return Err(bad("no such message")),
        Err(error) => return Err(Refused::Store(error)),
    };
    let data = match &target.section {
        None => bytes.clone(),
        Some(spec) => {
            let text = format!("[{spec}]");
            let mut lexer = Lexer::new(text.as_bytes());
            let spec = crate::proto::fetch::section(&mut lexer)
                .ok()
                .filter(|_| lexer.at_end())
                .ok_or_else(|| bad("not a section"))?;
            let cache = &session.context.cache;
            let parsed = cache
                .get(&meta.blob)
                .unwrap_or_else(|| cache.insert(meta.blob.clone(), Parsed::new(&bytes)));
            section::body_section(&parsed.root, &bytes, &spec)
                .ok_or_else(|| bad("no such part"))?
                .into_owned()
        }
    };
    Ok(section::partial(&data, target.partial).to_vec())
}

/// The message the parts make, and whether any text came as literal8.
pub async fn join(session: &Session, parts: &[CatPart]) -> Result<(Vec<u8>, bool), Refused> {
    let mut message = Vec::new();
    let mut binary = false;
    for part in parts {
        match part {
            CatPart::Text { data, binary: eight } => {
                message.extend_from_slice(data);
                binary |= *eight;
            }
            CatPart::Url(url) => message.extend(fetch(session, url).await?),
        }
    }
    Ok((message, binary))
}
