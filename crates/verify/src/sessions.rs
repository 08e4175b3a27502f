//! Politeness toward the servers probed: a bound on sessions in all and per
//! mail host, RCPT commands paced per host, and connections kept for the
//! next address at the same host (RSET between, RFC 5321 4.1.1.5) up to a
//! number of addresses, then closed with QUIT.

use crate::probe::{Probe, ProbeError, Reply};
use estafeta_core::config::Verify;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Who we say we are and how long we wait.
pub(crate) struct Identity {
    pub helo: String,
    pub sender: String,
}

pub(crate) struct Sessions {
    config: Verify,
    identity: Identity,
    /// Sessions open (active or idle) over all hosts.
    open: Arc<Semaphore>,
    hosts: Mutex<HashMap<IpAddr, Arc<Host>>>,
    /// Told when a connection is put back or closed, so waiters look again.
    returned: Notify,
    next_id: AtomicU64,
}

/// One mail host's share of the limits and its idle connections.
struct Host {
    connections: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
    next_rcpt: Mutex<Instant>,
}

impl Host {
    fn take_idle(&self) -> Option<Session> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.pop().map(|i| i.session)
    }

    fn has_idle(&self) -> bool {
        !self.idle.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }
}

struct Idle {
    id: u64,
    since: Instant,
    session: Session,
}

/// An open connection and the limits it holds while open.
struct Session {
    probe: Probe,
    rcpts: u32,
    _host: OwnedSemaphorePermit,
    _open: OwnedSemaphorePermit,
}

impl Session {
    /// QUIT, holding the slots until the server has answered.
    async fn quit(self) {
        self.probe.quit().await;
    }
}

impl Sessions {
    pub fn new(config: Verify, identity: Identity) -> Sessions {
        Sessions {
            open: Arc::new(Semaphore::new(config.max_probes.max(1))),
            config,
            identity,
            hosts: Mutex::new(HashMap::new()),
            returned: Notify::new(),
            next_id: AtomicU64::new(0),
        }
    }

    fn host(&self, ip: IpAddr) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(hosts.entry(ip).or_insert_with(|| {
            Arc::new(Host {
                connections: Arc::new(Semaphore::new(self.config.host_connections.max(1))),
                idle: Mutex::new(Vec::new()),
                next_rcpt: Mutex::new(Instant::now()),
            })
        }))
    }

    /// One transaction at `ip` (with SMTPUTF8 when `utf8`): RCPT for each
    /// address in turn, their replies in the same order. The connection
    /// is kept for the next caller when it is still good.
    pub async fn ask(self: &Arc<Self>, ip: IpAddr, addresses: &[&str], utf8: bool) -> Result<Vec<Reply>, ProbeError> {
        let host = self.host(ip);
        let mut session = self.session(ip, &host, utf8).await?;
        let mut replies = Vec::with_capacity(addresses.len());
        for address in addresses {
            self.pace(&host).await;
            replies.push(session.probe.rcpt(address).await?);
            session.rcpts += 1;
        }
        self.give_back(host, session).await;
        Ok(replies)
    }

    /// An idle connection with a new transaction, or a new connection
    /// once the host and the overall bound allow one. Idle connections
    /// hold their slots: a waiter takes its host's idle one, or closes
    /// another host's to free a slot of the overall bound.
    async fn session(self: &Arc<Self>, ip: IpAddr, host: &Arc<Host>, utf8: bool) -> Result<Session, ProbeError> {
        'next: loop {
            // Armed before looking, so a connection put back meanwhile wakes us.
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if let Some(mut session) = host.take_idle() {
                // A server may have closed it meanwhile: then open another.
                match session.probe.mail(&self.identity.sender, utf8).await {
                    Ok(()) => return Ok(session),
                    Err(ProbeError::NoSmtpUtf8) => return Err(ProbeError::NoSmtpUtf8),
                    Err(_) => continue,
                }
            }
            let host_permit = tokio::select! {
                permit = Arc::clone(&host.connections).acquire_owned() => permit.expect("never closed"),
                _ = returned => continue,
            };
            let open_permit = loop {
                let returned = self.returned.notified();
                tokio::pin!(returned);
                returned.as_mut().enable();
                if let Ok(permit) = Arc::clone(&self.open).try_acquire_owned() {
                    break permit;
                }
                if host.has_idle() {
                    continue 'next;
                }
                self.close_oldest_idle();
                tokio::select! {
                    permit = Arc::clone(&self.open).acquire_owned() => break permit.expect("never closed"),
                    _ = returned => continue,
                }
            };
            let config = &self.config;
            let mut probe = Probe::connect(
                ip,
                config.smtp_port,
                &self.identity.helo,
                config.connect_timeout,
                config.command_timeout,
            )
            .await?;
            probe.mail(&self.identity.sender, utf8).await?;
            return Ok(Session {
                probe,
                rcpts: 0,
                _host: host_permit,
                _open: open_permit,
            });
        }
    }

    /// Waits for this host's next RCPT slot (`host_rate` a minute, evenly).
    async fn pace(&self, host: &Host) {
        if self.config.host_rate == 0 {
            return;
        }
        let interval = Duration::from_secs(60) / self.config.host_rate;
        let wait = {
            let mut next = host.next_rcpt.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + interval;
            slot - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    async fn give_back(self: &Arc<Self>, host: Arc<Host>, mut session: Session) {
        let config = &self.config;
        let spent = session.rcpts >= config.rcpts_per_connection || config.idle_timeout.is_zero();
        if spent {
            tokio::spawn(session.quit());
            return;
        }
        if session.probe.reset().await.is_err() {
            return;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        host.idle.lock().unwrap_or_else(|e| e.into_inner()).push(Idle {
            id,
            since: Instant::now(),
            session,
        });
        self.returned.notify_waiters();
        let idle_timeout = config.idle_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(idle_timeout).await;
            let expired = {
                let mut idle = host.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.iter().position(|i| i.id == id).map(|at| idle.remove(at))
            };
            if let Some(expired) = expired {
                expired.session.quit().await;
            }
        });
    }

    /// Frees a slot of the overall bound held by an idle connection.
    fn close_oldest_idle(&self) {
        let hosts: Vec<Arc<Host>> = self
            .hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let oldest = hosts
            .iter()
            .filter_map(|host| {
                let idle = host.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.iter()
                    .map(|i| (i.since, i.id))
                    .min()
                    .map(|(since, id)| (since, id, host))
            })
            .min_by_key(|(since, _, _)| *since);
        if let Some((_, id, host)) = oldest {
            let taken = {
                let mut idle = host.idle.lock().unwrap_or_else(|e| e.into_inner());
                idle.iter().position(|i| i.id == id).map(|at| idle.remove(at))
            };
            if let Some(taken) = taken {
                tokio::spawn(taken.session.quit());
            }
        }
    }
}
