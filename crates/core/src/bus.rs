//! The change bus: how sessions learn that a mailbox changed elsewhere
//! (IMAP IDLE and NOOP, later JMAP push). In one process it is a broadcast
//! channel; the PostgreSQL backend feeds it from LISTEN/NOTIFY so every node
//! sees every change. A change says *what* changed, not the data: the
//! listener asks the store, which stays the one source of truth.

use crate::model::{AccountId, MailboxId};
use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Messages were added, flagged or expunged; the mailbox is now at
    /// `highest_modseq`.
    Mailbox {
        account: AccountId,
        mailbox: MailboxId,
        highest_modseq: u64,
    },
    /// Mailboxes of the account were created, renamed or deleted.
    MailboxList { account: AccountId },
    /// The account itself changed (password, removal): sessions recheck it.
    Account { account: AccountId },
    /// Changes may have been missed (another node's notifications while
    /// the listener was reconnecting): every view checks the store again.
    Resync,
}

#[derive(Clone)]
pub struct ChangeBus {
    sender: broadcast::Sender<Change>,
}

impl ChangeBus {
    /// A slow receiver that falls more than `capacity` behind gets `Lagged`
    /// and must resynchronise from the store, which it can since changes
    /// carry no data.
    pub fn new(capacity: usize) -> ChangeBus {
        let (sender, _) = broadcast::channel(capacity);
        ChangeBus { sender }
    }

    pub fn publish(&self, change: Change) {
        // No receivers is normal (nobody is idling): not an error.
        let _ = self.sender.send(change);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }
}

impl Default for ChangeBus {
    fn default() -> Self {
        ChangeBus::new(4096)
    }
}
