//! One queued message, one delivery run: its pending recipients grouped by
//! domain, each group sent over one connection (several RCPTs), outcomes
//! recorded before that connection is let go, then expiry, delay warnings,
//! DSNs and the next attempt.

use super::Outbound;
use super::client::{ClientError, Envelope, Settings, SmtpClient};
use super::departure::Departure;
use super::dsn::{self, Action, RecipientReport, Report};
use super::reply::Reply;
use super::route::{self, Host, RouteError};
use super::tls_report::{Failure, PolicyKey};
use crate::SmtpContext;
use crate::policy::local_target;
use crate::session::Target;
use estafeta_core::model::MailboxRole;
use estafeta_core::time::now;
use estafeta_deliverability::ledger::{Outcome as LedgerOutcome, Scope};
use estafeta_store::{
    DeliveryTarget, IpPool, NewQueuedMessage, QueueRecipient, QueuedMessage, RecipientOutcome, RecipientStatus,
    StoreError,
};
use mail_auth::report::tlsrpt::ResultType;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

/// Recipients sharing one MAIL FROM and one content: all of a domain's,
/// or one each with VERP (its own return path) or its own headers.
struct Transaction<'a> {
    sender: String,
    recipients: Vec<&'a QueueRecipient>,
    /// This recipient's own copy (its unsubscribe link), when it has one.
    content: Option<&'a [u8]>,
}

/// What the header says about a message: bulk (RFC 2369 List-*, or the
/// old `Precedence` lists still use), and whether it has its own
/// List-Unsubscribe.
fn list_headers(content: &[u8]) -> (bool, bool) {
    let end = content
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(content.len());
    let head = String::from_utf8_lossy(&content[..end]).to_ascii_lowercase();
    let unsubscribe = head.lines().any(|line| line.starts_with("list-unsubscribe:"));
    let bulk = unsubscribe
        || head.lines().any(|line| {
            line.starts_with("list-id:")
                || (line.starts_with("precedence:") && ["bulk", "list", "junk"].iter().any(|p| line.contains(p)))
        });
    (bulk, unsubscribe)
}

/// What happened to one recipient in this run.
struct Outcome {
    address: String,
    status: RecipientStatus,
    reply: Reply,
    remote: Option<String>,
    /// Delivered to a server that does not take DSN parameters.
    relayed: bool,
    /// Sent (or tried): counted in the ledger. Not so for a recipient
    /// failed here because it is suppressed, or held back.
    counted: bool,
    /// The address it left from, when a pool chose it.
    source: Option<String>,
}

impl Outcome {
    fn from_reply(address: &str, reply: Reply, remote: Option<String>, relayed: bool) -> Outcome {
        let status = if reply.is_positive() {
            RecipientStatus::Delivered
        } else if reply.is_permanent() {
            RecipientStatus::Failed
        } else {
            RecipientStatus::Pending
        };
        Outcome {
            address: address.to_owned(),
            status,
            reply,
            remote,
            relayed,
            counted: true,
            source: None,
        }
    }

    /// As the ledger counts it.
    fn ledger(&self) -> LedgerOutcome {
        let text = format!("{} {}", self.reply.enhanced(), self.reply.text);
        match self.status {
            RecipientStatus::Delivered => LedgerOutcome::Delivered,
            RecipientStatus::Failed => LedgerOutcome::Failed {
                code: self.reply.code,
                text,
            },
            RecipientStatus::Pending => LedgerOutcome::Deferred {
                code: self.reply.code,
                text,
            },
        }
    }

    fn record(&self) -> RecipientOutcome {
        RecipientOutcome {
            address: self.address.clone(),
            status: self.status,
            reply: self.reply.to_string(),
        }
    }
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The claim a worker holds: the lease owner the store gave the message
/// when it was claimed (unique per claim, see `Outbound::run`).
fn holder(message: &QueuedMessage) -> &str {
    message.claimed_by.as_ref().map_or("", |(owner, _)| owner.as_str())
}

impl Outbound {
    /// Delivers a claimed message while renewing its lease. When the lease
    /// cannot be renewed (lost to another claim, or the store unreachable
    /// for most of it), delivery stops where it is: a second worker may
    /// already be sending, and one copy is all the recipients may get.
    pub(super) async fn deliver(&self, message: QueuedMessage) {
        let id = message.id;
        let owner = holder(&message).to_owned();
        tokio::select! {
            () = self.deliver_claimed(message) => {}
            () = self.keep_lease(id, &owner) => {
                tracing::warn!(%id, "lease on a queued message lost; delivery stopped");
            }
        }
    }

    /// Renews the lease every third of its length; returns once it is lost.
    async fn keep_lease(&self, id: estafeta_core::model::QueueId, owner: &str) {
        let lease = self.context.config.outbound.lease;
        let mut renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(lease / 3).await;
            match self.context.store.queue_renew(id, owner, lease).await {
                Ok(()) => renewed = tokio::time::Instant::now(),
                Err(StoreError::InUse(_) | StoreError::NotFound(_)) => return,
                Err(error) => {
                    tracing::warn!(%id, %error, "could not renew a queue lease");
                    if renewed.elapsed() >= lease * 2 / 3 {
                        return;
                    }
                }
            }
        }
    }

    async fn deliver_claimed(&self, message: QueuedMessage) {
        let content = match self.context.store.message_content(&message.blob).await {
            Ok(content) => content,
            Err(error) => {
                tracing::error!(id = %message.id, %error, "queued message content unreadable; retrying later");
                self.release(&message, &[], false).await;
                return;
            }
        };
        let raw = content;
        let content = self.signed(&message, raw.clone()).await;
        let scope = self.scope(&message).await;
        let ledger = self.context.ledger.as_ref();
        let (bulk, has_unsubscribe) = list_headers(&raw);
        // RFC 8058: bulk mail gets a one-click unsubscribe link, per
        // recipient, under the DKIM signature.
        let one_click = bulk && !has_unsubscribe;
        let message_id = estafeta_deliverability::ledger::message_id_of(&raw).unwrap_or_default();
        if let (Some(ledger), Some(scope)) = (ledger, &scope)
            && bulk
            && let Ok(Some(reason)) = ledger.paused(scope.tenant).await
        {
            tracing::info!(id = %message.id, %reason, "bulk mail of a paused tenant held");
            self.hold(&message).await;
            return;
        }
        let mut outcomes: Vec<Outcome> = Vec::new();
        let mut by_domain: BTreeMap<String, Vec<&QueueRecipient>> = BTreeMap::new();
        let mut return_paths = HashMap::new();
        let mut own_copies = HashMap::new();
        for recipient in &message.recipients {
            let address = &recipient.recipient.address;
            if let (Some(ledger), Some(scope)) = (ledger, &scope) {
                match ledger.suppressed(scope, address).await {
                    Ok(Some(entry)) => {
                        let reply = Reply::local(
                            550,
                            [5, 7, 1],
                            format!("not sent: on the sender's suppression list ({})", entry.reason.code()),
                        );
                        let mut outcome = Outcome::from_reply(address, reply, None, false);
                        outcome.counted = false;
                        outcomes.push(outcome);
                        continue;
                    }
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, "suppression list unreadable; sending"),
                }
                // Every recipient sent to is recorded, so a late bounce
                // can be matched: by its VERP token, else by the
                // Message-ID it quotes.
                let verp = self.context.config.deliverability.verp;
                match ledger
                    .delivery(
                        scope,
                        message.id.0,
                        message.created_at,
                        &message.sender,
                        address,
                        &message_id,
                    )
                    .await
                {
                    Ok(id) => {
                        if verp {
                            return_paths.insert(address.clone(), ledger.signer().return_path(id, &scope.sender_domain));
                        }
                        if one_click {
                            let mut copy = format!(
                                "List-Unsubscribe: <{}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                                ledger.unsubscribe_link(id)
                            )
                            .into_bytes();
                            copy.extend_from_slice(&raw);
                            own_copies.insert(address.clone(), self.signed(&message, copy).await);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "could not record a delivery; sent without VERP"),
                }
            }
            by_domain
                .entry(domain_of(address))
                .or_default()
                .push(&recipient.recipient);
        }
        let pool = self.sources.pool_of(scope.as_ref().map(|s| s.tenant)).await;
        for (domain, recipients) in by_domain {
            // Each domain starts by proving the lease is still ours.
            let lease = self.context.config.outbound.lease;
            if let Err(error) = self
                .context
                .store
                .queue_renew(message.id, holder(&message), lease)
                .await
            {
                self.lost(&message, &error);
                return;
            }
            let transactions = transactions(&message.sender, &recipients, &return_paths, &own_copies);
            let group = self
                .deliver_group(&message, &content, &domain, &recipients, &transactions, pool.as_ref())
                .await;
            // Mark first, then let the connection go (the group is done with
            // it): a crash now cannot send these recipients a second copy.
            // Failures are recorded after their DSN is safely queued.
            let settled: Vec<RecipientOutcome> = group
                .iter()
                .filter(|o| o.status != RecipientStatus::Failed)
                .map(Outcome::record)
                .collect();
            if let Err(error) = self
                .context
                .store
                .queue_record(message.id, holder(&message), &settled)
                .await
            {
                self.lost(&message, &error);
                return;
            }
            outcomes.extend(group);
        }
        self.finish(&message, &content, outcomes, scope.as_ref()).await;
    }

    /// The tenant and domain of the message's sender, when it is ours.
    async fn scope(&self, message: &QueuedMessage) -> Option<Scope> {
        let ledger = self.context.ledger.as_ref()?;
        if message.sender.is_empty() {
            return None;
        }
        ledger.scope_of(&message.sender).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "could not look up the sender's tenant");
            None
        })
    }

    /// Leaves a message in the queue, untried, for a later look.
    async fn hold(&self, message: &QueuedMessage) {
        let next = now() + 300;
        if let Err(error) = self
            .context
            .store
            .queue_release(message.id, holder(message), next, message.warned)
            .await
        {
            self.lost(message, &error);
        }
    }

    /// The message with a DKIM signature of its From: domain (what DMARC
    /// aligns with), or of the envelope sender's, when we hold a key.
    /// Unsigned if signing fails: late mail beats no mail.
    async fn signed(&self, message: &QueuedMessage, content: Vec<u8>) -> Vec<u8> {
        if message.sender.is_empty() {
            return content;
        }
        let from = mail_auth::AuthenticatedMessage::parse(&content)
            .and_then(|parsed| parsed.from.first().cloned())
            .unwrap_or_default();
        let mut domains = vec![domain_of(&from), domain_of(&message.sender)];
        domains.dedup();
        for domain in domains.iter().filter(|d| !d.is_empty()) {
            let key = match self.context.store.dkim_key_get(domain).await {
                Ok(Some(key)) => key,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(%domain, %error, "could not read the DKIM key");
                    continue;
                }
            };
            match super::dkim::sign(&key, &content) {
                Ok(header) => {
                    let mut signed = Vec::with_capacity(header.len() + content.len());
                    signed.extend_from_slice(header.as_bytes());
                    signed.extend_from_slice(&content);
                    return signed;
                }
                Err(error) => tracing::warn!(%domain, %error, "DKIM signing failed; sending unsigned"),
            }
        }
        content
    }

    fn lost(&self, message: &QueuedMessage, error: &StoreError) {
        tracing::warn!(id = %message.id, %error, "queued message no longer ours (removed, or lease lost)");
    }

    /// Sends to every recipient of one domain over one connection.
    async fn deliver_group(
        &self,
        message: &QueuedMessage,
        content: &[u8],
        domain: &str,
        recipients: &[&QueueRecipient],
        transactions: &[Transaction<'_>],
        pool: Option<&IpPool>,
    ) -> Vec<Outcome> {
        let config = &self.context.config.outbound;
        let mut route = config.route(domain);
        // RFC 8461 5: a domain delivered to by MX may publish an MTA-STS
        // policy; in enforce mode only its MX hosts, over verified TLS.
        let (policy, sts_failure) = self.mta_sts(domain, &route).await;
        if policy.as_ref().is_some_and(|p| p.mode == super::mta_sts::Mode::Enforce) {
            route.require_tls = true;
        }
        // Connections are shared by what reaches the same place the same
        // way: a relay serves many domains, but never a TLS-only route
        // over a plain connection, nor one account's AUTH for another,
        // nor one pool's address for another pool's tenants.
        let place = if route.host.is_empty() {
            domain.to_owned()
        } else {
            format!("{}:{}", route.host, route.port)
        };
        let destination = format!(
            "{place} tls={} auth={} pool={}",
            route.require_tls,
            route.username,
            pool.map_or("", |p| p.name.as_str())
        );
        let all = |reply: &Reply, remote: Option<String>| -> Vec<Outcome> {
            recipients
                .iter()
                .map(|r| Outcome::from_reply(&r.address, reply.clone(), remote.clone(), false))
                .collect()
        };
        let _slot = self.pool.slot(&destination, config.max_connections_per_domain).await;
        let idle = self.pool.take(&destination);
        let mut hosts = None;
        let provider = match &idle {
            Some(client) => self.sources.provider_of(&client.host),
            None => match self.hosts(domain, &route, policy.as_ref()).await {
                Ok(found) => {
                    let first = found.first().map_or(domain, |host| host.name.as_str());
                    let provider = self.sources.provider_of(first);
                    hosts = Some(found);
                    provider
                }
                Err(reply) => return all(&reply, None),
            },
        };
        if let Err(reply) = self.admit(&provider).await {
            return held(recipients, &reply);
        }
        // A connection left open by the previous message to this destination.
        if let Some(mut client) = idle {
            let allowed = self.reuse(pool, client.source(), &provider, recipients.len()).await;
            if allowed == 0 {
                client.quit().await;
            } else {
                let now = first_recipients(transactions, allowed);
                match send_all(&mut client, message, &now, content).await {
                    Ok(replies) => {
                        let outcomes = self.outcomes(recipients, replies, &client, &provider);
                        self.keep_or_close(&destination, client).await;
                        return outcomes;
                    }
                    // Gone stale while idle: a new connection below.
                    Err((partial, _)) if partial.is_empty() => {}
                    Err((mut partial, error)) => {
                        partial.resize(now_count(&now), error.as_reply());
                        return self.outcomes(recipients, partial, &client, &provider);
                    }
                }
            }
        }
        let hosts = match hosts {
            Some(hosts) => hosts,
            None => match self.hosts(domain, &route, policy.as_ref()).await {
                Ok(hosts) => hosts,
                Err(reply) => return all(&reply, None),
            },
        };
        let settings = Settings {
            helo: self.context.config.hostname.clone(),
            // Credentials go over verified TLS or not at all (RFC 4954 4).
            require_tls: route.require_tls || !route.username.is_empty(),
            // A peer the operator named proves it is that peer.
            tls: match route.require_tls || !route.username.is_empty() {
                true => std::sync::Arc::clone(&self.verified_tls),
                false => std::sync::Arc::clone(&self.tls),
            },
            command_timeout: config.command_timeout,
            data_timeout: config.data_timeout,
            auth: (!route.username.is_empty()).then(|| (route.username.clone(), route.password.clone())),
            source: None,
        };
        // RFC 7672 2.2.1: DANE applies to MX hosts named by a validated MX
        // RRset (not to routes the operator set, nor address literals).
        let dane = config.dane
            && route.host.is_empty()
            && !domain.starts_with('[')
            && self.dnssec.can_validate()
            && super::dane::mx_secure(&self.dnssec, domain).await;
        let mut last = Reply::local(451, [4, 4, 1], format!("no host of {domain} could be reached"));
        let mut last_host = None;
        let mut reached = false;
        // One source per address family, picked (and its warm-up share
        // taken) once for the group.
        let mut departures: [Option<Result<Departure, Reply>>; 2] = [None, None];
        // RFC 8460: sessions to MX hosts are reported to the recipient
        // domain, under the policy they were made with.
        let reporting = config.tls_reports && route.host.is_empty() && !domain.starts_with('[');
        let domain_policy = reporting.then(|| match &policy {
            Some(policy) => PolicyKey::sts(domain, policy),
            None => PolicyKey::none(domain),
        });
        if let (true, Some(result)) = (reporting, sts_failure) {
            self.reports.failure(
                &PolicyKey::sts_unavailable(domain),
                Failure {
                    result,
                    sending_ip: None,
                    receiving_mx: None,
                    receiving_ip: None,
                },
            );
        }
        for Host { name, addrs, port } in hosts {
            let (settings, report_under) = match dane {
                true => match self.dane_settings(&settings, domain, &name, port).await {
                    Ok((settings, tlsa)) => (settings, tlsa.filter(|_| reporting).or_else(|| domain_policy.clone())),
                    Err(reply) => {
                        // RFC 7672 2.2: on to the next MX host. RFC 8460
                        // 4.3.2: its TLSA records could not be had securely.
                        tracing::info!(host = %name, %reply, "MX host skipped");
                        if reporting {
                            let policy = PolicyKey::tlsa(domain, &name, &[]);
                            for ip in &addrs {
                                self.report_tls(Some(&policy), Some(ResultType::DnssecInvalid), &name, *ip, None);
                            }
                        }
                        last = reply;
                        continue;
                    }
                },
                false => (settings.clone(), domain_policy.clone()),
            };
            for ip in addrs {
                let family = usize::from(!ip.is_ipv4());
                if departures[family].is_none() {
                    departures[family] = Some(self.depart(pool, ip.is_ipv4(), &provider, recipients.len()).await);
                }
                let departure = match departures[family].as_ref() {
                    Some(Ok(departure)) => departure,
                    Some(Err(reply)) => {
                        if !reached {
                            last = reply.clone();
                        }
                        continue;
                    }
                    None => continue,
                };
                let mut settings = settings.clone();
                if let Some(source) = &departure.source {
                    settings.source = Some(source.address);
                    settings.helo = source.ehlo.clone();
                }
                reached = true;
                // RFC 5321 5.1: on a failure to connect or a refusal at
                // the greeting, the next address, then the next MX.
                let source = settings.source;
                let mut client = match SmtpClient::connect(SocketAddr::new(ip, port), &name, settings).await {
                    Ok(client) => {
                        if client.is_tls() || client.tls_failure.is_some() {
                            self.report_tls(report_under.as_ref(), client.tls_failure, &name, ip, source);
                        }
                        client
                    }
                    Err(error) => {
                        let failure = match &error {
                            ClientError::TlsRequired(_) => Some(ResultType::StartTlsNotSupported),
                            ClientError::Handshake(_, result) => Some(*result),
                            _ => None,
                        };
                        if failure.is_some() {
                            self.report_tls(report_under.as_ref(), failure, &name, ip, source);
                        }
                        tracing::debug!(host = %name, %ip, %error, "outbound connection failed");
                        last = error.as_reply();
                        last_host = matches!(error, ClientError::Refused(_)).then(|| name.clone());
                        continue;
                    }
                };
                let now = first_recipients(transactions, departure.allowed);
                return match send_all(&mut client, message, &now, content).await {
                    Ok(replies) => {
                        let outcomes = self.outcomes(recipients, replies, &client, &provider);
                        self.keep_or_close(&destination, client).await;
                        outcomes
                    }
                    // Lost in the middle: what was not answered cannot be
                    // known to be delivered, so it is tried again later.
                    Err((mut partial, error)) => {
                        partial.resize(now_count(&now), error.as_reply());
                        self.outcomes(recipients, partial, &client, &provider)
                    }
                };
            }
        }
        if !reached && departures.iter().any(|d| matches!(d, Some(Err(_)))) {
            // Nothing was tried: no source may send there now.
            return held(recipients, &last);
        }
        if reached {
            self.throttle.observe(&provider, true);
        }
        all(&last, last_host)
    }

    async fn hosts(
        &self,
        domain: &str,
        route: &estafeta_core::config::Route,
        policy: Option<&super::mta_sts::Policy>,
    ) -> Result<Vec<Host>, Reply> {
        let Some(resolver) = &self.context.resolver else {
            return Err(Reply::local(451, [4, 4, 3], "no DNS resolver is configured"));
        };
        let mut hosts = route::hosts(resolver, domain, route, self.context.config.outbound.smtp_port)
            .await
            .map_err(|(RouteError::Permanent(reply) | RouteError::Temporary(reply))| reply)?;
        let Some(policy) = policy else {
            return Ok(hosts);
        };
        let outside: Vec<String> = hosts
            .iter()
            .filter(|h| !policy.allows(&h.name))
            .map(|h| h.name.clone())
            .collect();
        if outside.is_empty() {
            return Ok(hosts);
        }
        match policy.mode {
            // RFC 8461 4.2: hosts the policy does not name are not used.
            super::mta_sts::Mode::Enforce => {
                hosts.retain(|h| policy.allows(&h.name));
                if hosts.is_empty() {
                    return Err(Reply::local(
                        451,
                        [4, 7, 5],
                        format!(
                            "no MX host of {domain} is in its MTA-STS policy ({})",
                            outside.join(", ")
                        ),
                    ));
                }
            }
            _ => tracing::warn!(%domain, ?outside, "MX hosts outside the MTA-STS policy (testing mode)"),
        }
        Ok(hosts)
    }

    /// The connection settings DANE asks for `host` (RFC 7672): STARTTLS
    /// with a certificate its TLSA records name, or STARTTLS alone when
    /// none of its records is usable; a reply when it cannot be used now.
    /// With them, the TLSA policy the host is reported under (RFC 8460).
    async fn dane_settings(
        &self,
        settings: &Settings,
        domain: &str,
        host: &str,
        port: u16,
    ) -> Result<(Settings, Option<PolicyKey>), Reply> {
        use super::dane::HostPolicy;
        let mut settings = settings.clone();
        let mut policy = None;
        match super::dane::host_policy(&self.dnssec, host, port).await {
            HostPolicy::None => {}
            HostPolicy::EncryptOnly => settings.require_tls = true,
            // RFC 8461 2: where DANE authenticates a host it takes
            // precedence over MTA-STS.
            HostPolicy::Authenticate(records) => {
                settings.require_tls = true;
                policy = Some(PolicyKey::tlsa(domain, host, &records));
                settings.tls = super::dane::client_config(records, domain);
            }
            HostPolicy::Unusable(why) => return Err(Reply::local(451, [4, 7, 5], why)),
        }
        Ok((settings, policy))
    }

    /// A session's TLS, for the domain's TLS report (RFC 8460 4.3).
    fn report_tls(
        &self,
        policy: Option<&PolicyKey>,
        failure: Option<ResultType>,
        host: &str,
        ip: IpAddr,
        source: Option<IpAddr>,
    ) {
        let Some(policy) = policy else {
            return;
        };
        match failure {
            None => self.reports.success(policy),
            Some(result) => self.reports.failure(
                policy,
                Failure {
                    result,
                    sending_ip: source,
                    receiving_mx: Some(host.trim_end_matches('.').to_owned()),
                    receiving_ip: Some(ip),
                },
            ),
        }
    }

    /// The MTA-STS policy of a domain delivered to by its MX.
    /// With it, why a published one could not be had (RFC 8460 4.3.2).
    async fn mta_sts(
        &self,
        domain: &str,
        route: &estafeta_core::config::Route,
    ) -> (Option<super::mta_sts::Policy>, Option<ResultType>) {
        let config = &self.context.config.outbound;
        let Some(resolver) = self
            .context
            .resolver
            .as_ref()
            .filter(|_| config.mta_sts && route.host.is_empty())
        else {
            return (None, None);
        };
        let (policy, failure) = self
            .policies
            .lookup(resolver, &self.verified_tls, domain, config.mta_sts_port)
            .await;
        (
            policy.filter(|policy| policy.mode != super::mta_sts::Mode::None),
            failure,
        )
    }

    /// The replies of the first recipients, the rest held back (their
    /// source's warm-up share ran out). What the provider said teaches
    /// its throttle.
    fn outcomes(
        &self,
        recipients: &[&QueueRecipient],
        replies: Vec<Reply>,
        client: &SmtpClient,
        provider: &str,
    ) -> Vec<Outcome> {
        let relayed = !client.features.dsn;
        let source = client.source().map(|ip| ip.to_string());
        let sent = replies.len();
        let deferred = replies.iter().any(|r| (400..500).contains(&r.code));
        self.throttle.observe(provider, deferred);
        let mut outcomes: Vec<Outcome> = recipients
            .iter()
            .zip(replies)
            .map(|(r, reply)| {
                let mut outcome = Outcome::from_reply(&r.address, reply, Some(client.host.clone()), relayed);
                outcome.source = source.clone();
                outcome
            })
            .collect();
        if sent < recipients.len() {
            let why = Reply::local(
                451,
                [4, 7, 0],
                format!(
                    "{} has sent its warm-up share to {provider} today",
                    source.as_deref().unwrap_or("the source address")
                ),
            );
            outcomes.extend(held(&recipients[sent..], &why));
        }
        outcomes
    }

    async fn keep_or_close(&self, destination: &str, client: SmtpClient) {
        if client.sent < self.context.config.outbound.max_messages_per_connection {
            self.pool.put(destination, client);
        } else {
            client.quit().await;
        }
    }

    /// After every domain: give up on what is too old, warn about delays,
    /// send the DSNs, record failures, and schedule what is left.
    async fn finish(&self, message: &QueuedMessage, content: &[u8], mut outcomes: Vec<Outcome>, scope: Option<&Scope>) {
        let config = &self.context.config.outbound;
        let now = now();
        let age = now - message.created_at;
        if age >= config.max_age.as_secs() as i64 {
            for outcome in outcomes.iter_mut().filter(|o| o.status == RecipientStatus::Pending) {
                // RFC 3463 4.4.7: delivery time expired.
                outcome.status = RecipientStatus::Failed;
                outcome.reply = Reply::local(
                    550,
                    [5, 4, 7],
                    format!("gave up after {} days; last error: {}", age / 86_400, outcome.reply),
                );
            }
        }
        let notify = |address: &str| {
            message
                .recipients
                .iter()
                .find(|r| r.recipient.address == address)
                .map(|r| r.recipient.clone())
                .unwrap_or_default()
        };
        let mut reports = Vec::new();
        let mut warned = message.warned;
        let pending = outcomes.iter().any(|o| o.status == RecipientStatus::Pending);
        let delay_due = pending && !message.warned && age >= config.delay_warning.as_secs() as i64;
        for outcome in &outcomes {
            let action = match outcome.status {
                RecipientStatus::Failed => Action::Failed,
                RecipientStatus::Pending if delay_due => Action::Delayed,
                // RFC 3461 4.1: a server that takes DSN parameters reports
                // success itself; one that does not leaves it to us.
                RecipientStatus::Delivered if outcome.relayed => Action::Relayed,
                _ => continue,
            };
            let recipient = notify(&outcome.address);
            if dsn::wanted(recipient.notify.as_deref(), action) {
                reports.push(RecipientReport {
                    address: outcome.address.clone(),
                    original: recipient.orcpt.clone(),
                    action,
                    reply: outcome.reply.clone(),
                    remote_mta: outcome.remote.clone(),
                });
            }
        }
        warned |= delay_due;
        // Never a report about a report (RFC 3464 5: null reverse-path).
        if !message.sender.is_empty() && !reports.is_empty() {
            let report = Report {
                reporting_mta: &self.context.config.hostname,
                to: &message.sender,
                envid: message.envid.as_deref(),
                arrival: message.created_at,
                now,
                retry_until: Some(message.created_at + config.max_age.as_secs() as i64),
                recipients: reports,
                original: content,
                ret: message.ret.as_deref(),
            };
            if let Err(error) = submit_report(&self.context, &message.sender, report.build()).await {
                // Without the report the failures stay pending: tried
                // again, and reported then.
                tracing::error!(id = %message.id, %error, "could not queue a DSN");
                self.release(message, &outcomes, message.warned).await;
                return;
            }
        }
        let failed: Vec<RecipientOutcome> = outcomes
            .iter()
            .filter(|o| o.status == RecipientStatus::Failed)
            .map(Outcome::record)
            .collect();
        if let Err(error) = self
            .context
            .store
            .queue_record(message.id, holder(message), &failed)
            .await
        {
            self.lost(message, &error);
            return;
        }
        if let Some(ledger) = &self.context.ledger {
            for outcome in outcomes.iter().filter(|o| o.counted) {
                let recorded = match scope {
                    Some(scope) => ledger.record(scope, &outcome.address, &outcome.ledger()).await,
                    None => Ok(()),
                };
                let by_source = match &outcome.source {
                    Some(source) => ledger.record_source(source, &outcome.ledger()).await,
                    None => Ok(()),
                };
                if let Err(error) = recorded.and(by_source) {
                    tracing::warn!(%error, "could not record a delivery outcome");
                }
            }
        }
        let metrics = &self.context.metrics;
        for outcome in &outcomes {
            let result = match outcome.status {
                RecipientStatus::Delivered => "delivered",
                RecipientStatus::Failed => "failed",
                RecipientStatus::Pending => "deferred",
            };
            metrics
                .counter(
                    "estafeta_outbound_recipients_total",
                    "Outbound recipients by the result of a delivery attempt.",
                    &[("result", result)],
                )
                .inc();
        }
        self.release(message, &outcomes, warned).await;
    }

    /// Ends the claim: due again after the schedule's wait (with jitter,
    /// so a burst of failures does not come back as one burst).
    async fn release(&self, message: &QueuedMessage, outcomes: &[Outcome], warned: bool) {
        let config = &self.context.config.outbound;
        let wait = config.retry_after(message.attempts + 1).as_secs_f64();
        let jitter = 0.9 + rand::random::<f64>() * 0.2;
        let next = now() + (wait * jitter).round().max(1.0) as i64;
        match self
            .context
            .store
            .queue_release(message.id, holder(message), next, warned)
            .await
        {
            Ok(true) => tracing::info!(id = %message.id, "queued message done"),
            Ok(false) => tracing::info!(
                id = %message.id,
                deferred = outcomes.iter().filter(|o| o.status == RecipientStatus::Pending).count(),
                "queued message deferred"
            ),
            Err(error) => self.lost(message, &error),
        }
    }
}

/// Outcomes for recipients kept back here, tried again later and not
/// counted against the sender.
fn held(recipients: &[&QueueRecipient], reply: &Reply) -> Vec<Outcome> {
    recipients
        .iter()
        .map(|r| {
            let mut outcome = Outcome::from_reply(&r.address, reply.clone(), None, false);
            outcome.counted = false;
            outcome
        })
        .collect()
}

/// The transactions carrying the first `allowed` recipients.
fn first_recipients<'a>(transactions: &[Transaction<'a>], allowed: usize) -> Vec<Transaction<'a>> {
    let mut left = allowed;
    let mut now = Vec::new();
    for transaction in transactions {
        if left == 0 {
            break;
        }
        let take = transaction.recipients.len().min(left);
        left -= take;
        now.push(Transaction {
            sender: transaction.sender.clone(),
            recipients: transaction.recipients[..take].to_vec(),
            content: transaction.content,
        });
    }
    now
}

fn now_count(transactions: &[Transaction<'_>]) -> usize {
    transactions.iter().map(|t| t.recipients.len()).sum()
}

/// One transaction for the group, or one per recipient with its own
/// return path (VERP) or its own copy when it has one.
fn transactions<'a>(
    sender: &str,
    recipients: &[&'a QueueRecipient],
    return_paths: &HashMap<String, String>,
    own_copies: &'a HashMap<String, Vec<u8>>,
) -> Vec<Transaction<'a>> {
    let shared = recipients
        .iter()
        .all(|r| !return_paths.contains_key(&r.address) && !own_copies.contains_key(&r.address));
    if shared {
        return vec![Transaction {
            sender: sender.to_owned(),
            recipients: recipients.to_vec(),
            content: None,
        }];
    }
    recipients
        .iter()
        .map(|r| Transaction {
            sender: return_paths
                .get(&r.address)
                .cloned()
                .unwrap_or_else(|| sender.to_owned()),
            recipients: vec![*r],
            content: own_copies.get(&r.address).map(Vec::as_slice),
        })
        .collect()
}

/// Each transaction in turn over one connection; the replies in recipient
/// order. On an error, the replies so far and the error.
async fn send_all(
    client: &mut SmtpClient,
    message: &QueuedMessage,
    transactions: &[Transaction<'_>],
    content: &[u8],
) -> Result<Vec<Reply>, (Vec<Reply>, ClientError)> {
    let mut replies = Vec::new();
    for transaction in transactions {
        let envelope = Envelope {
            sender: &transaction.sender,
            recipients: &transaction.recipients,
            envid: message.envid.as_deref(),
            ret: message.ret.as_deref(),
        };
        match client.send(&envelope, transaction.content.unwrap_or(content)).await {
            Ok(more) => replies.extend(more),
            Err(error) => return Err((replies, error)),
        }
    }
    Ok(replies)
}

/// A DSN goes to the sender like any mail: into the store when the
/// sender is ours, else into the queue with a null reverse-path.
pub(super) async fn submit_report(context: &SmtpContext, to: &str, report: Vec<u8>) -> Result<(), StoreError> {
    let store = &context.store;
    if let Some((local, domain)) = to.rsplit_once('@')
        && store.domain_is_local(domain).await?
    {
        let target = local_target(context, &local.to_lowercase(), &domain.to_lowercase())
            .await
            .map_err(|_| StoreError::Io(format!("cannot look up {to}")))?;
        return match target {
            Some(Target::Local(account)) => {
                let inbox = store
                    .mailbox_by_role(account, MailboxRole::Inbox)
                    .await?
                    .ok_or_else(|| StoreError::NotFound("INBOX".into()))?;
                let mut data = b"Return-Path: <>\r\n".to_vec();
                data.extend_from_slice(&report);
                store
                    .deliver(
                        &data,
                        now(),
                        &[DeliveryTarget {
                            mailbox: inbox.id,
                            flags: Default::default(),
                        }],
                    )
                    .await
                    .map(|_| ())
            }
            Some(Target::Remote(forward) | Target::Forward(forward) | Target::Returned(forward)) => {
                queue_report(context, &forward, report).await
            }
            None | Some(Target::Bounce(_)) => {
                tracing::warn!(%to, "DSN for a local sender that no longer exists; dropped");
                Ok(())
            }
        };
    }
    queue_report(context, to, report).await
}

pub(super) async fn queue_report(context: &SmtpContext, to: &str, report: Vec<u8>) -> Result<(), StoreError> {
    let entry = NewQueuedMessage {
        sender: String::new(),
        recipients: vec![QueueRecipient {
            address: to.to_owned(),
            ..Default::default()
        }],
        envid: None,
        ret: None,
    };
    context.store.queue_insert(&report, &entry).await?;
    context.queue_wake.notify_one();
    Ok(())
}

/// Tells the sender that the pending recipients of `message` will not get
/// it (`estafeta queue remove --bounce`), as a failure DSN.
pub async fn bounce(context: &SmtpContext, message: &QueuedMessage, reason: &str) -> Result<(), StoreError> {
    if message.sender.is_empty() {
        return Ok(());
    }
    let content = context.store.message_content(&message.blob).await?;
    let reply = Reply::local(550, [5, 0, 0], reason);
    let recipients: Vec<RecipientReport> = message
        .recipients
        .iter()
        .filter(|r| r.status == RecipientStatus::Pending)
        .filter(|r| dsn::wanted(r.recipient.notify.as_deref(), Action::Failed))
        .map(|r| RecipientReport {
            address: r.recipient.address.clone(),
            original: r.recipient.orcpt.clone(),
            action: Action::Failed,
            reply: reply.clone(),
            remote_mta: None,
        })
        .collect();
    if recipients.is_empty() {
        return Ok(());
    }
    let report = Report {
        reporting_mta: &context.config.hostname,
        to: &message.sender,
        envid: message.envid.as_deref(),
        arrival: message.created_at,
        now: now(),
        retry_until: None,
        recipients,
        original: &content,
        ret: message.ret.as_deref(),
    };
    submit_report(context, &message.sender, report.build()).await
}
