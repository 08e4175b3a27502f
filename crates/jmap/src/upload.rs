//! Uploaded blobs (RFC 8620 6.1): kept in memory for a day, by account,
//! for Email/import and attachments to name. RFC 8620 6 lets a server drop
//! an upload nothing refers to after an hour; one that becomes part of an
//! Email is then stored with it. On a cluster an upload is known to the
//! node that took it.

use estafeta_core::model::AccountId;
use estafeta_store::BlobId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an upload stays.
const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);
/// All uploads together; past it the oldest go first.
const MOST_BYTES: usize = 512 * 1024 * 1024;

#[derive(Clone)]
pub struct Upload {
    pub data: Arc<Vec<u8>>,
    pub media_type: String,
    taken: Instant,
}

#[derive(Default)]
pub struct Uploads {
    held: Mutex<HashMap<(AccountId, BlobId), Upload>>,
}

/// The blob id of an upload: `u` and the SHA-256 of its bytes.
pub fn upload_id(blob: &BlobId) -> String {
    format!("u{}", blob.as_str())
}

pub(crate) fn parse_upload_id(id: &str) -> Option<BlobId> {
    BlobId::parse(id.strip_prefix('u')?)
}

impl Uploads {
    /// Keeps `data` for `account`; the same bytes twice are one upload.
    pub fn put(&self, account: AccountId, data: Vec<u8>, media_type: &str) -> BlobId {
        let blob = BlobId::of(&data);
        let now = Instant::now();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.retain(|_, u| now.duration_since(u.taken) < KEPT_FOR);
        let mut total: usize = held.values().map(|u| u.data.len()).sum::<usize>() + data.len();
        while total > MOST_BYTES {
            let Some(oldest) = held.iter().min_by_key(|(_, u)| u.taken).map(|(k, _)| k.clone()) else {
                break;
            };
            total -= held.remove(&oldest).map_or(0, |u| u.data.len());
        }
        let upload = Upload {
            data: Arc::new(data),
            media_type: media_type.to_owned(),
            taken: now,
        };
        held.insert((account, blob.clone()), upload);
        blob
    }

    /// An upload of `account`'s, while it is kept.
    pub fn get(&self, account: AccountId, blob: &BlobId) -> Option<Upload> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(&(account, blob.clone()))
            .filter(|u| u.taken.elapsed() < KEPT_FOR)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_is_its_accounts_only() {
        let uploads = Uploads::default();
        let blob = uploads.put(AccountId(1), b"hello".to_vec(), "text/plain");
        assert_eq!(blob, BlobId::of(b"hello"));
        let got = uploads.get(AccountId(1), &blob).unwrap();
        assert_eq!(
            (got.data.as_slice(), got.media_type.as_str()),
            (&b"hello"[..], "text/plain")
        );
        assert!(uploads.get(AccountId(2), &blob).is_none());
        assert_eq!(parse_upload_id(&upload_id(&blob)), Some(blob));
        assert_eq!(parse_upload_id("b00"), None);
    }
}
