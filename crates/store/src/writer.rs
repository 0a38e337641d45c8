//! The single writer thread of [`super::SqliteStore`]: serialises every write, assigns
//! revisions, commits (fsync) in groups, publishes events, and runs compaction batches.

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::{broadcast, oneshot};

use super::sqlite::{set_meta, Shared, META_COMPACT, META_PURGED};
use super::{Event, EventKind, KeyValue, Revision, StoreError};

/// Writes queued behind the one being handled join its transaction, up to this many: one
/// fsync then covers them all, so concurrent writers do not each pay a full disk flush.
const MAX_GROUP: usize = 128;

/// Revisions whose superseded versions one compaction batch removes; bounds how long a
/// batch holds up writers.
pub(super) const PURGE_WINDOW: Revision = 1000;

/// What a write does to its key.
pub(super) enum WriteOp {
    Create {
        value: Bytes,
    },
    Update {
        value: Bytes,
        expected: Option<Revision>,
    },
    Delete {
        expected: Option<Revision>,
    },
}

/// Where the writer sends a command's outcome.
pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One queued write.
pub(super) struct PendingWrite {
    pub(super) key: String,
    pub(super) op: WriteOp,
    pub(super) reply: Reply<KeyValue>,
}

/// A request to the writer thread.
pub(super) enum Command {
    Write(PendingWrite),
    /// Raise the compacted revision (the logical part of compaction).
    SetCompacted {
        revision: Revision,
        reply: Reply<()>,
    },
    /// Physically delete one window of compacted history; replies whether more remains.
    Purge {
        reply: Reply<bool>,
    },
}

/// The latest row of a key, as the writer needs it.
struct Latest {
    id: Revision,
    create_revision: Revision,
    deleted: bool,
    value: Vec<u8>,
}

impl Latest {
    fn to_kv(&self, key: &str) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Bytes::from(self.value.clone()),
            create_revision: self.create_revision,
            mod_revision: self.id,
        }
    }
}

/// State owned by the writer thread.
pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) shared: Arc<Shared>,
    pub(super) events: broadcast::Sender<Event>,
    /// Compacted history below this revision has already been deleted from disk.
    pub(super) purged: Revision,
    /// Held for the writer's lifetime so no second process writes the same file.
    pub(super) _lock: std::fs::File,
}

impl Writer {
    /// Serves commands until every sender is gone.
    pub(super) fn run(mut self, rx: mpsc::Receiver<Command>) {
        while let Ok(cmd) = rx.recv() {
            let mut next = Some(cmd);
            while let Some(cmd) = next.take() {
                match cmd {
                    Command::Write(write) => {
                        let mut group = vec![write];
                        while group.len() < MAX_GROUP {
                            match rx.try_recv() {
                                Ok(Command::Write(write)) => group.push(write),
                                Ok(other) => {
                                    next = Some(other);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        self.write_group(group);
                    }
                    Command::SetCompacted { revision, reply } => {
                        let _ = reply.send(self.set_compacted(revision));
                    }
                    Command::Purge { reply } => {
                        let _ = reply.send(self.purge_window());
                    }
                }
            }
        }
    }

    /// Applies a group of writes in one transaction and one commit.
    fn write_group(&mut self, group: Vec<PendingWrite>) {
        let base = self.shared.current.load(Ordering::SeqCst);
        let (items, replies): (Vec<_>, Vec<_>) =
            group.into_iter().map(|w| ((w.key, w.op), w.reply)).unzip();
        let mut outcomes = Vec::with_capacity(items.len());
        let result = (|| -> Result<Revision, StoreError> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut rev = base;
            for (key, op) in items {
                match apply(&tx, &key, op, rev + 1) {
                    Ok(event) => {
                        rev += 1;
                        outcomes.push(Ok(event));
                    }
                    Err(err @ StoreError::Backend(_)) => return Err(err),
                    Err(err) => outcomes.push(Err(err)),
                }
            }
            tx.commit()?;
            Ok(rev)
        })();
        match result {
            Ok(rev) => {
                // Order matters for watch: the revision becomes visible before its event is
                // published, so a watcher that subscribes and then reads the current revision
                // either replays a write from disk or receives it live.
                self.shared.current.store(rev, Ordering::SeqCst);
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let answer = outcome.map(|event| {
                        let kv = event.kv.clone();
                        // No receivers is fine: nobody is watching.
                        let _ = self.events.send(event);
                        kv
                    });
                    let _ = reply.send(answer);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "datastore write failed");
                // The transaction rolled back: every write in the group failed, including
                // those that had passed their checks (and any not yet reached).
                for reply in replies {
                    let _ = reply.send(Err(clone_backend(&err)));
                }
            }
        }
    }

    fn set_compacted(&mut self, revision: Revision) -> Result<(), StoreError> {
        let compacted = self.shared.compacted.load(Ordering::SeqCst);
        let current = self.shared.current.load(Ordering::SeqCst);
        if revision <= compacted {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted,
            });
        }
        if revision > current {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current,
            });
        }
        set_meta(&self.conn, META_COMPACT, revision)?;
        // Published only after the commit and before any row is deleted, so a reader that
        // checks the compacted revision after reading never trusts a partly purged snapshot.
        self.shared.compacted.store(revision, Ordering::SeqCst);
        Ok(())
    }

    fn purge_window(&mut self) -> Result<bool, StoreError> {
        let target = self.shared.compacted.load(Ordering::SeqCst);
        let lo = self.purged;
        if lo >= target {
            return Ok(false);
        }
        let hi = (lo + PURGE_WINDOW).min(target);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // A version superseded at or below the compacted revision can never be read again;
        // neither can a tombstone there. Each superseding row lies in exactly one window.
        tx.execute(
            "DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv \
             WHERE id > ?1 AND id <= ?2 AND prev_revision != 0)",
            params![lo, hi],
        )?;
        tx.execute(
            "DELETE FROM kv WHERE deleted = 1 AND id > ?1 AND id <= ?2",
            params![lo, hi],
        )?;
        set_meta(&tx, META_PURGED, hi)?;
        tx.commit()?;
        self.purged = hi;
        if hi >= target {
            // Give the freed pages back to the filesystem, then the WAL frames that carried
            // them; PASSIVE never waits on readers.
            if let Err(e) = incremental_vacuum(&self.conn) {
                tracing::warn!(error = %e, "datastore vacuum failed");
            }
            let _ = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
        Ok(hi < target)
    }
}

/// Return every free page to the filesystem. The pragma frees one page per step, so it is
/// stepped to the end (a single-step `execute` would free one).
fn incremental_vacuum(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare("PRAGMA incremental_vacuum")?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// Checks one write against the key's latest row and inserts its new row at `rev`.
fn apply(tx: &Connection, key: &str, op: WriteOp, rev: Revision) -> Result<Event, StoreError> {
    let latest = latest_row(tx, key)?;
    let live = latest.as_ref().filter(|l| !l.deleted);
    let check = |expected: Option<Revision>| -> Result<&Latest, StoreError> {
        let current = live.ok_or_else(|| StoreError::NotFound {
            key: key.to_string(),
        })?;
        match expected {
            Some(want) if want != current.id => Err(StoreError::Conflict {
                key: key.to_string(),
                current: Some(current.to_kv(key)),
            }),
            _ => Ok(current),
        }
    };
    let mut insert = tx.prepare_cached(
        "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    match op {
        WriteOp::Create { value } => {
            if live.is_some() {
                return Err(StoreError::AlreadyExists {
                    key: key.to_string(),
                });
            }
            insert.execute(params![rev, key.as_bytes(), 1, 0, rev, 0, value.as_ref()])?;
            Ok(Event {
                kind: EventKind::Created,
                kv: KeyValue {
                    key: key.to_string(),
                    value,
                    create_revision: rev,
                    mod_revision: rev,
                },
                prev: None,
            })
        }
        WriteOp::Update { value, expected } => {
            let current = check(expected)?;
            insert.execute(params![
                rev,
                key.as_bytes(),
                0,
                0,
                current.create_revision,
                current.id,
                value.as_ref()
            ])?;
            Ok(Event {
                kind: EventKind::Updated,
                kv: KeyValue {
                    key: key.to_string(),
                    value,
                    create_revision: current.create_revision,
                    mod_revision: rev,
                },
                prev: Some(current.to_kv(key)),
            })
        }
        WriteOp::Delete { expected } => {
            let current = check(expected)?;
            // The tombstone stores no value: readers take the last value from its
            // predecessor, which compaction keeps as long as the tombstone.
            let empty: &[u8] = &[];
            insert.execute(params![
                rev,
                key.as_bytes(),
                0,
                1,
                current.create_revision,
                current.id,
                empty
            ])?;
            let prev = current.to_kv(key);
            Ok(Event {
                kind: EventKind::Deleted,
                kv: KeyValue {
                    mod_revision: rev,
                    ..prev.clone()
                },
                prev: Some(prev),
            })
        }
    }
}

fn latest_row(conn: &Connection, key: &str) -> Result<Option<Latest>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, create_revision, deleted, value FROM kv WHERE name = ?1 \
         ORDER BY id DESC LIMIT 1",
    )?;
    Ok(stmt
        .query_row(params![key.as_bytes()], |row| {
            Ok(Latest {
                id: row.get(0)?,
                create_revision: row.get(1)?,
                deleted: row.get::<_, i64>(2)? != 0,
                value: row.get(3)?,
            })
        })
        .optional()?)
}

fn clone_backend(err: &StoreError) -> StoreError {
    match err {
        StoreError::Backend(inner) => StoreError::Backend(Arc::clone(inner)),
        other => StoreError::TaskFailed(other.to_string()),
    }
}
