//! Where mail for a domain goes (RFC 5321 5.1): a configured route or
//! relay, else the domain's MX hosts in preference order (equal
//! preferences shuffled), else its own address records (implicit MX).
//! A null MX (RFC 7505) or a domain that does not exist is a permanent
//! failure; a DNS failure is a temporary one.

use super::reply::Reply;
use estafeta_core::config::Route;
use estafeta_net::dns::{self, Resolver, fqdn};
use hickory_proto::rr::RData;
use rand::seq::SliceRandom;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The name we looked up (or the IP literal), for TLS and DSNs.
    pub name: String,
    pub addrs: Vec<IpAddr>,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// Retrying will not help: the recipients fail now.
    Permanent(Reply),
    Temporary(Reply),
}

fn dns_failure(what: &str, error: impl std::fmt::Display) -> RouteError {
    // RFC 3463 4.4.3: directory server failure.
    RouteError::Temporary(Reply::local(
        451,
        [4, 4, 3],
        format!("DNS lookup of {what} failed: {error}"),
    ))
}

/// A and AAAA of `name`; empty when the name has neither.
async fn addresses(resolver: &Resolver, name: &str) -> Result<Vec<IpAddr>, RouteError> {
    dns::addresses(resolver, name)
        .await
        .map_err(|error| dns_failure(&fqdn(name), error))
}

/// The hosts to try for `domain`, in order.
pub async fn hosts(
    resolver: &Resolver,
    domain: &str,
    route: &Route,
    default_port: u16,
) -> Result<Vec<Host>, RouteError> {
    let port = if route.port == 0 { default_port } else { route.port };
    if !route.host.is_empty() {
        return fixed(resolver, &route.host, port).await;
    }
    // An address literal (RFC 5321 4.1.3) names its host directly.
    if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        let ip = literal.strip_prefix("IPv6:").unwrap_or(literal);
        return match ip.parse::<IpAddr>() {
            Ok(ip) => Ok(vec![Host {
                name: ip.to_string(),
                addrs: vec![ip],
                port,
            }]),
            Err(_) => Err(RouteError::Permanent(Reply::local(
                550,
                [5, 1, 2],
                format!("{domain} is not an address"),
            ))),
        };
    }
    let lookup = match resolver.0.mx_lookup(fqdn(domain).as_str()).await {
        Ok(lookup) => lookup,
        Err(error) if error.is_nx_domain() => {
            return Err(RouteError::Permanent(Reply::local(
                550,
                [5, 1, 2],
                format!("the domain {domain} does not exist"),
            )));
        }
        // RFC 5321 5.1: no MX records: the domain itself is the host.
        Err(error) if error.is_no_records_found() => return implicit(resolver, domain, port).await,
        Err(error) => return Err(dns_failure(&format!("MX of {domain}"), error)),
    };
    let mut exchanges: Vec<(u16, String, bool)> = lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii(), mx.exchange.is_root())),
            _ => None,
        })
        .collect();
    if exchanges.is_empty() {
        return implicit(resolver, domain, port).await;
    }
    // RFC 7505 3: a single MX of "." says the domain takes no mail.
    if exchanges.iter().any(|(_, _, root)| *root) {
        return Err(RouteError::Permanent(Reply::local(
            556,
            [5, 1, 10],
            format!("{domain} does not accept mail (null MX)"),
        )));
    }
    exchanges.shuffle(&mut rand::rng());
    exchanges.sort_by_key(|(preference, _, _)| *preference);
    let mut hosts = Vec::with_capacity(exchanges.len());
    let mut last_error = None;
    for (_, name, _) in exchanges {
        match addresses(resolver, &name).await {
            Ok(addrs) if !addrs.is_empty() => hosts.push(Host {
                name: name.trim_end_matches('.').to_owned(),
                addrs,
                port,
            }),
            Ok(_) => {}
            Err(error) => last_error = Some(error),
        }
    }
    if hosts.is_empty() {
        return Err(last_error.unwrap_or_else(|| {
            RouteError::Temporary(Reply::local(
                451,
                [4, 4, 4],
                format!("no MX host of {domain} has an address"),
            ))
        }));
    }
    Ok(hosts)
}

async fn implicit(resolver: &Resolver, domain: &str, port: u16) -> Result<Vec<Host>, RouteError> {
    let addrs = addresses(resolver, domain).await?;
    if addrs.is_empty() {
        return Err(RouteError::Permanent(Reply::local(
            550,
            [5, 1, 2],
            format!("{domain} has no MX and no address"),
        )));
    }
    Ok(vec![Host {
        name: domain.to_owned(),
        addrs,
        port,
    }])
}

/// A configured host: an IP, or a name whose addresses we look up.
async fn fixed(resolver: &Resolver, host: &str, port: u16) -> Result<Vec<Host>, RouteError> {
    if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(vec![Host {
            name: ip.to_string(),
            addrs: vec![ip],
            port,
        }]);
    }
    let addrs = addresses(resolver, host).await?;
    if addrs.is_empty() {
        return Err(RouteError::Temporary(Reply::local(
            451,
            [4, 4, 4],
            format!("the relay host {host} has no address"),
        )));
    }
    Ok(vec![Host {
        name: host.to_owned(),
        addrs,
        port,
    }])
}
