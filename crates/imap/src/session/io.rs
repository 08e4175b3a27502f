//! Buffered I/O for one IMAP session: whole commands out of the framer
//! (answering synchronising literals with `+`), responses collected and
//! written when the session is about to wait, and COMPRESS=DEFLATE
//! (RFC 4978) beneath both once negotiated.
//!
//! Buffers are dropped while a session waits with nothing pending, so an
//! idle session (IDLE, RFC 2177) holds little memory.

use crate::proto::{Frame, FrameError, Framer};
use estafeta_net::Connection;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const READ_CHUNK: usize = 16 * 1024;
/// A line read outside the framer (SASL responses, IDLE's DONE).
const MAX_LINE: usize = 16 * 1024;

struct Deflate {
    compress: Compress,
    decompress: Decompress,
    raw_in: Vec<u8>,
    raw_out: Vec<u8>,
}

pub enum Input {
    Command(Vec<u8>),
    Refused(FrameError),
}

pub struct ImapIo {
    pub connection: Connection,
    input: Vec<u8>,
    start: usize,
    output: Vec<u8>,
    deflate: Option<Box<Deflate>>,
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

impl ImapIo {
    pub fn new(connection: Connection) -> ImapIo {
        ImapIo {
            connection,
            input: Vec::new(),
            start: 0,
            output: Vec::new(),
            deflate: None,
        }
    }

    /// Where responses go until the next flush.
    pub fn out(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    /// Everything after the tagged OK of COMPRESS is deflated both ways
    /// (RFC 4978 3); the caller has flushed that OK uncompressed.
    pub fn start_compression(&mut self) {
        let mut deflate = Box::new(Deflate {
            compress: Compress::new(Compression::fast(), false),
            decompress: Decompress::new(false),
            raw_in: Vec::new(),
            raw_out: Vec::new(),
        });
        // Bytes already read past the COMPRESS command are compressed.
        deflate.raw_in.extend_from_slice(&self.input[self.start..]);
        self.input.clear();
        self.start = 0;
        self.deflate = Some(deflate);
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        match &mut self.deflate {
            None => self.connection.write_all(&self.output).await?,
            Some(deflate) => {
                deflate.raw_out.clear();
                let mut consumed = 0;
                loop {
                    deflate.raw_out.reserve(self.output.len() / 2 + 64);
                    let before = deflate.compress.total_in();
                    deflate
                        .compress
                        .compress_vec(&self.output[consumed..], &mut deflate.raw_out, FlushCompress::Sync)
                        .map_err(|e| invalid(&e.to_string()))?;
                    consumed += (deflate.compress.total_in() - before) as usize;
                    // Done when all input is in and the sync flush fit.
                    if consumed == self.output.len() && deflate.raw_out.len() < deflate.raw_out.capacity() {
                        break;
                    }
                }
                self.connection.write_all(&deflate.raw_out).await?;
                if deflate.raw_out.capacity() > 4 * READ_CHUNK {
                    deflate.raw_out = Vec::new();
                }
            }
        }
        self.connection.flush().await?;
        self.output.clear();
        if self.output.capacity() > 4 * READ_CHUNK {
            self.output = Vec::new();
        }
        Ok(())
    }

    /// Drops what the client sent that we have not read (after STARTTLS:
    /// RFC 9051 6.2.1, nothing pipelined behind it may be acted upon).
    pub fn discard_input(&mut self) {
        self.input = Vec::new();
        self.start = 0;
    }

    /// Reads what the client sends next, without flushing; cancel-safe,
    /// so IDLE can wait on it beside the change bus.
    pub async fn read_some(&mut self) -> io::Result<()> {
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        } else if self.start > READ_CHUNK {
            self.input.drain(..self.start);
            self.start = 0;
        }
        match &mut self.deflate {
            None => {
                if self.input.capacity() - self.input.len() < READ_CHUNK / 4 {
                    self.input.reserve(READ_CHUNK);
                }
                if self.connection.read_buf(&mut self.input).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            Some(deflate) => {
                if deflate.raw_in.is_empty() {
                    deflate.raw_in.reserve(READ_CHUNK);
                    if self.connection.read_buf(&mut deflate.raw_in).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
                let before_in = deflate.decompress.total_in();
                self.input.reserve(READ_CHUNK);
                let status = deflate
                    .decompress
                    .decompress_vec(&deflate.raw_in, &mut self.input, FlushDecompress::Sync)
                    .map_err(|e| invalid(&e.to_string()))?;
                let used = (deflate.decompress.total_in() - before_in) as usize;
                deflate.raw_in.drain(..used);
                if status == Status::StreamEnd {
                    return Err(invalid("compressed stream ended"));
                }
                if deflate.raw_in.is_empty() && deflate.raw_in.capacity() > 4 * READ_CHUNK {
                    deflate.raw_in = Vec::new();
                }
            }
        }
        Ok(())
    }

    /// Flushes responses, then reads.
    async fn fill(&mut self) -> io::Result<()> {
        self.flush().await?;
        if self.start == self.input.len() && self.input.capacity() > 4 * READ_CHUNK {
            self.input = Vec::new();
            self.start = 0;
        }
        self.read_some().await
    }

    /// The next whole command, or a refusal of an oversized one. A
    /// synchronising literal is answered with `+` as it is announced.
    ///
    /// `time` bounds a command from its first byte to its end however
    /// steadily it drips in; with `literals_free`, literal data is not
    /// counted (a big APPEND over a slow link is no drip).
    pub async fn next_command(
        &mut self,
        framer: &mut Framer,
        time: Duration,
        literals_free: bool,
    ) -> io::Result<Input> {
        let input = self.next_command_in_time(framer, time, literals_free).await;
        self.connection.set_command_deadline(None);
        input
    }

    async fn next_command_in_time(
        &mut self,
        framer: &mut Framer,
        time: Duration,
        literals_free: bool,
    ) -> io::Result<Input> {
        loop {
            let (used, outcome) = framer.feed(&self.input[self.start..]);
            self.start += used;
            if literals_free && framer.in_literal() {
                self.connection.set_command_deadline(None);
            } else if outcome.is_none() && framer.in_command() && !self.connection.has_command_deadline() {
                self.connection
                    .set_command_deadline(Some(tokio::time::Instant::now() + time));
            }
            match outcome {
                Some(Ok(Frame::Command(command))) => return Ok(Input::Command(command)),
                Some(Ok(Frame::NeedContinuation)) => {
                    self.output.extend_from_slice(b"+ Ready for literal data\r\n");
                    self.flush().await?;
                }
                Some(Err(error)) => return Ok(Input::Refused(error)),
                None => self.fill().await?,
            }
        }
    }

    /// One line (without its line ending) read outside command framing.
    pub async fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(lf) = self.take_line()? {
                return Ok(lf);
            }
            self.fill().await?;
        }
    }

    /// A whole line if one is buffered.
    pub fn take_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let pending = &self.input[self.start..];
        if let Some(lf) = pending.iter().position(|&b| b == b'\n') {
            let mut line = pending[..lf].to_vec();
            self.start += lf + 1;
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
        if pending.len() > MAX_LINE {
            return Err(invalid("line too long"));
        }
        Ok(None)
    }
}
