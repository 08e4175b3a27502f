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

/// `name` fully qualified (a trailing dot), so no search domain is tried.
pub fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

/// A and AAAA of `name`, IPv4 first (what receivers' reputation systems
/// know best); empty when the name has neither. An error, as text, only
/// when a lookup failed and nothing was found.
pub async fn addresses(resolver: &Resolver, name: &str) -> Result<Vec<std::net::IpAddr>, String> {
    use hickory_resolver::proto::rr::RData;
    use std::net::IpAddr;
    let name = fqdn(name);
    let (v4, v6) = tokio::join!(
        resolver.0.ipv4_lookup(name.as_str()),
        resolver.0.ipv6_lookup(name.as_str())
    );
    let mut addrs = Vec::new();
    let mut failure = None;
    for lookup in [v4, v6] {
        match lookup {
            Ok(lookup) => addrs.extend(lookup.answers().iter().filter_map(|record| match &record.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })),
            Err(error) if error.is_no_records_found() => {}
            Err(error) => failure = Some(error.to_string()),
        }
    }
    match failure {
        Some(error) if addrs.is_empty() => Err(error),
        _ => Ok(addrs),
    }
}

/// The records of `kind` (MX, TXT, SRV or CNAME) at `name`, each as a zone
/// file writes its value (a TXT's strings joined): what an operator
/// compares with what they meant to publish. Empty when there are none.
pub async fn zone_values(resolver: &Resolver, name: &str, kind: &str) -> Result<Vec<String>, String> {
    use hickory_resolver::proto::rr::{RData, RecordType};
    let kind = match kind {
        "MX" => RecordType::MX,
        "TXT" => RecordType::TXT,
        "SRV" => RecordType::SRV,
        "CNAME" => RecordType::CNAME,
        other => return Err(format!("no lookup for {other} records")),
    };
    match resolver.0.lookup(fqdn(name).as_str(), kind).await {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|answer| match &answer.data {
                RData::MX(mx) if kind == RecordType::MX => Some(format!("{} {}", mx.preference, mx.exchange)),
                RData::TXT(txt) if kind == RecordType::TXT => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect(),
                ),
                RData::SRV(srv) if kind == RecordType::SRV => {
                    Some(format!("{} {} {} {}", srv.priority, srv.weight, srv.port, srv.target))
                }
                RData::CNAME(cname) if kind == RecordType::CNAME => Some(cname.0.to_string()),
                _ => None,
            })
            .collect()),
        Err(error) if error.is_no_records_found() => Ok(Vec::new()),
        Err(error) => Err(error.to_string()),
    }
}
