//! Buffered line I/O for the line-based protocols (SMTP, POP3).
//!
//! Replies collect in a write buffer that is flushed only when the session
//! is about to wait for input: a pipelined batch (RFC 2920, RFC 2449 6.6)
//! gets its replies in one write, and a client that waits for each reply
//! still gets it at once. Input is read into our own buffer so that
//! STARTTLS/STLS can throw away anything pipelined behind it (RFC 3207 4.2,
//! RFC 2595 4: it must not be acted upon).

use crate::Connection;
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const READ_CHUNK: usize = 64 * 1024;
/// An output buffer larger than this is given back after a flush, so a
/// session that sent one big message does not keep its memory.
const KEEP_OUTPUT: usize = 256 * 1024;

pub enum Line {
    Text(Vec<u8>),
    /// Longer than allowed; the rest up to LF was discarded.
    TooLong,
}

pub struct LineIo {
    pub connection: Connection,
    input: Vec<u8>,
    start: usize,
    output: Vec<u8>,
    /// How long a command line may take from its first byte to its LF.
    command_time: Option<std::time::Duration>,
}

impl LineIo {
    pub fn new(connection: Connection) -> LineIo {
        LineIo {
            connection,
            input: Vec::with_capacity(READ_CHUNK),
            start: 0,
            output: Vec::with_capacity(4096),
            command_time: None,
        }
    }

    /// Bounds the time from a command line's first byte to its end, however
    /// steadily its bytes come (see `Connection::set_command_deadline`).
    pub fn set_command_time(&mut self, limit: Option<std::time::Duration>) {
        self.command_time = limit;
    }

    /// Where replies go until the next flush.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.output.is_empty() {
            self.connection.write_all(&self.output).await?;
            self.output.clear();
            if self.output.capacity() > KEEP_OUTPUT {
                self.output = Vec::with_capacity(4096);
            }
        }
        self.connection.flush().await
    }

    /// Whether more client input is already here (then replies may wait).
    pub fn has_buffered_input(&self) -> bool {
        self.start < self.input.len()
    }

    /// Drops everything the client sent that we have not read yet.
    pub fn discard_input(&mut self) {
        self.input.clear();
        self.start = 0;
    }

    /// Input read but not yet consumed.
    pub fn pending(&self) -> &[u8] {
        &self.input[self.start..]
    }

    /// Marks `n` bytes of [`pending`](Self::pending) as consumed.
    pub fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.input.len());
    }

    /// Reads more from the client, flushing pending replies first.
    pub async fn fill(&mut self) -> io::Result<()> {
        self.flush().await?;
        if self.start > 0 && self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        } else if self.start > READ_CHUNK {
            self.input.drain(..self.start);
            self.start = 0;
        }
        let old = self.input.len();
        self.input.resize(old + READ_CHUNK, 0);
        let read = self.connection.read(&mut self.input[old..]).await;
        let n = *read.as_ref().unwrap_or(&0);
        self.input.truncate(old + n);
        match read {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// One line of at most `max` bytes, without its line ending (CRLF, or
    /// a bare LF, which both SMTP and POP3 clients are forgiven).
    pub async fn read_line(&mut self, max: usize) -> io::Result<Line> {
        let line = self.read_line_in_time(max).await;
        self.connection.set_command_deadline(None);
        line
    }

    async fn read_line_in_time(&mut self, max: usize) -> io::Result<Line> {
        let mut too_long = false;
        loop {
            if let Some(limit) = self.command_time
                && !self.connection.has_command_deadline()
                && self.start < self.input.len()
            {
                self.connection
                    .set_command_deadline(Some(tokio::time::Instant::now() + limit));
            }
            let pending = &self.input[self.start..];
            if let Some(lf) = pending.iter().position(|&b| b == b'\n') {
                let mut line = pending[..lf].to_vec();
                self.start += lf + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(if too_long || line.len() > max {
                    Line::TooLong
                } else {
                    Line::Text(line)
                });
            }
            if pending.len() > max {
                too_long = true;
                self.start = self.input.len();
            }
            self.fill().await?;
        }
    }
}
