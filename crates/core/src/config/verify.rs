//! `[verify]`: how addresses are verified (`estafeta verify`).

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Verify {
    /// The reverse-path of probes; empty: `postmaster@` our hostname.
    pub probe_sender: String,
    /// The name in EHLO; empty: our hostname.
    pub helo: String,
    /// The port probed (25 on the internet; tests move it).
    pub smtp_port: u16,
    #[serde(with = "crate::duration::serde_text")]
    pub connect_timeout: Duration,
    /// For each reply, the greeting included.
    #[serde(with = "crate::duration::serde_text")]
    pub command_timeout: Duration,
    /// A temporary answer (greylisting, 4xx) is asked again after this...
    #[serde(with = "crate::duration::serde_text")]
    pub retry_delay: Duration,
    /// ...this many times before it is reported.
    pub retries: u32,
    /// Probe a random address at the domain first: a server taking it
    /// takes everything (catch-all), and its "yes" means little.
    pub catch_all_check: bool,
    /// SMTP sessions open at once, over all hosts.
    pub max_probes: usize,
    /// Sessions open at once to one mail host (by address).
    pub host_connections: usize,
    /// RCPT commands a minute to one mail host; 0: no limit.
    pub host_rate: u32,
    /// Addresses checked over one connection before it is closed: servers
    /// slow down or hang up on clients with many failed recipients
    /// (Postfix's smtpd_soft_error_limit is 10).
    pub rcpts_per_connection: u32,
    /// A connection is kept this long for the next address at its host.
    #[serde(with = "crate::duration::serde_text")]
    pub idle_timeout: Duration,
    /// Verdicts are kept and given again for this long; 0: not kept.
    #[serde(with = "crate::duration::serde_text")]
    pub cache_ttl: Duration,
    /// Addresses a single `POST /api/verify` may ask about.
    pub api_batch: usize,
}

impl Default for Verify {
    fn default() -> Self {
        Verify {
            probe_sender: String::new(),
            helo: String::new(),
            smtp_port: 25,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(30),
            // RFC 6647 5: greylisting delays are minutes.
            retry_delay: Duration::from_secs(300),
            retries: 1,
            catch_all_check: true,
            max_probes: 64,
            host_connections: 2,
            host_rate: 120,
            rcpts_per_connection: 10,
            idle_timeout: Duration::from_secs(5),
            cache_ttl: Duration::from_secs(24 * 3600),
            api_batch: 1000,
        }
    }
}
