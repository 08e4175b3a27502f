//! A minimal IMAP client for the benchmark: the same code drives Estafeta
//! and Dovecot, so the figures compare the servers, not two clients.

use std::io;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Client {
    reader: BufReader<TcpStream>,
    next_tag: u64,
}

/// What a command brought back.
pub struct Reply {
    /// Untagged response lines (literals not counted as lines).
    pub untagged: usize,
    /// Untagged lines that start `* SEARCH`/`* ESEARCH`, kept for checks.
    pub search: Vec<String>,
    pub bytes: usize,
    pub tagged: String,
}

impl Client {
    pub async fn connect(port: u16) -> io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let mut client = Client {
            reader: BufReader::with_capacity(64 * 1024, stream),
            next_tag: 1,
        };
        let mut greeting = Vec::new();
        client.reader.read_until(b'\n', &mut greeting).await?;
        if !greeting.starts_with(b"* OK") {
            return Err(io::Error::other(String::from_utf8_lossy(&greeting).into_owned()));
        }
        Ok(client)
    }

    pub async fn login(port: u16, user: &str, password: &str) -> io::Result<Client> {
        let mut client = Client::connect(port).await?;
        client.ok(&format!("LOGIN \"{user}\" \"{password}\"")).await?;
        Ok(client)
    }

    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("b{}", self.next_tag)
    }

    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reader.get_mut().write_all(bytes).await
    }

    /// Reads up to the tagged reply of `tag`.
    pub async fn finish(&mut self, tag: &str) -> io::Result<Reply> {
        let mut reply = Reply {
            untagged: 0,
            search: Vec::new(),
            bytes: 0,
            tagged: String::new(),
        };
        let mut line = Vec::with_capacity(512);
        loop {
            line.clear();
            if self.reader.read_until(b'\n', &mut line).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            reply.bytes += line.len();
            if let Some(rest) = line.strip_prefix(tag.as_bytes())
                && rest.first() == Some(&b' ')
            {
                reply.tagged = String::from_utf8_lossy(rest).trim().to_owned();
                return Ok(reply);
            }
            reply.untagged += 1;
            if line.starts_with(b"* SEARCH") || line.starts_with(b"* ESEARCH") {
                reply.search.push(String::from_utf8_lossy(&line).trim_end().to_owned());
            }
            // Literals: `{n}` at the end of a line, data follows, then the
            // rest of the response line (which may announce another).
            while let Some(size) = literal_size(&line) {
                let mut data = vec![0; size];
                self.reader.read_exact(&mut data).await?;
                reply.bytes += size;
                line.clear();
                self.reader.read_until(b'\n', &mut line).await?;
                reply.bytes += line.len();
            }
        }
    }

    pub async fn command(&mut self, command: &str) -> io::Result<Reply> {
        let tag = self.tag();
        self.send(format!("{tag} {command}\r\n").as_bytes()).await?;
        self.finish(&tag).await
    }

    pub async fn ok(&mut self, command: &str) -> io::Result<Reply> {
        let reply = self.command(command).await?;
        if !reply.tagged.starts_with("OK") {
            return Err(io::Error::other(format!("{command}: {}", reply.tagged)));
        }
        Ok(reply)
    }

    /// APPEND with a non-synchronising literal (LITERAL+, both servers).
    pub async fn append(&mut self, mailbox: &str, message: &[u8]) -> io::Result<Reply> {
        let tag = self.tag();
        let mut command = format!("{tag} APPEND {mailbox} {{{}+}}\r\n", message.len()).into_bytes();
        command.extend_from_slice(message);
        command.extend_from_slice(b"\r\n");
        self.send(&command).await?;
        let reply = self.finish(&tag).await?;
        if !reply.tagged.starts_with("OK") {
            return Err(io::Error::other(format!("APPEND: {}", reply.tagged)));
        }
        Ok(reply)
    }

    /// The next response line, whatever it is (for IDLE updates).
    pub async fn read_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        if self.reader.read_until(b'\n', &mut line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    /// Enters IDLE and waits for the continuation.
    pub async fn idle(&mut self) -> io::Result<()> {
        let tag = self.tag();
        self.send(format!("{tag} IDLE\r\n").as_bytes()).await?;
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).await?;
        if !line.starts_with(b"+") {
            return Err(io::Error::other(String::from_utf8_lossy(&line).into_owned()));
        }
        Ok(())
    }
}

fn literal_size(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&inner[open + 1..]).ok()?.parse().ok()
}
