//! What IMAP computes from a stored message (structure, envelope, text for
//! SEARCH), with a cache so repeated FETCHes do not parse again.

pub mod binary;
pub mod envelope;
pub mod mime;
pub mod render;
pub mod section;
pub mod structure;
pub mod text;

use envelope::Envelope;
use estafeta_store::BlobId;
use mime::Part;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// A message parsed once: its MIME tree, envelope and the rendered
/// BODYSTRUCTURE and BODY (which do not depend on the session).
#[derive(Debug)]
pub struct Parsed {
    pub root: Part,
    pub envelope: Envelope,
    /// ENVELOPE as written for a client without UTF8=ACCEPT, the common case.
    pub envelope_ascii: Vec<u8>,
    pub body_structure: Vec<u8>,
    pub body: Vec<u8>,
    /// From the Date: header, for SENTBEFORE/SENTON/SENTSINCE and SORT
    /// (seconds since the epoch, and days in the sender's own calendar).
    pub sent: Option<(i64, i64)>,
}

impl Parsed {
    pub fn new(bytes: &[u8]) -> Parsed {
        let root = mime::parse(bytes);
        let header = &bytes[root.header.clone()];
        let envelope = Envelope::of_header(header);
        let mut envelope_ascii = Vec::new();
        envelope.write(&mut envelope_ascii, false);
        let mut body_structure = Vec::new();
        structure::write(&mut body_structure, &root, bytes, true);
        let mut body = Vec::new();
        structure::write(&mut body, &root, bytes, false);
        let sent = mime::header_value(header, "date").and_then(|date| text::parse_date(&date));
        Parsed {
            root,
            envelope,
            envelope_ascii,
            body_structure,
            body,
            sent,
        }
    }
}

/// Parsed messages by content, shared by every session; the oldest entry
/// goes first when full. Content never changes under a blob id, so an
/// entry is never stale.
pub struct MessageCache {
    capacity: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<BlobId, Arc<Parsed>>,
    order: VecDeque<BlobId>,
}

impl MessageCache {
    pub fn new(capacity: usize) -> MessageCache {
        MessageCache {
            capacity: capacity.max(1),
            inner: Mutex::new(CacheInner::default()),
        }
    }

    pub fn get(&self, blob: &BlobId) -> Option<Arc<Parsed>> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .get(blob)
            .cloned()
    }

    pub fn insert(&self, blob: BlobId, parsed: Parsed) -> Arc<Parsed> {
        let parsed = Arc::new(parsed);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.entries.insert(blob.clone(), Arc::clone(&parsed)).is_none() {
            inner.order.push_back(blob);
            while inner.order.len() > self.capacity {
                if let Some(old) = inner.order.pop_front() {
                    inner.entries.remove(&old);
                }
            }
        }
        parsed
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_bounded_and_keeps_recent() {
        let cache = MessageCache::new(2);
        let ids: Vec<BlobId> = (0..3).map(|i| BlobId::of(format!("m{i}").as_bytes())).collect();
        for id in &ids {
            cache.insert(id.clone(), Parsed::new(b"Subject: x\r\n\r\nbody\r\n"));
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&ids[0]).is_none());
        assert!(cache.get(&ids[2]).is_some());
    }
}
