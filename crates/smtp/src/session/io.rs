//! SMTP's reads and replies over the shared buffered line I/O
//! ([`estafeta_net::LineIo`]: pipelined replies in one write, STARTTLS
//! dropping what was pipelined behind it).

use super::spool::Spool;
use crate::proto::command::MAX_COMMAND_LINE;
use crate::proto::{DataDecoder, Reply};
pub use estafeta_net::{Line, LineIo as SessionIo};
use std::io;

/// SMTP's reads on top of the shared line I/O.
pub trait SmtpIo {
    fn reply(&mut self, reply: &Reply);
    /// One command line (RFC 5321 4.5.3.1.4 limits it).
    async fn read_command(&mut self) -> io::Result<Line>;
    /// DATA content up to the end-of-data line, decoded into `out`.
    async fn read_data(&mut self, decoder: &mut DataDecoder, out: &mut Spool) -> io::Result<()>;
    /// Exactly `size` bytes (a BDAT chunk), appended to `out` while it stays
    /// within `limit`; the rest is read and dropped. True if all was kept.
    async fn read_chunk(&mut self, size: u64, out: &mut Spool, limit: usize) -> io::Result<bool>;
}

impl SmtpIo for SessionIo {
    fn reply(&mut self, reply: &Reply) {
        reply.write_to(self.out());
    }

    async fn read_command(&mut self) -> io::Result<Line> {
        self.read_line(MAX_COMMAND_LINE).await
    }

    async fn read_data(&mut self, decoder: &mut DataDecoder, out: &mut Spool) -> io::Result<()> {
        loop {
            let end = decoder.feed(self.pending(), out.buffer());
            out.settle().await;
            if let Some(used) = end {
                self.consume(used);
                return Ok(());
            }
            self.consume(usize::MAX);
            self.fill().await?;
        }
    }

    async fn read_chunk(&mut self, mut size: u64, out: &mut Spool, limit: usize) -> io::Result<bool> {
        let mut kept_all = true;
        loop {
            let available = self.pending().len() as u64;
            let take = available.min(size) as usize;
            let room = limit.saturating_sub(out.size());
            let chunk = &self.pending()[..take];
            if chunk.len() > room {
                kept_all = false;
            }
            out.buffer().extend_from_slice(&chunk[..chunk.len().min(room)]);
            self.consume(take);
            out.settle().await;
            size -= take as u64;
            if size == 0 {
                return Ok(kept_all);
            }
            self.fill().await?;
        }
    }
}
