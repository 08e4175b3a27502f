//! The IMAP learning hook wired to the filter: a user's moves into and out
//! of Junk train the spam classifier, moves between tabs the tab one.

use async_trait::async_trait;
use estafeta_core::model::{AccountId, MailboxRole};
use estafeta_filter::{Filter, Tab};
use estafeta_imap::{Learning, Lesson};
use estafeta_store::{BlobId, Store};
use std::sync::Arc;

pub struct FilterLearning {
    pub filter: Arc<Filter>,
    pub store: Arc<dyn Store>,
}

fn tab_of(role: MailboxRole) -> Option<Tab> {
    match role {
        MailboxRole::Inbox => Some(Tab::Primary),
        MailboxRole::Promotions => Some(Tab::Promotions),
        MailboxRole::Social => Some(Tab::Social),
        MailboxRole::Updates => Some(Tab::Updates),
        _ => None,
    }
}

#[async_trait]
impl Learning for FilterLearning {
    async fn learn(&self, account: AccountId, messages: &[BlobId], lesson: Lesson) {
        for (blob, content) in messages.iter().zip(self.store.message_contents(messages).await) {
            let content = match content {
                Ok(content) => content,
                Err(error) => {
                    tracing::warn!(%error, %blob, "cannot read a message to learn from");
                    continue;
                }
            };
            let learned = match lesson {
                Lesson::Spam => self.filter.learn_spam(account, &content, true).await,
                Lesson::Ham { to } => {
                    let ham = self.filter.learn_spam(account, &content, false).await;
                    // Rescued into a tab: that is the tab it belongs in.
                    match to.and_then(tab_of) {
                        Some(tab) if ham.is_ok() => self.filter.learn_tab(account, &content, None, tab).await,
                        _ => ham,
                    }
                }
                Lesson::Tab { from, to } => match tab_of(to) {
                    Some(to) => self.filter.learn_tab(account, &content, tab_of(from), to).await,
                    None => Ok(()),
                },
            };
            if let Err(error) = learned {
                tracing::warn!(%error, "the filter could not learn from a move");
            }
        }
    }
}
