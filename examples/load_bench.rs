//! Load figures, printed (not asserted): p50/p99 per verb of a real `rkube server` on
//! loopback under an open-loop mix of create, get, list (1,000 objects), update and delete
//! at 100 requests/s with 50 open watches, then at 1,000 requests/s; and, on Docker, pod
//! density: 30 pods created at 5/s, then a batch of 30, creation → Running beside a bare
//! `docker run` of the same image in the same run.
//!
//! Run with `scripts/bench load` (release build). `RKUBE_LOAD_SECONDS` (default 60) and
//! `RKUBE_LOAD_BURST_SECONDS` (default 20) bound the two API phases, `RKUBE_LOAD_WATCHES`
//! (default 50) sets the open watches; `load api` or
//! `load pods` as the first argument runs one part.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};

mod support;
use support::{bare_runs, build_busybox_image, report, Error, Rkube, Server};

/// Objects in the listed namespace: the goal's "list of 1,000 objects".
const LISTED: usize = 1000;
/// Objects gets and updates pick from.
const POOL: usize = 100;
/// Watches held open on the loaded namespace throughout (`RKUBE_LOAD_WATCHES` to change, to
/// see what their fan-out costs).
const WATCHES: u64 = 50;
/// Requests in flight at most.
const IN_FLIGHT: usize = 64;
/// Pods in each density run.
const PODS: usize = 30;
const IMAGE: &str = "rkube-bench/busybox:1";

/// The verbs of the mix, in the order each tick takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Verb {
    Create,
    Get,
    List,
    Update,
    Delete,
}

const MIX: [Verb; 5] = [
    Verb::Create,
    Verb::Get,
    Verb::List,
    Verb::Update,
    Verb::Delete,
];

impl Verb {
    fn goal(self) -> &'static str {
        match self {
            Verb::List => "goal p99 ≤ 100 ms",
            _ => "goal p99 ≤ 5 ms",
        }
    }
}

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name}, "data": {"v": value, "pad": "x".repeat(900)}
    }))
    .expect("a valid ConfigMap")
}

/// A number from the environment variable `var`, or `default`.
fn env_number(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn namespace(client: &kube::Client, name: &str) -> Result<(), Error> {
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}

/// Create `names` in `api`, 16 at a time.
async fn fill(api: &Api<ConfigMap>, names: Vec<String>) -> Result<(), Error> {
    let results: Vec<Result<ConfigMap, kube::Error>> = futures::stream::iter(names)
        .map(|n| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &cm(&n, "0")).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(())
}

/// One phase of the open-loop mix: a request every 1/`rate` s for `secs`, whatever the
/// answers' latency (a closed loop would hide queueing), each verb in turn.
async fn phase(client: &kube::Client, tag: &str, rate: u64, secs: u64) -> Result<(), Error> {
    let loaded: Api<ConfigMap> = Api::namespaced(client.clone(), "load");
    let listed: Api<ConfigMap> = Api::namespaced(client.clone(), "load-list");
    let per_verb = (rate * secs).div_ceil(MIX.len() as u64) as usize;
    // Deletes take objects made beforehand, so a delete never races its own create.
    fill(
        &loaded,
        (0..per_verb).map(|k| format!("doomed-{tag}-{k}")).collect(),
    )
    .await?;
    let samples: Arc<Mutex<HashMap<Verb, Vec<Duration>>>> = Default::default();
    let errors: Arc<Mutex<HashMap<Verb, (usize, String)>>> = Default::default();
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    // At most this many requests in flight, as a client's connection pool allows; a
    // request waiting for a slot is timed from its tick, so queueing shows in its latency.
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..rate * secs {
        tick.tick().await;
        let t = Instant::now();
        let verb = MIX[(i % MIX.len() as u64) as usize];
        let k = (i / MIX.len() as u64) as usize;
        let (loaded, listed) = (loaded.clone(), listed.clone());
        let (samples, errors, tag) = (samples.clone(), errors.clone(), tag.to_string());
        let slots = slots.clone();
        tasks.push(tokio::spawn(async move {
            let _slot = slots
                .acquire()
                .await
                .expect("the semaphore is never closed");
            let pooled = format!("pool-{}", k % POOL);
            let done: Result<(), kube::Error> = match verb {
                Verb::Create => loaded
                    .create(&PostParams::default(), &cm(&format!("new-{tag}-{k}"), "0"))
                    .await
                    .map(drop),
                Verb::Get => loaded.get(&pooled).await.map(drop),
                Verb::List => listed.list(&ListParams::default()).await.map(drop),
                // No resourceVersion: an unconditional update, as a controller writing
                // its own object makes.
                Verb::Update => loaded
                    .replace(
                        &pooled,
                        &PostParams::default(),
                        &cm(&pooled, &k.to_string()),
                    )
                    .await
                    .map(drop),
                Verb::Delete => loaded
                    .delete(&format!("doomed-{tag}-{k}"), &DeleteParams::default())
                    .await
                    .map(drop),
            };
            let took = t.elapsed();
            match done {
                Ok(()) => samples.lock().unwrap().entry(verb).or_default().push(took),
                Err(e) => {
                    let mut errors = errors.lock().unwrap();
                    errors.entry(verb).or_insert((0, e.to_string())).0 += 1;
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed();
    println!(
        "-- {rate} req/s offered for {secs} s: {:.0} req/s done",
        (rate * secs) as f64 / elapsed.as_secs_f64()
    );
    let mut samples = std::mem::take(&mut *samples.lock().unwrap());
    let errors = errors.lock().unwrap();
    for verb in MIX {
        let name = format!(
            "{verb:?} at {rate}/s{}",
            if verb == Verb::List {
                " (1,000 objects)"
            } else {
                ""
            }
        );
        let p = report(&name, samples.remove(&verb).unwrap_or_default());
        println!(
            "{:<52} p99 {:.1} ms, {}{}",
            "",
            p.p99.as_secs_f64() * 1e3,
            verb.goal(),
            match errors.get(&verb) {
                Some((n, first)) => format!(", {n} FAILED (first: {first})"),
                None => String::new(),
            }
        );
    }
    Ok(())
}

async fn api_load() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path())?;
    let client = server.client().await?;
    namespace(&client, "load").await?;
    namespace(&client, "load-list").await?;
    let listed: Api<ConfigMap> = Api::namespaced(client.clone(), "load-list");
    fill(&listed, (0..LISTED).map(|i| format!("cm-{i:04}")).collect()).await?;
    let loaded: Api<ConfigMap> = Api::namespaced(client.clone(), "load");
    fill(&loaded, (0..POOL).map(|i| format!("pool-{i}")).collect()).await?;

    // The watchers drain their streams and count what they see; a watch the server ends
    // (its timeout) is reopened from the last resourceVersion seen.
    let delivered = Arc::new(AtomicU64::new(0));
    let rv = support::current_rv(&loaded).await?;
    let mut watchers = Vec::new();
    let watches = env_number("RKUBE_LOAD_WATCHES", WATCHES);
    for _ in 0..watches {
        let (api, delivered, mut rv) = (loaded.clone(), delivered.clone(), rv.clone());
        watchers.push(tokio::spawn(async move {
            loop {
                let Ok(stream) = api.watch(&WatchParams::default().timeout(290), &rv).await else {
                    return;
                };
                let mut stream = stream.boxed();
                while let Some(Ok(ev)) = stream.next().await {
                    if let WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) =
                        ev
                    {
                        rv = o.metadata.resource_version.unwrap_or_default();
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    println!(
        "== API under load on loopback ({watches} watches open, kube-rs client, TLS; server RSS {} KiB)",
        server.rss_kib().unwrap_or(0)
    );
    phase(&client, "steady", 100, env_number("RKUBE_LOAD_SECONDS", 60)).await?;
    println!(
        "server RSS {} KiB; watch events delivered {}",
        server.rss_kib().unwrap_or(0),
        delivered.load(Ordering::Relaxed)
    );
    phase(
        &client,
        "burst",
        1000,
        env_number("RKUBE_LOAD_BURST_SECONDS", 20),
    )
    .await?;
    println!(
        "server RSS {} KiB; watch events delivered {}",
        server.rss_kib().unwrap_or(0),
        delivered.load(Ordering::Relaxed)
    );
    for w in watchers {
        w.abort();
    }
    Ok(())
}

fn sleeper(name: &str) -> Result<Pod, Error> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"bench": "density"}},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "c", "image": IMAGE, "command": ["sleep", "3600"],
            "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]}
    }))?)
}

/// Create `PODS` pods, `gap` apart (all at once for zero), and return each one's time from
/// its create call to Running as a watch on the namespace saw it.
async fn density(pods: &Api<Pod>, tag: &str, gap: Duration) -> Result<Vec<Duration>, Error> {
    let rv = support::current_rv(pods).await?;
    let wp = WatchParams::default().labels("bench=density").timeout(290);
    let mut stream = pods.watch(&wp, &rv).await?.boxed();
    let created: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let creator = {
        let (pods, created, tag) = (pods.clone(), created.clone(), tag.to_string());
        tokio::spawn(async move {
            let mut calls = Vec::new();
            for i in 0..PODS {
                let name = format!("{tag}-{i}");
                created.lock().unwrap().insert(name.clone(), Instant::now());
                let (pods, pod) = (pods.clone(), sleeper(&name).map_err(|e| e.to_string()));
                calls.push(tokio::spawn(async move {
                    pods.create(&PostParams::default(), &pod?)
                        .await
                        .map_err(|e| e.to_string())
                }));
                if !gap.is_zero() {
                    tokio::time::sleep(gap).await;
                }
            }
            for c in calls {
                c.await.map_err(|e| e.to_string())??;
            }
            Ok::<_, String>(())
        })
    };
    let mut running = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while running.len() < PODS {
        let next = tokio::time::timeout_at(deadline.into(), stream.try_next()).await;
        let Ok(Some(WatchEvent::Modified(p) | WatchEvent::Added(p))) =
            next.map_err(|_| format!("{} of {PODS} pods Running after 300 s", running.len()))?
        else {
            continue;
        };
        let name = p.metadata.name.clone().unwrap_or_default();
        let is_running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if is_running && !running.contains_key(&name) {
            if let Some(t) = created.lock().unwrap().get(&name) {
                running.insert(name, t.elapsed());
            }
        }
    }
    creator.await??;
    Ok(running.into_values().collect())
}

async fn delete_pods(pods: &Api<Pod>) -> Result<(), Error> {
    let lp = ListParams::default().labels("bench=density");
    pods.delete_collection(&DeleteParams::default().grace_period(0), &lp)
        .await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pods.list(&lp).await?.items.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

async fn pod_density(r: &Rkube) -> Result<(), Error> {
    r.run(&["start"])?;
    let pods: Api<Pod> = Api::namespaced(r.client().await?, "default");
    println!("== pod density on Docker: creation → Running, beside a bare `docker run -d`");
    let gap = Duration::from_millis(200);
    let paced = report(
        "30 pods at 5/s (rkube)",
        density(&pods, "paced", gap).await?,
    );
    delete_pods(&pods).await?;
    let bare_paced = report(
        "30 `docker run -d` at 5/s (baseline)",
        bare_runs(IMAGE, PODS, gap)?.0,
    );
    let batch = report(
        "a batch of 30 pods (rkube)",
        density(&pods, "batch", Duration::ZERO).await?,
    );
    delete_pods(&pods).await?;
    let bare_batch = report(
        "30 `docker run -d` at once (baseline)",
        bare_runs(IMAGE, PODS, Duration::ZERO)?.0,
    );
    println!(
        "{:<52} p50 {:.2}x, batch p50 {:.2}x  (SLO: p99 ≤ 5 s)",
        "rkube / docker run",
        paced.p50.as_secs_f64() / bare_paced.p50.as_secs_f64(),
        batch.p50.as_secs_f64() / bare_batch.p50.as_secs_f64()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let part = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    if part == "all" || part == "api" {
        api_load().await?;
    }
    if part == "all" || part == "pods" {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        build_busybox_image(&root.join("target/bench-images/busybox"), IMAGE)?;
        let r = Rkube {
            bin: support::rkube_bin()?,
            home: root.join("target/bench-home"),
            profile: format!("load-{}", std::process::id()),
        };
        let result = pod_density(&r).await;
        let _ = r.run(&["delete"]);
        result?;
    }
    Ok(())
}
