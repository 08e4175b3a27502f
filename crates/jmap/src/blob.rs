//! Downloads (RFC 8620 6.2): a whole message by its content id, or one of
//! its body parts with the transfer encoding undone, for an account that
//! holds the message; or one of the account's uploads.

use crate::Context;
use crate::email::view::View;
use estafeta_store::{BlobId, StoreError};

/// What a blob id names: `b{sha256}` a message, `b{sha256}_{part}` one of
/// its parts (the `partId` of Email/get).
fn parse(id: &str) -> Option<(BlobId, Option<u32>)> {
    let id = id.strip_prefix('b')?;
    match id.split_once('_') {
        None => Some((BlobId::parse(id)?, None)),
        Some((content, part)) => {
            let part = part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())??;
            Some((BlobId::parse(content)?, Some(part)))
        }
    }
}

/// The bytes of `blob_id` for the context's account; `None` when it names
/// nothing that account holds, which another account's content is not.
pub async fn download(context: &Context<'_>, blob_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    if let Some(uploaded) = crate::upload::parse_upload_id(blob_id) {
        let upload = context.uploads.get(context.account.id, &uploaded);
        return Ok(upload.map(|u| u.data.as_ref().clone()));
    }
    let Some((content, part)) = parse(blob_id) else {
        return Ok(None);
    };
    if !context.store.account_holds(context.account.id, &content).await? {
        return Ok(None);
    }
    let message = context.store.message_content(&content).await?;
    let Some(part) = part else {
        return Ok(Some(message));
    };
    let view = View::new(&message);
    let bytes = view
        .message
        .parts
        .get(part as usize)
        .filter(|p| !p.is_multipart())
        .map(|p| view.decoded(p).into_owned());
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_name_a_message_or_a_part() {
        let content = BlobId::of(b"x");
        let hex = content.as_str();
        assert_eq!(parse(&format!("b{hex}")), Some((content.clone(), None)));
        assert_eq!(parse(&format!("b{hex}_3")), Some((content.clone(), Some(3))));
        for bad in [
            format!("b{hex}_"),
            format!("b{hex}_-1"),
            format!("b{hex}_x"),
            format!("e{hex}"),
            "b".into(),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }
}
