//! HTTP/1.1 as a client keeps it: one connection open, Basic login, any
//! method, bodies read by Content-Length (or chunked, as Radicale sends
//! some). Enough for JMAP and DAV benchmarks without an HTTP crate in the
//! measured loop.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Http {
    reader: BufReader<TcpStream>,
    port: u16,
    /// The server said it closes the connection after its answer (as
    /// Radicale's HTTP/1.0-style server does): the next request opens a
    /// new one.
    closing: bool,
    pub authorization: String,
}

async fn open(port: u16) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.set_nodelay(true).unwrap();
    BufReader::with_capacity(256 * 1024, stream)
}

pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl Http {
    pub async fn connect(port: u16, user: &str, password: &str) -> Http {
        Http {
            reader: open(port).await,
            port,
            closing: false,
            authorization: format!("Basic {}", base64_encode(format!("{user}:{password}").as_bytes())),
        }
    }

    /// Sends one request; the status and the body.
    pub async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\nContent-Length: {}\r\n",
            self.authorization,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        if self.closing {
            self.reader = open(self.port).await;
            self.closing = false;
        }
        self.reader.get_mut().write_all(request.as_bytes()).await.unwrap();
        let mut status = String::new();
        self.reader.read_line(&mut status).await.unwrap();
        let code = status.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let (mut length, mut chunked) = (0, false);
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                self.closing = true;
            }
        }
        let mut bytes = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size).await.unwrap();
                let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).await.unwrap();
                if size == 0 {
                    break;
                }
                bytes.extend_from_slice(&chunk[..size]);
            }
        } else {
            bytes.resize(length, 0);
            self.reader.read_exact(&mut bytes).await.unwrap();
        }
        if status.starts_with("HTTP/1.0") {
            self.closing = true;
        }
        (code, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A POST that must answer 200.
    pub async fn post(&mut self, path: &str, body: &str) -> String {
        let (status, body) = self
            .send("POST", path, &[("Content-Type", "application/json")], body)
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}
