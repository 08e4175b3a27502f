//! A small authoritative DNS server on loopback (UDP and TCP, one port), so
//! every lookup a test server makes (SPF, DKIM, DMARC, MX) is answered here
//! and nothing leaves the machine.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

type Zone = Arc<RwLock<HashMap<(String, RecordType), Vec<RData>>>>;
/// Zones whose answers a validating resolver would mark authentic.
type Signed = Arc<RwLock<Vec<String>>>;

#[derive(Clone)]
pub struct TestDns {
    addr: SocketAddr,
    zone: Zone,
    signed: Signed,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl TestDns {
    pub async fn start() -> TestDns {
        // An ephemeral UDP port may be taken for TCP by another test's
        // socket: try again with another one.
        let mut attempts = 0;
        let (udp, tcp, addr) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind dns udp");
            let addr = udp.local_addr().unwrap();
            match TcpListener::bind(addr).await {
                Ok(tcp) => break (udp, tcp, addr),
                Err(error) => {
                    attempts += 1;
                    assert!(attempts < 50, "no port free for both UDP and TCP: {error}");
                }
            }
        };
        let zone: Zone = Arc::default();
        let signed: Signed = Arc::default();
        let served = Arc::clone(&zone);
        let secure = Arc::clone(&signed);
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 4096];
            while let Ok((n, from)) = udp.recv_from(&mut buffer).await {
                if let Some(reply) = answer(&served, &secure, &buffer[..n]) {
                    let _ = udp.send_to(&reply, from).await;
                }
            }
        });
        let served = Arc::clone(&zone);
        let secure = Arc::clone(&signed);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = tcp.accept().await {
                let served = Arc::clone(&served);
                let secure = Arc::clone(&secure);
                tokio::spawn(async move {
                    loop {
                        let Ok(len) = stream.read_u16().await else { return };
                        let mut request = vec![0u8; len as usize];
                        if stream.read_exact(&mut request).await.is_err() {
                            return;
                        }
                        let Some(reply) = answer(&served, &secure, &request) else {
                            return;
                        };
                        let _ = stream.write_u16(reply.len() as u16).await;
                        let _ = stream.write_all(&reply).await;
                    }
                });
            }
        });
        TestDns { addr, zone, signed }
    }

    /// Answers for `zone` and the names under it carry the AD bit when the
    /// question asks for it (RFC 6840 5.7), as a validating resolver's do
    /// for a DNSSEC-signed zone; every other answer is insecure.
    pub fn sign(&self, zone: &str) {
        self.signed.write().unwrap().push(key(zone));
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn add(&self, name: &str, data: RData) {
        let record_type = data.record_type();
        self.zone
            .write()
            .unwrap()
            .entry((key(name), record_type))
            .or_default()
            .push(data);
    }

    /// A TXT record; long text is split into 255-octet strings (RFC 1035 3.3.14).
    pub fn txt(&self, name: &str, text: &str) {
        let parts = text
            .as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        self.add(name, RData::TXT(TXT::new(parts)));
    }

    pub fn ip(&self, name: &str, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => self.add(name, RData::A(A(v4))),
            IpAddr::V6(v6) => self.add(name, RData::AAAA(AAAA(v6))),
        }
    }

    /// `name` is an alias of `target` (answers carry the CNAME and the
    /// target's records, as a recursive resolver gives them).
    pub fn cname(&self, name: &str, target: &str) {
        let target = Name::from_ascii(format!("{}.", key(target))).expect("cname target");
        self.add(name, RData::CNAME(CNAME(target)));
    }

    pub fn mx(&self, name: &str, preference: u16, host: &str) {
        let host = Name::from_ascii(format!("{}.", key(host))).expect("mx host name");
        self.add(name, RData::MX(MX::new(preference, host)));
    }

    /// An SRV record (RFC 2782): where `name`'s service is served.
    pub fn srv(&self, name: &str, priority: u16, weight: u16, port: u16, target: &str) {
        let target = Name::from_ascii(format!("{}.", key(target))).expect("srv target");
        self.add(name, RData::SRV(SRV::new(priority, weight, port, target)));
    }

    /// Every question about `name` gets SERVFAIL (a broken zone).
    pub fn servfail(&self, name: &str) {
        self.zone
            .write()
            .unwrap()
            .entry((key(name), RecordType::NULL))
            .or_default();
    }
}

fn answer(zone: &Zone, signed: &Signed, request: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(request).ok()?;
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    let asks_ad = query.metadata.authentic_data || query.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    let signed = signed.read().unwrap();
    let is_signed = |name: &str| {
        signed
            .iter()
            .any(|zone| name == zone || name.ends_with(&format!(".{zone}")))
    };
    response.metadata.authentic_data =
        asks_ad && !query.queries.is_empty() && query.queries.iter().all(|q| is_signed(&key(&q.name().to_ascii())));
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    let zone = zone.read().unwrap();
    for question in &query.queries {
        response.add_query(question.clone());
        let name = key(&question.name().to_ascii());
        if zone.contains_key(&(name.clone(), RecordType::NULL)) {
            response.metadata.response_code = ResponseCode::ServFail;
            continue;
        }
        let alias = zone
            .get(&(name.clone(), RecordType::CNAME))
            .and_then(|records| records.first());
        match (zone.get(&(name.clone(), question.query_type())), alias) {
            (Some(records), _) => {
                for data in records {
                    response.add_answer(Record::from_rdata(question.name().clone(), 60, data.clone()));
                }
            }
            (None, Some(RData::CNAME(target))) if question.query_type() != RecordType::CNAME => {
                response.add_answer(Record::from_rdata(
                    question.name().clone(),
                    60,
                    RData::CNAME(target.clone()),
                ));
                for data in zone
                    .get(&(key(&target.0.to_ascii()), question.query_type()))
                    .into_iter()
                    .flatten()
                {
                    response.add_answer(Record::from_rdata(target.0.clone(), 60, data.clone()));
                }
            }
            // A name with no records of any type does not exist.
            (None, _) if !zone.keys().any(|(known, _)| *known == name) => {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            (None, _) => {}
        }
    }
    response.to_vec().ok()
}
