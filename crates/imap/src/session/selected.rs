//! The session's view of its selected mailbox: which message has which
//! sequence number, and what the client has been told (RFC 9051 2.3.1.2,
//! 7.4.1, 7.5.1). The store is the truth; the view moves towards it only
//! when the RFC allows a response to say so.

use super::Enabled;
use crate::proto::response;
use estafeta_core::model::Flags;
use estafeta_store::{Mailbox, MessageMeta, Store, StoreError};
use std::fmt::Write as _;

pub struct Selected {
    pub mailbox: Mailbox,
    pub read_only: bool,
    /// In sequence-number order (ascending UID): message n is `messages[n-1]`.
    pub messages: Vec<MessageMeta>,
    /// The MODSEQ up to which the view is current.
    pub known_modseq: u64,
    /// UIDs expunged by others that the client has not been told of yet;
    /// they keep their sequence numbers until then.
    pub expunged: Vec<u32>,
    /// The bus said the mailbox changed since the last refresh.
    pub dirty: bool,
}

impl Selected {
    pub fn new(mailbox: Mailbox, read_only: bool, messages: Vec<MessageMeta>) -> Selected {
        let known_modseq = messages
            .iter()
            .map(|m| m.modseq)
            .max()
            .unwrap_or(0)
            .max(mailbox.highest_modseq);
        Selected {
            mailbox,
            read_only,
            messages,
            known_modseq,
            expunged: Vec::new(),
            dirty: false,
        }
    }

    pub fn exists(&self) -> u32 {
        self.messages.len() as u32
    }

    /// 0-based position of `uid`.
    pub fn position(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    pub fn is_expunged(&self, uid: u32) -> bool {
        self.expunged.binary_search(&uid).is_ok()
    }

    /// A flag change made by this session: the view takes it at once, so
    /// the next refresh does not report it back.
    pub fn apply_flags(&mut self, uid: u32, flags: Flags, modseq: u64) {
        if let Some(i) = self.position(uid) {
            self.messages[i].flags = flags;
            self.messages[i].modseq = modseq;
        }
    }

    /// Removes expunged messages from the view and tells the client:
    /// `* n EXPUNGE` each, or one `* VANISHED` under QRESYNC (RFC 7162 3.2.10).
    pub fn remove(&mut self, uids: &[u32], out: &mut Vec<u8>, enabled: Enabled) {
        if uids.is_empty() {
            return;
        }
        let mut gone = Vec::with_capacity(uids.len());
        // Highest first, so each number is still right when it is sent.
        for &uid in uids.iter().rev() {
            if let Some(i) = self.position(uid) {
                self.messages.remove(i);
                gone.push(uid);
                if !enabled.qresync {
                    response::untagged(out, &format!("{} EXPUNGE", i + 1));
                }
            }
        }
        self.expunged.retain(|uid| !gone.contains(uid));
        if enabled.qresync {
            gone.sort_unstable();
            response::vanished(out, false, &gone);
        }
    }

    /// Brings the view up to date, writing EXPUNGE/VANISHED (when allowed),
    /// flag changes as FETCH, and EXISTS for new messages.
    pub async fn refresh(
        &mut self,
        store: &dyn Store,
        out: &mut Vec<u8>,
        allow_expunge: bool,
        enabled: Enabled,
    ) -> Result<(), StoreError> {
        if self.dirty {
            self.dirty = false;
            let changes = store.changes_since(self.mailbox.id, self.known_modseq).await?;
            self.known_modseq = self.known_modseq.max(changes.highest_modseq);
            for uid in changes.vanished {
                if self.position(uid).is_some() && !self.is_expunged(uid) {
                    let at = self.expunged.partition_point(|&u| u < uid);
                    self.expunged.insert(at, uid);
                }
            }
            let last_uid = self.messages.last().map_or(0, |m| m.uid);
            let before = self.messages.len();
            for message in changes.changed {
                match self.position(message.uid) {
                    Some(i) => {
                        let known = &mut self.messages[i];
                        let flags_changed = known.flags != message.flags;
                        let modseq_changed = known.modseq != message.modseq;
                        if flags_changed || (modseq_changed && enabled.condstore) {
                            let mut line = format!("* {} FETCH (", i + 1);
                            if enabled.qresync {
                                let _ = write!(line, "UID {} ", message.uid);
                            }
                            line.push_str("FLAGS ");
                            line.push_str(&flags_list(&message.flags));
                            if enabled.condstore {
                                let _ = write!(line, " MODSEQ ({})", message.modseq);
                            }
                            line.push_str(")\r\n");
                            out.extend_from_slice(line.as_bytes());
                        }
                        *known = message;
                    }
                    None if message.uid > last_uid => self.messages.push(message),
                    None => {}
                }
            }
            let added = self.messages.len() > before;
            if allow_expunge && !self.expunged.is_empty() {
                let expunged = std::mem::take(&mut self.expunged);
                self.remove(&expunged, out, enabled);
            }
            if added {
                response::untagged(out, &format!("{} EXISTS", self.messages.len()));
            }
            self.mailbox.uid_next = self.mailbox.uid_next.max(self.messages.last().map_or(0, |m| m.uid + 1));
            return Ok(());
        }
        if allow_expunge && !self.expunged.is_empty() {
            let expunged = std::mem::take(&mut self.expunged);
            self.remove(&expunged, out, enabled);
        }
        Ok(())
    }
}

/// `(\Seen $Forwarded)`.
pub fn flags_list(flags: &Flags) -> String {
    use estafeta_core::model::SystemFlags;
    let mut names: Vec<&str> = Vec::new();
    for (bit, name) in [
        (SystemFlags::SEEN, "\\Seen"),
        (SystemFlags::ANSWERED, "\\Answered"),
        (SystemFlags::FLAGGED, "\\Flagged"),
        (SystemFlags::DELETED, "\\Deleted"),
        (SystemFlags::DRAFT, "\\Draft"),
    ] {
        if flags.system.contains(bit) {
            names.push(name);
        }
    }
    names.extend(flags.keywords.iter().map(String::as_str));
    format!("({})", names.join(" "))
}
