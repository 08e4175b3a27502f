//! Message data while it arrives. Up to a threshold it is kept in memory;
//! past it, what came so far goes to a file in the spool directory and
//! the rest follows it there. A client may take the whole data timeout
//! per block to send a message of up to `max_message_size`, so without
//! this, a few hundred slow senders of large messages would hold that
//! much RAM each for as long as they like.
//!
//! A failed write does not stop the reading: the rest of the data is read
//! and dropped, so the session stays in step with the client, and
//! `finish` reports the failure for a 451 at the end of the data.
//!
//! A spool file is never acknowledged mail: it is removed when the data
//! is read back at the end of DATA or BDAT LAST, when the transaction is
//! dropped, and at server start (what a crash left behind).

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

static NEXT: AtomicU64 = AtomicU64::new(0);

pub struct Spool {
    /// What has not gone to the file yet.
    buffer: Vec<u8>,
    /// The file, once the data outgrew the threshold, and its length.
    file: Option<(File, PathBuf, usize)>,
    threshold: usize,
    dir: PathBuf,
    /// Bytes dropped after a write failed.
    dropped: usize,
    failed: Option<io::Error>,
}

impl Spool {
    pub fn new(dir: PathBuf, threshold: usize) -> Spool {
        Spool {
            buffer: Vec::with_capacity(threshold.min(16 * 1024)),
            file: None,
            threshold,
            dir,
            dropped: 0,
            failed: None,
        }
    }

    /// Bytes held so far, in memory and on disk.
    pub fn size(&self) -> usize {
        self.spilled() + self.dropped + self.buffer.len()
    }

    fn spilled(&self) -> usize {
        self.file.as_ref().map_or(0, |(_, _, length)| *length)
    }

    /// Where new data goes; call `settle` after writing to it.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    /// Moves the buffer to the file once the data outgrew the threshold.
    pub async fn settle(&mut self) {
        if self.buffer.len() < self.threshold {
            return;
        }
        if self.failed.is_none()
            && let Err(error) = self.spill().await
        {
            self.failed = Some(error);
        }
        if self.failed.is_some() {
            self.dropped += self.buffer.len();
            self.buffer.clear();
        }
    }

    async fn spill(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(self.create().await?);
        }
        let Some((file, _, length)) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(&self.buffer).await?;
        *length += self.buffer.len();
        self.buffer.clear();
        Ok(())
    }

    async fn create(&self) -> io::Result<(File, PathBuf, usize)> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let path = self.dir.join(format!(
            "{}.{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&path).await?;
        Ok((file, path, 0))
    }

    /// The whole data, in one buffer of its exact size; the file is gone.
    pub async fn finish(mut self) -> io::Result<Vec<u8>> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let Some((mut file, path, length)) = self.file.take() else {
            return Ok(std::mem::take(&mut self.buffer));
        };
        let result = async {
            file.flush().await?;
            file.seek(SeekFrom::Start(0)).await?;
            let mut whole = Vec::with_capacity(length + self.buffer.len());
            (&mut file).take(length as u64).read_to_end(&mut whole).await?;
            if whole.len() != length {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "spool file shorter than written",
                ));
            }
            whole.extend_from_slice(&self.buffer);
            Ok(whole)
        }
        .await;
        drop(file);
        let _ = std::fs::remove_file(&path);
        result
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some((_, path, _)) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Removes what a crash left in the spool directory: data of transactions
/// that were never acknowledged. Call before the listeners open.
pub fn clear(dir: &Path) -> io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn data_past_the_threshold_goes_to_a_file_and_comes_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(dir.path().join("spool"), 100);
        let mut sent = Vec::new();
        for i in 0..50u8 {
            let piece = vec![i; 37];
            spool.buffer().extend_from_slice(&piece);
            sent.extend_from_slice(&piece);
            spool.settle().await;
            assert!(spool.buffer.len() < 100, "memory stays under the threshold");
            assert_eq!(spool.size(), sent.len());
        }
        assert!(spool.file.is_some());
        assert_eq!(std::fs::read_dir(dir.path().join("spool")).unwrap().count(), 1);
        assert_eq!(spool.finish().await.unwrap(), sent);
        assert_eq!(std::fs::read_dir(dir.path().join("spool")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn small_data_stays_in_memory_and_a_dropped_spool_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut small = Spool::new(dir.path().join("spool"), 1000);
        small.buffer().extend_from_slice(b"hello\r\n");
        small.settle().await;
        assert!(small.file.is_none());
        assert_eq!(small.finish().await.unwrap(), b"hello\r\n");

        let mut large = Spool::new(dir.path().join("spool"), 10);
        large.buffer().extend_from_slice(&[b'x'; 64]);
        large.settle().await;
        assert_eq!(std::fs::read_dir(dir.path().join("spool")).unwrap().count(), 1);
        drop(large);
        assert_eq!(std::fs::read_dir(dir.path().join("spool")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_failed_write_drops_the_rest_and_fails_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        // The spool directory cannot be made: a file stands in its way.
        std::fs::write(dir.path().join("spool"), b"").unwrap();
        let mut spool = Spool::new(dir.path().join("spool"), 10);
        for _ in 0..5 {
            spool.buffer().extend_from_slice(&[b'x'; 64]);
            spool.settle().await;
            assert!(spool.buffer.is_empty(), "nothing piles up in memory");
        }
        assert_eq!(
            spool.size(),
            5 * 64,
            "what was dropped still counts toward the size limit"
        );
        assert!(spool.finish().await.is_err());
    }

    #[test]
    fn clear_removes_what_a_crash_left() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(clear(&dir.path().join("absent")).unwrap(), 0);
        std::fs::write(dir.path().join("1.0"), b"half a message").unwrap();
        std::fs::write(dir.path().join("1.1"), b"another").unwrap();
        assert_eq!(clear(dir.path()).unwrap(), 2);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
