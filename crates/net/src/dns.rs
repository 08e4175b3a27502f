//! The one resolver every DNS lookup goes through: SPF, DKIM, DMARC and ARC
//! now, MX and blocklists later. Its nameservers come from `[dns]`, so tests
//! point it at a local server and every "remote" host lives on loopback.

use estafeta_core::config::Dns;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::MessageAuthenticator;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("`dns`: cannot set up the resolver: {0}")]
pub struct DnsError(pub String);

/// The shared resolver handle (mail-auth's authenticator wraps hickory's
/// resolver, with its caches).
pub type Resolver = Arc<MessageAuthenticator>;

pub fn resolver(config: &Dns) -> Result<Resolver, DnsError> {
    let authenticator = if config.nameservers.is_empty() {
        MessageAuthenticator::new_system_conf()
    } else {
        let servers = config
            .nameservers
            .iter()
            .map(|addr| {
                let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                    .into_iter()
                    .map(|mut connection| {
                        connection.port = addr.port();
                        connection
                    })
                    .collect();
                NameServerConfig::new(addr.ip(), true, connections)
            })
            .collect();
        let mut options = ResolverOpts::default();
        options.timeout = Duration::from_secs(5);
        options.attempts = 2;
        MessageAuthenticator::new(ResolverConfig::from_parts(None, Vec::new(), servers), options)
    };
    authenticator.map(Arc::new).map_err(|error| DnsError(error.to_string()))
}
