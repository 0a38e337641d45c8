//! Latency benchmark of the embedded store: fsync'd creates (one at a time and concurrent),
//! gets, and ranges over 1,000 keys. Run with `--release`; pass a directory to benchmark a
//! particular disk (default: the system temp dir).

use std::sync::Arc;
use std::time::Instant;

mod support;
use support::report;

use bytes::Bytes;
use rkube::store::{SqliteOptions, SqliteStore, Store, Synchronous};

const KEYS: usize = 1000;

fn value(i: usize) -> Bytes {
    // About the size of a small Pod in JSON.
    let pad = "x".repeat(900);
    Bytes::from(format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"pod-{i}","namespace":"bench"}},"spec":{{"pad":"{pad}"}}}}"#
    ))
}

async fn run(dir: &std::path::Path, sync: Synchronous) -> Result<(), Box<dyn std::error::Error>> {
    let label = format!("{sync:?}");
    let path = dir.join(format!("bench-{label}.db"));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_with(
        &path,
        SqliteOptions {
            synchronous: sync,
            ..SqliteOptions::default()
        },
    )?);

    let mut samples = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let key = format!("/registry/pods/bench/pod-{i:05}");
        let t = Instant::now();
        store.create(&key, value(i)).await?;
        samples.push(t.elapsed());
    }
    report(&format!("[{label}] create, sequential"), samples);

    let mut samples = Vec::with_capacity(KEYS);
    let mut last_pod_write = 0;
    for i in 0..KEYS {
        let key = format!("/registry/pods/bench/pod-{i:05}");
        let current = store.get(&key).await?.map(|kv| kv.mod_revision);
        let t = Instant::now();
        let kv = store.update(&key, value(i + 1), current).await?;
        samples.push(t.elapsed());
        last_pod_write = kv.mod_revision;
    }
    report(&format!("[{label}] update (CAS), sequential"), samples);

    // Concurrent creates: writes queued together share one commit (group commit).
    let tasks = 32;
    let per_task = 50;
    let t_all = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(per_task);
                for i in 0..per_task {
                    let key = format!("/registry/configmaps/bench/cm-{t}-{i}");
                    let start = Instant::now();
                    store.create(&key, value(i)).await.map(|_| ())?;
                    samples.push(start.elapsed());
                }
                Ok::<_, rkube::store::StoreError>(samples)
            })
        })
        .collect();
    let mut samples = Vec::new();
    for handle in handles {
        samples.extend(handle.await??);
    }
    let elapsed = t_all.elapsed();
    let n = samples.len();
    report(
        &format!("[{label}] create, {tasks} concurrent writers"),
        samples,
    );
    println!(
        "{:<44} {:.0} writes/s",
        format!("[{label}] concurrent throughput"),
        n as f64 / elapsed.as_secs_f64()
    );

    if sync != Synchronous::Full {
        let _ = last_pod_write;
        return Ok(());
    }
    let mut samples = Vec::with_capacity(5 * KEYS);
    for i in 0..5 * KEYS {
        let key = format!("/registry/pods/bench/pod-{:05}", i % KEYS);
        let t = Instant::now();
        let got = store.get(&key).await?;
        samples.push(t.elapsed());
        assert!(got.is_some());
    }
    report("get", samples);

    let mut samples = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = Instant::now();
        let result = store
            .range("/registry/pods/bench/", None, None, None)
            .await?;
        samples.push(t.elapsed());
        assert_eq!(result.kvs.len(), KEYS);
    }
    report("range 1,000 keys (~1 KiB each)", samples);

    let mut samples = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = Instant::now();
        let result = store
            .range("/registry/pods/bench/", None, Some(500), None)
            .await?;
        samples.push(t.elapsed());
        assert_eq!(result.kvs.len(), 500);
        assert_eq!(result.count, KEYS as i64);
    }
    report("range limit=500 of 1,000 (+count)", samples);

    let t = Instant::now();
    let mut watch = store.watch("/registry/pods/", 0).await?;
    let mut n = 0;
    while let Some(event) = watch.next().await {
        n += 1;
        if event?.kv.mod_revision >= last_pod_write {
            break;
        }
    }
    println!(
        "{:<44} {n} events in {:.3?}",
        "watch replay from revision 0",
        t.elapsed()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base)?;
    println!("store bench in {}", dir.path().display());
    run(dir.path(), Synchronous::Full).await?;
    run(dir.path(), Synchronous::Normal).await?;
    Ok(())
}
