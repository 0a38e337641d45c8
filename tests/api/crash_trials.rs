//! Crash trials of `rkube server`: SIGKILLed under 4 writers and 3 watchers, restarted in
//! the same data dir, then the checks of `support::crash_trial`.
//!
//! `RKUBE_CRASH_TRIALS` sets the number of trials (default 3; `scripts/verify` runs 20),
//! `RKUBE_CRASH_SEED` the seed.

use std::time::Duration;

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
    sigkill_trials("crash trials", trials, &[], Duration::ZERO).await;
}

/// The restarted server compacts before the watchers come back, so each of them gets
/// 410 Gone and must re-list without losing or repeating anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_behind_compaction_get_410_and_relist() {
    let all = sigkill_trials(
        "compaction trials",
        2,
        COMPACT_AT_ONCE,
        Duration::from_secs(2),
    )
    .await;
    let relists: usize = all.iter().map(Figures::relists).sum();
    assert!(relists > 0, "no watch fell behind compaction");
}

/// `trials` SIGKILLs of a server started with `flags`; after each restart the clients wait
/// `hold` before they may reconnect.
async fn sigkill_trials(
    label: &'static str,
    trials: usize,
    flags: &'static [&'static str],
    hold: Duration,
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
            tokio::time::sleep(hold).await;
            (kube_client(&restarted.kubeconfig).await, restarted)
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
