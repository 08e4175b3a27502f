use std::fmt;

/// What the store reports. `Clone` because one failed group commit answers
/// every caller in the batch with the same error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    InUse(String),
    #[error("blob {0} is missing from the blob store")]
    BlobMissing(String),
    #[error("store I/O error: {0}")]
    Io(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("the store has been shut down")]
    Closed,
    /// Two writers collided (a deadlock or serialization failure the
    /// database broke by aborting one); the write may simply be retried.
    #[error("concurrent update conflict: {0}")]
    Conflict(String),
}

impl StoreError {
    pub fn not_found(what: impl fmt::Display) -> StoreError {
        StoreError::NotFound(what.to_string())
    }
    pub fn exists(what: impl fmt::Display) -> StoreError {
        StoreError::AlreadyExists(what.to_string())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        StoreError::Io(error.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
