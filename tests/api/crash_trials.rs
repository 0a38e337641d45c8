//! Crash trials of `rkube server`: SIGKILLed under 4 writers and 3 watchers, restarted in
//! the same data dir, then the checks of `support::crash_trial`.
//!
//! `RKUBE_CRASH_TRIALS` sets the number of trials (default 3; `scripts/verify` runs 20),
//! `RKUBE_CRASH_SEED` the seed.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};

use crate::support::crash_trial::{
    print_summary, print_trial, run_trial, seed_from_env, trials_from_env, Figures,
};
use crate::support::{kube_client, Server};

/// Flags that compact the whole history a second after start, so that a watch resuming
/// from before a kill falls behind compaction.
const COMPACT_AT_ONCE: &[&str] = &[
    "--etcd-compaction-interval=1s",
    "--compaction-retain-revisions=0",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_and_watches_survive_sigkills() {
    let trials = trials_from_env("RKUBE_CRASH_TRIALS", 3);
    sigkill_trials("crash trials", trials, &[], false).await;
}

/// The restarted server compacts past everything the watchers saw before they come back,
/// so each of them gets 410 Gone and must re-list without losing or repeating anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_behind_compaction_get_410_and_relist() {
    let all = sigkill_trials("compaction trials", 2, COMPACT_AT_ONCE, true).await;
    let relists: usize = all.iter().map(Figures::relists).sum();
    assert!(relists > 0, "no watch fell behind compaction");
}

/// `trials` SIGKILLs of a server started with `flags`; with `compacted`, the clients may
/// reconnect after each restart only once the history they knew is compacted away.
async fn sigkill_trials(
    label: &'static str,
    trials: usize,
    flags: &'static [&'static str],
    compacted: bool,
) -> Vec<Figures> {
    let seed = seed_from_env();
    println!("{label}: {trials} SIGKILLs of rkube server, RKUBE_CRASH_SEED={seed}");
    let start = move |dir| Server::start_with(dir, flags);
    let first = tempfile::tempdir().unwrap();
    let mut server = tokio::task::spawn_blocking(move || start(first))
        .await
        .unwrap();
    let mut all = Vec::new();
    for trial in 0..trials {
        let trial_seed = seed.wrapping_add(trial as u64 * 7919);
        let client = kube_client(&server.kubeconfig).await;
        let sigkill = async move || {
            let dir = server.kill();
            let restarted = tokio::task::spawn_blocking(move || start(dir))
                .await
                .unwrap();
            let client = kube_client(&restarted.kubeconfig).await;
            if compacted {
                wait_for_compaction(&client).await;
            }
            (client, restarted)
        };
        let (next, figures) = tokio::time::timeout(
            Duration::from_secs(120),
            run_trial(client, trial, trial_seed, sigkill),
        )
        .await
        .unwrap_or_else(|_| panic!("trial {trial} (seed {trial_seed}) did not finish in 120 s"));
        server = next;
        print_trial("trial", trial + 1, trials, trial_seed, &figures);
        all.push(figures);
    }
    print_summary(label, &all);
    all
}

/// Write once, so the newest revision is past any the watchers saw (they may have seen the
/// last write before the kill), then wait until a watch from just before that write gets
/// 410 Gone: the compactor has removed everything the watchers could resume from.
async fn wait_for_compaction(client: &kube::Client) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut marker = ConfigMap::default();
    marker.metadata.generate_name = Some("compaction-marker-".into());
    let created = api
        .create(&PostParams::default(), &marker)
        .await
        .expect("marker write after the restart");
    let rv: u64 = created
        .metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .expect("marker resourceVersion");
    let from = (rv - 1).to_string();
    let start = Instant::now();
    loop {
        let gone = match api.watch(&WatchParams::default().timeout(1), &from).await {
            Ok(stream) => matches!(
                std::pin::pin!(stream).next().await,
                Some(Ok(WatchEvent::Error(e))) if e.code == 410
            ),
            Err(kube::Error::Api(e)) => e.code == 410,
            Err(_) => false,
        };
        if gone {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the restarted server did not compact past RV {from} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
