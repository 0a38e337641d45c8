//! [`SqliteStore`]: the embedded engine. kine's layout — one append-only table whose row id
//! is the revision — with one writer thread and a few reader threads, each with a WAL
//! connection of its own.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use rusqlite::types::Type;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tokio::sync::{broadcast, oneshot, Semaphore};

use super::watch::WatchStream;
use super::writer::{Command, PendingWrite, WriteOp, Writer};
use super::{
    check_key, prefix_end, Event, EventKind, KeyValue, RangeResult, Revision, Store, StoreError,
};

pub(super) const META_COMPACT: &str = "compact_rev";
pub(super) const META_PURGED: &str = "purged_rev";
/// `PRAGMA auto_vacuum` value for INCREMENTAL.
const AUTO_VACUUM_INCREMENTAL: i64 = 2;
/// Bytes of WAL kept after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 16 << 20;
const META_SCHEMA: &str = "schema_version";
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    id              INTEGER PRIMARY KEY,   -- the revision of the write
    name            BLOB    NOT NULL,      -- the key (UTF-8, compared bytewise)
    created         INTEGER NOT NULL,      -- 1: this write created the key
    deleted         INTEGER NOT NULL,      -- 1: tombstone
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,      -- id of the version replaced (0 for a create)
    value           BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// How hard SQLite flushes a commit to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync the WAL on every commit: a returned write survives power loss (the default).
    Full,
    /// fsync only at checkpoints: survives a process crash, may lose the last writes on power loss.
    Normal,
    /// Never fsync (tests only).
    Off,
}

/// Tuning for [`SqliteStore::open_with`].
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Commit durability.
    pub synchronous: Synchronous,
    /// Live events kept for watchers; one that falls further behind catches up from disk.
    pub watch_buffer: usize,
    /// Reader threads, each with a connection: at most this many reads run at once.
    pub read_connections: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            // The ring is allocated whole and keeps the last events' values alive, so it
            // is memory for as long as the node runs; a burst past it costs a disk replay.
            watch_buffer: 1024,
            read_connections: 4,
        }
    }
}

/// Revision counters shared by the writer, the readers and the watchers.
pub(super) struct Shared {
    pub(super) current: AtomicI64,
    pub(super) compacted: AtomicI64,
}

/// Work for a reader thread.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// What readers and watch streams need; outlives the store while a stream holds it.
pub(super) struct Readers {
    path: PathBuf,
    /// Reader threads waiting for work, each owning one connection.
    idle: Mutex<Vec<mpsc::Sender<ReadJob>>>,
    /// One permit per reader thread. Reads on tokio's blocking pool, unbounded, opened a
    /// connection and kept a thread for every read past the pool: an idle node held 36 such
    /// threads, about 0.9 MiB of resident stacks.
    permits: Semaphore,
    pub(super) shared: Arc<Shared>,
}

impl Readers {
    /// Runs `f` on a reader thread with its connection, once one is free.
    pub(super) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let reader = match idle {
            Some(reader) => reader,
            None => self.start_reader()?,
        };
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        // A reader whose thread ended (a read panicked) is not put back.
        let ended = || StoreError::TaskFailed("a store reader thread ended".into());
        reader.send(job).map_err(|_| ended())?;
        let out = rx.await.map_err(|_| ended())?;
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(reader);
        out
    }

    /// A new reader thread with a connection of its own; it ends when its sender is dropped.
    fn start_reader(&self) -> Result<mpsc::Sender<ReadJob>, StoreError> {
        // Opened on the caller's thread: a few file calls, at most `read_connections` times
        // in the store's life.
        let conn = open_reader(&self.path)?;
        let (tx, jobs) = mpsc::channel::<ReadJob>();
        std::thread::Builder::new()
            .name("rkube-store-reader".to_string())
            .spawn(move || {
                for job in jobs {
                    job(&conn);
                }
            })
            .map_err(io_err(&self.path))?;
        Ok(tx)
    }

    /// Fails if history at `revision` may have been purged by now. Called after a read:
    /// rows are only deleted after the compacted revision is raised past them.
    pub(super) fn check_not_compacted(&self, revision: Revision) -> Result<(), StoreError> {
        let compacted = self.shared.compacted.load(Ordering::SeqCst);
        if revision < compacted {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted,
            });
        }
        Ok(())
    }
}

/// Creates `dir` and its missing parents, syncing the directory that holds each new one:
/// SQLite syncs the store's own directory when it creates the WAL, but an entry made here
/// and never synced could vanish in a power loss, taking every acknowledged write with it.
fn create_dir_durably(dir: &Path) -> std::io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    std::fs::create_dir_all(dir)?;
    for created in missing.iter().rev() {
        let holder = match created.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(holder)?.sync_all()?;
    }
    Ok(())
}

/// The embedded datastore: a SQLite file in WAL mode.
pub struct SqliteStore {
    readers: Arc<Readers>,
    writer: Option<mpsc::Sender<Command>>,
    events: Option<broadcast::Sender<Event>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` with durable commits.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens (creating if needed) the store at `path` with explicit options.
    pub fn open_with(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_dir_durably(dir).map_err(io_err(dir))?;
        }
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: path.display().to_string(),
                })
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(io_err(&lock_path)(err)),
        }

        let conn = Connection::open(path)?;
        // Pages freed by compaction go back to the filesystem (incremental vacuum after each
        // purge). A file made before this setting existed is rewritten once to take it.
        let vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |row| row.get(0))?;
        if vacuum != AUTO_VACUUM_INCREMENTAL {
            conn.pragma_update(None, "auto_vacuum", AUTO_VACUUM_INCREMENTAL)?;
            conn.execute_batch("VACUUM")?;
        }
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "cannot switch {} to WAL mode (got {mode})",
                path.display()
            )));
        }
        let sync = match options.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
            Synchronous::Off => "OFF",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        // A checkpointed WAL is truncated back to this size rather than kept at its peak.
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.execute_batch(SCHEMA)?;

        match get_meta(&conn, META_SCHEMA)? {
            None => set_meta(&conn, META_SCHEMA, SCHEMA_VERSION)?,
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::Corrupt(format!(
                    "schema version {other} is not supported (expected {SCHEMA_VERSION})"
                )))
            }
        }
        let compacted = get_meta(&conn, META_COMPACT)?.unwrap_or(0);
        let purged = get_meta(&conn, META_PURGED)?.unwrap_or(0);
        let max_id: Option<Revision> =
            conn.query_row("SELECT MAX(id) FROM kv", [], |row| row.get(0))?;
        // A tombstone at the newest revision disappears when compacted, so the compacted
        // revision is also a floor for the current one.
        let current = max_id.unwrap_or(0).max(compacted);

        let shared = Arc::new(Shared {
            current: AtomicI64::new(current),
            compacted: AtomicI64::new(compacted),
        });
        let (events, _) = broadcast::channel(options.watch_buffer.max(1));
        let writer = Writer {
            conn,
            shared: Arc::clone(&shared),
            events: events.clone(),
            purged,
            _lock: lock,
        };
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rkube-store-writer".to_string())
            .spawn(move || writer.run(rx))
            .map_err(io_err(path))?;
        Ok(SqliteStore {
            readers: Arc::new(Readers {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(options.read_connections.max(1)),
                shared,
            }),
            writer: Some(tx),
            events: Some(events),
            thread: Some(thread),
        })
    }

    /// Reader threads started so far; all idle once no read is running.
    #[cfg(test)]
    pub(crate) fn reader_threads(&self) -> usize {
        self.readers.idle.lock().map_or(0, |idle| idle.len())
    }

    fn send(&self, cmd: Command) -> Result<(), StoreError> {
        self.writer
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(cmd)
            .map_err(|_| StoreError::Closed)
    }

    async fn write(&self, key: &str, op: WriteOp) -> Result<KeyValue, StoreError> {
        check_key(key)?;
        let (reply, answer) = oneshot::channel();
        self.send(Command::Write(PendingWrite {
            key: key.to_string(),
            op,
            reply,
        }))?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

impl Drop for SqliteStore {
    /// Lets the writer finish queued writes, then closes the database and ends all watches.
    fn drop(&mut self) {
        self.writer.take();
        self.events.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("datastore writer thread panicked");
            }
        }
    }
}

impl Store for SqliteStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<KeyValue>, StoreError>> {
        Box::pin(async move {
            check_key(key)?;
            let key = key.to_string();
            self.readers.run(move |conn| read_get(conn, &key)).await
        })
    }

    fn create<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
    ) -> BoxFuture<'a, Result<KeyValue, StoreError>> {
        Box::pin(self.write(key, WriteOp::Create { value }))
    }

    fn update<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        expected_mod_revision: Option<Revision>,
    ) -> BoxFuture<'a, Result<KeyValue, StoreError>> {
        Box::pin(self.write(
            key,
            WriteOp::Update {
                value,
                expected: expected_mod_revision,
            },
        ))
    }

    fn delete<'a>(
        &'a self,
        key: &'a str,
        expected_mod_revision: Option<Revision>,
    ) -> BoxFuture<'a, Result<KeyValue, StoreError>> {
        Box::pin(self.write(
            key,
            WriteOp::Delete {
                expected: expected_mod_revision,
            },
        ))
    }

    fn range<'a>(
        &'a self,
        prefix: &'a str,
        start_after: Option<&'a str>,
        limit: Option<usize>,
        at_revision: Option<Revision>,
    ) -> BoxFuture<'a, Result<RangeResult, StoreError>> {
        Box::pin(async move {
            let current = self.current_revision();
            let revision = match at_revision {
                None => current,
                Some(rev) if rev > current => {
                    return Err(StoreError::FutureRevision {
                        requested: rev,
                        current,
                    })
                }
                Some(rev) => rev,
            };
            self.readers.check_not_compacted(revision)?;
            let query = RangeQuery::new(prefix, start_after, limit, revision);
            let (kvs, more, count) = self.readers.run(move |conn| query.run(conn)).await?;
            self.readers.check_not_compacted(revision)?;
            Ok(RangeResult {
                kvs,
                revision,
                more,
                count,
            })
        })
    }

    fn current_revision(&self) -> Revision {
        self.readers.shared.current.load(Ordering::SeqCst)
    }

    fn compacted_revision(&self) -> Revision {
        self.readers.shared.compacted.load(Ordering::SeqCst)
    }

    fn watch<'a>(
        &'a self,
        prefix: &'a str,
        after: Revision,
    ) -> BoxFuture<'a, Result<WatchStream, StoreError>> {
        Box::pin(async move {
            // Subscribe before reading the current revision: every later write then arrives
            // live, every earlier one is replayed from disk, and the overlap is dropped.
            let live = self.events.as_ref().ok_or(StoreError::Closed)?.subscribe();
            self.readers.check_not_compacted(after)?;
            let replay_until = self.current_revision();
            Ok(WatchStream::new(
                Arc::clone(&self.readers),
                prefix,
                after,
                replay_until,
                live,
            ))
        })
    }

    fn compact(&self, revision: Revision) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            self.send(Command::SetCompacted { revision, reply })?;
            answer.await.map_err(|_| StoreError::Closed)??;
            // Purge in windows so queued writes get the writer between batches.
            loop {
                let (reply, answer) = oneshot::channel();
                self.send(Command::Purge { reply })?;
                if !answer.await.map_err(|_| StoreError::Closed)?? {
                    return Ok(());
                }
            }
        })
    }
}

/// Maps an I/O error about `path` to the store's error.
fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { path, source }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(conn)
}

pub(super) fn get_meta(conn: &Connection, key: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .optional()?)
}

pub(super) fn set_meta(conn: &Connection, key: &str, value: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn key_from(bytes: Vec<u8>, column: usize) -> rusqlite::Result<String> {
    String::from_utf8(bytes)
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(column, Type::Blob, Box::new(err)))
}

fn read_get(conn: &Connection, key: &str) -> Result<Option<KeyValue>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, create_revision, deleted, value FROM kv WHERE name = ?1 \
         ORDER BY id DESC LIMIT 1",
    )?;
    let row = stmt
        .query_row([key.as_bytes()], |row| {
            Ok((
                row.get::<_, Revision>(0)?,
                row.get::<_, Revision>(1)?,
                row.get::<_, i64>(2)? != 0,
                row.get::<_, Vec<u8>>(3)?,
            ))
        })
        .optional()?;
    Ok(match row {
        Some((id, create_revision, false, value)) => Some(KeyValue {
            key: key.to_string(),
            value: Bytes::from(value),
            create_revision,
            mod_revision: id,
        }),
        _ => None,
    })
}

/// A range read, prepared on the async side and run on a reader.
struct RangeQuery {
    lower: Vec<u8>,
    lower_inclusive: bool,
    upper: Option<Vec<u8>>,
    limit: Option<usize>,
    revision: Revision,
}

impl RangeQuery {
    fn new(
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
        revision: Revision,
    ) -> Self {
        let (lower, lower_inclusive) = match start_after {
            Some(after) if after.as_bytes() >= prefix.as_bytes() => (after.as_bytes(), false),
            _ => (prefix.as_bytes(), true),
        };
        RangeQuery {
            lower: lower.to_vec(),
            lower_inclusive,
            upper: prefix_end(prefix.as_bytes()),
            // etcd treats a zero limit as no limit; so does Kubernetes' `limit=0`.
            limit: limit.filter(|&n| n > 0),
            revision,
        }
    }

    /// The rows that hold each key's live value at the revision, in key order. A correlated
    /// lookup rather than GROUP BY: it walks the (name, id) index in order, so SQLite needs
    /// no sort (which spilled values to a temp file and cost 5x on 1,000 keys).
    fn live_rows(&self, columns: &str) -> String {
        format!(
            "SELECT {columns} FROM kv k WHERE k.name {} ?1 {} \
             AND k.id = (SELECT MAX(i.id) FROM kv i WHERE i.name = k.name AND i.id <= ?3) \
             AND k.deleted = 0",
            if self.lower_inclusive { ">=" } else { ">" },
            if self.upper.is_some() {
                "AND k.name < ?2"
            } else {
                "AND ?2 IS NULL"
            },
        )
    }

    fn run(&self, conn: &Connection) -> Result<(Vec<KeyValue>, bool, i64), StoreError> {
        let sql = format!(
            "{} ORDER BY k.name LIMIT ?4",
            self.live_rows("k.id, k.name, k.create_revision, k.value")
        );
        // One row beyond the limit tells whether there are more.
        let fetch = match self.limit {
            Some(n) => i64::try_from(n).unwrap_or(i64::MAX - 1) + 1,
            None => -1,
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut kvs = stmt
            .query_map(
                params![self.lower, self.upper, self.revision, fetch],
                |row| {
                    Ok(KeyValue {
                        mod_revision: row.get(0)?,
                        key: key_from(row.get(1)?, 1)?,
                        create_revision: row.get(2)?,
                        value: Bytes::from(row.get::<_, Vec<u8>>(3)?),
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        let more = matches!(self.limit, Some(n) if kvs.len() > n);
        if !more {
            let count = i64::try_from(kvs.len()).unwrap_or(i64::MAX);
            return Ok((kvs, false, count));
        }
        kvs.truncate(self.limit.unwrap_or(usize::MAX));
        let sql = self.live_rows("COUNT(*)");
        let count = conn
            .prepare_cached(&sql)?
            .query_row(params![self.lower, self.upper, self.revision], |row| {
                row.get(0)
            })?;
        Ok((kvs, true, count))
    }
}

/// Events in `(after, until]` for keys in `[lower, upper)`, oldest first, at most `limit`.
pub(super) fn read_events(
    conn: &Connection,
    lower: &[u8],
    upper: Option<&[u8]>,
    after: Revision,
    until: Revision,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let sql = format!(
        "SELECT k.id, k.name, k.created, k.deleted, k.create_revision, k.prev_revision, \
         k.value, p.value FROM kv k LEFT JOIN kv p ON p.id = k.prev_revision \
         WHERE k.id > ?1 AND k.id <= ?2 AND k.name >= ?3 {} ORDER BY k.id LIMIT ?5",
        if upper.is_some() {
            "AND k.name < ?4"
        } else {
            "AND ?4 IS NULL"
        }
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&sql)?;
    let events = stmt
        .query_map(params![after, until, lower, upper, limit], |row| {
            let rev: Revision = row.get(0)?;
            let key = key_from(row.get(1)?, 1)?;
            let created = row.get::<_, i64>(2)? != 0;
            let deleted = row.get::<_, i64>(3)? != 0;
            let create_revision: Revision = row.get(4)?;
            let prev_revision: Revision = row.get(5)?;
            let value = Bytes::from(row.get::<_, Vec<u8>>(6)?);
            let prev_value: Option<Vec<u8>> = row.get(7)?;
            let prev = match (created, prev_value) {
                (false, Some(prev_value)) => Some(KeyValue {
                    key: key.clone(),
                    value: Bytes::from(prev_value),
                    create_revision,
                    mod_revision: prev_revision,
                }),
                _ => None,
            };
            let (kind, value) = if created {
                (EventKind::Created, value)
            } else if deleted {
                let last = prev.as_ref().map(|p| p.value.clone()).unwrap_or_default();
                (EventKind::Deleted, last)
            } else {
                (EventKind::Updated, value)
            };
            Ok(Event {
                kind,
                kv: KeyValue {
                    key,
                    value,
                    create_revision,
                    mod_revision: rev,
                },
                prev,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(events)
}
