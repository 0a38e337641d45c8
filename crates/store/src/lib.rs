//! The datastore: an MVCC key-value store with etcd semantics (revisions, compare-and-swap,
//! ranges at a revision, watch from a revision, compaction) behind the object-safe [`Store`]
//! trait, with the embedded SQLite engine [`SqliteStore`].
//!
//! Keys follow kube-apiserver's layout `/registry/<resource>/<ns>/<name>`; values are opaque
//! bytes (JSON). Every write gets the next global revision; the API server uses it as
//! `metadata.resourceVersion`.
#![forbid(unsafe_code)]

mod error;
pub mod event_ttl;
pub mod mirror;
mod sqlite;
mod watch;
mod writer;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

pub use error::StoreError;
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use watch::WatchStream;

/// A global store revision: one per write, strictly increasing, starting at 1.
pub type Revision = i64;

/// One version of a key.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The full key, e.g. `/registry/pods/default/web-0`.
    pub key: String,
    /// The stored bytes (JSON).
    pub value: Bytes,
    /// Revision of the write that created this incarnation of the key.
    pub create_revision: Revision,
    /// Revision of the write that produced this version.
    pub mod_revision: Revision,
}

/// What a write did to a key.
#[derive(Clone, Debug, PartialEq, Eq, Copy)]
pub enum EventKind {
    /// The key came into existence (first time, or again after a delete).
    Created,
    /// A live key got a new value.
    Updated,
    /// The key was deleted.
    Deleted,
}

/// One write, as seen by a watcher.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The new version; for `Deleted` the last value, with `mod_revision` = the delete's revision.
    pub kv: KeyValue,
    /// The version this write replaced (None for `Created`).
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision of the write this event reports.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// The answer to a [`Store::range`] call.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeResult {
    /// Live keys in key order.
    pub kvs: Vec<KeyValue>,
    /// The snapshot revision the range was read at (pass it back to read further pages).
    pub revision: Revision,
    /// Whether keys beyond `kvs` match (the limit cut the answer short).
    pub more: bool,
    /// Keys matching at that revision, counted from `start_after` (includes `kvs`), so
    /// `count - kvs.len()` is Kubernetes' `remainingItemCount`.
    pub count: i64,
}

/// A backend for the API server's storage (object-safe: hold it as `Arc<dyn Store>`).
///
/// Methods return boxed futures (`futures::future::BoxFuture`) rather than using
/// `async-trait`; callers simply `.await` them.
pub trait Store: Send + Sync + 'static {
    /// The live value of `key`, if any.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<KeyValue>, StoreError>>;

    /// Creates `key`; `AlreadyExists` if it holds a live value.
    fn create<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
    ) -> BoxFuture<'a, Result<KeyValue, StoreError>>;

    /// Replaces the value of a live key; with `Some(rev)` only if its mod revision is `rev`
    /// (`Conflict` otherwise); `NotFound` if the key is not live.
    fn update<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        expected_mod_revision: Option<Revision>,
    ) -> BoxFuture<'a, Result<KeyValue, StoreError>>;

    /// Deletes a live key (CAS like `update`); returns its last value with `mod_revision` set
    /// to the delete's revision.
    fn delete<'a>(
        &'a self,
        key: &'a str,
        expected_mod_revision: Option<Revision>,
    ) -> BoxFuture<'a, Result<KeyValue, StoreError>>;

    /// Live keys starting with `prefix`, in key order, strictly after `start_after`, at most
    /// `limit`, read at `at_revision` (None = now); `Compacted` if that history is gone.
    fn range<'a>(
        &'a self,
        prefix: &'a str,
        start_after: Option<&'a str>,
        limit: Option<usize>,
        at_revision: Option<Revision>,
    ) -> BoxFuture<'a, Result<RangeResult, StoreError>>;

    /// The newest revision written.
    fn current_revision(&self) -> Revision;

    /// The revision up to which history has been compacted (0 = none).
    fn compacted_revision(&self) -> Revision;

    /// Events for keys starting with `prefix` with revision > `after`, in revision order:
    /// history first, then live writes; `Compacted` if `after` < the compacted revision.
    fn watch<'a>(
        &'a self,
        prefix: &'a str,
        after: Revision,
    ) -> BoxFuture<'a, Result<WatchStream, StoreError>>;

    /// Discards history before `revision`: reads at or after it stay possible.
    /// `Compacted` if already compacted that far, `FutureRevision` if beyond the current one.
    fn compact(&self, revision: Revision) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// Compacts `store` every `interval`, always keeping the newest `retain_revisions` revisions
/// (kube-apiserver compacts every 5 minutes). Must be called inside a tokio runtime; abort
/// the handle to stop it.
pub fn spawn_compactor(
    store: Arc<dyn Store>,
    interval: Duration,
    retain_revisions: i64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick fires at once; skip it so a fresh start does not compact immediately.
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let target = store.current_revision() - retain_revisions.max(0);
            if target <= store.compacted_revision() {
                continue;
            }
            match store.compact(target).await {
                Ok(()) => tracing::debug!(revision = target, "datastore compacted"),
                // Someone else compacted past us meanwhile: nothing to do.
                Err(StoreError::Compacted { .. }) => {}
                Err(StoreError::Closed) => return,
                Err(err) => {
                    tracing::warn!(revision = target, error = %err, "datastore compaction failed")
                }
            }
        }
    })
}

/// The exclusive upper bound of all keys that start with `prefix` (None: no bound).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::InvalidKey {
            key: key.to_string(),
            reason: "key must not be empty",
        });
    }
    Ok(())
}
