//! Where a domain's mail goes (RFC 5321 5.1): its MX hosts by preference,
//! or the domain itself when it has none (implicit MX), or nowhere (null
//! MX, RFC 7505; no such domain).

use estafeta_net::dns::{Resolver, addresses, fqdn};
use hickory_proto::rr::RData;
use std::net::IpAddr;

/// One mail host and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailHost {
    pub name: String,
    pub addrs: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailHosts {
    /// NXDOMAIN: the domain does not exist.
    NoDomain,
    /// RFC 7505: `MX 0 .`, the domain takes no mail.
    NullMx,
    /// The hosts to try in order; `implicit` when there was no MX.
    Hosts { hosts: Vec<MailHost>, implicit: bool },
    /// MX records whose hosts have no address, or a domain with neither.
    NoHost,
    /// The DNS did not answer (SERVFAIL, timeout): nothing is known.
    TempFail(String),
}

pub async fn lookup(resolver: &Resolver, domain: &str) -> MailHosts {
    let mx = match resolver.0.mx_lookup(fqdn(domain).as_str()).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::MX(mx) => Some((
                    mx.preference,
                    mx.exchange.to_ascii().trim_end_matches('.').to_ascii_lowercase(),
                )),
                _ => None,
            })
            .collect::<Vec<_>>(),
        Err(error) if error.is_nx_domain() => return MailHosts::NoDomain,
        Err(error) if error.is_no_records_found() => Vec::new(),
        Err(error) => return MailHosts::TempFail(error.to_string()),
    };
    // RFC 7505 3: a single MX of "." means no mail service.
    if mx.len() == 1 && mx[0].1.is_empty() {
        return MailHosts::NullMx;
    }
    if mx.is_empty() {
        return match addresses(resolver, domain).await {
            Ok(addrs) if addrs.is_empty() => MailHosts::NoHost,
            Ok(addrs) => MailHosts::Hosts {
                hosts: vec![MailHost {
                    name: domain.to_owned(),
                    addrs,
                }],
                implicit: true,
            },
            Err(error) => MailHosts::TempFail(error),
        };
    }
    let mut mx: Vec<_> = mx.into_iter().filter(|(_, name)| !name.is_empty()).collect();
    mx.sort();
    let mut hosts = Vec::new();
    let mut failure = None;
    for (_, name) in mx {
        match addresses(resolver, &name).await {
            Ok(addrs) if !addrs.is_empty() => hosts.push(MailHost { name, addrs }),
            Ok(_) => {}
            Err(error) => failure = Some(error),
        }
    }
    match (hosts.is_empty(), failure) {
        (false, _) => MailHosts::Hosts { hosts, implicit: false },
        (true, Some(error)) => MailHosts::TempFail(error),
        (true, None) => MailHosts::NoHost,
    }
}
