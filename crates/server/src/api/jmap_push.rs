//! JMAP push over an event source (RFC 8620 7.3): a `text/event-stream`
//! that says `state` with the new TypeStates whenever the change bus
//! reports a change to the account (IMAP, SMTP, POP3 and JMAP all publish
//! there), and `ping` every so often if the client asked.

use super::jmap::account;
use crate::Shared;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use estafeta_core::bus::Change;
use estafeta_store::{Account, Store};
use serde_json::json;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{Receiver, error::RecvError};

#[derive(serde::Deserialize)]
pub struct PushQuery {
    types: Option<String>,
    closeafter: Option<String>,
    ping: Option<u64>,
}

/// RFC 8620 7.3: the server may raise a ping interval; below this it does,
/// so a client cannot make it write every second to a thousand streams.
const MIN_PING: Duration = Duration::from_secs(5);

struct Push {
    store: Arc<dyn Store>,
    account: Account,
    /// The types asked for; `None` for `*`.
    types: Option<Vec<String>>,
    close_after_state: bool,
    ping: Option<tokio::time::Interval>,
    ping_seconds: u64,
    changes: Receiver<Change>,
    last: BTreeMap<&'static str, String>,
    done: bool,
    stopping: estafeta_net::CancellationToken,
}

impl Push {
    fn concerns(&self, change: &Change) -> bool {
        match change {
            Change::Mailbox { account, .. } | Change::MailboxList { account } | Change::Account { account } => {
                *account == self.account.id
            }
            Change::Resync => true,
        }
    }

    /// The next event to send, or `None` when the stream ends.
    async fn next_event(&mut self) -> Option<String> {
        loop {
            if self.done {
                return None;
            }
            let tick = async {
                match &mut self.ping {
                    Some(ping) => ping.tick().await,
                    None => std::future::pending().await,
                }
            };
            let change = tokio::select! {
                () = self.stopping.cancelled() => return None,
                change = self.changes.recv() => change,
                _ = tick => return Some(format!("event: ping\ndata: {}\n\n", json!({"interval": self.ping_seconds}))),
            };
            match change {
                Ok(change) if !self.concerns(&change) => continue,
                // Lagged: some changes were missed, so look at the store.
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
            let Ok(now) = estafeta_jmap::states(self.store.as_ref(), &self.account).await else {
                return None;
            };
            let changed: serde_json::Map<String, serde_json::Value> = now
                .iter()
                .filter(|(kind, state)| self.last.get(*kind) != Some(*state))
                .filter(|(kind, _)| self.types.as_ref().is_none_or(|types| types.iter().any(|t| t == *kind)))
                .map(|(kind, state)| ((*kind).to_owned(), json!(state)))
                .collect();
            self.last = now;
            if changed.is_empty() {
                continue;
            }
            self.done = self.close_after_state;
            let event = json!({
                "@type": "StateChange",
                "changed": { estafeta_jmap::account_id(&self.account): changed },
            });
            return Some(format!("event: state\ndata: {event}\n\n"));
        }
    }
}

/// `GET /jmap/eventsource/?types=&closeafter=&ping=` (RFC 8620 7.3).
pub async fn event_source(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<PushQuery>,
) -> Response {
    let account = match account(&shared, peer, &headers).await {
        Ok(account) => account,
        Err(refusal) => return refusal,
    };
    let close_after_state = match query.closeafter.as_deref() {
        None | Some("no") => false,
        Some("state") => true,
        Some(_) => return super::auth::error(StatusCode::BAD_REQUEST, "closeafter is state or no"),
    };
    let types = match query.types.as_deref() {
        None | Some("*") => None,
        Some(list) => Some(list.split(',').map(str::to_owned).collect()),
    };
    // Subscribed before the first state is read, so no change between the
    // two is missed.
    let changes = shared.store.changes().subscribe();
    let last = estafeta_jmap::states(shared.store.as_ref(), &account)
        .await
        .unwrap_or_default();
    let ping_seconds = query.ping.unwrap_or(0);
    let ping = (ping_seconds > 0).then(|| {
        let every = Duration::from_secs(ping_seconds).max(MIN_PING);
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    let push = Push {
        store: Arc::clone(&shared.store),
        account,
        types,
        close_after_state,
        ping_seconds: ping.as_ref().map_or(0, |p| p.period().as_secs()),
        ping,
        changes,
        last,
        done: false,
        stopping: shared.stopping.clone(),
    };
    let events = futures_util::stream::unfold(push, |mut push| async move {
        let event = push.next_event().await?;
        Some((Ok::<_, Infallible>(Bytes::from(event)), push))
    });
    let mut response = Body::from_stream(events).into_response();
    let set = response.headers_mut();
    set.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    set.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store"));
    response
}
