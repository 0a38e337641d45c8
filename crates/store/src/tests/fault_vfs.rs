//! Power-loss trials (reference §A6): SQLite's file I/O goes through an in-memory VFS that
//! keeps, per file, the durable content (as of the last xSync) and the writes since; a
//! simulated crash keeps the durable part plus a random subset of the unsynced writes, some
//! torn to a prefix (or none of them, like LazyFS' clear-cache). The store must reopen on
//! that image with every acknowledged write. With `Synchronous::Off` (a store that
//! acknowledges before fsync) the same trials must lose writes: the suite can fail.
//!
//! Directory entries are modelled too: a created file survives a crash only once its
//! directory was synced, and a deleted one comes back until then. The VFS syncs the
//! directory where SQLite's unix VFS does (the first sync of a journal or WAL it opened with
//! create); with those syncs switched off, the trials must lose writes as well.
//!
//! The VFS is registered as SQLite's default, which is process-wide, so each trial runs in
//! a child process: this test binary re-run on the one test `crash_child`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlite_vfs::wip::{WalIndex, WalIndexLock};
use sqlite_vfs::{DatabaseHandle, LockKind, OpenAccess, OpenKind, OpenOptions, Vfs};

use super::*;

/// Selects the child's mode (`full` or `off`); unset in the parent.
const CHILD_ENV: &str = "RKUBE_FAULT_VFS_CHILD";
const SEED_ENV: &str = "RKUBE_FAULT_VFS_SEED";
const REGION: usize = 32768;
/// File operations that cover the store's creation and its first few writes.
const OPEN_OPS: u64 = 80;

/// One write that has not been fsynced yet.
#[derive(Clone, Debug)]
enum Unsynced {
    Write { offset: usize, data: Vec<u8> },
    Truncate(usize),
}

impl Unsynced {
    fn apply(&self, file: &mut Vec<u8>) {
        match self {
            Unsynced::Write { offset, data } => {
                let end = offset + data.len();
                if file.len() < end {
                    file.resize(end, 0);
                }
                file[*offset..end].copy_from_slice(data);
            }
            Unsynced::Truncate(len) => file.resize(*len, 0),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct FileData {
    /// What reads see (the page cache).
    current: Vec<u8>,
    /// What survives a power loss for sure.
    durable: Vec<u8>,
    /// Writes since the last sync, oldest first.
    unsynced: Vec<Unsynced>,
    /// Whether its directory entry survives a power loss (its directory was synced since it
    /// was created).
    linked: bool,
}

/// The files and, for the crash image, those unlinked since their directory's last sync.
#[derive(Default)]
struct Files {
    live: HashMap<String, FileData>,
    /// Deleted files whose directory entry a power loss would bring back.
    unlinked: HashMap<String, FileData>,
}

/// The directory part of a VFS path.
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// What one I/O call does to a file.
enum Op {
    Write(Unsynced),
    Sync,
    /// fsync of the file's directory: every entry made or removed in it becomes durable.
    SyncDir,
}

/// How a crash treats unsynced writes.
#[derive(Clone, Copy, Debug)]
enum Crash {
    /// All of them are lost.
    DropAll,
    /// Each is lost, kept, or kept as a torn prefix.
    RandomTorn,
}

/// Shared memory (the WAL index) of one database: connections work on copies that the
/// VFS crate pulls before taking a lock and pushes when releasing an exclusive one.
#[derive(Default)]
struct Shm {
    regions: HashMap<u32, Vec<u8>>,
    shared: [HashSet<u64>; 8],
    exclusive: [Option<u64>; 8],
}

/// When and how the next power loss happens: at the `at`-th write, truncate or sync of a
/// file under `from` (that operation is in flight), leaving its image under `to`.
struct CrashPlan {
    from: String,
    to: String,
    at: u64,
    seen: u64,
    how: Crash,
    rng: StdRng,
    /// Once taken: how many workload ops had started, and unsynced writes not kept whole.
    taken: Option<(usize, usize)>,
}

/// The in-memory disk: files by path, their lock holders, their shared memory.
#[derive(Default)]
struct Disk {
    files: Mutex<Files>,
    locks: Mutex<HashMap<String, HashMap<u64, LockKind>>>,
    shm: Mutex<HashMap<String, Arc<Mutex<Shm>>>>,
    next_id: AtomicU64,
    plan: Mutex<Option<CrashPlan>>,
    /// Workload ops started so far (set by the workload before it sends one).
    started: AtomicUsize,
    /// The planted fault: directories are never synced, so no created file is durable.
    skip_dir_syncs: AtomicBool,
}

impl Disk {
    /// Applies `op` to `path`, first taking the crash image if this is the planned
    /// operation.
    fn mutate(&self, path: &str, op: Op) -> Result<(), std::io::Error> {
        let mut files = self.files.lock().unwrap();
        if let Some(plan) = self.plan.lock().unwrap().as_mut() {
            if plan.taken.is_none() && path.starts_with(&plan.from) {
                plan.seen += 1;
                if plan.seen >= plan.at {
                    let in_flight = match &op {
                        Op::Write(w) => Some((path, w)),
                        Op::Sync | Op::SyncDir => None,
                    };
                    let dropped = crash_image(&mut files, plan, in_flight);
                    plan.taken = Some((self.started.load(Ordering::SeqCst), dropped));
                }
            }
        }
        if let Op::SyncDir = op {
            let dir = parent(path);
            files.unlinked.retain(|p, _| parent(p) != dir);
            for (_, file) in files.live.iter_mut().filter(|(p, _)| parent(p) == dir) {
                file.linked = true;
            }
            return Ok(());
        }
        let file = files.live.get_mut(path).ok_or_else(|| not_found(path))?;
        match op {
            Op::Write(w) => {
                w.apply(&mut file.current);
                file.unsynced.push(w);
            }
            Op::Sync => {
                file.durable = file.current.clone();
                file.unsynced.clear();
            }
            Op::SyncDir => unreachable!("handled above"),
        }
        Ok(())
    }

    /// Takes the planned crash image now if it was not taken yet.
    fn crash_now(&self) -> (usize, usize) {
        let mut files = self.files.lock().unwrap();
        let mut plan = self.plan.lock().unwrap();
        let plan = plan.as_mut().expect("a crash plan");
        if plan.taken.is_none() {
            let dropped = crash_image(&mut files, plan, None);
            plan.taken = Some((self.started.load(Ordering::SeqCst), dropped));
        }
        plan.taken.unwrap()
    }

    fn crashed(&self) -> bool {
        self.plan
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|p| p.taken.is_some())
    }
}

/// Copies every file under `plan.from` to the same name under `plan.to` as a power loss
/// would leave it; `in_flight` is a write that had not returned. Returns how many unsynced
/// writes were dropped or torn.
fn crash_image(
    files: &mut Files,
    plan: &mut CrashPlan,
    in_flight: Option<(&str, &Unsynced)>,
) -> usize {
    let mut images = Vec::new();
    let mut dropped = 0;
    // A file whose entry is not durable is gone; an unlinked one whose removal is not
    // durable is back (unless a durable file of that name took its place).
    let survivors = files.live.iter().filter(|(_, f)| f.linked).chain(
        files
            .unlinked
            .iter()
            .filter(|(p, _)| !files.live.get(*p).is_some_and(|f| f.linked)),
    );
    for (path, file) in survivors.filter(|(p, _)| p.starts_with(&plan.from)) {
        let mut image = file.durable.clone();
        let extra = in_flight.filter(|(p, _)| p == path).map(|(_, w)| w);
        for w in file.unsynced.iter().chain(extra) {
            match (plan.how, plan.rng.random_range(0..3)) {
                (Crash::DropAll, _) | (Crash::RandomTorn, 0) => dropped += 1,
                (Crash::RandomTorn, 1) => w.apply(&mut image),
                (Crash::RandomTorn, _) => {
                    dropped += 1;
                    if let Unsynced::Write { offset, data } = w {
                        let cut = plan.rng.random_range(0..=data.len());
                        let torn = Unsynced::Write {
                            offset: *offset,
                            data: data[..cut].to_vec(),
                        };
                        torn.apply(&mut image);
                    }
                }
            }
        }
        images.push((path.replacen(&plan.from, &plan.to, 1), image));
    }
    for (path, image) in images {
        let file = FileData {
            current: image.clone(),
            durable: image,
            unsynced: Vec::new(),
            linked: true,
        };
        files.live.insert(path, file);
    }
    dropped
}

struct FaultVfs(Arc<Disk>);

struct Handle {
    disk: Arc<Disk>,
    path: String,
    id: u64,
    lock: LockKind,
    /// Its directory is synced at its next sync, as the unix VFS does for a journal or WAL
    /// opened with create.
    dir_sync_due: bool,
}

struct Index {
    shm: Arc<Mutex<Shm>>,
    id: u64,
    /// The regions as this connection last pulled or pushed them: a push writes back only
    /// the bytes it changed since, so two connections never undo each other's updates.
    base: HashMap<u32, Vec<u8>>,
}

fn not_found(path: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, path.to_string())
}

impl Vfs for FaultVfs {
    type Handle = Handle;

    fn open(&self, db: &str, opts: OpenOptions) -> Result<Handle, std::io::Error> {
        let mut files = self.0.files.lock().unwrap();
        match (files.live.contains_key(db), opts.access) {
            (true, OpenAccess::CreateNew) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    db.to_string(),
                ))
            }
            (false, OpenAccess::Create | OpenAccess::CreateNew) => {
                files.live.insert(db.to_string(), FileData::default());
            }
            (false, _) => return Err(not_found(db)),
            (true, _) => {}
        }
        let created = matches!(opts.access, OpenAccess::Create | OpenAccess::CreateNew);
        let journal = matches!(
            opts.kind,
            OpenKind::MainJournal | OpenKind::SuperJournal | OpenKind::Wal
        );
        Ok(Handle {
            disk: Arc::clone(&self.0),
            path: db.to_string(),
            id: self.0.next_id.fetch_add(1, Ordering::SeqCst),
            lock: LockKind::None,
            dir_sync_due: created && journal,
        })
    }

    fn delete(&self, db: &str) -> Result<(), std::io::Error> {
        let mut files = self.0.files.lock().unwrap();
        // SQLite deletes a WAL without syncing its directory, so the removal is not durable.
        if let Some(file) = files.live.remove(db).filter(|f| f.linked) {
            files.unlinked.insert(db.to_string(), file);
        }
        Ok(())
    }

    fn exists(&self, db: &str) -> Result<bool, std::io::Error> {
        Ok(self.0.files.lock().unwrap().live.contains_key(db))
    }

    fn temporary_name(&self) -> String {
        format!(
            "/rkube-fault-vfs-temp/{}",
            self.0.next_id.fetch_add(1, Ordering::SeqCst)
        )
    }

    fn random(&self, buffer: &mut [i8]) {
        let mut rng = rand::rng();
        for b in buffer {
            *b = rng.random();
        }
    }

    fn sleep(&self, duration: Duration) -> Duration {
        std::thread::sleep(duration);
        duration
    }
}

impl Handle {
    fn with_file<T>(&self, f: impl FnOnce(&mut FileData) -> T) -> Result<T, std::io::Error> {
        let mut files = self.disk.files.lock().unwrap();
        files
            .live
            .get_mut(&self.path)
            .map(f)
            .ok_or_else(|| not_found(&self.path))
    }
}

impl DatabaseHandle for Handle {
    type WalIndex = Index;

    fn size(&self) -> Result<u64, std::io::Error> {
        self.with_file(|f| f.current.len() as u64)
    }

    fn read_exact_at(&mut self, buf: &mut [u8], offset: u64) -> Result<(), std::io::Error> {
        let offset = usize::try_from(offset).expect("offset");
        let got = self.with_file(|f| {
            let available = f.current.len().saturating_sub(offset).min(buf.len());
            if available > 0 {
                buf[..available].copy_from_slice(&f.current[offset..offset + available]);
            }
            available
        })?;
        // SQLite wants the rest of a short read zeroed.
        buf[got..].fill(0);
        if got < buf.len() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> Result<(), std::io::Error> {
        let w = Unsynced::Write {
            offset: usize::try_from(offset).expect("offset"),
            data: buf.to_vec(),
        };
        self.disk.mutate(&self.path, Op::Write(w))
    }

    fn sync(&mut self, _data_only: bool) -> Result<(), std::io::Error> {
        self.disk.mutate(&self.path, Op::Sync)?;
        if std::mem::take(&mut self.dir_sync_due)
            && !self.disk.skip_dir_syncs.load(Ordering::SeqCst)
        {
            self.disk.mutate(&self.path, Op::SyncDir)?;
        }
        Ok(())
    }

    fn set_len(&mut self, size: u64) -> Result<(), std::io::Error> {
        let w = Unsynced::Truncate(usize::try_from(size).expect("size"));
        self.disk.mutate(&self.path, Op::Write(w))
    }

    fn lock(&mut self, lock: LockKind) -> Result<bool, std::io::Error> {
        let mut locks = self.disk.locks.lock().unwrap();
        let holders = locks.entry(self.path.clone()).or_default();
        let others = || {
            holders
                .iter()
                .filter(|(id, _)| **id != self.id)
                .map(|(_, k)| *k)
        };
        let free = match lock {
            LockKind::None => true,
            LockKind::Shared => {
                others().all(|k| !matches!(k, LockKind::Pending | LockKind::Exclusive))
            }
            LockKind::Reserved => others().all(|k| matches!(k, LockKind::None | LockKind::Shared)),
            LockKind::Pending | LockKind::Exclusive => others().all(|k| k == LockKind::None),
        };
        if free {
            holders.insert(self.id, lock);
            self.lock = lock;
        }
        Ok(free)
    }

    fn reserved(&mut self) -> Result<bool, std::io::Error> {
        let locks = self.disk.locks.lock().unwrap();
        Ok(locks.get(&self.path).is_some_and(|h| {
            h.values().any(|k| {
                matches!(
                    k,
                    LockKind::Reserved | LockKind::Pending | LockKind::Exclusive
                )
            })
        }))
    }

    fn current_lock(&self) -> Result<LockKind, std::io::Error> {
        Ok(self.lock)
    }

    fn wal_index(&self, _readonly: bool) -> Result<Index, std::io::Error> {
        let shm = Arc::clone(
            self.disk
                .shm
                .lock()
                .unwrap()
                .entry(self.path.clone())
                .or_default(),
        );
        Ok(Index {
            shm,
            id: self.id,
            base: HashMap::new(),
        })
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(h) = self.disk.locks.lock().unwrap().get_mut(&self.path) {
            h.remove(&self.id);
        }
    }
}

impl WalIndex for Index {
    fn map(&mut self, region: u32) -> Result<[u8; REGION], std::io::Error> {
        let mut shm = self.shm.lock().unwrap();
        let data = shm
            .regions
            .entry(region)
            .or_insert_with(|| vec![0; REGION])
            .clone();
        let out: [u8; REGION] = data.as_slice().try_into().expect("region size");
        self.base.insert(region, data);
        Ok(out)
    }

    fn lock(&mut self, locks: Range<u8>, lock: WalIndexLock) -> Result<bool, std::io::Error> {
        let mut shm = self.shm.lock().unwrap();
        let me = self.id;
        let slots = usize::from(locks.start)..usize::from(locks.end);
        let free = slots.clone().all(|i| match lock {
            WalIndexLock::None => true,
            WalIndexLock::Shared => shm.exclusive[i].is_none_or(|o| o == me),
            WalIndexLock::Exclusive => {
                shm.exclusive[i].is_none_or(|o| o == me) && shm.shared[i].iter().all(|&o| o == me)
            }
        });
        if free {
            for i in slots {
                shm.shared[i].remove(&me);
                if shm.exclusive[i] == Some(me) {
                    shm.exclusive[i] = None;
                }
                match lock {
                    WalIndexLock::None => {}
                    WalIndexLock::Shared => {
                        shm.shared[i].insert(me);
                    }
                    WalIndexLock::Exclusive => shm.exclusive[i] = Some(me),
                }
            }
        }
        Ok(free)
    }

    fn delete(self) -> Result<(), std::io::Error> {
        // Only the last connection deletes: the next open starts from a fresh index.
        self.shm.lock().unwrap().regions.clear();
        Ok(())
    }

    fn pull(&mut self, region: u32, data: &mut [u8; REGION]) -> Result<(), std::io::Error> {
        let shm = self.shm.lock().unwrap();
        if let Some(shared) = shm.regions.get(&region) {
            data.copy_from_slice(shared);
            self.base.insert(region, shared.clone());
        }
        Ok(())
    }

    fn push(&mut self, region: u32, data: &[u8; REGION]) -> Result<(), std::io::Error> {
        let mut shm = self.shm.lock().unwrap();
        let shared = shm.regions.entry(region).or_insert_with(|| vec![0; REGION]);
        let base = self.base.entry(region).or_insert_with(|| vec![0; REGION]);
        for i in 0..REGION {
            if data[i] != base[i] {
                shared[i] = data[i];
            }
        }
        base.copy_from_slice(data);
        Ok(())
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        let mut shm = self.shm.lock().unwrap();
        for i in 0..8 {
            shm.shared[i].remove(&self.id);
            if shm.exclusive[i] == Some(self.id) {
                shm.exclusive[i] = None;
            }
        }
    }
}

/// One op of the workload.
#[derive(Clone, Debug)]
struct Sent {
    key: String,
    /// The value after it (None: deleted).
    value: Option<Bytes>,
    /// Its revision, once acknowledged.
    acked: Option<Revision>,
}

/// Totals over a child's rounds, printed on one line for the parent.
#[derive(Debug, Default)]
struct Tally {
    rounds: usize,
    acked: usize,
    unsynced_dropped: usize,
    lost: usize,
    /// Rounds whose store would not reopen, or reopened but read back damaged.
    open_failures: usize,
    first_problem: Option<String>,
}

/// Writes until the crash, one op at a time, recording each before it is sent and its
/// revision once acknowledged.
async fn workload(
    store: Arc<SqliteStore>,
    disk: Arc<Disk>,
    sent: Arc<Mutex<Vec<Sent>>>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut live: BTreeMap<String, Revision> = BTreeMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut n = 0;
    while !disk.crashed() && std::time::Instant::now() < deadline {
        n += 1;
        let key = format!("/registry/configmaps/t/k{}", rng.random_range(0..24));
        // Values up to 2 KiB, so the WAL passes its checkpoint size within a round.
        let value = Bytes::from(format!("{n}-{}", "x".repeat(rng.random_range(100..2000))));
        let delete = live.contains_key(&key) && rng.random_bool(0.25);
        let index = {
            let mut s = sent.lock().unwrap();
            s.push(Sent {
                key: key.clone(),
                value: (!delete).then(|| value.clone()),
                acked: None,
            });
            disk.started.store(s.len(), Ordering::SeqCst);
            s.len() - 1
        };
        let result = match (delete, live.get(&key)) {
            (true, Some(&rev)) => store.delete(&key, Some(rev)).await,
            (false, Some(&rev)) => store.update(&key, value, Some(rev)).await,
            (_, None) => store.create(&key, value).await,
        };
        let kv = result.expect("write on the live store");
        if delete {
            live.remove(&key);
        } else {
            live.insert(key, kv.mod_revision);
        }
        sent.lock().unwrap()[index].acked = Some(kv.mod_revision);
        if n % 150 == 0 {
            // Compaction purges rows and vacuums: more checkpointed and truncated pages.
            let _ = store.compact(store.current_revision() - 20).await;
        }
    }
}

/// Runs `rounds` crash rounds in this process with the fault VFS as the default VFS;
/// `skip_dir_syncs` plants the fault of a VFS that never syncs a directory.
fn run_child(synchronous: Synchronous, skip_dir_syncs: bool, rounds: usize, seed: u64) -> Tally {
    let disk = Arc::new(Disk::default());
    disk.skip_dir_syncs.store(skip_dir_syncs, Ordering::SeqCst);
    sqlite_vfs::register("rkube-fault", FaultVfs(Arc::clone(&disk)), true).expect("register VFS");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let options = SqliteOptions {
        synchronous,
        ..SqliteOptions::default()
    };
    for round in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        let (live_dir, crash_dir) = (dir.path().join("live"), dir.path().join("crashed"));
        let how = if round % 2 == 0 {
            Crash::DropAll
        } else {
            Crash::RandomTorn
        };
        // The crash hits a random write, truncate or sync of the store's files, counted from
        // before it creates them; every fourth round, within its creation and first writes.
        let at = if round % 4 == 3 {
            rng.random_range(1..OPEN_OPS)
        } else {
            rng.random_range(1..2000)
        };
        *disk.plan.lock().unwrap() = Some(CrashPlan {
            from: format!("{}/", live_dir.display()),
            to: format!("{}/", crash_dir.display()),
            at,
            seen: 0,
            how,
            rng: StdRng::seed_from_u64(rng.random()),
            taken: None,
        });
        disk.started.store(0, Ordering::SeqCst);
        let store =
            SqliteStore::open_with(&live_dir.join("state.db"), options.clone()).expect("open");
        let store = Arc::new(store);
        let sent = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(workload(
            store.clone(),
            disk.clone(),
            sent.clone(),
            rng.random(),
        ));
        let (started, dropped) = disk.crash_now();
        drop(store);
        let sent = sent.lock().unwrap().clone();
        // Ops are sequential: all but the last one started were acknowledged before the
        // crash; that one was in flight.
        let acked_before = started.saturating_sub(1);
        assert!(sent[..acked_before].iter().all(|s| s.acked.is_some()));
        tally.rounds += 1;
        tally.acked += acked_before;
        tally.unsynced_dropped += dropped;

        let reopened = match SqliteStore::open_with(&crash_dir.join("state.db"), options.clone()) {
            Ok(s) => s,
            Err(err) => {
                tally.open_failures += 1;
                tally
                    .first_problem
                    .get_or_insert(format!("round {round} ({how:?}): reopen failed: {err}"));
                continue;
            }
        };
        let mut by_key: BTreeMap<&str, Vec<(usize, &Sent)>> = BTreeMap::new();
        for (i, s) in sent.iter().enumerate() {
            by_key.entry(&s.key).or_default().push((i, s));
        }
        let last_acked_rev = sent[..acked_before]
            .iter()
            .filter_map(|s| s.acked)
            .max()
            .unwrap_or(0);
        if reopened.current_revision() < last_acked_rev {
            tally.lost += 1;
            tally.first_problem.get_or_insert(format!(
                "round {round} ({how:?}): revision {} after reopen, {last_acked_rev} acknowledged",
                reopened.current_revision()
            ));
        }
        for (key, ops) in &by_key {
            let got = match rt.block_on(reopened.get(key)) {
                Ok(kv) => kv.map(|kv| kv.value),
                // A store that opens but reads back damaged is as broken as one that does
                // not open (seen with synchronous=OFF: "database disk image is malformed").
                Err(err) => {
                    tally.open_failures += 1;
                    tally.first_problem.get_or_insert(format!(
                        "round {round} ({how:?}): reading {key} after reopen failed: {err}"
                    ));
                    break;
                }
            };
            let last = ops.iter().rev().find(|(i, _)| *i < acked_before);
            let mut allowed: Vec<Option<Bytes>> = vec![last.and_then(|(_, s)| s.value.clone())];
            allowed.extend(
                ops.iter()
                    .filter(|(i, _)| *i >= acked_before)
                    .map(|(_, s)| s.value.clone()),
            );
            if !allowed.contains(&got) {
                tally.lost += 1;
                let short = |v: &Option<Bytes>| {
                    v.as_ref()
                        .map(|b| String::from_utf8_lossy(&b[..b.len().min(8)]).into_owned())
                };
                tally.first_problem.get_or_insert(format!(
                    "round {round} ({how:?}): {key} is {:?} after the crash; the last acknowledged \
                     write made it {:?} (of {acked_before} acknowledged writes)",
                    short(&got),
                    short(&allowed[0]),
                ));
            }
        }
    }
    tally
}

/// The child: does nothing unless run by [`trials`] with its environment.
#[test]
fn crash_child() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (synchronous, skip_dir_syncs) = match mode.as_str() {
        "full" => (Synchronous::Full, false),
        "off" => (Synchronous::Off, false),
        "normal" => (Synchronous::Normal, false),
        "full-no-dir-sync" => (Synchronous::Full, true),
        other => panic!("unknown mode {other}"),
    };
    let seed = std::env::var(SEED_ENV).unwrap().parse().unwrap();
    let tally = run_child(synchronous, skip_dir_syncs, 24, seed);
    println!(
        "FAULT-VFS rounds={} acked={} unsynced_dropped={} lost={} open_failures={} first_problem={:?}",
        tally.rounds, tally.acked, tally.unsynced_dropped, tally.lost, tally.open_failures, tally.first_problem
    );
}

/// Runs the child in `mode`; returns its tally line's numbers by name.
fn trials(mode: &str) -> (HashMap<String, String>, String) {
    let seed: u64 = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    // The test's name is its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let child = format!("{module}::crash_child");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([child.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env(SEED_ENV, seed.to_string())
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child ({mode}, seed {seed}) failed:\n{stdout}\n{stderr}"
    );
    let line = stdout
        .lines()
        .find_map(|l| l.find("FAULT-VFS ").map(|at| l[at..].to_string()))
        .unwrap_or_else(|| panic!("no tally from the child:\n{stdout}"));
    println!("synchronous={mode} seed={seed}: {line}");
    let fields = line
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (fields, line)
}

fn count(fields: &HashMap<String, String>, name: &str) -> usize {
    fields[name].parse().unwrap()
}

#[test]
fn acknowledged_writes_survive_power_loss() {
    let (f, line) = trials("full");
    assert!(
        count(&f, "acked") > 0 && count(&f, "unsynced_dropped") > 0,
        "{line}"
    );
    assert_eq!(
        count(&f, "open_failures"),
        0,
        "the store must reopen on a torn WAL: {line}"
    );
    assert_eq!(count(&f, "lost"), 0, "acknowledged writes lost: {line}");
}

/// The planted faults: a store that acknowledges before fsync loses acknowledged writes
/// under the same trials, so a missing fsync cannot pass unnoticed. `Normal` (fsync only at
/// checkpoints) loses them too, as its documentation says, and so does a store whose files'
/// directory entries are never synced.
#[test]
fn acknowledging_before_fsync_loses_writes() {
    for mode in ["off", "normal", "full-no-dir-sync"] {
        let (f, line) = trials(mode);
        assert!(
            count(&f, "lost") + count(&f, "open_failures") > 0,
            "synchronous={mode} lost nothing, so the trials cannot see a missing fsync: {line}"
        );
    }
}
