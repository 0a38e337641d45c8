//! Crash trials of `rkube server`: SIGKILLed under 4 writers and 3 watchers, restarted in
//! the same data dir, then the checks of `support::crash_trial`.
//!
//! `RKUBE_CRASH_TRIALS` sets the number of trials (default 3; `scripts/verify` runs 20),
//! `RKUBE_CRASH_SEED` the seed.

use std::time::Duration;

use crate::support::crash_trial::{
    print_summary, print_trial, run_trial, seed_from_env, trials_from_env,
};
use crate::support::{kube_client, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_and_watches_survive_sigkills() {
    let trials = trials_from_env("RKUBE_CRASH_TRIALS", 3);
    let seed = seed_from_env();
    println!("crash trials: {trials} SIGKILLs of rkube server, RKUBE_CRASH_SEED={seed}");
    let mut server = tokio::task::spawn_blocking(Server::start).await.unwrap();
    let mut all = Vec::new();
    for trial in 0..trials {
        let trial_seed = seed.wrapping_add(trial as u64 * 7919);
        let client = kube_client(&server.kubeconfig).await;
        let sigkill = async move || {
            let dir = server.kill();
            let restarted = tokio::task::spawn_blocking(move || Server::start_in(dir))
                .await
                .unwrap();
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
    print_summary("crash trials", &all);
}
