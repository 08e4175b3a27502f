//! The session's view of its selected mailbox: which message has which
//! sequence number, and what the client has been told (RFC 9051 2.3.1.2,
//! 7.4.1, 7.5.1). The store is the truth; the view moves towards it only
//! when the RFC allows a response to say so.
//!
//! Sessions on the same mailbox share one message list (a [`Snapshot`])
//! while their views agree with it, so thousands of sessions idling on a
//! large mailbox cost one list, not thousands. A session copies the list
//! only when its view must differ (its own flag changes not yet matched,
//! expunges it may not report yet). A snapshot carries the change from its
//! predecessor, so a session a step behind catches up without asking the
//! store.

use super::Enabled;
use crate::command::context::{self, LiveSearch};
use crate::proto::response;
use estafeta_core::model::{Flags, MailboxId};
use estafeta_store::{ChangesSince, Mailbox, MessageMeta, Store, StoreError};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, Weak};

/// A mailbox's messages as of `modseq`.
pub struct Snapshot {
    pub modseq: u64,
    pub messages: Arc<Vec<MessageMeta>>,
    /// What changed since the snapshot at `.0`.
    pub delta: Option<(u64, ChangesSince)>,
}

/// The newest snapshot of each open mailbox; an entry lives as long as a
/// session holds it.
#[derive(Default)]
pub struct Snapshots(Mutex<HashMap<MailboxId, Weak<Snapshot>>>);

impl Snapshots {
    pub fn latest(&self, mailbox: MailboxId) -> Option<Arc<Snapshot>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&mailbox)?
            .upgrade()
    }

    /// Keeps `snapshot` if it is newer than what is there.
    pub fn publish(&self, mailbox: MailboxId, snapshot: &Arc<Snapshot>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let newer = map
            .get(&mailbox)
            .and_then(Weak::upgrade)
            .is_none_or(|current| current.modseq < snapshot.modseq);
        if newer {
            map.insert(mailbox, Arc::downgrade(snapshot));
        }
        // Forget mailboxes nobody has open any more.
        if map.len() > 64 && map.len().is_power_of_two() {
            map.retain(|_, weak| weak.strong_count() > 0);
        }
    }
}

pub struct Selected {
    pub mailbox: Mailbox,
    pub read_only: bool,
    /// In sequence-number order (ascending UID): message n is `messages[n-1]`.
    pub messages: Arc<Vec<MessageMeta>>,
    /// Set while `messages` is exactly this shared snapshot.
    shared: Option<Arc<Snapshot>>,
    /// The MODSEQ up to which the view is current.
    pub known_modseq: u64,
    /// UIDs expunged by others that the client has not been told of yet;
    /// they keep their sequence numbers until then.
    pub expunged: Vec<u32>,
    /// The bus said the mailbox changed since the last refresh.
    pub dirty: bool,
    /// RFC 3501 2.3.2: the UIDs that are \Recent in this session, ascending
    /// (IMAP4rev1 only; RFC 9051 dropped \Recent).
    recent: Vec<u32>,
    /// The highest UID this session has taken or looked at as recent.
    recent_seen: u32,
    /// Searches kept up to date (RFC 5267 4.3); they end with the
    /// selection.
    pub live: Vec<LiveSearch>,
    /// The view's fingerprint when the live searches last ran.
    pub live_seen: u64,
}

impl Selected {
    /// The view of `mailbox`: the shared snapshot when it is current, else
    /// the store's list, which then becomes the shared one.
    pub async fn open(
        store: &dyn Store,
        snapshots: &Snapshots,
        mailbox: Mailbox,
        read_only: bool,
    ) -> Result<Selected, StoreError> {
        let snapshot = match snapshots.latest(mailbox.id) {
            Some(snapshot) if snapshot.modseq == mailbox.highest_modseq => snapshot,
            _ => {
                let messages = store.messages(mailbox.id).await?;
                let modseq = messages
                    .iter()
                    .map(|m| m.modseq)
                    .max()
                    .unwrap_or(0)
                    .max(mailbox.highest_modseq);
                let snapshot = Arc::new(Snapshot {
                    modseq,
                    messages: Arc::new(messages),
                    delta: None,
                });
                snapshots.publish(mailbox.id, &snapshot);
                snapshot
            }
        };
        Ok(Selected {
            mailbox,
            read_only,
            messages: Arc::clone(&snapshot.messages),
            known_modseq: snapshot.modseq,
            shared: Some(snapshot),
            expunged: Vec::new(),
            dirty: false,
            recent: Vec::new(),
            recent_seen: 0,
            live: Vec::new(),
            live_seen: 0,
        })
    }

    /// Takes \Recent for the messages this session has not yet looked at
    /// (RFC 3501 2.3.2): a read-write session claims those no session has
    /// had, so only it shows them as recent; a read-only one (EXAMINE)
    /// shows them without taking them away (RFC 3501 6.3.2).
    pub async fn take_recent(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        let last = self.messages.last().map_or(0, |m| m.uid);
        if last <= self.recent_seen {
            return Ok(());
        }
        // A read first: a session selecting what others already took (the
        // common case) costs no write.
        let mark = store.recent_mark(self.mailbox.id).await?;
        let mark = if self.read_only || mark >= last {
            mark
        } else {
            store.recent_claim(self.mailbox.id, last).await?
        };
        let floor = mark.max(self.recent_seen);
        self.recent.extend(
            self.messages
                .iter()
                .map(|m| m.uid)
                .filter(|&uid| uid > floor && uid <= last),
        );
        self.recent_seen = last;
        Ok(())
    }

    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent.binary_search(&uid).is_ok()
    }

    /// The \Recent UIDs still in the mailbox, ascending.
    pub fn recent(&self) -> &[u32] {
        &self.recent
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

    /// The list, made this session's own before it changes.
    fn own(&mut self) -> &mut Vec<MessageMeta> {
        self.shared = None;
        Arc::make_mut(&mut self.messages)
    }

    /// A flag change made by this session: the view takes it at once, so
    /// the next refresh does not report it back.
    pub fn apply_flags(&mut self, uid: u32, flags: Flags, modseq: u64) {
        if let Some(i) = self.position(uid) {
            let message = &mut self.own()[i];
            message.flags = flags;
            message.modseq = modseq;
        }
    }

    /// Removes expunged messages from the view and tells the client:
    /// `* n EXPUNGE` each, or one `* VANISHED` under QRESYNC (RFC 7162 3.2.10).
    pub fn remove(&mut self, uids: &[u32], out: &mut Vec<u8>, enabled: Enabled) {
        context::expunging(self, uids, out);
        let gone = write_expunges(&self.messages, uids, out, enabled);
        if gone.is_empty() {
            return;
        }
        self.own().retain(|m| gone.binary_search(&m.uid).is_err());
        self.expunged.retain(|uid| gone.binary_search(uid).is_err());
        self.recent.retain(|uid| gone.binary_search(uid).is_err());
    }

    /// Brings the view up to date, writing EXPUNGE/VANISHED (when allowed),
    /// flag changes as FETCH, and EXISTS for new messages, with RECENT
    /// after it for an IMAP4rev1 client (RFC 3501 7.3.2).
    pub async fn refresh(
        &mut self,
        store: &dyn Store,
        snapshots: &Snapshots,
        out: &mut Vec<u8>,
        allow_expunge: bool,
        enabled: Enabled,
    ) -> Result<(), StoreError> {
        let last = self.messages.last().map_or(0, |m| m.uid);
        self.refresh_view(store, snapshots, out, allow_expunge, enabled).await?;
        if !enabled.rev2 && self.messages.last().map_or(0, |m| m.uid) > last {
            self.take_recent(store).await?;
            response::untagged(out, &format!("{} RECENT", self.recent.len()));
        }
        Ok(())
    }

    async fn refresh_view(
        &mut self,
        store: &dyn Store,
        snapshots: &Snapshots,
        out: &mut Vec<u8>,
        allow_expunge: bool,
        enabled: Enabled,
    ) -> Result<(), StoreError> {
        if self.dirty {
            self.dirty = false;
            if self.catch_up(snapshots, out, allow_expunge, enabled) {
                return Ok(());
            }
            let since = self.known_modseq;
            let changes = store.changes_since(self.mailbox.id, since).await?;
            self.known_modseq = self.known_modseq.max(changes.highest_modseq);
            for &uid in &changes.vanished {
                if self.position(uid).is_some() && !self.is_expunged(uid) {
                    let at = self.expunged.partition_point(|&u| u < uid);
                    self.expunged.insert(at, uid);
                }
            }
            let before = self.messages.len();
            write_flag_changes(&self.messages, &self.recent, &changes.changed, out, enabled);
            let last_uid = self.messages.last().map_or(0, |m| m.uid);
            let messages = self.own();
            for message in &changes.changed {
                match messages.binary_search_by_key(&message.uid, |m| m.uid) {
                    Ok(i) => messages[i] = message.clone(),
                    Err(_) if message.uid > last_uid => messages.push(message.clone()),
                    Err(_) => {}
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
            // Now exactly the store's state at `known_modseq`: share it.
            if self.expunged.is_empty() && changes.highest_modseq == self.known_modseq {
                let snapshot = Arc::new(Snapshot {
                    modseq: self.known_modseq,
                    messages: Arc::clone(&self.messages),
                    delta: Some((since, changes)),
                });
                snapshots.publish(self.mailbox.id, &snapshot);
                self.shared = Some(snapshot);
            }
            return Ok(());
        }
        if allow_expunge && !self.expunged.is_empty() {
            let expunged = std::mem::take(&mut self.expunged);
            self.remove(&expunged, out, enabled);
        }
        Ok(())
    }

    /// Moves to the newest shared snapshot when it is one step ahead of
    /// the one this view is, writing what the step changed.
    fn catch_up(&mut self, snapshots: &Snapshots, out: &mut Vec<u8>, allow_expunge: bool, enabled: Enabled) -> bool {
        let (Some(mine), Some(latest)) = (self.shared.as_ref(), snapshots.latest(self.mailbox.id)) else {
            return false;
        };
        let Some((base, delta)) = latest.delta.as_ref() else {
            return false;
        };
        if *base != mine.modseq || latest.modseq <= self.known_modseq || !self.expunged.is_empty() {
            return false;
        }
        let vanished_here = delta.vanished.iter().any(|&uid| self.position(uid).is_some());
        if vanished_here && !allow_expunge {
            return false;
        }
        let last_uid = self.messages.last().map_or(0, |m| m.uid);
        write_flag_changes(&self.messages, &self.recent, &delta.changed, out, enabled);
        context::expunging(self, &delta.vanished, out);
        write_expunges(&self.messages, &delta.vanished, out, enabled);
        let added = delta.changed.iter().any(|m| m.uid > last_uid);
        self.messages = Arc::clone(&latest.messages);
        self.known_modseq = latest.modseq;
        self.shared = Some(latest);
        if added {
            response::untagged(out, &format!("{} EXISTS", self.messages.len()));
        }
        self.mailbox.uid_next = self.mailbox.uid_next.max(self.messages.last().map_or(0, |m| m.uid + 1));
        true
    }
}

/// `* n FETCH (FLAGS ...)` for messages of `view` whose flags changed.
fn write_flag_changes(
    view: &[MessageMeta],
    recent: &[u32],
    changed: &[MessageMeta],
    out: &mut Vec<u8>,
    enabled: Enabled,
) {
    for message in changed {
        let Ok(i) = view.binary_search_by_key(&message.uid, |m| m.uid) else {
            continue;
        };
        let known = &view[i];
        let flags_changed = known.flags != message.flags;
        let modseq_changed = known.modseq != message.modseq;
        if !(flags_changed || (modseq_changed && enabled.condstore)) {
            continue;
        }
        let mut line = format!("* {} FETCH (", i + 1);
        if enabled.qresync {
            let _ = write!(line, "UID {} ", message.uid);
        }
        line.push_str("FLAGS ");
        line.push_str(&flags_list(&message.flags, recent.binary_search(&message.uid).is_ok()));
        if enabled.condstore {
            let _ = write!(line, " MODSEQ ({})", message.modseq);
        }
        line.push_str(")\r\n");
        out.extend_from_slice(line.as_bytes());
    }
}

/// `* n EXPUNGE` for each of `uids` in `view` (highest first, so each
/// number is right when sent), or one `* VANISHED`; returns the UIDs
/// reported, ascending.
fn write_expunges(view: &[MessageMeta], uids: &[u32], out: &mut Vec<u8>, enabled: Enabled) -> Vec<u32> {
    let mut positions: Vec<usize> = uids
        .iter()
        .filter_map(|&uid| view.binary_search_by_key(&uid, |m| m.uid).ok())
        .collect();
    positions.sort_unstable();
    positions.dedup();
    if !enabled.qresync {
        for &i in positions.iter().rev() {
            response::untagged(out, &format!("{} EXPUNGE", i + 1));
        }
    }
    let gone: Vec<u32> = positions.iter().map(|&i| view[i].uid).collect();
    if enabled.qresync {
        response::vanished(out, false, &gone);
    }
    gone
}

/// `(\Seen $Forwarded)`, with `\Recent` for a message recent in this
/// session.
pub fn flags_list(flags: &Flags, recent: bool) -> String {
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
    if recent {
        names.push("\\Recent");
    }
    names.extend(flags.keywords.iter().map(String::as_str));
    format!("({})", names.join(" "))
}
