//! Outlook's Autodiscover in its plain-XML form ([MS-OXDSCLI] 2.2.3, the
//! "POX" request and the 2006a "outlook" response schema): Outlook POSTs
//! the address the user typed to
//! `autodiscover.<domain>/autodiscover/autodiscover.xml` and gets back the
//! IMAP and SMTP servers to use, with the ports the listeners really got
//! and TLS on each; the same for hosted domains only, as autoconfig.

use crate::Shared;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use estafeta_core::config::Service;
use estafeta_dav::xml::{Element, escape};
use std::sync::Arc;

const RESPONSE_SCHEMA: &str = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
const OUTLOOK_SCHEMA: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// The first element named `local` in the tree, whatever its namespace.
fn find<'a>(element: &'a Element, local: &str) -> Option<&'a Element> {
    if element.name.local == local {
        return Some(element);
    }
    element.elements().find_map(|child| find(child, local))
}

pub async fn serve(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let address = estafeta_dav::xml::parse(&body)
        .ok()
        .and_then(|root| find(&root, "EMailAddress").map(Element::text))
        .and_then(|text| estafeta_core::Address::parse(text.trim()).ok());
    let Some(address) = address else {
        return (
            StatusCode::BAD_REQUEST,
            "POST an Autodiscover request naming its EMailAddress\n",
        )
            .into_response();
    };
    let address = address.to_string();
    let domain = address.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    if let Err(refusal) = super::autoconfig::hosted(&shared, &domain).await {
        return refusal;
    }
    let ports = shared.ports.get().cloned().unwrap_or_default();
    let body = document(&address, &shared.config.hostname, |service| {
        ports.get(&service).copied()
    });
    ([(header::CONTENT_TYPE, "application/xml; charset=utf-8")], body).into_response()
}

/// One `<Protocol>`: implicit TLS when the first service listens, else
/// STARTTLS on the second (`Encryption` TLS, Outlook 2010 and later).
fn protocol(
    kind: &str,
    services: [Service; 2],
    hostname: &str,
    login: &str,
    port_of: &impl Fn(Service) -> Option<u16>,
) -> String {
    let (port, encryption) = match (port_of(services[0]), port_of(services[1])) {
        (Some(port), _) => (port, "SSL"),
        (None, Some(port)) => (port, "TLS"),
        (None, None) => return String::new(),
    };
    format!(
        "      <Protocol>\n        <Type>{kind}</Type>\n        <Server>{}</Server>\n        <Port>{port}</Port>\n        \
         <DomainRequired>off</DomainRequired>\n        <LoginName>{}</LoginName>\n        <SPA>off</SPA>\n        \
         <SSL>on</SSL>\n        <Encryption>{encryption}</Encryption>\n        <AuthRequired>on</AuthRequired>\n      \
         </Protocol>\n",
        escape(hostname),
        escape(login)
    )
}

pub fn document(address: &str, hostname: &str, port_of: impl Fn(Service) -> Option<u16>) -> String {
    let imap = protocol("IMAP", [Service::Imaps, Service::Imap], hostname, address, &port_of);
    let pop = protocol("POP3", [Service::Pop3s, Service::Pop3], hostname, address, &port_of);
    let smtp = protocol(
        "SMTP",
        [Service::Submissions, Service::Submission],
        hostname,
        address,
        &port_of,
    );
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\"{RESPONSE_SCHEMA}\">\n  \
         <Response xmlns=\"{OUTLOOK_SCHEMA}\">\n    <User>\n      <DisplayName>{}</DisplayName>\n    </User>\n    \
         <Account>\n      <AccountType>email</AccountType>\n      <Action>settings</Action>\n\
         {imap}{pop}{smtp}    </Account>\n  </Response>\n</Autodiscover>\n",
        escape(address)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_prefers_implicit_tls_and_skips_what_is_off() {
        let xml = document("ann@example.com", "mail.example.com", |service| match service {
            Service::Imaps => Some(993),
            Service::Imap => Some(143),
            Service::Submission => Some(587),
            _ => None,
        });
        let root = estafeta_dav::xml::parse(xml.as_bytes()).unwrap();
        let account = find(&root, "Account").unwrap();
        let protocols: Vec<(String, String, String)> = account
            .elements()
            .filter(|e| e.name.local == "Protocol")
            .map(|p| {
                let text = |name: &str| find(p, name).map(Element::text).unwrap_or_default();
                (text("Type"), text("Port"), text("Encryption"))
            })
            .collect();
        assert_eq!(
            protocols,
            [
                ("IMAP".to_string(), "993".to_string(), "SSL".to_string()),
                ("SMTP".into(), "587".into(), "TLS".into())
            ]
        );
        assert_eq!(find(&root, "Response").unwrap().name.ns, OUTLOOK_SCHEMA);
    }
}
