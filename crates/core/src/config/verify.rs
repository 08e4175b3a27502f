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
        }
    }
}
