//! One account's maildrop as a POP3 session sees it (RFC 1939 5): the
//! messages of the configured mailboxes, numbered from 1 at login and
//! fixed for the session; deletions are marks until QUIT's UPDATE state.

use estafeta_core::model::{Flags, MailboxId, MailboxRole, SystemFlags};
use estafeta_store::{Account, BlobId, FlagOperation, Store, StoreError};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct Entry {
    pub mailbox: MailboxId,
    pub uid_validity: u32,
    pub uid: u32,
    pub size: u64,
    pub blob: BlobId,
    pub deleted: bool,
    /// RETR sent it whole: marked \Seen at UPDATE, as IMAP clients expect.
    pub retrieved: bool,
}

impl Entry {
    /// RFC 1939 7 UIDL: unique in the maildrop and never reused. UIDVALIDITY
    /// is allocated store-wide and never reused, and a UID never within a
    /// mailbox, so the pair names one message for good.
    pub fn unique_id(&self) -> String {
        format!("{}.{}", self.uid_validity, self.uid)
    }
}

/// Why a message number does not name a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    NoSuchMessage,
    Deleted,
}

pub struct Maildrop {
    entries: Vec<Entry>,
}

impl Maildrop {
    /// The messages of `names` (roles such as `inbox`, or mailbox names),
    /// oldest first. Messages flagged \Deleted (by IMAP) are on their way
    /// out and not shown.
    pub async fn load(store: &dyn Store, account: &Account, names: &[String]) -> Result<Maildrop, StoreError> {
        let mut mailboxes = Vec::new();
        for name in names {
            let mailbox = match MailboxRole::from_str_opt(&name.to_ascii_lowercase()) {
                Some(role) => store.mailbox_by_role(account.id, role).await?,
                None => store.mailbox_get(account.id, name).await?,
            };
            if let Some(mailbox) = mailbox
                && !mailboxes
                    .iter()
                    .any(|known: &estafeta_store::Mailbox| known.id == mailbox.id)
            {
                mailboxes.push(mailbox);
            }
        }
        let mut dated = Vec::new();
        for mailbox in &mailboxes {
            for meta in store.messages(mailbox.id).await? {
                if meta.flags.system.contains(SystemFlags::DELETED) {
                    continue;
                }
                dated.push((
                    meta.internal_date,
                    Entry {
                        mailbox: mailbox.id,
                        uid_validity: mailbox.uid_validity,
                        uid: meta.uid,
                        size: meta.size,
                        blob: meta.blob,
                        deleted: false,
                        retrieved: false,
                    },
                ));
            }
        }
        dated.sort_by_key(|(date, entry)| (*date, entry.mailbox, entry.uid));
        // RFC 1939 3: every line of a multi-line response ends in CRLF, so
        // RETR adds one to a message whose last line has none; LIST and
        // STAT count it, so the size a client sees is what RETR sends.
        let blobs: Vec<BlobId> = dated.iter().map(|(_, entry)| entry.blob.clone()).collect();
        let open = store.messages_lacking_final_line_break(&blobs).await;
        for ((_, entry), open) in dated.iter_mut().zip(open) {
            if open {
                entry.size += 2;
            }
        }
        Ok(Maildrop {
            entries: dated.into_iter().map(|(_, entry)| entry).collect(),
        })
    }

    /// Message `number` (from 1), unless absent or marked deleted.
    pub fn get(&self, number: u32) -> Result<&Entry, Missing> {
        let entry = (number as usize)
            .checked_sub(1)
            .and_then(|index| self.entries.get(index))
            .ok_or(Missing::NoSuchMessage)?;
        if entry.deleted {
            return Err(Missing::Deleted);
        }
        Ok(entry)
    }

    pub fn get_mut(&mut self, number: u32) -> Result<&mut Entry, Missing> {
        self.get(number)?;
        Ok(&mut self.entries[number as usize - 1])
    }

    /// Messages not marked deleted, with their numbers.
    pub fn live(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| !entry.deleted)
            .map(|(index, entry)| (index as u32 + 1, entry))
    }

    /// RFC 1939 5 STAT: count and octets of the messages not deleted.
    pub fn stat(&self) -> (usize, u64) {
        self.live()
            .fold((0, 0), |(count, octets), (_, entry)| (count + 1, octets + entry.size))
    }

    /// RSET: every deletion mark is taken back.
    pub fn reset(&mut self) {
        for entry in &mut self.entries {
            entry.deleted = false;
        }
    }

    /// The UPDATE state (RFC 1939 6): deleted messages are expunged
    /// through the store (so IMAP sessions see EXPUNGE), retrieved ones
    /// flagged \Seen. Returns how many were removed.
    pub async fn commit(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let mut deleted: BTreeMap<MailboxId, Vec<u32>> = BTreeMap::new();
        let mut seen: BTreeMap<MailboxId, Vec<u32>> = BTreeMap::new();
        for entry in &self.entries {
            if entry.deleted {
                deleted.entry(entry.mailbox).or_default().push(entry.uid);
            } else if entry.retrieved {
                seen.entry(entry.mailbox).or_default().push(entry.uid);
            }
        }
        let mut removed = 0;
        for (mailbox, uids) in deleted {
            let flag = Flags::new(SystemFlags::DELETED, []);
            store
                .store_flags(mailbox, &uids, FlagOperation::Add, &flag, None)
                .await?;
            removed += store.expunge(mailbox, Some(&uids)).await?.len();
        }
        for (mailbox, uids) in seen {
            store
                .store_flags(mailbox, &uids, FlagOperation::Add, &Flags::seen(), None)
                .await?;
        }
        Ok(removed)
    }
}
