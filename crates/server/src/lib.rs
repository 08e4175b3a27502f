//! Wiring: from a [`Config`] to a running server. The binary calls this for
//! `estafeta serve`; testkit calls it to start servers in tests.

mod api;
/// The MTA-STS policy, which `estafeta dns-records` publishes the id of.
pub use api::mta_sts;
mod blocklists;
mod http;
mod learning;

use estafeta_core::auth::LoginLimiter;
use estafeta_core::config::{Backend, Config, Service};
use estafeta_core::metrics::{AUTH_FAILURES, AUTH_FAILURES_HELP, Metrics};
use estafeta_imap::{ImapContext, ImapService};
use estafeta_net::{CancellationToken, ConnectionLimiter, Listener, ListenerContext, TaskTracker, TlsSetup};
use estafeta_pop3::{Pop3Context, Pop3Service};
use estafeta_smtp::{SmtpContext, SmtpService};
use estafeta_store::Store;
use estafeta_store::postgres::PostgresStore;
use estafeta_store::sqlite::SqliteStore;
use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot use data dir {path}: {message}")]
    DataDir { path: PathBuf, message: String },
    #[error("another estafeta is already serving {0} (its lock file is held)")]
    AlreadyRunning(PathBuf),
    #[error("store: {0}")]
    Store(#[from] estafeta_store::StoreError),
    #[error(transparent)]
    Tls(#[from] estafeta_net::TlsError),
    #[error(transparent)]
    Listen(#[from] estafeta_net::NetError),
    #[error(transparent)]
    Dns(#[from] estafeta_net::dns::DnsError),
}

/// Sent-message records older than `deliverability.delivery_log` are
/// forgotten at start and every hour: late bounces to them are too late.
fn spawn_delivery_log_expiry(shared: &Arc<Shared>, shutdown: &CancellationToken, tracker: &TaskTracker) {
    let store = Arc::clone(&shared.store);
    let keep = shared.config.deliverability.delivery_log.as_secs() as i64;
    let stop = shutdown.clone();
    tracker.spawn(async move {
        loop {
            match store.deliveries_expire(estafeta_core::time::now() - keep).await {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "forgot old sent-message records"),
                Err(error) => tracing::warn!(%error, "could not expire sent-message records"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                _ = stop.cancelled() => return,
            }
        }
    });
}

/// Certificate files are looked at every minute; renewed ones (by certbot,
/// an ACME client, or by hand) serve the next handshakes, no restart.
fn spawn_tls_reload(shared: &Arc<Shared>, shutdown: &CancellationToken, tracker: &TaskTracker) {
    let certificates = Arc::clone(&shared.tls.certificates);
    let stop = shutdown.clone();
    tracker.spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                _ = stop.cancelled() => return,
            }
            let checked = Arc::clone(&certificates);
            match tokio::task::spawn_blocking(move || checked.reload()).await {
                Ok(Ok(true)) => tracing::info!("TLS certificates reloaded"),
                Ok(Ok(false)) => {}
                Ok(Err(error)) => tracing::warn!(%error, "renewed TLS certificate not loaded; the old one serves"),
                Err(_) => {}
            }
        }
    });
}

/// A data dir that others can read is tightened to owner-only, loudly.
fn make_private(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "data dir was open to others; setting it to 700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// What the protocol services share.
pub struct Shared {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub logins: Arc<LoginLimiter>,
    pub tls: TlsSetup,
    /// One for the server, so its politeness limits and cache hold for
    /// every API request together.
    pub verifier: Arc<estafeta_verify::Verifier>,
    /// Bounces, complaints, unsubscribes and sending limits.
    pub ledger: Arc<estafeta_deliverability::ledger::Ledger>,
    /// Cancelled when the server stops: responses that never end by
    /// themselves (JMAP push) end then, so a graceful stop is not held up.
    pub stopping: CancellationToken,
    /// HTTP Basic passwords checked lately (see `api::verified`).
    pub verified: api::verified::VerifiedLogins,
    /// JMAP uploads, kept a day for Email/import and attachments.
    pub uploads: estafeta_jmap::upload::Uploads,
    /// The SMTP side, made after this: JMAP sends mail through it.
    pub smtp: std::sync::OnceLock<Arc<SmtpContext>>,
    /// The port each listener got once bound: what autoconfiguration
    /// tells clients.
    pub ports: std::sync::OnceLock<BTreeMap<Service, u16>>,
}

pub struct RunningServer {
    pub shared: Arc<Shared>,
    addrs: BTreeMap<Service, SocketAddr>,
    /// The embedded store, whose writer is drained at shutdown.
    sqlite: Option<Arc<SqliteStore>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    _lock: File,
}

impl RunningServer {
    /// Opens the store, sets up TLS, binds every listener (all or nothing,
    /// so a taken port stops the start before anything serves) and starts
    /// serving.
    pub async fn start(config: Config) -> Result<RunningServer, ServerError> {
        let data_dir = config.data_dir.clone();
        let dir_error = |message: String| ServerError::DataDir {
            path: data_dir.clone(),
            message,
        };
        // Mail is personal data: the data dir is the owner's alone.
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&data_dir)
            .map_err(|e| dir_error(e.to_string()))?;
        make_private(&data_dir).map_err(|e| dir_error(e.to_string()))?;
        let lock = File::create(data_dir.join("estafeta.lock")).map_err(|e| dir_error(e.to_string()))?;
        // One server per data dir; the CLI may still use the store beside it.
        if lock.try_lock().is_err() {
            return Err(ServerError::AlreadyRunning(data_dir.clone()));
        }

        // Message data of transactions a crash cut short: never acknowledged.
        let spool = data_dir.join("spool");
        let spooled = estafeta_smtp::clear_spool(&spool).map_err(|error| ServerError::DataDir {
            path: spool.clone(),
            message: error.to_string(),
        })?;
        if spooled > 0 {
            tracing::info!(spooled, "removed message data a crash left in the spool");
        }
        let metrics = Metrics::new();
        // Present (at zero) from the start, so dashboards and alerts can
        // rely on the series; each protocol counts into its own.
        for protocol in ["smtp", "imap", "pop3", "http"] {
            metrics.counter(AUTH_FAILURES, AUTH_FAILURES_HELP, &[("protocol", protocol)]);
        }
        let (store, sqlite): (Arc<dyn Store>, Option<Arc<SqliteStore>>) = match config.store.backend {
            Backend::Sqlite => {
                let sqlite = Arc::new(SqliteStore::open_with(&data_dir, Arc::clone(&metrics)).await?);
                let cleared = sqlite.clear_temporaries(Duration::from_secs(3600))?;
                if cleared > 0 {
                    tracing::info!(cleared, "removed blob temporaries left by a crash");
                }
                // One server per data dir: leases from an earlier run are void.
                let freed = sqlite.clear_queue_leases().await?;
                if freed > 0 {
                    tracing::info!(freed, "freed queue claims left by the previous run");
                }
                (sqlite.clone(), Some(sqlite))
            }
            Backend::Postgres => (Arc::new(PostgresStore::open(&config.store.url).await?), None),
        };
        let tls = TlsSetup::load(config.tls.as_ref(), &data_dir, &config.hostname)?;
        let resolver = estafeta_net::dns::resolver(&config.dns)?;

        let mut listeners = Vec::new();
        for (service, addr) in config.listeners().enabled() {
            listeners.push(Listener::bind(service, addr).await?);
        }

        let secret =
            estafeta_deliverability::verp::secret(&config.deliverability.secret, &config.data_dir).map_err(|e| {
                ServerError::DataDir {
                    path: config.data_dir.join("deliverability.key"),
                    message: e.to_string(),
                }
            })?;
        let ledger = Arc::new(
            estafeta_deliverability::ledger::Ledger::new(Arc::new(config.clone()), Arc::clone(&store), &secret)
                .with_metrics(Arc::clone(&metrics)),
        );
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let shared = Arc::new(Shared {
            ledger,
            logins: Arc::new(LoginLimiter::from_config(&config.auth)),
            verifier: Arc::new(
                estafeta_verify::Verifier::new(Arc::new(config.clone()), resolver.clone())
                    .with_store(Arc::clone(&store)),
            ),
            store,
            metrics: Arc::clone(&metrics),
            tls: tls.clone(),
            config,
            stopping: shutdown.clone(),
            verified: Default::default(),
            uploads: Default::default(),
            smtp: Default::default(),
            ports: Default::default(),
        });
        let context = ListenerContext {
            limiter: ConnectionLimiter::new(
                shared.config.limits.connections_per_ip,
                shared.config.limits.max_connections,
            ),
            metrics,
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
            idle_timeout: shared.config.limits.idle_timeout,
            tls: Some(tls.acceptor.clone()),
        };
        let filter = Arc::new(estafeta_filter::Filter::new(
            Arc::new(shared.config.clone()),
            Arc::clone(&shared.store),
            Some(resolver.clone()),
        ));
        let smtp = Arc::new(SmtpContext {
            config: Arc::new(shared.config.clone()),
            store: Arc::clone(&shared.store),
            logins: Arc::clone(&shared.logins),
            metrics: Arc::clone(&shared.metrics),
            resolver: Some(resolver.clone()),
            queue_wake: Default::default(),
            filter: Some(Arc::clone(&filter)),
            ledger: Some(Arc::clone(&shared.ledger)),
        });
        let _ = shared.smtp.set(Arc::clone(&smtp));
        estafeta_smtp::outbound::spawn(Arc::clone(&smtp), shutdown.clone(), tracker.clone());
        spawn_delivery_log_expiry(&shared, &shutdown, &tracker);
        spawn_tls_reload(&shared, &shutdown, &tracker);
        blocklists::spawn(&shared, resolver.clone(), &shutdown, &tracker);
        let mut imap = ImapContext::new(
            Arc::new(shared.config.clone()),
            Arc::clone(&shared.store),
            Arc::clone(&shared.logins),
            Arc::clone(&shared.metrics),
        );
        if shared.config.filter.enabled {
            imap.learning = Arc::new(learning::FilterLearning {
                filter: Arc::clone(&filter),
                store: Arc::clone(&shared.store),
            });
        }
        let imap = Arc::new(imap);
        let pop3 = Arc::new(Pop3Context::new(
            Arc::new(shared.config.clone()),
            Arc::clone(&shared.store),
            Arc::clone(&shared.logins),
            Arc::clone(&shared.metrics),
        ));
        let _ = shared.ports.set(
            listeners
                .iter()
                .map(|listener| (listener.service(), listener.local_addr().port()))
                .collect(),
        );
        let mut addrs = BTreeMap::new();
        for listener in listeners {
            let service = listener.service();
            addrs.insert(service, listener.local_addr());
            match service {
                Service::Http => http::spawn(listener, Arc::clone(&shared), &shutdown, &tracker),
                Service::Smtp | Service::Submission | Service::Submissions => {
                    listener.spawn(SmtpService::new(Arc::clone(&smtp), service), context.clone())
                }
                Service::Imap | Service::Imaps => listener.spawn(ImapService::new(Arc::clone(&imap)), context.clone()),
                Service::Pop3 | Service::Pop3s => listener.spawn(Pop3Service::new(Arc::clone(&pop3)), context.clone()),
            }
        }
        Ok(RunningServer {
            shared,
            addrs,
            sqlite,
            shutdown,
            tracker,
            _lock: lock,
        })
    }

    /// The bound address of each enabled service.
    pub fn addrs(&self) -> &BTreeMap<Service, SocketAddr> {
        &self.addrs
    }

    pub fn addr(&self, service: Service) -> Option<SocketAddr> {
        self.addrs.get(&service).copied()
    }

    /// One line naming every endpoint, for the log.
    pub fn banner(&self) -> String {
        let endpoints: Vec<String> = self
            .addrs
            .iter()
            .map(|(service, addr)| format!("{}={addr}", service.name()))
            .collect();
        let tls = if self.shared.tls.self_signed {
            "self-signed"
        } else {
            "configured"
        };
        format!(
            "estafeta {} serving {} (data {}, tls {tls} {})",
            env!("CARGO_PKG_VERSION"),
            endpoints.join(" "),
            self.shared.config.data_dir.display(),
            self.shared.tls.cert_path.display(),
        )
    }

    /// Stops accepting, gives sessions in flight up to `grace` to finish,
    /// then lets the store finish its queued writes. True if every session
    /// ended within the grace period.
    pub async fn shutdown(self, grace: Duration) -> bool {
        self.shutdown.cancel();
        self.tracker.close();
        let clean = tokio::time::timeout(grace, self.tracker.wait()).await.is_ok();
        if let Some(sqlite) = self.sqlite.clone() {
            let _ = tokio::task::spawn_blocking(move || sqlite.shutdown()).await;
        }
        clean
    }
}
