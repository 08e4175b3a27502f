//! An Apple configuration profile (`.mobileconfig`) for one address:
//! `GET /apple/mobileconfig?emailaddress=user@domain`. Opened on an
//! iPhone, iPad or Mac it sets up mail (IMAP and submission, TLS only),
//! the calendars (CalDAV) and the contacts (CardDAV) in one step; the
//! device asks for the password itself, so the profile holds none. The
//! DAV accounts point at port 443: the http listener sits behind a TLS
//! proxy, as for autoconfiguration and MTA-STS.

use crate::Shared;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use estafeta_core::config::Service;
use estafeta_store::BlobId;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

pub async fn profile(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(address) = query
        .get("emailaddress")
        .and_then(|text| estafeta_core::Address::parse(text).ok())
    else {
        return (StatusCode::BAD_REQUEST, "give emailaddress=user@domain\n").into_response();
    };
    let address = address.to_string();
    let domain = address.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
    if let Err(refusal) = super::autoconfig::hosted(&shared, &domain).await {
        return refusal;
    }
    let ports = shared.ports.get().cloned().unwrap_or_default();
    let Some(body) = document(&address, &shared.config.hostname, |service| {
        ports.get(&service).copied()
    }) else {
        return (StatusCode::NOT_FOUND, "this server offers no mail over TLS\n").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "application/x-apple-aspen-config".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{domain}.mobileconfig\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// A stable UUID for a payload: a profile installed again replaces the
/// one before rather than adding a second.
fn uuid(parts: &[&str]) -> String {
    let hex = BlobId::of(parts.join("\n").as_bytes()).as_str().to_uppercase();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One payload dictionary of the `PayloadContent` array.
struct Dict(String);

impl Dict {
    fn new() -> Dict {
        Dict(String::from("    <dict>\n"))
    }

    fn string(mut self, key: &str, value: &str) -> Dict {
        let _ = writeln!(
            self.0,
            "      <key>{key}</key>\n      <string>{}</string>",
            escape(value)
        );
        self
    }

    fn integer(mut self, key: &str, value: u16) -> Dict {
        let _ = writeln!(self.0, "      <key>{key}</key>\n      <integer>{value}</integer>");
        self
    }

    fn boolean(mut self, key: &str, value: bool) -> Dict {
        let _ = writeln!(self.0, "      <key>{key}</key>\n      <{value}/>");
        self
    }

    fn payload(self, kind: &str, identifier: &str, name: &str) -> Dict {
        self.string("PayloadType", kind)
            .integer("PayloadVersion", 1)
            .string("PayloadIdentifier", identifier)
            .string("PayloadUUID", &uuid(&[identifier]))
            .string("PayloadDisplayName", name)
    }

    fn end(mut self) -> String {
        self.0.push_str("    </dict>\n");
        self.0
    }
}

/// The profile for `address`, or `None` when no mail service listens
/// with TLS (a profile must not send a password in the clear).
pub fn document(address: &str, hostname: &str, port_of: impl Fn(Service) -> Option<u16>) -> Option<String> {
    let incoming_port = [Service::Imaps, Service::Imap].into_iter().find_map(&port_of)?;
    let outgoing_port = [Service::Submissions, Service::Submission]
        .into_iter()
        .find_map(&port_of)?;
    let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or(address);
    let base = format!(
        "{}.estafeta.{}",
        hostname.split('.').rev().collect::<Vec<_>>().join("."),
        address
    );
    let principal = format!("/dav/principals/{address}/");
    let mail = Dict::new()
        .payload(
            "com.apple.mail.managed",
            &format!("{base}.mail"),
            &format!("{address} mail"),
        )
        .string("EmailAccountDescription", &format!("{domain} mail"))
        .string("EmailAccountType", "EmailTypeIMAP")
        .string("EmailAddress", address)
        .string("IncomingMailServerHostName", hostname)
        .integer("IncomingMailServerPortNumber", incoming_port)
        // Implicit TLS, or STARTTLS on the plain port: TLS either way.
        .boolean("IncomingMailServerUseSSL", true)
        .string("IncomingMailServerAuthentication", "EmailAuthPassword")
        .string("IncomingMailServerUsername", address)
        .string("OutgoingMailServerHostName", hostname)
        .integer("OutgoingMailServerPortNumber", outgoing_port)
        .boolean("OutgoingMailServerUseSSL", true)
        .string("OutgoingMailServerAuthentication", "EmailAuthPassword")
        .string("OutgoingMailServerUsername", address)
        .boolean("OutgoingPasswordSameAsIncomingPassword", true)
        .end();
    let calendars = Dict::new()
        .payload(
            "com.apple.caldav.account",
            &format!("{base}.caldav"),
            &format!("{address} calendars"),
        )
        .string("CalDAVAccountDescription", &format!("{domain} calendars"))
        .string("CalDAVHostName", hostname)
        .integer("CalDAVPort", 443)
        .boolean("CalDAVUseSSL", true)
        .string("CalDAVUsername", address)
        .string("CalDAVPrincipalURL", &principal)
        .end();
    let contacts = Dict::new()
        .payload(
            "com.apple.carddav.account",
            &format!("{base}.carddav"),
            &format!("{address} contacts"),
        )
        .string("CardDAVAccountDescription", &format!("{domain} contacts"))
        .string("CardDAVHostName", hostname)
        .integer("CardDAVPort", 443)
        .boolean("CardDAVUseSSL", true)
        .string("CardDAVUsername", address)
        .string("CardDAVPrincipalURL", &principal)
        .end();
    Some(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  \
         <key>PayloadContent</key>\n  <array>\n{mail}{calendars}{contacts}  </array>\n  \
         <key>PayloadDisplayName</key>\n  <string>{}</string>\n  <key>PayloadIdentifier</key>\n  <string>{}</string>\n  \
         <key>PayloadType</key>\n  <string>Configuration</string>\n  <key>PayloadUUID</key>\n  <string>{}</string>\n  \
         <key>PayloadVersion</key>\n  <integer>1</integer>\n</dict>\n</plist>\n",
        escape(&format!("{address}: mail, calendars and contacts")),
        escape(&base),
        uuid(&[&base]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_names_tls_ports_and_no_password() {
        let profile = document("ann@example.com", "mail.example.com", |service| match service {
            Service::Imaps => Some(993),
            Service::Imap => Some(143),
            Service::Submission => Some(587),
            _ => None,
        })
        .unwrap();
        assert!(profile.contains("<integer>993</integer>") && profile.contains("<integer>587</integer>"));
        assert!(!profile.contains("<integer>143</integer>"), "implicit TLS first");
        for secret in [
            "<key>IncomingPassword</key>",
            "<key>OutgoingPassword</key>",
            "<key>Password</key>",
        ] {
            assert!(!profile.contains(secret), "{profile}");
        }
        assert!(profile.contains("<string>/dav/principals/ann@example.com/</string>"));
        assert_eq!(profile.matches("<key>PayloadUUID</key>").count(), 4);
        // The same address gives the same profile: a reinstall replaces it.
        assert_eq!(
            Some(profile),
            document("ann@example.com", "mail.example.com", |service| match service {
                Service::Imaps => Some(993),
                Service::Imap => Some(143),
                Service::Submission => Some(587),
                _ => None,
            })
        );
        assert!(document("ann@example.com", "mail.example.com", |_| None).is_none());
    }
}
