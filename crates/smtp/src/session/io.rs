//! Buffered I/O for one session.
//!
//! Replies collect in a write buffer that is flushed only when the session
//! is about to wait for input: a pipelined batch (RFC 2920) gets its replies
//! in one write, and a client that waits for each reply still gets it at
//! once. Input is read into our own buffer so that STARTTLS can throw away
//! anything pipelined behind it (RFC 3207 4.2: it must not be acted upon).

use crate::proto::command::MAX_COMMAND_LINE;
use crate::proto::{DataDecoder, Reply};
use estafeta_net::Connection;
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const READ_CHUNK: usize = 64 * 1024;

pub enum Line {
    Text(Vec<u8>),
    /// Longer than a command may be; the rest up to LF was discarded.
    TooLong,
}

pub struct SessionIo {
    pub connection: Connection,
    input: Vec<u8>,
    start: usize,
    output: Vec<u8>,
}

impl SessionIo {
    pub fn new(connection: Connection) -> SessionIo {
        SessionIo {
            connection,
            input: Vec::with_capacity(READ_CHUNK),
            start: 0,
            output: Vec::with_capacity(4096),
        }
    }

    pub fn reply(&mut self, reply: &Reply) {
        reply.write_to(&mut self.output);
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.output.is_empty() {
            self.connection.write_all(&self.output).await?;
            self.output.clear();
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

    /// Reads more from the client, flushing pending replies first.
    async fn fill(&mut self) -> io::Result<()> {
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

    /// One command line without its line ending (CRLF, or a bare LF,
    /// which RFC 5321 4.1.1 tolerance takes as the end of a command).
    pub async fn read_line(&mut self) -> io::Result<Line> {
        let mut too_long = false;
        loop {
            let pending = &self.input[self.start..];
            if let Some(lf) = pending.iter().position(|&b| b == b'\n') {
                let mut line = pending[..lf].to_vec();
                self.start += lf + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(if too_long || line.len() > MAX_COMMAND_LINE {
                    Line::TooLong
                } else {
                    Line::Text(line)
                });
            }
            if pending.len() > MAX_COMMAND_LINE {
                too_long = true;
                self.start = self.input.len();
            }
            self.fill().await?;
        }
    }

    /// DATA content up to the end-of-data line, decoded into `out`.
    pub async fn read_data(&mut self, decoder: &mut DataDecoder, out: &mut Vec<u8>) -> io::Result<()> {
        loop {
            if let Some(used) = decoder.feed(&self.input[self.start..], out) {
                self.start += used;
                return Ok(());
            }
            self.start = self.input.len();
            self.fill().await?;
        }
    }

    /// Exactly `size` bytes (a BDAT chunk), appended to `out` while it stays
    /// within `limit`; the rest is read and dropped. True if all was kept.
    pub async fn read_chunk(&mut self, mut size: u64, out: &mut Vec<u8>, limit: usize) -> io::Result<bool> {
        let mut kept_all = true;
        loop {
            let available = (self.input.len() - self.start) as u64;
            let take = available.min(size) as usize;
            let chunk = &self.input[self.start..self.start + take];
            let room = limit.saturating_sub(out.len());
            if chunk.len() > room {
                kept_all = false;
            }
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            self.start += take;
            size -= take as u64;
            if size == 0 {
                return Ok(kept_all);
            }
            self.fill().await?;
        }
    }
}
