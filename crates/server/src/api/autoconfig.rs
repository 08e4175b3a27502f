//! Mail client autoconfiguration in Thunderbird's format (its "config
//! file format" 1.1, which Thunderbird, K-9/Thunderbird for Android,
//! Evolution and KMail read): asked at
//! `/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=...` on the
//! domain, or at `/mail/config-v1.1.xml` on `autoconfig.<domain>`. It
//! names this server's hostname and the ports it really listens on,
//! implicit TLS first (RFC 8314 3.3 and 3.4 prefer it), and always with
//! TLS: the server takes no password without it.

use crate::Shared;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use estafeta_core::config::Service;
use std::collections::HashMap;
use std::sync::Arc;

/// One server entry: its element, protocol type, service and socket type.
const SERVERS: &[(&str, &str, Service, &str)] = &[
    ("incomingServer", "imap", Service::Imaps, "SSL"),
    ("incomingServer", "imap", Service::Imap, "STARTTLS"),
    ("incomingServer", "pop3", Service::Pop3s, "SSL"),
    ("incomingServer", "pop3", Service::Pop3, "STARTTLS"),
    ("outgoingServer", "smtp", Service::Submissions, "SSL"),
    ("outgoingServer", "smtp", Service::Submission, "STARTTLS"),
];

pub async fn config(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    // The address the user typed, else the domain the request went to
    // (`autoconfig.example.com` serves example.com).
    let domain = match query.get("emailaddress") {
        Some(address) => address.rsplit_once('@').map(|(_, domain)| domain.to_owned()),
        None => headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .map(|host| host.split(':').next().unwrap_or_default())
            .map(|host| host.strip_prefix("autoconfig.").unwrap_or(host).to_owned()),
    };
    let Some(domain) = domain.and_then(|d| estafeta_core::address::normalise_domain(&d)) else {
        return (StatusCode::BAD_REQUEST, "give emailaddress=user@domain\n").into_response();
    };
    if let Err(refusal) = hosted(&shared, &domain).await {
        return refusal;
    }
    let ports = shared.ports.get().cloned().unwrap_or_default();
    let body = document(&domain, &shared.config.hostname, |service| ports.get(&service).copied());
    ([(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response()
}

/// Client configuration is given for domains this server hosts only: no
/// one else's users are sent here (autoconfig, Autodiscover, profiles).
pub(super) async fn hosted(shared: &Shared, domain: &str) -> Result<(), Response> {
    match shared.store.domain_is_local(domain).await {
        Ok(true) => Ok(()),
        Ok(false) => Err((StatusCode::NOT_FOUND, "no mail for that domain here\n").into_response()),
        Err(error) => {
            tracing::warn!(%error, "client configuration: cannot read the domains");
            Err((StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response())
        }
    }
}

/// The configuration for `domain`, served by `hostname` on the ports
/// `port_of` gives (none: that service is off).
pub fn document(domain: &str, hostname: &str, port_of: impl Fn(Service) -> Option<u16>) -> String {
    let (domain, hostname) = (escape(domain), escape(hostname));
    let mut servers = String::new();
    for (element, kind, service, socket) in SERVERS {
        let Some(port) = port_of(*service) else { continue };
        servers.push_str(&format!(
            "    <{element} type=\"{kind}\">\n      <hostname>{hostname}</hostname>\n      <port>{port}</port>\n      \
             <socketType>{socket}</socketType>\n      <authentication>password-cleartext</authentication>\n      \
             <username>%EMAILADDRESS%</username>\n    </{element}>\n"
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n  \
         <emailProvider id=\"{domain}\">\n    <domain>{domain}</domain>\n    \
         <displayName>{domain} mail</displayName>\n    <displayShortName>{domain}</displayShortName>\n\
         {servers}  </emailProvider>\n</clientConfig>\n"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_services_that_listen_are_named_and_text_is_escaped() {
        let xml = document("example.com", "mail<&>.example.com", |service| match service {
            Service::Imaps => Some(993),
            Service::Submission => Some(587),
            _ => None,
        });
        assert!(
            xml.contains("<port>993</port>") && xml.contains("<port>587</port>"),
            "{xml}"
        );
        assert!(!xml.contains("pop3") && !xml.contains("<port>143</port>"), "{xml}");
        assert!(xml.contains("mail&lt;&amp;&gt;.example.com"), "{xml}");
        assert!(xml.find("type=\"imap\"") < xml.find("type=\"smtp\""));
    }
}
