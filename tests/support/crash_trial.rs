//! Crash trials (reference §A1.4): writers and watchers on ConfigMaps while the API server
//! is killed and restarted (a SIGKILLed `rkube server` in the API tier, a `docker kill`ed
//! node in the e2e tier). No acknowledged write is lost, no resourceVersion goes
//! backwards, and every watcher resumes from its last resourceVersion without gaps or
//! duplicates (or gets 410 Gone and relists), ending where a fresh LIST is.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    Api, DeleteParams, ListParams, PostParams, Preconditions, WatchEvent, WatchParams,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Writer tasks, each owning the keys `cm-<w>-0..KEYS`.
const WRITERS: usize = 4;
const KEYS: usize = 16;
const WATCHERS: usize = 3;
/// Longest a single request may take before its outcome counts as unknown.
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Traffic kept up after the restart, so writers and watchers work on the new process.
const AFTER_RESTART: Duration = Duration::from_millis(500);
/// Bound on every wait of a trial: a bug fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(30);

/// The ConfigMap data as the checks compare it.
type Data = BTreeMap<String, String>;
/// name → (resourceVersion, data): a LIST, or a watcher's replayed view.
type View = BTreeMap<String, (u64, Data)>;

/// One write a writer sent.
#[derive(Clone, Debug)]
enum Op {
    Create(String),
    Update(String),
    Delete,
}

impl Op {
    /// The key's value after this op took effect (None: absent).
    fn result(&self) -> Option<&str> {
        match self {
            Op::Create(v) | Op::Update(v) => Some(v),
            Op::Delete => None,
        }
    }

    /// The watch event type this op must produce.
    fn event_type(&self) -> &'static str {
        match self {
            Op::Create(_) => "ADDED",
            Op::Update(_) => "MODIFIED",
            Op::Delete => "DELETED",
        }
    }
}

/// What the client learned about an op.
#[derive(Clone, Debug)]
enum Outcome {
    /// 2xx with this resourceVersion.
    Acked(u64),
    /// A definite 4xx: not applied.
    Rejected(u16),
    /// No answer (connection lost, timeout, 5xx): applied or not.
    Indeterminate,
}

#[derive(Clone, Debug)]
struct Record {
    name: String,
    op: Op,
    outcome: Outcome,
}

/// What writers and watchers share: the client of the current server process (with its
/// generation: 0 before the kill, 1 after) and, per generation, the highest
/// resourceVersion any response carried and what carried it.
struct Ctx {
    client: tokio::sync::watch::Receiver<(usize, kube::Client)>,
    max_rv: Mutex<[(u64, String); 2]>,
    /// Set just before the kill: a request begun after it can only be answered by the
    /// restarted server, even through the old client (a node keeps its host port).
    killing: AtomicBool,
}

impl Ctx {
    fn new(gen: usize, client: kube::Client) -> Ctx {
        Ctx {
            client: tokio::sync::watch::channel((gen, client)).1,
            max_rv: Mutex::default(),
            killing: AtomicBool::new(false),
        }
    }

    fn api(&self, ns: &str) -> (usize, Api<ConfigMap>) {
        let (gen, client) = self.client.borrow().clone();
        let gen = gen.max(usize::from(self.killing.load(Ordering::SeqCst)));
        (gen, Api::namespaced(client, ns))
    }

    fn saw(&self, gen: usize, rv: u64, what: impl FnOnce() -> String) {
        let mut max = self.max_rv.lock().unwrap();
        if rv > max[gen].0 {
            max[gen] = (rv, what());
        }
    }

    fn max_rv(&self, gen: usize) -> (u64, String) {
        self.max_rv.lock().unwrap()[gen].clone()
    }
}

fn rv_of(cm: &ConfigMap) -> u64 {
    cm.metadata
        .resource_version
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("object without a numeric resourceVersion: {cm:?}"))
}

fn name_of(cm: &ConfigMap) -> String {
    cm.metadata.name.clone().unwrap_or_default()
}

fn data_of(cm: &ConfigMap) -> Data {
    cm.data.clone().unwrap_or_default()
}

fn value_of(data: &Data) -> Option<&str> {
    data.get("v").map(String::as_str)
}

fn config_map(name: &str, value: &str, rv: Option<u64>) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_string());
    cm.metadata.resource_version = rv.map(|r| r.to_string());
    cm.data = Some(BTreeMap::from([("v".to_string(), value.to_string())]));
    cm
}

/// Sends one op; `rv` is the key's current resourceVersion (a precondition for update
/// and delete). Returns the resourceVersion of the write.
async fn apply(api: &Api<ConfigMap>, name: &str, op: &Op, rv: Option<u64>) -> kube::Result<u64> {
    let pp = PostParams::default();
    match op {
        Op::Create(v) => Ok(rv_of(&api.create(&pp, &config_map(name, v, None)).await?)),
        Op::Update(v) => Ok(rv_of(
            &api.replace(name, &pp, &config_map(name, v, rv)).await?,
        )),
        Op::Delete => {
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: rv.map(|r| r.to_string()),
                    uid: None,
                }),
                ..DeleteParams::default()
            };
            let gone = api.delete(name, &dp).await?.left();
            Ok(rv_of(&gone.unwrap_or_else(|| {
                panic!("DELETE {name} answered a Status, not the deleted object")
            })))
        }
    }
}

/// The key's live resourceVersion, read until the server answers (None: absent). Used
/// after an op whose outcome is unknown: never retry a write blindly.
async fn reread(ctx: &Ctx, ns: &str, name: &str) -> Option<Option<u64>> {
    let start = Instant::now();
    while start.elapsed() < WAIT {
        let (gen, api) = ctx.api(ns);
        if let Ok(Ok(cm)) = tokio::time::timeout(OP_TIMEOUT, api.get_opt(name)).await {
            let rv = cm.as_ref().map(rv_of);
            if let Some(rv) = rv {
                ctx.saw(gen, rv, || format!("GET {name}"));
            }
            return Some(rv);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// Creates, updates and deletes its own keys with unique values until `stop`.
async fn writer(
    w: usize,
    ns: String,
    ctx: Arc<Ctx>,
    stop: Arc<AtomicBool>,
    seed: u64,
) -> Vec<Record> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut live: Vec<Option<u64>> = vec![None; KEYS];
    let mut log = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let k = rng.random_range(0..KEYS);
        let name = format!("cm-{w}-{k}");
        n += 1;
        let value = format!("w{w}-{n}");
        let op = match live[k] {
            None => Op::Create(value),
            Some(_) if rng.random_bool(0.7) => Op::Update(value),
            Some(_) => Op::Delete,
        };
        let (gen, api) = ctx.api(&ns);
        let outcome = match tokio::time::timeout(OP_TIMEOUT, apply(&api, &name, &op, live[k])).await
        {
            Ok(Ok(rv)) => {
                ctx.saw(gen, rv, || format!("writer {w}: {op:?} of {name}"));
                live[k] = op.result().map(|_| rv);
                Outcome::Acked(rv)
            }
            Ok(Err(kube::Error::Api(s))) if (400..500).contains(&s.code) => {
                Outcome::Rejected(s.code)
            }
            _ => Outcome::Indeterminate,
        };
        let resync = !matches!(outcome, Outcome::Acked(_));
        log.push(Record {
            name: name.clone(),
            op,
            outcome,
        });
        if resync {
            match reread(&ctx, &ns, &name).await {
                Some(rv) => live[k] = rv,
                None => break,
            }
        }
    }
    log
}

/// One watch event as a watcher received it.
#[derive(Clone, Debug)]
struct Seen {
    kind: &'static str,
    name: String,
    rv: u64,
    data: Data,
}

/// Everything one watcher observed.
#[derive(Default, Debug)]
struct WatchLog {
    /// The resourceVersion of the initial LIST.
    start_rv: u64,
    /// The resourceVersion it would resume from.
    last_rv: u64,
    events: Vec<Seen>,
    /// Its initial LIST with every event applied.
    view: View,
    /// Watches re-opened from `last_rv` after a stream ended.
    resumes: usize,
    /// Re-LISTs after 410 Gone, each with the range of history it skipped.
    relists: Vec<(u64, u64)>,
    /// Guarantees broken while receiving.
    violations: Vec<String>,
}

async fn list_view(ctx: &Ctx, ns: &str) -> (u64, View) {
    let start = Instant::now();
    loop {
        let (gen, api) = ctx.api(ns);
        if let Ok(Ok(list)) =
            tokio::time::timeout(OP_TIMEOUT, api.list(&ListParams::default())).await
        {
            let rv = list
                .metadata
                .resource_version
                .as_deref()
                .and_then(|s| s.parse().ok())
                .expect("LIST without a resourceVersion");
            ctx.saw(gen, rv, || "LIST".to_string());
            let view = list
                .items
                .iter()
                .map(|cm| (name_of(cm), (rv_of(cm), data_of(cm))))
                .collect();
            return (rv, view);
        }
        assert!(start.elapsed() < WAIT, "LIST of {ns} kept failing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// LISTs, then watches from the LIST's resourceVersion, resuming from the last one seen
/// whenever the stream ends, until aborted.
async fn watcher(ns: String, ctx: Arc<Ctx>, log: Arc<Mutex<WatchLog>>) {
    let list_gen = ctx.api(&ns).0;
    let (rv, view) = list_view(&ctx, &ns).await;
    {
        let mut l = log.lock().unwrap();
        (l.start_rv, l.last_rv, l.view) = (rv, rv, view);
    }
    // A watch on the restarted server from an RV the killed one gave is a resume too.
    let mut opened = false;
    loop {
        let from = log.lock().unwrap().last_rv;
        let wp = WatchParams::default().timeout(60);
        let (gen, api) = ctx.api(&ns);
        let stream = match api.watch(&wp, &from.to_string()).await {
            Ok(s) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if opened || gen != list_gen {
            log.lock().unwrap().resumes += 1;
        }
        opened = true;
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            let (kind, cm) = match item {
                Ok(WatchEvent::Added(cm)) => ("ADDED", cm),
                Ok(WatchEvent::Modified(cm)) => ("MODIFIED", cm),
                Ok(WatchEvent::Deleted(cm)) => ("DELETED", cm),
                Ok(WatchEvent::Bookmark(b)) => {
                    let brv: u64 = b.metadata.resource_version.parse().unwrap_or(0);
                    let mut l = log.lock().unwrap();
                    if brv < l.last_rv {
                        let msg = format!("BOOKMARK {brv} after event {}", l.last_rv);
                        l.violations.push(msg);
                    }
                    l.last_rv = l.last_rv.max(brv);
                    continue;
                }
                Ok(WatchEvent::Error(s)) if s.code == 410 => {
                    let (rv, view) = list_view(&ctx, &ns).await;
                    let mut l = log.lock().unwrap();
                    let skipped = (l.last_rv, rv);
                    l.relists.push(skipped);
                    (l.last_rv, l.view) = (rv, view);
                    break;
                }
                Ok(WatchEvent::Error(s)) => {
                    let msg = format!("watch error {} {}: {}", s.code, s.reason, s.message);
                    log.lock().unwrap().violations.push(msg);
                    break;
                }
                // The connection broke (the server died): resume from the last RV.
                Err(_) => break,
            };
            let seen = Seen {
                kind,
                name: name_of(&cm),
                rv: rv_of(&cm),
                data: data_of(&cm),
            };
            ctx.saw(gen, seen.rv, || format!("watch event {kind} {}", seen.name));
            let mut l = log.lock().unwrap();
            if seen.rv <= l.last_rv {
                let msg = format!(
                    "{kind} {} at RV {} after RV {} (not strictly increasing)",
                    seen.name, seen.rv, l.last_rv
                );
                l.violations.push(msg);
            }
            l.last_rv = l.last_rv.max(seen.rv);
            if kind == "DELETED" {
                l.view.remove(&seen.name);
            } else {
                l.view
                    .insert(seen.name.clone(), (seen.rv, seen.data.clone()));
            }
            l.events.push(seen);
        }
    }
}

/// What one trial measured.
pub struct Figures {
    acked: usize,
    indeterminate: usize,
    /// HTTP codes of definite rejections (none expected: each writer owns its keys).
    rejected: Vec<u16>,
    events: usize,
    resumes: usize,
    relists: usize,
    traffic: Duration,
    recovery: Duration,
    rv_before_kill: u64,
    rv_after_restart: u64,
}

impl Figures {
    /// How many watches got 410 Gone and re-listed.
    pub fn relists(&self) -> usize {
        self.relists
    }
}

/// Trials to run: `var` from the environment, else `default`.
pub fn trials_from_env(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
        .max(1)
}

/// The seed: `RKUBE_CRASH_SEED`, else a random one (printed, so a failure can be replayed).
pub fn seed_from_env() -> u64 {
    std::env::var("RKUBE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

/// One line per trial: `<label> <n>/<trials> (seed …): …`.
pub fn print_trial(label: &str, n: usize, trials: usize, seed: u64, f: &Figures) {
    println!(
        "{label} {n}/{trials} (seed {seed}): acked {} ops ({} indeterminate, rejected {:?}), \
         {} watch events seen, {} resumes, {} 410 relists, killed after {} ms of traffic at \
         RV {}, recovery {} ms (kill to first successful LIST, RV {})",
        f.acked,
        f.indeterminate,
        f.rejected,
        f.events,
        f.resumes,
        f.relists,
        f.traffic.as_millis(),
        f.rv_before_kill,
        f.recovery.as_millis(),
        f.rv_after_restart,
    );
}

/// The summary line of a run of trials, `<label>: …`.
pub fn print_summary(label: &str, all: &[Figures]) {
    let mut recovery: Vec<Duration> = all.iter().map(|f| f.recovery).collect();
    recovery.sort();
    println!(
        "{label}: {} trials, {} acked ops, {} watch events, {} resumes, {} 410 relists, \
         recovery p50 {} ms, max {} ms; no lost write, no RV regression, no watch gap",
        all.len(),
        all.iter().map(|f| f.acked).sum::<usize>(),
        all.iter().map(|f| f.events).sum::<usize>(),
        all.iter().map(|f| f.resumes).sum::<usize>(),
        all.iter().map(|f| f.relists).sum::<usize>(),
        recovery
            .get(recovery.len() / 2)
            .map_or(0, Duration::as_millis),
        recovery.last().map_or(0, Duration::as_millis),
    );
    assert!(
        all.iter().any(|f| f.acked > 0),
        "no write was ever acknowledged"
    );
}

/// One trial: traffic on namespace `crash-<trial>` through `client`, then `crash` kills the
/// server and brings it back, returning a client of the new one (and whatever the caller
/// keeps of it); then every check. Panics with the violation found.
pub async fn run_trial<T>(
    client: kube::Client,
    trial: usize,
    seed: u64,
    crash: impl AsyncFnOnce() -> (kube::Client, T),
) -> (T, Figures) {
    let mut rng = StdRng::seed_from_u64(seed);
    let ns = format!("crash-{trial}");
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .expect("create the trial namespace");
    let (set_client, current) = tokio::sync::watch::channel((0, client));
    let ctx = Arc::new(Ctx {
        client: current,
        max_rv: Mutex::default(),
        killing: AtomicBool::new(false),
    });

    // Traffic: writers at once, watchers joining at different revisions.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic_start = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let seed = rng.random();
            tokio::spawn(writer(w, ns.clone(), ctx.clone(), stop.clone(), seed))
        })
        .collect();
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let log = Arc::new(Mutex::new(WatchLog::default()));
        watchers.push((
            log.clone(),
            tokio::spawn(watcher(ns.clone(), ctx.clone(), log)),
        ));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let traffic = Duration::from_millis(rng.random_range(100..=800));
    tokio::time::sleep(traffic.saturating_sub(traffic_start.elapsed())).await;

    // Kill, then restart on the same data.
    let traffic = traffic_start.elapsed();
    let crashed_at = Instant::now();
    ctx.killing.store(true, Ordering::SeqCst);
    let (client, kept) = crash().await;
    let (rv_before_kill, _) = ctx.max_rv(0);
    let (rv_after_restart, _) = list_view(&Ctx::new(1, client.clone()), &ns).await;
    let recovery = crashed_at.elapsed();
    set_client.send((1, client)).expect("tasks still listen");

    tokio::time::sleep(AFTER_RESTART).await;
    stop.store(true, Ordering::SeqCst);
    let mut logs = Vec::new();
    for w in writers {
        let log = tokio::time::timeout(WAIT, w)
            .await
            .expect("a writer did not stop")
            .expect("a writer panicked");
        logs.push(log);
    }
    let records: Vec<Record> = logs.into_iter().flatten().collect();
    // What was returned before the final LIST started cannot be newer than it.
    let (new_max, new_what) = ctx.max_rv(1);
    let (final_rv, final_view) = list_view(&ctx, &ns).await;
    check_writes(trial, &records, &final_view);
    // Every response of the killed process counts, also those that arrived late.
    let (old_max, old_what) = ctx.max_rv(0);
    assert!(
        rv_after_restart >= old_max,
        "trial {trial}: resourceVersion went backwards across the restart: the killed server \
         returned RV {old_max} ({old_what}), the first LIST after the restart says \
         {rv_after_restart}"
    );
    assert!(
        final_rv >= new_max,
        "trial {trial}: final LIST RV {final_rv} is below RV {new_max} returned earlier ({new_what})"
    );

    // Watchers must catch up with the final LIST, then their histories are checked.
    let max_acked = records
        .iter()
        .filter_map(|r| match r.outcome {
            Outcome::Acked(rv) => Some(rv),
            _ => None,
        })
        .chain(ours(&final_view).values().map(|(rv, _)| *rv))
        .max()
        .unwrap_or(0);
    let mut figures = Figures {
        acked: records
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Acked(_)))
            .count(),
        indeterminate: records
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Indeterminate))
            .count(),
        rejected: records
            .iter()
            .filter_map(|r| match r.outcome {
                Outcome::Rejected(code) => Some(code),
                _ => None,
            })
            .collect(),
        events: 0,
        resumes: 0,
        relists: 0,
        traffic,
        recovery,
        rv_before_kill,
        rv_after_restart,
    };
    for (i, (log, task)) in watchers.into_iter().enumerate() {
        let caught_up = Instant::now();
        loop {
            let done = {
                let l = log.lock().unwrap();
                l.last_rv >= max_acked && ours(&l.view) == ours(&final_view)
            };
            if done || caught_up.elapsed() > Duration::from_secs(10) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        let _ = task.await;
        let l = log.lock().unwrap();
        // A gap or a duplicate explains a watcher that never catches up: check those first.
        check_watcher(trial, i, &l, &records);
        assert!(
            l.last_rv >= max_acked && ours(&l.view) == ours(&final_view),
            "trial {trial}: watcher {i} never caught up with the final LIST: at RV {} \
             (need {max_acked}); replaying its events differs from the LIST at RV {final_rv}: {}",
            l.last_rv,
            view_diff(&ours(&l.view), &ours(&final_view)),
        );
        figures.events += l.events.len();
        figures.resumes += l.resumes;
        figures.relists += l.relists.len();
    }
    (kept, figures)
}

/// No acknowledged write lost, no value that was never written.
fn check_writes(trial: usize, records: &[Record], final_view: &View) {
    let mut by_key: HashMap<&str, Vec<&Record>> = HashMap::new();
    for r in records {
        by_key.entry(&r.name).or_default().push(r);
    }
    for (name, history) in &by_key {
        let last_acked = history
            .iter()
            .rposition(|r| matches!(r.outcome, Outcome::Acked(_)));
        // The state after the last acknowledged op, or after an op with no answer since.
        let mut allowed: Vec<Option<&str>> = vec![match last_acked {
            Some(i) => history[i].op.result(),
            None => None,
        }];
        let after = last_acked.map_or(0, |i| i + 1);
        for r in &history[after..] {
            if matches!(r.outcome, Outcome::Indeterminate) {
                allowed.push(r.op.result());
            }
        }
        let got = final_view.get(*name);
        let value = got.map(|(_, data)| value_of(data).unwrap_or("<no v>"));
        assert!(
            allowed.contains(&value),
            "trial {trial}: {name} is {value:?} after the restart; allowed: {allowed:?} \
             (last acknowledged op: {:?}); history: {:?}",
            last_acked.map(|i| history[i]),
            history.iter().rev().take(6).collect::<Vec<_>>(),
        );
        if let (Some(i), Some((rv, _))) = (last_acked, got) {
            let Outcome::Acked(acked) = history[i].outcome else {
                unreachable!()
            };
            assert!(
                *rv >= acked,
                "trial {trial}: {name} has RV {rv}, older than its acknowledged RV {acked}"
            );
        }
    }
    for name in final_view.keys().filter(|n| n.starts_with("cm-")) {
        assert!(
            by_key.contains_key(name.as_str()),
            "trial {trial}: {name} exists but was never written"
        );
    }
}

/// Ordered, unique, no gap against the writers' acknowledged history, and the events
/// are the writes that were made.
fn check_watcher(trial: usize, i: usize, log: &WatchLog, records: &[Record]) {
    let who = format!("trial {trial}: watcher {i} (from RV {})", log.start_rv);
    assert!(log.violations.is_empty(), "{who}: {:?}", log.violations);
    assert!(
        log.resumes + log.relists.len() >= 1,
        "{who} never re-watched although the server was killed"
    );
    let mut seen: HashSet<(u64, &str)> = HashSet::new();
    let mut prev = log.start_rv;
    for e in &log.events {
        assert!(
            e.rv > prev,
            "{who}: {} {} at RV {} after RV {prev}",
            e.kind,
            e.name,
            e.rv
        );
        assert!(
            seen.insert((e.rv, &e.name)),
            "{who}: ({}, {}) twice",
            e.rv,
            e.name
        );
        prev = e.rv;
    }
    let skipped = |rv: u64| log.relists.iter().any(|&(from, to)| rv > from && rv <= to);
    let by_rv: HashMap<(u64, &str), &Seen> = log
        .events
        .iter()
        .map(|e| ((e.rv, e.name.as_str()), e))
        .collect();
    let mut acked_at: HashSet<(u64, &str)> = HashSet::new();
    for r in records {
        let Outcome::Acked(rv) = r.outcome else {
            continue;
        };
        acked_at.insert((rv, &r.name));
        if rv <= log.start_rv || skipped(rv) {
            continue;
        }
        let Some(e) = by_rv.get(&(rv, r.name.as_str())) else {
            let around: Vec<_> = log
                .events
                .iter()
                .filter(|e| e.rv + 5 >= rv && e.rv <= rv + 5)
                .map(|e| (e.kind, e.name.as_str(), e.rv))
                .collect();
            panic!(
                "{who} missed the acknowledged {:?} of {} at RV {rv} (events around it: {around:?})",
                r.op, r.name
            );
        };
        assert_eq!(
            e.kind,
            r.op.event_type(),
            "{who}: event type for {:?} of {} at RV {rv}",
            r.op,
            r.name
        );
        if let Some(v) = r.op.result() {
            assert_eq!(
                value_of(&e.data),
                Some(v),
                "{who}: value of {} at RV {rv}",
                r.name
            );
        }
    }
    // Events that match no acknowledged write come from writes with no answer.
    let unanswered: HashSet<(&str, Option<&str>)> = records
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Indeterminate))
        .map(|r| (r.name.as_str(), r.op.result()))
        .collect();
    for e in &log.events {
        if !e.name.starts_with("cm-") || acked_at.contains(&(e.rv, e.name.as_str())) {
            continue;
        }
        let value = if e.kind == "DELETED" {
            None
        } else {
            value_of(&e.data)
        };
        assert!(
            unanswered.contains(&(e.name.as_str(), value)),
            "{who}: {} {} at RV {} with value {value:?} matches no write that was sent",
            e.kind,
            e.name,
            e.rv
        );
    }
}

/// The writers' keys: controllers may still change others (`kube-root-ca.crt`) after the
/// final LIST, so only these are compared.
fn ours(view: &View) -> View {
    view.iter()
        .filter(|(name, _)| name.starts_with("cm-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn view_diff(a: &View, b: &View) -> String {
    let mut out = Vec::new();
    for (k, v) in a {
        if b.get(k) != Some(v) {
            out.push(format!("{k}: watcher {:?} vs LIST {:?}", v, b.get(k)));
        }
    }
    for (k, v) in b {
        if !a.contains_key(k) {
            out.push(format!("{k}: watcher none vs LIST {v:?}"));
        }
    }
    out.truncate(5);
    out.join("; ")
}
