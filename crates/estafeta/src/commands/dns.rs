//! `estafeta dns-records DOMAIN` and `estafeta dns-check DOMAIN`: one list
//! of records, printed for the operator to publish and looked up to see
//! what is published, so the two always agree.

use super::admin::open;
use anyhow::bail;
use estafeta_core::Config;
use estafeta_smtp::outbound::dkim;

/// One record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Fully qualified, with the trailing dot.
    pub name: String,
    pub kind: &'static str,
    /// As written in a zone file (TXT values unquoted here).
    pub value: String,
    /// Why it is there.
    pub why: &'static str,
}

/// The listener a service is on, if it is on.
type ListenerOf = fn(&estafeta_core::config::Listen) -> Option<std::net::SocketAddr>;

/// RFC 6186 SRV records: (service label, the listener that serves it).
const SRV: &[(&str, ListenerOf)] = &[
    ("_submissions._tcp", |l| l.submissions),
    ("_submission._tcp", |l| l.submission),
    ("_imaps._tcp", |l| l.imaps),
    ("_imap._tcp", |l| l.imap),
    ("_pop3s._tcp", |l| l.pop3s),
    ("_pop3._tcp", |l| l.pop3),
];

/// Every record `domain` needs, with this server's hostname, its
/// listeners' ports and `dkim` (the key's record name and value) if any.
pub fn wanted(domain: &str, config: &Config, dkim: Option<(String, String)>) -> Vec<Record> {
    let host = format!("{}.", config.hostname.trim_end_matches('.'));
    let zone = format!("{}.", domain.trim_end_matches('.'));
    let mut records = vec![
        Record {
            name: zone.clone(),
            kind: "MX",
            value: format!("10 {host}"),
            why: "mail for the domain comes here (RFC 5321 5.1)",
        },
        Record {
            name: zone.clone(),
            kind: "TXT",
            value: "v=spf1 mx -all".into(),
            why: "only the MX hosts send its mail (SPF, RFC 7208)",
        },
    ];
    if let Some((name, value)) = dkim {
        records.push(Record {
            name: format!("{}.", name.trim_end_matches('.')),
            kind: "TXT",
            value,
            why: "the key its outgoing mail is signed with (DKIM, RFC 6376)",
        });
    }
    records.extend([
        Record {
            name: format!("_dmarc.{zone}"),
            kind: "TXT",
            value: format!("v=DMARC1; p=quarantine; rua=mailto:postmaster@{}", domain),
            why: "receivers quarantine mail that fails SPF and DKIM (DMARC, RFC 7489)",
        },
        Record {
            name: format!("_smtp._tls.{zone}"),
            kind: "TXT",
            value: format!("v=TLSRPTv1; rua=mailto:postmaster@{}", domain),
            why: "senders report TLS failures to postmaster (RFC 8460)",
        },
    ]);
    let listeners = config.listeners();
    if listeners.http.is_some() {
        let policy = estafeta_server::mta_sts::policy(&config.hostname);
        records.extend([
            Record {
                name: format!("_mta-sts.{zone}"),
                kind: "TXT",
                value: format!("v=STSv1; id={}", estafeta_server::mta_sts::policy_id(&policy)),
                why: "senders must use TLS to the MX (MTA-STS, RFC 8461); the policy is served by the http listener",
            },
            Record {
                name: format!("mta-sts.{zone}"),
                kind: "CNAME",
                value: host.clone(),
                why: "where senders fetch the MTA-STS policy (https, via the TLS proxy)",
            },
        ]);
    }
    for (service, listener) in SRV {
        if let Some(addr) = listener(&listeners) {
            records.push(Record {
                name: format!("{service}.{zone}"),
                kind: "SRV",
                value: format!("0 1 {} {host}", addr.port()),
                why: "mail clients find the server (RFC 6186)",
            });
        }
    }
    if listeners.http.is_some() {
        records.push(Record {
            name: format!("autoconfig.{zone}"),
            kind: "CNAME",
            value: host.clone(),
            why: "Thunderbird-format autoconfiguration (served on the http listener, behind a TLS proxy on 443)",
        });
        records.push(Record {
            name: format!("autodiscover.{zone}"),
            kind: "CNAME",
            value: host.clone(),
            why: "Outlook's Autodiscover (POX, served on the http listener, behind a TLS proxy on 443)",
        });
        // RFC 6764 3 and 4: calendar and contact clients find the
        // server and its context path; https only, through the proxy.
        for service in ["_caldavs._tcp", "_carddavs._tcp"] {
            records.extend([
                Record {
                    name: format!("{service}.{zone}"),
                    kind: "SRV",
                    value: format!("0 1 443 {host}"),
                    why: "calendar and contact clients find the server (RFC 6764), over the TLS proxy on 443",
                },
                Record {
                    name: format!("{service}.{zone}"),
                    kind: "TXT",
                    value: format!("path={}/", estafeta_dav::path::MOUNT),
                    why: "where CalDAV and CardDAV live on it (RFC 6764 4)",
                },
            ]);
        }
    }
    records
}

/// The records for `domain`, which must be one of ours.
async fn records_of(config: &Config, domain: &str) -> anyhow::Result<Vec<Record>> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let store = open(config).await?;
    if !store.domain_is_local(&domain).await? {
        bail!("{domain} is not one of our domains; `estafeta domain add {domain}` first");
    }
    let dkim = match store.dkim_key_get(&domain).await? {
        Some(key) => Some((dkim::record_name(&key.selector, &key.domain), dkim::record_of(&key)?)),
        None => None,
    };
    Ok(wanted(&domain, config, dkim))
}

pub async fn records(config: &Config, domain: &str) -> anyhow::Result<()> {
    let records = records_of(config, domain).await?;
    for record in &records {
        let value = if record.kind == "TXT" {
            quoted(&record.value)
        } else {
            record.value.clone()
        };
        println!("; {}\n{} IN {} {}", record.why, record.name, record.kind, value);
    }
    if !records.iter().any(|r| r.name.contains("._domainkey.")) {
        println!("; no DKIM key yet: `estafeta dkim generate {domain}`, then publish its record");
    }
    Ok(())
}

/// A TXT value in zone-file form: strings of at most 255 octets (RFC 1035
/// 3.3.14), as a long DKIM key needs.
fn quoted(value: &str) -> String {
    let bytes = value.as_bytes();
    bytes
        .chunks(255)
        .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk).replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn check(config: &Config, domain: &str) -> anyhow::Result<()> {
    let wanted = records_of(config, domain).await?;
    let resolver = estafeta_net::dns::resolver(&config.dns)?;
    let mut wrong = 0;
    for record in &wanted {
        let found = lookup(&resolver, record).await;
        let verdict = match &found {
            Ok(values) if values.iter().any(|value| same(record, value)) => "ok",
            Ok(values) if values.is_empty() => {
                wrong += 1;
                "missing"
            }
            Ok(_) => {
                wrong += 1;
                "differs"
            }
            Err(_) => {
                wrong += 1;
                "lookup failed"
            }
        };
        println!("{verdict}\t{} {} {}", record.name, record.kind, record.value);
        match found {
            Ok(values) if verdict == "differs" => {
                for value in values {
                    println!("\tpublished: {value}");
                }
            }
            Err(error) => println!("\t{error}"),
            _ => {}
        }
    }
    if wrong > 0 {
        bail!("{wrong} of {} records missing or wrong (see above)", wanted.len());
    }
    Ok(())
}

/// Whether a published value is the wanted one: names without case or
/// trailing dot, TXT by its text, SPF and the like by their exact text.
fn same(record: &Record, published: &str) -> bool {
    let norm = |text: &str| text.trim().trim_end_matches('.').to_ascii_lowercase();
    match record.kind {
        "TXT" => published == record.value,
        _ => norm(published) == norm(&record.value),
    }
}

/// What the DNS holds for the record's name and type.
async fn lookup(resolver: &estafeta_net::dns::Resolver, record: &Record) -> Result<Vec<String>, String> {
    estafeta_net::dns::zone_values(resolver, &record.name, record.kind).await
}
