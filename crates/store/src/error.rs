//! The store's error type, shared by every backend.

use std::sync::Arc;

use super::{KeyValue, Revision};

/// Every way a store call can fail; the API server maps these onto Kubernetes `Status` errors.
#[derive(thiserror::Error, Debug)]
pub enum StoreError {
    /// `create` found a live value under the key.
    #[error("key {key} already exists")]
    AlreadyExists {
        /// The key that exists.
        key: String,
    },
    /// The key has no live value.
    #[error("key {key} not found")]
    NotFound {
        /// The missing key.
        key: String,
    },
    /// A compare-and-swap lost: the key's mod revision differs from the expected one.
    #[error(
        "key {key} was modified concurrently (current mod revision {})",
        current_rev(current)
    )]
    Conflict {
        /// The key that changed.
        key: String,
        /// The value the key holds now (None if it was deleted).
        current: Option<KeyValue>,
    },
    /// The requested revision's history has been compacted away.
    #[error("revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The store's compacted revision.
        compacted: Revision,
    },
    /// The requested revision is newer than anything written.
    #[error("revision {requested} is in the future (current revision {current})")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// The key is not acceptable (empty).
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The database is already opened by another process.
    #[error("datastore {path} is locked by another process")]
    Locked {
        /// The database file.
        path: String,
    },
    /// The storage engine failed (shared, because one failed commit fails every write in it).
    #[error("datastore error: {0}")]
    Backend(#[source] Arc<rusqlite::Error>),
    /// A filesystem error around the database (directory, lock file).
    #[error("datastore I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The stored data breaks an invariant of the store (corruption or a newer schema).
    #[error("datastore is corrupt: {0}")]
    Corrupt(String),
    /// A blocking datastore task died (a bug: it panicked).
    #[error("datastore task failed: {0}")]
    TaskFailed(String),
    /// The store has been shut down.
    #[error("datastore is closed")]
    Closed,
}

fn current_rev(current: &Option<KeyValue>) -> String {
    match current {
        Some(kv) => kv.mod_revision.to_string(),
        None => "none: deleted".to_string(),
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Backend(Arc::new(err))
    }
}
