//! DNS blocklists (RFC 5782): the client's IP address reversed under each
//! IP list's zone, and the registered domains of the message's links
//! under each URI list's zone, all at once through the configured
//! resolver, under one deadline so a slow list never holds a delivery.

use crate::verdict::Reason;
use estafeta_core::config::DnsList;
use estafeta_net::dns::Resolver;
use hickory_proto::rr::RData;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use tokio::task::JoinSet;

/// Enough link domains to catch a spammer's; more is a lookup storm.
const MAX_DOMAINS: usize = 12;

/// Second-level labels under which registrations happen one level down
/// (co.uk, com.br): the common ones, instead of the whole public suffix list.
const SECOND_LEVEL: &[&str] = &[
    "co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gob", "nic",
];

/// RFC 5782 2.1: IPv4 octets reversed; IPv6 nibbles reversed.
pub fn reversed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}")
        }
        IpAddr::V6(v6) => {
            let mut labels = Vec::with_capacity(32);
            for byte in v6.octets().iter().rev() {
                labels.push(format!("{:x}", byte & 0xf));
                labels.push(format!("{:x}", byte >> 4));
            }
            labels.join(".")
        }
    }
}

/// The domain a link's host was registered as: `a.b.shop.example` ->
/// `shop.example`, `www.shop.co.uk` -> `shop.co.uk`.
pub fn registered_domain(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<IpAddr>().is_ok() {
        return None;
    }
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    if labels.len() < 2
        || labels
            .iter()
            .any(|l| !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return None;
    }
    let n = labels.len();
    let keep = if n >= 3 && labels[n - 1].len() == 2 && SECOND_LEVEL.contains(&labels[n - 2]) {
        3
    } else {
        2
    };
    Some(labels[n.saturating_sub(keep)..].join("."))
}

/// The registered domains linked from the message's text and HTML.
pub fn linked_domains(parsed: &mail_parser::Message) -> Vec<String> {
    let mut domains = Vec::new();
    for part in &parsed.parts {
        let text = match &part.body {
            mail_parser::PartType::Text(text) | mail_parser::PartType::Html(text) => text.as_ref(),
            _ => continue,
        };
        for host in crate::tokens::link_domains(text) {
            if let Some(domain) = registered_domain(&host)
                && !domains.contains(&domain)
            {
                domains.push(domain);
                if domains.len() == MAX_DOMAINS {
                    return domains;
                }
            }
        }
    }
    domains
}

/// Whether an answer counts as a listing of `list`.
pub fn listed(list: &DnsList, answer: Ipv4Addr) -> bool {
    if list.codes.is_empty() {
        // RFC 5782 2.1: 127.0.0.0/8; lists answer 127.255.255.x for
        // errors (refused resolver, over quota), which are not listings.
        answer.octets()[0] == 127 && answer.octets()[..3] != [127, 255, 255]
    } else {
        list.codes.contains(&answer)
    }
}

async fn lookup(resolver: Resolver, name: String) -> Vec<Ipv4Addr> {
    match resolver.0.ipv4_lookup(name.as_str()).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// One lookup of `name` (an address reversed, or a domain, under the
/// list's zone): the listing answer, `None` when the list does not list
/// it, an error when the list could not be asked (so a listing already
/// known is not taken back on a resolver's failure).
pub async fn listing(resolver: &Resolver, name: &str, list: &DnsList) -> Result<Option<Ipv4Addr>, String> {
    match resolver.0.ipv4_lookup(name).await {
        Ok(lookup) => {
            let answers: Vec<Ipv4Addr> = lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::A(a) => Some(a.0),
                    _ => None,
                })
                .collect();
            if let Some(code) = answers.iter().find(|a| listed(list, **a)) {
                return Ok(Some(*code));
            }
            // 127.255.255.x: the list refused to answer.
            match answers.iter().find(|a| a.octets()[..3] == [127, 255, 255]) {
                Some(error) => Err(format!("{} answered {error} (a refusal)", list.zone)),
                None => Ok(None),
            }
        }
        Err(error) if error.is_no_records_found() => Ok(None),
        Err(error) => Err(error.to_string()),
    }
}

/// Every listing of `ip` and of `domains`, as reasons; lists that do not
/// answer within `timeout` count as not listing.
pub async fn check(
    resolver: &Resolver,
    ip: Option<IpAddr>,
    domains: &[String],
    ip_lists: &[DnsList],
    uri_lists: &[DnsList],
    timeout: Duration,
) -> Vec<Reason> {
    let mut queries: Vec<(String, &DnsList, String)> = Vec::new();
    // RFC 5782 5: lists never list 127.0.0.1 and always list 127.0.0.2
    // (the test entry), so even loopback is asked: that is how it is tested.
    if let Some(ip) = ip {
        let reversed = reversed(ip);
        for list in ip_lists {
            let zone = list.zone.trim_matches('.');
            queries.push((format!("{reversed}.{zone}."), list, ip.to_string()));
        }
    }
    for domain in domains {
        for list in uri_lists {
            let zone = list.zone.trim_matches('.');
            queries.push((format!("{domain}.{zone}."), list, domain.clone()));
        }
    }
    let mut tasks = JoinSet::new();
    for (index, (name, _, _)) in queries.iter().enumerate() {
        let (resolver, name) = (resolver.clone(), name.clone());
        tasks.spawn(async move { (index, lookup(resolver, name).await) });
    }
    let mut answers: Vec<Vec<Ipv4Addr>> = vec![Vec::new(); queries.len()];
    let _ = tokio::time::timeout(timeout, async {
        while let Some(Ok((index, found))) = tasks.join_next().await {
            answers[index] = found;
        }
    })
    .await;
    tasks.abort_all();

    let mut reasons = Vec::new();
    let mut counted: Vec<&str> = Vec::new();
    for ((_, list, subject), found) in queries.iter().zip(answers) {
        let Some(code) = found.into_iter().find(|answer| listed(list, *answer)) else {
            continue;
        };
        // A list counts once per message, however many links it lists.
        if counted.contains(&list.zone.as_str()) {
            continue;
        }
        counted.push(&list.zone);
        let rule = format!(
            "{}_{}",
            if ip_lists.iter().any(|l| std::ptr::eq(l, *list)) {
                "RBL"
            } else {
                "URIBL"
            },
            list.zone.split('.').next().unwrap_or("LIST").to_ascii_uppercase()
        );
        reasons.push(Reason::new(
            rule,
            list.weight,
            format!("{subject} is listed in {} ({code})", list.zone),
        ));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_reversed_as_rfc_5782_says() {
        assert_eq!(reversed("192.0.2.99".parse().unwrap()), "99.2.0.192");
        // RFC 5782 2.4's example.
        assert_eq!(
            reversed("2001:db8:1:2:3:4:567:89ab".parse().unwrap()),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"
        );
    }

    #[test]
    fn links_are_looked_up_by_registered_domain() {
        assert_eq!(registered_domain("a.b.Shop.Example."), Some("shop.example".into()));
        assert_eq!(registered_domain("www.shop.co.uk"), Some("shop.co.uk".into()));
        assert_eq!(registered_domain("loja.com.br"), Some("loja.com.br".into()));
        assert_eq!(registered_domain("192.0.2.1"), None);
        assert_eq!(registered_domain("localhost"), None);
        let message =
            b"Subject: x\r\nContent-Type: text/html\r\n\r\n<a href=\"https://click.mail.spammy.test/x\">a</a> \
https://www.spammy.test/y http://other.test/\r\n";
        let parsed = mail_parser::MessageParser::default().parse(&message[..]).unwrap();
        assert_eq!(linked_domains(&parsed), vec!["spammy.test", "other.test"]);
    }

    #[test]
    fn error_answers_are_not_listings() {
        let list = DnsList {
            zone: "zen.spamhaus.org".into(),
            weight: 4.0,
            codes: Vec::new(),
        };
        assert!(listed(&list, Ipv4Addr::new(127, 0, 0, 2)));
        assert!(!listed(&list, Ipv4Addr::new(127, 255, 255, 254)));
        assert!(!listed(&list, Ipv4Addr::new(10, 0, 0, 1)));
        let only_sbl = DnsList {
            codes: vec![Ipv4Addr::new(127, 0, 0, 2)],
            ..list
        };
        assert!(!listed(&only_sbl, Ipv4Addr::new(127, 0, 0, 10)));
    }
}
