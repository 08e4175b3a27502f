//! The commands, one module per group (RFC 9051 6.1-6.4 and extensions).

mod any;
mod append;
mod auth;
mod catenate;
pub(crate) mod context;
mod copy;
mod expunge;
mod fetch;
mod idle;
mod list;
mod mailbox;
mod parallel;
mod search;
mod sort;
mod status;
mod store;
mod thread;

use crate::proto::CommandBody;
use crate::proto::sequence::SequenceSet;
use crate::session::{Flow, Session};

pub async fn execute(session: &mut Session, tag: &str, body: CommandBody) -> Flow {
    use CommandBody::*;
    match body {
        Capability => any::capability(session, tag),
        Noop => any::noop(session, tag).await,
        Logout => any::logout(session, tag),
        Id(fields) => any::id(session, tag, fields),
        Enable(capabilities) => any::enable(session, tag, capabilities),
        Compress(mechanism) => any::compress(session, tag, &mechanism).await,
        StartTls => auth::starttls(session, tag).await,
        Login { user, password } => auth::login(session, tag, user, password).await,
        Authenticate { mechanism, initial } => auth::authenticate(session, tag, &mechanism, initial).await,
        Select {
            mailbox,
            read_only,
            condstore,
            qresync,
        } => mailbox::select(session, tag, mailbox, read_only, condstore, qresync).await,
        Create(name) => mailbox::create(session, tag, name).await,
        Delete(name) => mailbox::delete(session, tag, name).await,
        Rename { from, to } => mailbox::rename(session, tag, from, to).await,
        Subscribe(name) => mailbox::subscribe(session, tag, name, true).await,
        Unsubscribe(name) => mailbox::subscribe(session, tag, name, false).await,
        List {
            reference,
            patterns,
            options,
        } => list::list(session, tag, reference, patterns, options).await,
        Lsub { reference, pattern } => list::lsub(session, tag, reference, pattern).await,
        Namespace => list::namespace(session, tag).await,
        Status { mailbox, items } => status::status(session, tag, mailbox, items).await,
        GetQuota(root) => status::get_quota(session, tag, root).await,
        GetQuotaRoot(mailbox) => status::get_quota_root(session, tag, mailbox).await,
        Append { mailbox, messages } => append::append(session, tag, mailbox, messages).await,
        Idle => idle::idle(session, tag).await,
        Close => expunge::close(session, tag).await,
        Unselect => expunge::unselect(session, tag).await,
        CancelUpdate(tags) => context::cancel_update(session, tag, &tags),
        Expunge { uids } => expunge::expunge(session, tag, uids).await,
        Copy { set, mailbox, uid } => copy::copy(session, tag, set, mailbox, uid, false).await,
        Move { set, mailbox, uid } => copy::copy(session, tag, set, mailbox, uid, true).await,
        Store {
            set,
            uid,
            mode,
            silent,
            flags,
            unchanged_since,
        } => store::store(session, tag, set, uid, mode, silent, flags, unchanged_since).await,
        Fetch {
            set,
            uid,
            attributes,
            modifiers,
        } => fetch::fetch(session, tag, set, uid, attributes, modifiers).await,
        Search {
            uid,
            charset,
            key,
            returns,
        } => search::search(session, tag, uid, charset, key, returns).await,
        Sort {
            uid,
            returns,
            criteria,
            charset,
            key,
        } => sort::sort(session, tag, uid, returns, criteria, charset, key).await,
        Thread {
            uid,
            algorithm,
            charset,
            key,
        } => thread::thread(session, tag, uid, algorithm, charset, key).await,
    }
}

/// The positions (0-based) a set names in the selected mailbox, or the
/// text of a BAD reply. By sequence number, a number past the end is an
/// error (RFC 9051 6.4.5 wants valid numbers); by UID, absent UIDs are
/// just not there.
pub fn resolve(session: &Session, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, &'static str> {
    let Some(selected) = session.selected.as_ref() else {
        return Err("No mailbox selected");
    };
    let count = selected.messages.len();
    if let SequenceSet::SavedResult = set {
        // RFC 5182: `$` is the UIDs of the last saved search.
        return Ok(session
            .saved_search
            .iter()
            .filter_map(|&uid| selected.position(uid))
            .collect());
    }
    if uid {
        let largest = selected.messages.last().map_or(0, |m| m.uid);
        return Ok(selected
            .messages
            .iter()
            .enumerate()
            .filter(|(_, m)| set.contains(m.uid, largest))
            .map(|(i, _)| i)
            .collect());
    }
    if let SequenceSet::Ranges(ranges) = set {
        use crate::proto::SeqNumber;
        let too_big = ranges.iter().any(|&(a, b)| {
            [a, b]
                .iter()
                .any(|n| matches!(n, SeqNumber::Value(v) if *v as usize > count))
        });
        if too_big {
            return Err("Invalid message sequence number");
        }
    }
    Ok((1..=count as u32)
        .filter(|&n| set.contains(n, count as u32))
        .map(|n| n as usize - 1)
        .collect())
}

/// Flags as the store keeps them; keywords keep the client's spelling.
pub fn to_flags(flags: &[crate::proto::Flag]) -> estafeta_core::model::Flags {
    use crate::proto::Flag;
    use estafeta_core::model::{Flags, SystemFlags};
    let mut system = SystemFlags::default();
    let mut keywords = Vec::new();
    for flag in flags {
        let bit = match flag {
            Flag::Seen => SystemFlags::SEEN,
            Flag::Answered => SystemFlags::ANSWERED,
            Flag::Flagged => SystemFlags::FLAGGED,
            Flag::Deleted => SystemFlags::DELETED,
            Flag::Draft => SystemFlags::DRAFT,
            Flag::Keyword(keyword) => {
                if !keywords.iter().any(|k: &String| k.eq_ignore_ascii_case(keyword)) {
                    keywords.push(keyword.clone());
                }
                continue;
            }
        };
        system = system.union(bit);
    }
    Flags::new(system, keywords)
}
