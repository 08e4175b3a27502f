//! DNSSEC status of a lookup, for DANE (RFC 7672). Validation is the job
//! of the validating recursive resolver the `[dns]` section names (or the
//! system's); we ask it with the AD bit set (RFC 6840 5.7) and believe
//! the AD bit of its answer only when the path to it cannot be tampered
//! with: a resolver on loopback, or one the operator declared trusted
//! (`dns.trust_ad`). RFC 4035 4.9.3 leaves a stub exactly this choice;
//! Postfix and Exim make the same one.

use estafeta_core::config::Dns;
use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const TIMEOUT: Duration = Duration::from_secs(5);
/// RFC 6891 6.2.5 and the 2020 DNS flag day: 1232 octets avoids
/// fragmentation; bigger answers come over TCP.
const PAYLOAD: u16 = 1232;

/// What a lookup found, and whether the resolver vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The answer was validated (AD) by a resolver we trust.
    pub secure: bool,
    /// NoError (with or without records) or NXDomain; everything else is
    /// an error of [`SecureResolver::query`].
    pub code: ResponseCode,
    /// Records of the type asked for, at the name or at the end of its
    /// CNAME chain.
    pub records: Vec<RData>,
}

#[derive(Debug, Clone)]
pub struct SecureResolver {
    servers: Vec<SocketAddr>,
    trust_ad: bool,
}

/// `nameserver` lines of resolv.conf(5).
fn system_nameservers() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().split('%').next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

impl SecureResolver {
    pub fn new(config: &Dns) -> SecureResolver {
        let servers = if config.nameservers.is_empty() {
            system_nameservers()
        } else {
            config.nameservers.clone()
        };
        // An AD bit that crossed a network anyone could write to proves
        // nothing: only loopback, unless the operator says otherwise.
        let trust_ad = config.trust_ad || (!servers.is_empty() && servers.iter().all(|s| s.ip().is_loopback()));
        SecureResolver { servers, trust_ad }
    }

    /// Whether any answer can be secure: without a trusted resolver DANE
    /// never applies, and no lookup is spent on it.
    pub fn can_validate(&self) -> bool {
        self.trust_ad && !self.servers.is_empty()
    }

    /// Asks each nameserver in turn until one answers NoError or NXDomain.
    /// An error (SERVFAIL, which a validating resolver gives for bogus
    /// data, or no answer at all) names what went wrong.
    pub async fn query(&self, name: &str, record_type: RecordType) -> Result<Answer, String> {
        let name = Name::from_ascii(crate::dns::fqdn(name)).map_err(|e| format!("{name}: {e}"))?;
        let mut last = format!("no nameserver to ask about {name}");
        for server in &self.servers {
            match exchange(*server, &name, record_type).await {
                Ok(reply) => match reply.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => {
                        return Ok(self.answer(&name, record_type, reply));
                    }
                    code => last = format!("{name} {record_type}: {code}"),
                },
                Err(error) => last = format!("{name} {record_type} at {server}: {error}"),
            }
        }
        Err(last)
    }

    fn answer(&self, name: &Name, record_type: RecordType, reply: Message) -> Answer {
        // Follow the CNAME chain the resolver gave, to the records asked for.
        let mut target = name.clone();
        for record in &reply.answers {
            if record.name == target
                && let RData::CNAME(cname) = &record.data
            {
                target = cname.0.clone();
            }
        }
        let records = reply
            .answers
            .iter()
            .filter(|r| r.name == target && r.data.record_type() == record_type)
            .map(|r| r.data.clone())
            .collect();
        Answer {
            secure: self.trust_ad && reply.metadata.authentic_data,
            code: reply.metadata.response_code,
            records,
        }
    }
}

fn request(id: u16, name: &Name, record_type: RecordType) -> Result<Vec<u8>, String> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    // RFC 6840 5.7: AD in a query asks for AD in the answer.
    message.metadata.authentic_data = true;
    message.add_query(Query::query(name.clone(), record_type));
    let mut edns = Edns::new();
    edns.set_max_payload(PAYLOAD);
    message.set_edns(edns);
    message.to_vec().map_err(|e| e.to_string())
}

async fn exchange(server: SocketAddr, name: &Name, record_type: RecordType) -> Result<Message, String> {
    let id: u16 = rand_id();
    let bytes = request(id, name, record_type)?;
    let udp = async {
        let bind: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let socket = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
        socket.connect(server).await.map_err(|e| e.to_string())?;
        socket.send(&bytes).await.map_err(|e| e.to_string())?;
        let mut buffer = vec![0u8; 65_535];
        loop {
            let n = socket.recv(&mut buffer).await.map_err(|e| e.to_string())?;
            // A datagram that is not the answer to this question is
            // someone else's (or a spoofer's): wait for ours.
            if let Ok(reply) = Message::from_vec(&buffer[..n])
                && reply.metadata.id == id
                && reply.metadata.message_type == MessageType::Response
                && reply.queries.first().is_some_and(|q| q.name() == name)
            {
                return Ok::<_, String>(reply);
            }
        }
    };
    let reply = tokio::time::timeout(TIMEOUT, udp)
        .await
        .map_err(|_| "no answer".to_owned())??;
    if !reply.metadata.truncation {
        return Ok(reply);
    }
    // RFC 7766 5: a truncated answer is asked again over TCP.
    let tcp = async {
        let mut stream = TcpStream::connect(server).await.map_err(|e| e.to_string())?;
        stream.write_u16(bytes.len() as u16).await.map_err(|e| e.to_string())?;
        stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
        let len = stream.read_u16().await.map_err(|e| e.to_string())?;
        let mut buffer = vec![0u8; usize::from(len)];
        stream.read_exact(&mut buffer).await.map_err(|e| e.to_string())?;
        Message::from_vec(&buffer).map_err(|e| e.to_string())
    };
    let reply = tokio::time::timeout(TIMEOUT, tcp)
        .await
        .map_err(|_| "no answer over TCP".to_owned())??;
    if reply.metadata.id != id {
        return Err("an answer to another question".into());
    }
    Ok(reply)
}

/// A query id nobody off the path can guess (RFC 5452 4.3).
fn rand_id() -> u16 {
    let mut bytes = [0u8; 2];
    // ring's system RNG does not fail on Linux; if it ever did, a fixed id
    // would only weaken spoofing resistance towards a trusted resolver.
    let _ = rustls::crypto::ring::default_provider().secure_random.fill(&mut bytes);
    u16::from_ne_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(servers: &[&str], trust_ad: bool) -> SecureResolver {
        SecureResolver::new(&Dns {
            nameservers: servers.iter().map(|s| s.parse().unwrap()).collect(),
            trust_ad,
        })
    }

    #[test]
    fn the_ad_bit_is_believed_only_from_loopback_or_when_the_operator_says_so() {
        assert!(resolver(&["127.0.0.1:53"], false).can_validate());
        assert!(resolver(&["[::1]:53"], false).can_validate());
        // RFC 4035 4.9.3: across a network an AD bit can be forged.
        assert!(!resolver(&["192.0.2.53:53"], false).can_validate());
        assert!(!resolver(&["127.0.0.1:53", "192.0.2.53:53"], false).can_validate());
        assert!(resolver(&["192.0.2.53:53"], true).can_validate());
    }
}
