//! The one configuration file. Every key is optional and has an embedded
//! default; an unknown key or a bad value is an error naming the key and the
//! file, so a typo never silently falls back to a default.

mod deliverability;
mod filter;
mod verify;

pub use deliverability::{Deliverability, SuppressedAction};
pub use filter::{AccountFilter, DnsList, Filter, Greylist};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
pub use verify::Verify;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {file}: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: PathBuf, message: String },
    #[error("{file}: `{key}`: {message}")]
    Value {
        file: PathBuf,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the store, blobs and the self-signed certificate live.
    pub data_dir: PathBuf,
    /// Our name in SMTP greetings and `Received:` headers.
    pub hostname: String,
    /// Absent: every listener on its default. Present: only the listed ones.
    pub listen: Option<Listen>,
    /// Absent: a self-signed certificate is made once and kept in the data dir.
    pub tls: Option<Tls>,
    pub dns: Dns,
    pub limits: Limits,
    pub auth: Auth,
    pub smtp: Smtp,
    pub pop3: Pop3,
    pub outbound: Outbound,
    pub filter: Filter,
    pub verify: Verify,
    pub deliverability: Deliverability,
    pub store: StoreConfig,
}

/// Which store holds the mail.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite and blob files under `data_dir`: no setup.
    #[default]
    Sqlite,
    /// One PostgreSQL for several nodes (content in the database too).
    Postgres,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: Backend,
    /// `postgres://user@host:port/database`, for the postgres backend.
    pub url: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            hostname: "localhost".to_owned(),
            listen: None,
            tls: None,
            dns: Dns::default(),
            limits: Limits::default(),
            auth: Auth::default(),
            smtp: Smtp::default(),
            pop3: Pop3::default(),
            outbound: Outbound::default(),
            filter: Filter::default(),
            verify: Verify::default(),
            deliverability: Deliverability::default(),
            store: StoreConfig::default(),
        }
    }
}

/// One address per service; a service without an address is not started.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    pub smtp: Option<SocketAddr>,
    pub submission: Option<SocketAddr>,
    pub submissions: Option<SocketAddr>,
    pub imap: Option<SocketAddr>,
    pub imaps: Option<SocketAddr>,
    pub pop3: Option<SocketAddr>,
    pub pop3s: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
}

impl Listen {
    /// The unprivileged loopback ports of the zero-config server.
    pub fn defaults() -> Self {
        let at = |port: u16| Some(SocketAddr::from(([127, 0, 0, 1], port)));
        Listen {
            smtp: at(2525),
            submission: at(2587),
            submissions: at(2465),
            imap: at(1143),
            imaps: at(1993),
            pop3: at(1110),
            pop3s: at(1995),
            http: at(8080),
        }
    }

    /// Every listener on port 0 of loopback: the kernel picks free ports.
    pub fn ephemeral() -> Self {
        let any = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        Listen {
            smtp: any,
            submission: any,
            submissions: any,
            imap: any,
            imaps: any,
            pop3: any,
            pop3s: any,
            http: any,
        }
    }

    /// The enabled listeners with their service.
    pub fn enabled(&self) -> Vec<(Service, SocketAddr)> {
        [
            (Service::Smtp, self.smtp),
            (Service::Submission, self.submission),
            (Service::Submissions, self.submissions),
            (Service::Imap, self.imap),
            (Service::Imaps, self.imaps),
            (Service::Pop3, self.pop3),
            (Service::Pop3s, self.pop3s),
            (Service::Http, self.http),
        ]
        .into_iter()
        .filter_map(|(service, addr)| addr.map(|addr| (service, addr)))
        .collect()
    }
}

/// The services a listener can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Smtp,
    Submission,
    Submissions,
    Imap,
    Imaps,
    Pop3,
    Pop3s,
    Http,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Smtp => "smtp",
            Service::Submission => "submission",
            Service::Submissions => "submissions",
            Service::Imap => "imap",
            Service::Imaps => "imaps",
            Service::Pop3 => "pop3",
            Service::Pop3s => "pop3s",
            Service::Http => "http",
        }
    }

    /// Services that speak TLS from the first byte (RFC 8314).
    pub fn implicit_tls(self) -> bool {
        matches!(self, Service::Submissions | Service::Imaps | Service::Pop3s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain, leaf first: the default, for clients that
    /// name no host (SNI) or one no certificate is for.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// More certificates (`[[tls.extra]]`), each shown to clients that ask
    /// for a name it is valid for (RFC 6066 3, SNI).
    #[serde(default)]
    pub extra: Vec<CertPair>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CertPair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Dns {
    /// Nameservers as "ADDR:PORT"; empty means the system resolver.
    pub nameservers: Vec<SocketAddr>,
    /// Believe the DNSSEC AD bit of these nameservers though they are not
    /// on loopback (only when the path to them is private: a validating
    /// resolver on the same LAN segment, or over IPsec). DANE (RFC 7672)
    /// rests on it.
    pub trust_ad: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Simultaneous connections from one client IP, across all listeners.
    pub connections_per_ip: u32,
    /// Simultaneous connections in all.
    pub max_connections: u32,
    /// A connection that sends nothing for this long is closed (SMTP, and
    /// IMAP and POP3 before login).
    #[serde(with = "crate::duration::serde_text")]
    pub idle_timeout: Duration,
    /// Logged-in IMAP sessions: RFC 9051 5.4 wants at least 30 minutes.
    #[serde(with = "crate::duration::serde_text")]
    pub imap_idle_timeout: Duration,
    /// Logged-in POP3 sessions: RFC 1939 3 wants at least 10 minutes.
    #[serde(with = "crate::duration::serde_text")]
    pub pop3_idle_timeout: Duration,
    /// A command line must arrive whole within this long of its first
    /// byte, however steadily it drips in (the idle timer restarts on every
    /// byte; this does not).
    #[serde(with = "crate::duration::serde_text")]
    pub command_time: Duration,
    /// On SIGINT/SIGTERM, how long in-flight sessions get to finish.
    #[serde(with = "crate::duration::serde_text")]
    pub shutdown_grace: Duration,
    /// Bytes of mail each account may hold (RFC 9208 STORAGE); 0: no limit.
    /// Full accounts get `452 4.2.2` over SMTP and `[OVERQUOTA]` over IMAP.
    pub account_quota: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections_per_ip: 20,
            max_connections: 4096,
            idle_timeout: Duration::from_secs(300),
            imap_idle_timeout: Duration::from_secs(30 * 60),
            pop3_idle_timeout: Duration::from_secs(10 * 60),
            command_time: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(10),
            account_quota: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Failed logins, per client IP and per account, that lock it out...
    pub max_failures: u32,
    /// ...when they happen within this window...
    #[serde(with = "crate::duration::serde_text")]
    pub failure_window: Duration,
    /// ...for this long.
    #[serde(with = "crate::duration::serde_text")]
    pub lockout: Duration,
    /// Accept passwords on connections without TLS. Never do this in production.
    pub allow_plaintext: bool,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            max_failures: 10,
            failure_window: Duration::from_secs(300),
            lockout: Duration::from_secs(300),
            allow_plaintext: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// Largest message accepted, in bytes (RFC 1870 SIZE); over it: 552 5.3.4.
    pub max_message_size: u64,
    /// Message data past this many bytes goes to a file under
    /// `data_dir/spool` while it arrives, not RAM.
    pub spool_above: u64,
    /// Recipients per message; past it: 452 4.5.3 (RFC 5321 4.5.3.1.8).
    pub max_recipients: u32,
    /// Permanent (5xx) errors in one session before we hang up with 421.
    pub max_errors: u32,
    /// Received fields a message may carry; past it, a loop is assumed and
    /// the message refused with 554 5.4.6 (RFC 5321 6.3).
    pub max_hops: u32,
    /// Waiting for a command (RFC 5321 4.5.3.2.7: at least 5 minutes).
    #[serde(with = "crate::duration::serde_text")]
    pub command_timeout: Duration,
    /// Waiting for message data (RFC 5321 4.5.3.2.5: at least 3 minutes per block).
    #[serde(with = "crate::duration::serde_text")]
    pub data_timeout: Duration,
    /// Check SPF, DKIM, DMARC and ARC on the MX port and record them in
    /// Authentication-Results.
    pub verify_sender: bool,
    /// Refuse (550 5.7.1) mail failing DMARC whose domain asks p=reject.
    pub dmarc_reject: bool,
    /// Account that gets postmaster mail for domains without their own
    /// postmaster account or alias. Empty: the first account created.
    pub postmaster: String,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            max_message_size: 50 * 1024 * 1024,
            spool_above: 1024 * 1024,
            max_recipients: 100,
            max_errors: 20,
            max_hops: 50,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
            verify_sender: true,
            dmarc_reject: true,
            postmaster: String::new(),
        }
    }
}

/// POP3 (RFC 1939) sees one maildrop per account, made of mailboxes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Pop3 {
    /// The mailboxes POP3 shows, by role (`inbox`, `promotions`, ...) or
    /// by name. Junk is left out by default: POP3 clients cannot tell spam
    /// from mail, and would download it into the inbox.
    pub maildrop: Vec<String>,
    /// Per-account maildrops, keyed by address, overriding `maildrop`.
    pub accounts: std::collections::BTreeMap<String, Vec<String>>,
    /// RFC 2449 LOGIN-DELAY: least seconds between two logins of an
    /// account; a quicker login gets `-ERR [LOGIN-DELAY]`. 0: no delay.
    pub login_delay: u64,
}

impl Default for Pop3 {
    fn default() -> Self {
        Pop3 {
            maildrop: ["inbox", "promotions", "social", "updates"].map(String::from).to_vec(),
            accounts: Default::default(),
            login_delay: 0,
        }
    }
}

impl Pop3 {
    /// The maildrop of `address` (normalised `local@domain`).
    pub fn maildrop_of(&self, address: &str) -> &[String] {
        self.accounts.get(address).unwrap_or(&self.maildrop)
    }
}

/// Sending queued mail to other servers (RFC 5321 5, 4.5.4).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Outbound {
    /// Keep queued mail without sending it (maintenance, or a node that
    /// only receives); it goes out once this is false again.
    pub hold: bool,
    /// The port MX hosts are reached on; only tests change it.
    pub smtp_port: u16,
    /// Waits after the first, second, ... failed attempt (RFC 5321
    /// 4.5.4.1: at least 30 minutes is usual; the first retries come
    /// sooner for greylisting). The last repeats until `max_age`.
    #[serde(with = "crate::duration::serde_text_list")]
    pub retry_schedule: Vec<Duration>,
    /// Past this age a message still undelivered fails (RFC 5321 4.5.4.1:
    /// 4-5 days).
    #[serde(with = "crate::duration::serde_text")]
    pub max_age: Duration,
    /// A message still queued this long gets its sender a delay DSN.
    #[serde(with = "crate::duration::serde_text")]
    pub delay_warning: Duration,
    /// How long a node's claim on a queued message lasts: past the slowest
    /// delivery the timeouts allow, so a live node never loses a message to
    /// another; a node that dies leaves its messages to the others after it.
    #[serde(with = "crate::duration::serde_text")]
    pub lease: Duration,
    /// Deliveries under way at once, in all.
    pub max_connections: u32,
    /// Connections to one destination domain at once.
    pub max_connections_per_domain: u32,
    /// Messages sent over one connection before it is closed.
    pub max_messages_per_connection: u32,
    /// RFC 5321 4.5.3.2: waiting for a greeting or a reply (5 minutes).
    #[serde(with = "crate::duration::serde_text")]
    pub command_timeout: Duration,
    /// RFC 5321 4.5.3.2.6: waiting for the reply to the end of data.
    #[serde(with = "crate::duration::serde_text")]
    pub data_timeout: Duration,
    /// Trust anchors (PEM) besides the system's for the outbound TLS
    /// that is verified: routes with `require_tls` and smarthosts with
    /// AUTH (a private CA, or a self-signed smarthost).
    pub tls_ca_file: Option<PathBuf>,
    /// Honour MTA-STS policies (RFC 8461) of domains delivered to by MX.
    pub mta_sts: bool,
    /// Honour DANE TLSA records (RFC 7672) of MX hosts whose MX, address
    /// and TLSA records are DNSSEC-validated by a trusted resolver.
    pub dane: bool,
    /// Send SMTP TLS reports (RFC 8460) to domains that ask for them.
    pub tls_reports: bool,
    /// The period each TLS report covers (RFC 8460 4.1: a day).
    #[serde(with = "crate::duration::serde_text")]
    pub tls_report_period: Duration,
    /// The HTTPS port policies are fetched from (443; tests change it).
    pub mta_sts_port: u16,
    /// Where mail goes when no route matches: absent, by MX.
    pub relay: Option<Route>,
    /// Per destination domain.
    pub routes: std::collections::BTreeMap<String, Route>,
}

/// How to reach a destination: a fixed host (a smarthost) or its MX,
/// with TLS required or opportunistic, and AUTH for a smarthost.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Route {
    /// Host name or IP; empty: the domain's MX.
    pub host: String,
    /// 0: `outbound.smtp_port` (25).
    pub port: u16,
    /// Refuse to send unless STARTTLS succeeds with a certificate that
    /// verifies for the host (system roots and `outbound.tls_ca_file`).
    /// Routes with AUTH are verified too: credentials go only to the host
    /// they are for.
    pub require_tls: bool,
    pub username: String,
    pub password: String,
}

impl Default for Outbound {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Outbound {
            hold: false,
            smtp_port: 25,
            retry_schedule: vec![
                minutes(5),
                minutes(10),
                minutes(30),
                minutes(60),
                minutes(120),
                minutes(240),
            ],
            max_age: Duration::from_secs(5 * 86_400),
            delay_warning: Duration::from_secs(4 * 3600),
            lease: minutes(30),
            max_connections: 100,
            max_connections_per_domain: 5,
            max_messages_per_connection: 100,
            command_timeout: minutes(5),
            data_timeout: minutes(10),
            tls_ca_file: None,
            mta_sts: true,
            dane: true,
            tls_reports: true,
            tls_report_period: Duration::from_secs(24 * 3600),
            mta_sts_port: 443,
            relay: None,
            routes: Default::default(),
        }
    }
}

impl Outbound {
    /// The route for `domain`: its own, else the relay, else by MX.
    pub fn route(&self, domain: &str) -> Route {
        self.routes
            .get(domain)
            .or(self.relay.as_ref())
            .cloned()
            .unwrap_or_default()
    }

    /// How long to wait after `attempts` failed attempts.
    pub fn retry_after(&self, attempts: u32) -> Duration {
        let index = (attempts.max(1) as usize - 1).min(self.retry_schedule.len().saturating_sub(1));
        self.retry_schedule
            .get(index)
            .copied()
            .unwrap_or(Duration::from_secs(3600))
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.to_owned(),
            source,
        })?;
        Config::parse(&text, file)
    }

    /// Parses config text; `file` only names the source in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|error| ConfigError::Syntax {
            file: file.to_owned(),
            message: error.message().trim().to_owned(),
        })?;
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|error| value_error(file, error))?;
        config.check(file)?;
        Ok(config)
    }

    /// The listeners in force: the defaults when `[listen]` is absent.
    pub fn listeners(&self) -> Listen {
        self.listen.clone().unwrap_or_else(Listen::defaults)
    }

    /// Rules serde cannot express.
    fn check(&self, file: &Path) -> Result<(), ConfigError> {
        let fail = |key: &str, message: &str| {
            Err(ConfigError::Value {
                file: file.to_owned(),
                key: key.to_owned(),
                message: message.to_owned(),
            })
        };
        if self.hostname.is_empty() || self.hostname.contains(char::is_whitespace) {
            return fail("hostname", "must be a host name without spaces");
        }
        if self.data_dir.as_os_str().is_empty() {
            return fail("data_dir", "must not be empty");
        }
        if self.limits.connections_per_ip == 0 {
            return fail("limits.connections_per_ip", "must be at least 1");
        }
        if self.limits.max_connections == 0 {
            return fail("limits.max_connections", "must be at least 1");
        }
        if self.limits.idle_timeout.is_zero() {
            return fail("limits.idle_timeout", "must be longer than zero");
        }
        if let Some(file) = &self.outbound.tls_ca_file
            && !file.is_file()
        {
            return fail("outbound.tls_ca_file", "must be a readable PEM file");
        }
        if self.limits.imap_idle_timeout < Duration::from_secs(30 * 60) {
            return fail("limits.imap_idle_timeout", "must be at least 30m (RFC 9051 5.4)");
        }
        if self.limits.pop3_idle_timeout < Duration::from_secs(10 * 60) {
            return fail("limits.pop3_idle_timeout", "must be at least 10m (RFC 1939 3)");
        }
        if self.limits.command_time.is_zero() {
            return fail("limits.command_time", "must be longer than zero");
        }
        if self.smtp.max_message_size < 1024 {
            return fail("smtp.max_message_size", "must be at least 1024 bytes");
        }
        if self.outbound.tls_report_period < Duration::from_secs(1) {
            return fail("outbound.tls_report_period", "must be at least 1s");
        }
        if self.smtp.spool_above < 4096 {
            return fail("smtp.spool_above", "must be at least 4096 bytes");
        }
        if self.smtp.max_recipients == 0 {
            return fail("smtp.max_recipients", "must be at least 1");
        }
        if !self.smtp.postmaster.is_empty() && crate::Address::parse(&self.smtp.postmaster).is_err() {
            return fail("smtp.postmaster", "must be an address");
        }
        if self.store.backend == Backend::Postgres && !self.store.url.starts_with("postgres") {
            return fail("store.url", "the postgres backend needs a postgres://... URL");
        }
        if self.outbound.retry_schedule.is_empty() || self.outbound.retry_schedule.iter().any(Duration::is_zero) {
            return fail(
                "outbound.retry_schedule",
                "must list at least one wait, none of them zero",
            );
        }
        if self.outbound.lease < Duration::from_secs(1) {
            return fail("outbound.lease", "must be at least 1s");
        }
        if self.outbound.max_connections == 0 || self.outbound.max_connections_per_domain == 0 {
            return fail("outbound.max_connections", "must be at least 1");
        }
        if self.outbound.max_messages_per_connection == 0 {
            return fail("outbound.max_messages_per_connection", "must be at least 1");
        }
        if let Some((key, message)) = self.filter.problem() {
            return fail(&key, message);
        }
        if let Some((key, message)) = self.deliverability.problem() {
            return fail(key, message);
        }
        let routes = self
            .outbound
            .routes
            .iter()
            .map(|(domain, route)| (format!("outbound.routes.{domain}"), route));
        let relay = self
            .outbound
            .relay
            .iter()
            .map(|route| ("outbound.relay".to_owned(), route));
        for (key, route) in routes.chain(relay) {
            if route.username.is_empty() != route.password.is_empty() {
                return fail(&key, "username and password go together");
            }
        }
        if self.pop3.maildrop.is_empty() {
            return fail("pop3.maildrop", "must name at least one mailbox");
        }
        for (address, maildrop) in &self.pop3.accounts {
            if crate::Address::parse(address).is_err() {
                return fail(&format!("pop3.accounts.{address}"), "must be keyed by an address");
            }
            if maildrop.is_empty() {
                return fail(&format!("pop3.accounts.{address}"), "must name at least one mailbox");
            }
        }
        if self.auth.max_failures == 0 {
            return fail("auth.max_failures", "must be at least 1");
        }
        let mut seen = std::collections::HashMap::new();
        for (service, addr) in self.listeners().enabled() {
            if addr.port() == 0 {
                continue;
            }
            if let Some(other) = seen.insert(addr, service) {
                return fail(
                    &format!("listen.{}", service.name()),
                    &format!("{addr} is already used by listen.{}", other.name()),
                );
            }
        }
        Ok(())
    }
}

fn value_error(file: &Path, error: serde_path_to_error::Error<toml::de::Error>) -> ConfigError {
    let path = error.path().to_string();
    let message = error.inner().message().trim().to_owned();
    // Depending on where serde notices an unknown key, the path ends at the
    // key or at its parent table; name the key itself either way.
    let key = match unknown_field(&message) {
        Some(field) if path == "." => field.to_owned(),
        Some(field) if path != field && !path.ends_with(&format!(".{field}")) => format!("{path}.{field}"),
        _ => path,
    };
    ConfigError::Value {
        file: file.to_owned(),
        key,
        message,
    }
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn logged_in_timeouts_are_kept_at_the_rfc_minimums() {
        let error = parse("[limits]\nimap_idle_timeout = \"5m\"\n").unwrap_err().to_string();
        assert!(
            error.contains("`limits.imap_idle_timeout`") && error.contains("RFC 9051"),
            "{error}"
        );
        let error = parse("[limits]\npop3_idle_timeout = \"9m\"\n").unwrap_err().to_string();
        assert!(
            error.contains("`limits.pop3_idle_timeout`") && error.contains("RFC 1939"),
            "{error}"
        );
        let config = parse("[limits]\nimap_idle_timeout = \"45m\"\npop3_idle_timeout = \"10m\"\n").unwrap();
        assert_eq!(config.limits.imap_idle_timeout, Duration::from_secs(45 * 60));
        assert_eq!(Config::default().limits.imap_idle_timeout, Duration::from_secs(30 * 60));
        assert_eq!(Config::default().limits.pop3_idle_timeout, Duration::from_secs(10 * 60));
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.listeners(), Listen::defaults());
        assert_eq!(config.listeners().enabled().len(), 8);
    }

    #[test]
    fn listen_table_enables_only_what_it_lists() {
        let config = parse("[listen]\nsmtp = \"127.0.0.1:25\"\n").unwrap();
        let enabled = config.listeners().enabled();
        assert_eq!(enabled, vec![(Service::Smtp, "127.0.0.1:25".parse().unwrap())]);
    }

    #[test]
    fn outbound_routes_and_retry_schedule() {
        let config = parse("").unwrap();
        let outbound = &config.outbound;
        assert_eq!(outbound.retry_after(1), Duration::from_secs(300));
        assert_eq!(outbound.retry_after(6), Duration::from_secs(4 * 3600));
        assert_eq!(
            outbound.retry_after(60),
            Duration::from_secs(4 * 3600),
            "the last wait repeats"
        );
        assert_eq!(outbound.route("example.org"), Route::default());
        let config = parse(
            "[outbound]\nretry_schedule = [\"1s\", \"2s\"]\n[outbound.relay]\nhost = \"smarthost.test\"\nport = 587\n\
             [outbound.routes.\"secure.test\"]\nrequire_tls = true\n",
        )
        .unwrap();
        assert_eq!(config.outbound.retry_after(3), Duration::from_secs(2));
        assert_eq!(config.outbound.route("other.test").host, "smarthost.test");
        let secure = config.outbound.route("secure.test");
        assert!(secure.require_tls && secure.host.is_empty());
        let error = parse("[outbound]\nretry_schedule = []\n").unwrap_err().to_string();
        assert!(error.contains("outbound.retry_schedule"), "{error}");
        let error = parse("[outbound.relay]\nhost = \"h\"\nusername = \"u\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("outbound.relay"), "{error}");
    }

    #[test]
    fn pop3_maildrop_default_and_per_account() {
        let config = parse("").unwrap();
        assert_eq!(
            config.pop3.maildrop_of("a@example.test"),
            ["inbox", "promotions", "social", "updates"]
        );
        let config = parse(
            "[pop3]\nmaildrop = [\"inbox\"]\nlogin_delay = 60\n[pop3.accounts]\n\"b@example.test\" = [\"inbox\", \"junk\"]\n",
        )
        .unwrap();
        assert_eq!(config.pop3.maildrop_of("a@example.test"), ["inbox"]);
        assert_eq!(config.pop3.maildrop_of("b@example.test"), ["inbox", "junk"]);
        assert_eq!(config.pop3.login_delay, 60);
        let error = parse("[pop3]\nmaildrop = []\n").unwrap_err().to_string();
        assert!(error.contains("pop3.maildrop"), "{error}");
        let error = parse("[pop3.accounts]\n\"nobody\" = [\"inbox\"]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("pop3.accounts"), "{error}");
    }

    #[test]
    fn store_backend_and_its_url() {
        assert_eq!(parse("").unwrap().store.backend, Backend::Sqlite);
        let config = parse("[store]\nbackend = \"postgres\"\nurl = \"postgres://u@127.0.0.1/db\"\n").unwrap();
        assert_eq!(config.store.backend, Backend::Postgres);
        let error = parse("[store]\nbackend = \"postgres\"\n").unwrap_err().to_string();
        assert!(error.contains("store.url"), "{error}");
        let error = parse("[store]\nbackend = \"mysql\"\n").unwrap_err().to_string();
        assert!(
            error.contains("store.backend") || error.contains("unknown variant"),
            "{error}"
        );
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let error = parse("hostnme = \"x\"\n").unwrap_err().to_string();
        assert!(error.contains("test.toml"), "{error}");
        assert!(error.contains("`hostnme`"), "{error}");
        let error = parse("[listen]\nsmpt = \"127.0.0.1:25\"\n").unwrap_err().to_string();
        assert!(error.contains("`listen.smpt`"), "{error}");
    }

    #[test]
    fn bad_address_names_key() {
        let error = parse("[listen]\nsmtp = \"localhost:twenty-five\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("`listen.smtp`"), "{error}");
        assert!(error.contains("test.toml"), "{error}");
    }

    #[test]
    fn bad_duration_and_type_name_key() {
        let error = parse("[limits]\nidle_timeout = \"5 weeks\"\n").unwrap_err().to_string();
        assert!(error.contains("`limits.idle_timeout`"), "{error}");
        let error = parse("[auth]\nmax_failures = \"ten\"\n").unwrap_err().to_string();
        assert!(error.contains("`auth.max_failures`"), "{error}");
    }

    #[test]
    fn filter_values_are_checked() {
        let error = |text: &str| parse(text).unwrap_err().to_string();
        assert!(error("[filter]\njunk_score = 5.0\nreject_score = 4.0\n").contains("`filter.reject_score`"));
        assert!(error("[filter]\naccount_weight = 0\n").contains("`filter.account_weight`"));
        assert!(error("[[filter.dnsbl]]\nzone = \"\"\nweight = 1.0\n").contains("`filter.dnsbl`"));
        assert!(error("[deliverability]\nthrottle_deferrals = 0.0\n").contains("`deliverability.throttle_deferrals`"));
        assert!(error("[deliverability]\nwarmup = [10, 0]\n").contains("`deliverability.warmup`"));
        assert!(error("[deliverability]\nblocklists = [\"\"]\n").contains("`deliverability.blocklists`"));
        assert!(
            error("[filter.greylist]\nenabled = true\ndelay = \"2h\"\nretry_window = \"1h\"\n")
                .contains("`filter.greylist.retry_window`")
        );
        let config = parse("[filter.accounts.\"a@x.test\"]\njunk_score = 2.5\ntabs = false\n").unwrap();
        assert_eq!(config.filter.junk_score_of("a@x.test"), 2.5);
        assert_eq!(config.filter.junk_score_of("b@x.test"), 5.0);
        assert!(!config.filter.tabs_of("a@x.test") && config.filter.tabs_of("b@x.test"));
    }

    #[test]
    fn rules_beyond_types() {
        let error = parse("hostname = \"a b\"\n").unwrap_err().to_string();
        assert!(error.contains("`hostname`"), "{error}");
        let error = parse("[listen]\nsmtp = \"127.0.0.1:25\"\nimap = \"127.0.0.1:25\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`listen.imap`") && error.contains("listen.smtp"),
            "{error}"
        );
        let error = parse("[tls]\ncert = \"/x.pem\"\n").unwrap_err().to_string();
        assert!(error.contains("`tls.key`") || error.contains("key"), "{error}");
    }

    #[test]
    fn syntax_error_names_file() {
        let error = parse("data_dir = \n").unwrap_err().to_string();
        assert!(error.starts_with("test.toml"), "{error}");
    }

    #[test]
    fn example_file_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../estafeta.example.toml");
        let config = Config::load(&path).unwrap();
        let expected = Config {
            listen: Some(Listen::defaults()),
            ..Config::default()
        };
        assert_eq!(config, expected, "estafeta.example.toml must show the defaults");
    }
}
