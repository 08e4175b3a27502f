//! The wiring every protocol stands on, tested over real sockets with a
//! tiny line protocol: greet, STARTTLS, HELLO (reports whether TLS is on).

use async_trait::async_trait;
use estafeta_core::config::Service;
use estafeta_core::metrics::Metrics;
use estafeta_net::{
    CancellationToken, Connection, ConnectionLimiter, Handler, Listener, ListenerContext, Refusal, TaskTracker,
    TlsSetup,
};
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct LineProtocol;

#[async_trait]
impl Handler for LineProtocol {
    async fn handle(&self, mut connection: Connection) {
        if connection.write_all(b"220 ready\r\n").await.is_err() {
            return;
        }
        loop {
            // Byte at a time so nothing is buffered across STARTTLS.
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            loop {
                match tokio::io::AsyncReadExt::read(&mut connection, &mut byte).await {
                    Ok(1) if byte[0] == b'\n' => break,
                    Ok(1) => line.push(byte[0]),
                    _ => return, // EOF, error or idle timeout: close.
                }
            }
            let reply = match String::from_utf8_lossy(&line).trim() {
                "STARTTLS" => {
                    let _ = connection.write_all(b"220 go ahead\r\n").await;
                    if connection.start_tls().await.is_err() {
                        return;
                    }
                    continue;
                }
                "HELLO" => format!("250 tls={}\r\n", connection.is_tls()),
                _ => "500 what\r\n".to_owned(),
            };
            if connection.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    async fn refuse(&self, mut connection: Connection, why: Refusal) {
        let _ = connection
            .write_all(format!("421 busy {}\r\n", why.label()).as_bytes())
            .await;
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    tls: TlsSetup,
    context: ListenerContext,
}

fn fixture(per_ip: u32, idle: Duration) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let tls = TlsSetup::load(None, dir.path(), "localhost").unwrap();
    let context = ListenerContext {
        limiter: ConnectionLimiter::new(per_ip, 100),
        metrics: Metrics::new(),
        shutdown: CancellationToken::new(),
        tracker: TaskTracker::new(),
        idle_timeout: idle,
        tls: Some(tls.acceptor.clone()),
    };
    Fixture {
        _dir: dir,
        tls,
        context,
    }
}

async fn start(fixture: &Fixture, service: Service) -> std::net::SocketAddr {
    let listener = Listener::bind(service, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr();
    listener.spawn(Arc::new(LineProtocol), fixture.context.clone());
    addr
}

fn connector(fixture: &Fixture) -> tokio_rustls::TlsConnector {
    estafeta_net::tls::client_trusting(&fixture.tls.cert_path).unwrap()
}

async fn line<S: AsyncRead + Unpin>(reader: &mut BufReader<S>) -> String {
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut text))
        .await
        .unwrap()
        .unwrap();
    text
}

async fn say<S: AsyncRead + AsyncWrite + Unpin>(reader: &mut BufReader<S>, command: &str) -> String {
    reader
        .get_mut()
        .write_all(format!("{command}\r\n").as_bytes())
        .await
        .unwrap();
    line(reader).await
}

#[tokio::test]
async fn starttls_upgrades_the_same_connection() {
    let fixture = fixture(10, Duration::from_secs(30));
    let addr = start(&fixture, Service::Smtp).await;
    let mut plain = BufReader::new(TcpStream::connect(addr).await.unwrap());
    assert_eq!(line(&mut plain).await, "220 ready\r\n");
    assert_eq!(say(&mut plain, "HELLO").await, "250 tls=false\r\n");
    assert_eq!(say(&mut plain, "STARTTLS").await, "220 go ahead\r\n");
    let tcp = plain.into_inner();
    let tls = connector(&fixture)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let mut secure = BufReader::new(tls);
    assert_eq!(say(&mut secure, "HELLO").await, "250 tls=true\r\n");
}

#[tokio::test]
async fn implicit_tls_listener_handshakes_first() {
    let fixture = fixture(10, Duration::from_secs(30));
    let addr = start(&fixture, Service::Imaps).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = connector(&fixture)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let mut secure = BufReader::new(tls);
    assert_eq!(line(&mut secure).await, "220 ready\r\n");
    assert_eq!(say(&mut secure, "HELLO").await, "250 tls=true\r\n");
}

#[tokio::test]
async fn connections_over_the_per_ip_limit_are_refused() {
    let fixture = fixture(2, Duration::from_secs(30));
    let addr = start(&fixture, Service::Smtp).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
        assert_eq!(line(&mut client).await, "220 ready\r\n");
        held.push(client);
    }
    let mut third = BufReader::new(TcpStream::connect(addr).await.unwrap());
    assert_eq!(line(&mut third).await, "421 busy per_ip\r\n");
    let text = fixture.context.metrics.render();
    assert!(
        text.contains("estafeta_connections_refused_total{listener=\"smtp\",reason=\"per_ip\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("estafeta_connections_open{listener=\"smtp\"} 2"),
        "{text}"
    );
    drop(held.pop());
    // The slot comes back once the server sees the close.
    let mut tries = 0;
    loop {
        let mut again = BufReader::new(TcpStream::connect(addr).await.unwrap());
        if line(&mut again).await == "220 ready\r\n" {
            break;
        }
        tries += 1;
        assert!(tries < 100, "slot never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let fixture = fixture(10, Duration::from_millis(300));
    let addr = start(&fixture, Service::Smtp).await;
    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    assert_eq!(line(&mut client).await, "220 ready\r\n");
    // Say nothing: the server must hang up (EOF), not wait forever.
    assert_eq!(line(&mut client).await, "", "server closed the idle connection");
}

#[tokio::test]
async fn shutdown_stops_accepting_and_waits_for_sessions() {
    let fixture = fixture(10, Duration::from_secs(30));
    let addr = start(&fixture, Service::Smtp).await;
    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    assert_eq!(line(&mut client).await, "220 ready\r\n");
    fixture.context.shutdown.cancel();
    fixture.context.tracker.close();
    // In flight: the session still answers...
    assert_eq!(say(&mut client, "HELLO").await, "250 tls=false\r\n");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), fixture.context.tracker.wait())
            .await
            .is_err()
    );
    // ...and the tracker completes once it ends.
    drop(client);
    tokio::time::timeout(Duration::from_secs(10), fixture.context.tracker.wait())
        .await
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn a_taken_port_is_an_error_naming_the_listener() {
    let first = Listener::bind(Service::Imap, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let error = Listener::bind(Service::Imap, first.local_addr())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("imap") && error.contains(&first.local_addr().to_string()),
        "{error}"
    );
}
