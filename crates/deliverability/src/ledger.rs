//! The sending ledger: what happened to each recipient of our users' mail
//! (delivered, deferred, bounced now or later), kept as counters per
//! tenant and sender domain, turned into suppression entries by the rules
//! of the issue (a hard bounce at once, soft bounces after a few), and
//! watched: a tenant whose bounce or complaint rate passes its limit has
//! its bulk sending paused and the operator is told.

use crate::bounce::{self, Action, BounceClass, Classification, Severity};
use crate::verp::Signer;
use estafeta_core::config::Config;
use estafeta_core::metrics::Metrics;
use estafeta_core::model::TenantId;
use estafeta_core::time::now;
use estafeta_store::{DeliveryRecord, StatKind, Store, StoreError, Suppression, SuppressionReason};
use mail_parser::Message;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Whose mail it is: a tenant, through one of its domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub tenant: TenantId,
    pub sender_domain: String,
}

/// One recipient's result in one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// A temporary failure; tried again later.
    Deferred {
        code: u16,
        text: String,
    },
    /// A permanent failure (or a temporary one given up on).
    Failed {
        code: u16,
        text: String,
    },
}

/// The Message-ID of a message, without its angle brackets.
pub fn message_id_of(raw: &[u8]) -> Option<String> {
    mail_parser::MessageParser::default()
        .parse_headers(raw)
        .and_then(|message| message.message_id().map(str::to_owned))
}

impl Outcome {
    /// What it adds to the counters.
    fn counts(&self) -> Vec<(StatKind, u64)> {
        match self {
            Outcome::Delivered => vec![(StatKind::Sent, 1), (StatKind::Delivered, 1)],
            Outcome::Deferred { .. } => vec![(StatKind::Deferred, 1)],
            Outcome::Failed { code, text } => {
                let kind = match bounce::classify(Some(*code), None, text).severity {
                    Severity::Hard => StatKind::HardBounce,
                    Severity::Soft => StatKind::SoftBounce,
                };
                vec![(StatKind::Sent, 1), (kind, 1)]
            }
        }
    }
}

pub struct Ledger {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    signer: Signer,
    srs: crate::srs::Srs,
    /// Tenants warned about, so the log says it once per window.
    warned: Mutex<HashMap<TenantId, i64>>,
    metrics: Option<Arc<Metrics>>,
    /// Tenant names for metric labels.
    names: Mutex<HashMap<TenantId, String>>,
    /// Sender domains this node sent for, and when last: the ones
    /// checked against domain blocklists.
    sending: Mutex<HashMap<String, i64>>,
}

const EVENTS: &str = "estafeta_sending_events_total";
const EVENTS_HELP: &str = "Outbound results, bounces, complaints and unsubscribes, per tenant.";

impl Ledger {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, secret: &[u8]) -> Ledger {
        Ledger {
            config,
            store,
            signer: Signer::new(secret),
            srs: crate::srs::Srs::new(secret),
            warned: Mutex::new(HashMap::new()),
            metrics: None,
            names: Mutex::new(HashMap::new()),
            sending: Mutex::new(HashMap::new()),
        }
    }

    /// Exports the counters for Prometheus (`/metrics`).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Ledger {
        self.metrics = Some(metrics);
        self
    }

    async fn tenant_name(&self, tenant: TenantId) -> String {
        if let Some(name) = self.names.lock().unwrap_or_else(|e| e.into_inner()).get(&tenant) {
            return name.clone();
        }
        let name = match self.store.tenant_list().await {
            Ok(tenants) => tenants
                .into_iter()
                .find(|t| t.id == tenant)
                .map_or_else(|| tenant.to_string(), |t| t.name),
            Err(_) => return tenant.to_string(),
        };
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant, name.clone());
        name
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Envelope senders of mail we forward (aliases elsewhere).
    pub fn srs(&self) -> &crate::srs::Srs {
        &self.srs
    }

    /// The tenant and domain of mail from `sender`, when the domain is ours.
    pub async fn scope_of(&self, sender: &str) -> Result<Option<Scope>, StoreError> {
        let Some((_, domain)) = sender.rsplit_once('@') else {
            return Ok(None);
        };
        let domain = domain.to_ascii_lowercase();
        Ok(self.store.domain_tenant(&domain).await?.map(|tenant| Scope {
            tenant,
            sender_domain: domain,
        }))
    }

    /// The entry stopping mail from `scope` to `recipient`, if any.
    pub async fn suppressed(&self, scope: &Scope, recipient: &str) -> Result<Option<Suppression>, StoreError> {
        self.store
            .suppression_check(scope.tenant, &scope.sender_domain, recipient, now())
            .await
    }

    /// Why the tenant's bulk mail is paused, if it is.
    pub async fn paused(&self, tenant: TenantId) -> Result<Option<String>, StoreError> {
        let tenants = self.store.tenant_list().await?;
        Ok(tenants.into_iter().find(|t| t.id == tenant).and_then(|t| t.paused))
    }

    /// Records that `recipient` of queued message `queue_id` is being
    /// sent; the record's id (for its VERP return path and links).
    pub async fn delivery(
        &self,
        scope: &Scope,
        queue_id: i64,
        queued_at: i64,
        sender: &str,
        recipient: &str,
        message_id: &str,
    ) -> Result<u64, StoreError> {
        let id = self
            .store
            .delivery_record(&DeliveryRecord {
                id: 0,
                queue_id,
                queued_at,
                recipient: recipient.to_lowercase(),
                sender: sender.to_owned(),
                tenant: scope.tenant,
                sender_domain: scope.sender_domain.clone(),
                sent_at: now(),
                message_id: message_id.to_owned(),
            })
            .await?;
        Ok(id as u64)
    }

    /// The delivery a VERP address names (`bounces+TOKEN@domain`).
    pub async fn delivery_of(&self, local: &str, domain: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        match self.signer.read_return_path(local, domain) {
            Some(id) => self.store.delivery_get(id as i64).await,
            None => Ok(None),
        }
    }

    /// The one-click unsubscribe link (RFC 8058) for a delivery.
    pub fn unsubscribe_link(&self, delivery: u64) -> String {
        let base = &self.config.deliverability.unsubscribe_url;
        let base = if base.is_empty() {
            format!("https://{}/unsubscribe", self.config.hostname)
        } else {
            base.trim_end_matches('/').to_owned()
        };
        format!("{base}/{}", self.signer.token("unsubscribe", delivery, ""))
    }

    /// The delivery an unsubscribe token names, when its signature holds.
    pub async fn unsubscribe_target(&self, token: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        match self.signer.read(token, "unsubscribe", "") {
            Some(id) => self.store.delivery_get(id as i64).await,
            None => Ok(None),
        }
    }

    /// A one-click unsubscribe (RFC 8058): the recipient is suppressed for
    /// the sender domain's mail at once.
    pub async fn unsubscribe(&self, token: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let Some(delivery) = self.unsubscribe_target(token).await? else {
            return Ok(None);
        };
        self.feedback(
            &delivery,
            SuppressionReason::Unsubscribe,
            "one-click unsubscribe (RFC 8058)",
        )
        .await?;
        Ok(Some(delivery))
    }

    /// An ARF report (RFC 5965) about one of our deliveries: a complaint,
    /// suppressed at once. `None` when it is not one or names nothing of ours.
    pub async fn complaint_received(&self, message: &Message<'_>) -> Result<Option<DeliveryRecord>, StoreError> {
        let Some(complaint) = crate::feedback::from_message(message) else {
            return Ok(None);
        };
        if !complaint.is_complaint() {
            return Ok(None);
        }
        for path in &complaint.return_paths {
            let Some((local, domain)) = path.rsplit_once('@') else {
                continue;
            };
            if let Some(delivery) = self.delivery_of(local, domain).await? {
                let detail = format!(
                    "ARF {} report{}",
                    complaint.feedback_type,
                    complaint
                        .user_agent
                        .as_ref()
                        .map(|ua| format!(" from {ua}"))
                        .unwrap_or_default()
                );
                tracing::info!(recipient = %delivery.recipient, "complaint received; suppressed");
                self.feedback(&delivery, SuppressionReason::Complaint, &detail).await?;
                return Ok(Some(delivery));
            }
        }
        tracing::info!("a feedback report about nothing we sent (or too old); ignored");
        Ok(None)
    }

    /// One recipient's result while sending.
    pub async fn record(&self, scope: &Scope, recipient: &str, outcome: &Outcome) -> Result<(), StoreError> {
        let at = now();
        self.sending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scope.sender_domain.clone(), at);
        self.count(scope, at, &outcome.counts()).await?;
        match outcome {
            Outcome::Delivered => {}
            Outcome::Deferred { code, text } => {
                let classification = bounce::classify(Some(*code), None, text);
                self.soft_failure(scope, recipient, &classification, &format!("{code} {text}"), at)
                    .await?;
            }
            Outcome::Failed { code, text } => {
                let classification = bounce::classify(Some(*code), None, text);
                self.apply(scope, recipient, &classification, &format!("{code} {text}"), at)
                    .await?;
            }
        }
        self.watch(scope.tenant, at).await
    }

    /// The sender domains this node has sent for since `since`.
    pub fn sending_domains(&self, since: i64) -> Vec<String> {
        let mut sending = self.sending.lock().unwrap_or_else(|e| e.into_inner());
        sending.retain(|_, last| *last >= since);
        let mut domains: Vec<String> = sending.keys().cloned().collect();
        domains.sort();
        domains
    }

    /// Counts one recipient's result against the address it left from
    /// (what that address's reputation is made of).
    pub async fn record_source(&self, source: &str, outcome: &Outcome) -> Result<(), StoreError> {
        let counts = outcome.counts();
        if let Some(metrics) = &self.metrics {
            for (kind, count) in &counts {
                metrics
                    .counter(
                        "estafeta_source_events_total",
                        "Outbound results per source address.",
                        &[("source", source), ("kind", kind.code())],
                    )
                    .add(*count);
            }
        }
        self.store.source_stats_add(source, now(), &counts).await
    }

    /// A bounce message that came back to a VERP address: the recipient
    /// is the one the token names, whatever the report says.
    pub async fn bounce_received(
        &self,
        delivery: &DeliveryRecord,
        message: &Message<'_>,
    ) -> Result<Option<Classification>, StoreError> {
        let Some(report) = bounce::from_message(message) else {
            tracing::info!(recipient = %delivery.recipient, "mail to a VERP address that is not a bounce; ignored");
            return Ok(None);
        };
        self.apply_report(delivery, &report).await
    }

    /// A bounce that reached one of our users rather than a VERP address
    /// (forwarded, or its return path rewritten): attributed by the signed
    /// return path in the original it quotes. `None` when it is not one or
    /// quotes nothing of ours.
    pub async fn quoted_bounce(&self, message: &Message<'_>) -> Result<Option<Classification>, StoreError> {
        let Some(report) = bounce::from_message(message) else {
            return Ok(None);
        };
        let quoted = match &report.original_headers {
            Some(headers) => crate::verp::paths_in(headers),
            // Text bounces quote the original in their body.
            None => crate::verp::paths_in(&String::from_utf8_lossy(message.raw_message())),
        };
        for path in quoted {
            let Some((local, domain)) = path.rsplit_once('@') else {
                continue;
            };
            if let Some(delivery) = self.delivery_of(local, domain).await? {
                return self.apply_report(&delivery, &report).await;
            }
        }
        // No return path of ours survived (stripped, or VERP is off): the
        // original's Message-ID and the failed recipient, together.
        let Some(message_id) = &report.original_message_id else {
            return Ok(None);
        };
        let mut first = None;
        for failure in &report.failures {
            if let Some(delivery) = self.store.delivery_find(message_id, &failure.recipient).await? {
                let classification = self.apply_report(&delivery, &report).await?;
                first = first.or(classification);
            }
        }
        Ok(first)
    }

    async fn apply_report(
        &self,
        delivery: &DeliveryRecord,
        report: &bounce::Bounce,
    ) -> Result<Option<Classification>, StoreError> {
        let failure = report
            .failures
            .iter()
            .find(|f| f.recipient == delivery.recipient)
            .or_else(|| report.failures.first())
            .expect("a bounce names a failure");
        let scope = Scope {
            tenant: delivery.tenant,
            sender_domain: delivery.sender_domain.clone(),
        };
        let at = now();
        let detail = failure.diagnostic.clone();
        match failure.action {
            Action::Delayed => {
                self.soft_failure(&scope, &delivery.recipient, &failure.classification, &detail, at)
                    .await?;
            }
            Action::Failed => {
                let kind = match failure.classification.severity {
                    Severity::Hard => StatKind::HardBounce,
                    Severity::Soft => StatKind::SoftBounce,
                };
                // It was counted delivered when the next hop took it.
                self.count(&scope, at, &[(kind, 1)]).await?;
                self.apply(&scope, &delivery.recipient, &failure.classification, &detail, at)
                    .await?;
            }
        }
        self.watch(scope.tenant, at).await?;
        Ok(Some(failure.classification))
    }

    /// A complaint (ARF) or an unsubscribe about a delivery: suppressed at
    /// once for its sender domain's tenant.
    pub async fn feedback(
        &self,
        delivery: &DeliveryRecord,
        reason: SuppressionReason,
        detail: &str,
    ) -> Result<(), StoreError> {
        let at = now();
        let scope = Scope {
            tenant: delivery.tenant,
            sender_domain: delivery.sender_domain.clone(),
        };
        let kind = match reason {
            SuppressionReason::Complaint => StatKind::Complaint,
            _ => StatKind::Unsubscribe,
        };
        self.count(&scope, at, &[(kind, 1)]).await?;
        // A complaint stops all the tenant's mail to that person; an
        // unsubscribe, the mail of the domain it came from (RFC 8058).
        let sender_domain = match reason {
            SuppressionReason::Unsubscribe => scope.sender_domain.clone(),
            _ => String::new(),
        };
        self.suppress(
            (scope.tenant, &delivery.recipient, &sender_domain),
            reason,
            detail.to_owned(),
            at,
            None,
        )
        .await?;
        self.watch(scope.tenant, at).await
    }

    async fn count(&self, scope: &Scope, at: i64, counts: &[(StatKind, u64)]) -> Result<(), StoreError> {
        self.store
            .stats_add(scope.tenant, &scope.sender_domain, at, counts)
            .await?;
        if let Some(metrics) = &self.metrics {
            let tenant = self.tenant_name(scope.tenant).await;
            for (kind, count) in counts {
                metrics
                    .counter(EVENTS, EVENTS_HELP, &[("tenant", &tenant), ("kind", kind.code())])
                    .add(*count);
            }
        }
        Ok(())
    }

    /// Adds `address` to the tenant's list (for one sender domain, or all
    /// its mail when empty).
    async fn suppress(
        &self,
        entry: (TenantId, &str, &str),
        reason: SuppressionReason,
        detail: String,
        at: i64,
        expires_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let (tenant, address, sender_domain) = entry;
        self.store
            .suppression_add(&Suppression {
                tenant,
                address: address.to_owned(),
                sender_domain: sender_domain.to_owned(),
                reason,
                detail,
                created_at: at,
                expires_at,
            })
            .await
    }

    /// A permanent failure: suppressed at once when it is unambiguous
    /// about the recipient; never for blocks about us (5.7.x reputation,
    /// policy, content).
    async fn apply(
        &self,
        scope: &Scope,
        recipient: &str,
        classification: &Classification,
        detail: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        if classification.suppresses() {
            tracing::info!(tenant = %scope.tenant, %recipient, class = classification.class.code(), "suppressed after a hard bounce");
            let detail = format!("{}: {detail}", classification.class.code());
            return self
                .suppress(
                    (scope.tenant, recipient, ""),
                    SuppressionReason::HardBounce,
                    detail,
                    at,
                    None,
                )
                .await;
        }
        if classification.severity == Severity::Soft {
            return self.soft_failure(scope, recipient, classification, detail, at).await;
        }
        Ok(())
    }

    /// Temporary failures about the recipient (a full mailbox, a server
    /// that keeps deferring it): `soft_bounces` within the window suppress
    /// it for a while. Failures about us do not count against it.
    async fn soft_failure(
        &self,
        scope: &Scope,
        recipient: &str,
        classification: &Classification,
        detail: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let rules = &self.config.deliverability;
        let about_recipient = matches!(
            classification.class,
            BounceClass::MailboxFull | BounceClass::InactiveMailbox | BounceClass::UnknownUser | BounceClass::BadDomain
        );
        if !about_recipient || rules.soft_bounces == 0 {
            return Ok(());
        }
        let since = at - rules.soft_bounce_window.as_secs() as i64;
        // In the store, so every node's failures count together.
        let seen = self
            .store
            .soft_bounce(scope.tenant, recipient, at, since, false)
            .await?;
        if seen >= rules.soft_bounces {
            self.store.soft_bounce(scope.tenant, recipient, at, since, true).await?;
            let expires = at + rules.soft_bounce_expiry.as_secs() as i64;
            let detail = format!("{seen} temporary failures; last: {detail}");
            self.suppress(
                (scope.tenant, recipient, ""),
                SuppressionReason::SoftBounce,
                detail,
                at,
                Some(expires),
            )
            .await?;
        }
        Ok(())
    }

    /// The tenant's rates over the window against the limits.
    pub async fn rates(&self, tenant: TenantId, at: i64) -> Result<Rates, StoreError> {
        let window = self.config.deliverability.rate_window.as_secs() as i64;
        let stats = self.store.stats_sum(tenant, None, at - window).await?;
        let get = |kind| stats.get(&kind).copied().unwrap_or(0);
        Ok(Rates {
            sent: get(StatKind::Sent),
            delivered: get(StatKind::Delivered),
            hard_bounces: get(StatKind::HardBounce),
            complaints: get(StatKind::Complaint),
        })
    }

    async fn watch(&self, tenant: TenantId, at: i64) -> Result<(), StoreError> {
        let rules = &self.config.deliverability;
        let rates = self.rates(tenant, at).await?;
        if rates.sent < rules.min_volume {
            return Ok(());
        }
        let (bounce, complaint) = (rates.bounce_rate(), rates.complaint_rate());
        let over = if bounce > rules.bounce_limit {
            Some(format!(
                "bounce rate {:.1}% over the {:.1}% limit ({} of {} sent)",
                100.0 * bounce,
                100.0 * rules.bounce_limit,
                rates.hard_bounces,
                rates.sent
            ))
        } else if complaint > rules.complaint_limit {
            Some(format!(
                "complaint rate {:.2}% over the {:.2}% limit ({} of {} delivered)",
                100.0 * complaint,
                100.0 * rules.complaint_limit,
                rates.complaints,
                rates.delivered
            ))
        } else {
            None
        };
        if let Some(reason) = over {
            if self.paused(tenant).await?.is_none() {
                let name = self.tenant_name(tenant).await;
                tracing::error!(tenant = %name, %reason, "tenant's bulk sending paused (estafeta tenant resume NAME after cleaning the list)");
                self.store.tenant_pause(tenant, Some(&reason)).await?;
            }
            return Ok(());
        }
        if bounce > rules.bounce_warning || complaint > rules.complaint_warning {
            let window = rules.rate_window.as_secs() as i64;
            let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
            if warned.get(&tenant).is_none_or(|t| at - t >= window) {
                warned.insert(tenant, at);
                tracing::warn!(
                    %tenant,
                    bounce_rate = format!("{:.2}%", 100.0 * bounce),
                    complaint_rate = format!("{:.3}%", 100.0 * complaint),
                    "tenant nearing its sending limits"
                );
            }
        }
        Ok(())
    }
}

/// A tenant's sending over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    pub sent: u64,
    pub delivered: u64,
    pub hard_bounces: u64,
    pub complaints: u64,
}

impl Rates {
    pub fn bounce_rate(&self) -> f64 {
        self.hard_bounces as f64 / self.sent.max(1) as f64
    }

    pub fn complaint_rate(&self) -> f64 {
        self.complaints as f64 / self.delivered.max(1) as f64
    }
}
