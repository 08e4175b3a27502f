//! Content-addressed blob files: a message is written once, named by the
//! SHA-256 of its bytes, however many mailboxes hold it.
//!
//! Durability: bytes go to a temporary file, which is fsynced, renamed into
//! place and then its directory fsynced, so after a crash a blob either is
//! complete under its name or is not there at all.

use crate::error::{Result, StoreError};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Lower-case hex SHA-256 of the content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(String);

impl BlobId {
    pub fn of(data: &[u8]) -> BlobId {
        BlobId::of_parts(&[data])
    }

    /// The id of the parts written one after the other.
    pub fn of_parts(parts: &[&[u8]]) -> BlobId {
        let mut digest = Sha256::new();
        for part in parts {
            digest.update(part);
        }
        BlobId(hex::encode(digest.finalize()))
    }

    /// Accepts only 64 lower-case hex digits, so an id can never name a
    /// path outside the blob directory.
    pub fn parse(text: &str) -> Option<BlobId> {
        (text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| BlobId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub struct FileBlobStore {
    root: PathBuf,
    tmp: PathBuf,
    counter: AtomicU64,
    /// Directory fsyncs made, for the durability tests.
    dir_syncs: AtomicU64,
}

impl FileBlobStore {
    pub fn open(root: &Path) -> Result<FileBlobStore> {
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp)?;
        Ok(FileBlobStore {
            root: root.to_owned(),
            tmp,
            counter: AtomicU64::new(0),
            dir_syncs: AtomicU64::new(0),
        })
    }

    /// Removes temporaries older than `age`: half-written files left by a
    /// crash, never referenced. The age keeps another process's (the CLI's
    /// or a second node's) writes in progress safe.
    pub fn clear_temporaries(&self, age: std::time::Duration) -> Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.tmp)? {
            let entry = entry?;
            let old = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .map(|modified| modified.elapsed().unwrap_or_default() >= age)
                .unwrap_or(false);
            if old && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    pub fn path(&self, id: &BlobId) -> PathBuf {
        let name = id.as_str();
        self.root.join(&name[..2]).join(name)
    }

    /// Writes `data` durably and returns its id. Blocking: call from a
    /// blocking thread.
    pub fn put(&self, data: &[u8]) -> Result<BlobId> {
        self.put_parts(&[data])
    }

    /// Writes `parts`, one after the other, as one blob.
    pub fn put_parts(&self, parts: &[&[u8]]) -> Result<BlobId> {
        let id = BlobId::of_parts(parts);
        let path = self.path(&id);
        let dir = path.parent().expect("blob path has a parent");
        if path.exists() {
            // Its writer fsynced the file before the rename, but may not
            // yet have fsynced the directory that names it: until then a
            // power loss can take the name away. Our caller is about to
            // acknowledge mail that refers to it, so we sync it ourselves.
            self.sync_dir(dir)?;
            return Ok(id);
        }
        if !dir.exists() {
            fs::create_dir_all(dir)?;
            self.sync_dir(&self.root)?;
        }
        let tmp = self.tmp.join(format!(
            "{}.{}.{}",
            std::process::id(),
            self.counter.fetch_add(1, Ordering::Relaxed),
            &id.as_str()[..16]
        ));
        let result = (|| -> std::io::Result<()> {
            let mut file = File::create(&tmp)?;
            for part in parts {
                file.write_all(part)?;
            }
            file.sync_all()?;
            fs::rename(&tmp, &path)?;
            self.sync_dir(dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        Ok(id)
    }

    pub fn get(&self, id: &BlobId) -> Result<Vec<u8>> {
        fs::read(self.path(id)).map_err(|error| missing_or(error, id))
    }

    /// The last byte, without reading the rest; `None` for an empty blob.
    pub fn last_byte(&self, id: &BlobId) -> Result<Option<u8>> {
        let mut file = File::open(self.path(id)).map_err(|error| missing_or(error, id))?;
        if file.metadata()?.len() == 0 {
            return Ok(None);
        }
        file.seek(SeekFrom::End(-1))?;
        let mut byte = [0u8];
        file.read_exact(&mut byte)?;
        Ok(Some(byte[0]))
    }

    pub fn exists(&self, id: &BlobId) -> bool {
        self.path(id).exists()
    }

    pub fn remove(&self, id: &BlobId) -> Result<()> {
        match fs::remove_file(self.path(id)) {
            Err(error) if error.kind() != ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        }
    }

    /// Every blob file present, for verification.
    pub fn list(&self) -> Result<Vec<BlobId>> {
        let mut ids = Vec::new();
        for shard in fs::read_dir(&self.root)? {
            let shard = shard?;
            if shard.file_name() == "tmp" || !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                if let Some(id) = entry?.file_name().to_str().and_then(BlobId::parse) {
                    ids.push(id);
                }
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// A blob file that is not there is a missing blob; other errors are I/O.
fn missing_or(error: std::io::Error, id: &BlobId) -> StoreError {
    match error.kind() {
        ErrorKind::NotFound => StoreError::BlobMissing(id.to_string()),
        _ => error.into(),
    }
}

impl FileBlobStore {
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.dir_syncs.fetch_add(1, Ordering::Relaxed);
        File::open(dir)?.sync_all()
    }

    /// Directory fsyncs made so far.
    pub fn dir_syncs(&self) -> u64 {
        self.dir_syncs.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_is_content_addressed() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::open(dir.path()).unwrap();
        let a = store.put(b"hello").unwrap();
        let b = store.put(b"hello").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.as_str(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(store.get(&a).unwrap(), b"hello");
        assert_eq!(store.list().unwrap(), vec![a.clone()]);
        store.remove(&a).unwrap();
        assert!(matches!(store.get(&a), Err(StoreError::BlobMissing(_))));
        store.remove(&a).unwrap();
    }

    #[test]
    fn a_blob_found_in_place_has_its_directory_synced_before_use() {
        // A concurrent writer has renamed the same content into place but
        // not yet synced the directory: the second put must not return
        // before the name is durable.
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::open(dir.path()).unwrap();
        let id = BlobId::of(b"same");
        let path = store.path(&id);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, b"same").unwrap();
        let before = store.dir_syncs();
        assert_eq!(store.put(b"same").unwrap(), id);
        assert_eq!(store.dir_syncs(), before + 1);
    }

    #[test]
    fn ids_cannot_escape_the_directory() {
        assert!(BlobId::parse("../../etc/passwd").is_none());
        assert!(BlobId::parse(&"A".repeat(64)).is_none());
        assert!(BlobId::parse(&"a".repeat(64)).is_some());
    }

    #[test]
    fn only_old_temporaries_are_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileBlobStore::open(dir.path()).unwrap();
        fs::write(dir.path().join("tmp/half-written"), b"partial").unwrap();
        assert_eq!(
            store.clear_temporaries(std::time::Duration::from_secs(3600)).unwrap(),
            0
        );
        assert_eq!(store.clear_temporaries(std::time::Duration::ZERO).unwrap(), 1);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
