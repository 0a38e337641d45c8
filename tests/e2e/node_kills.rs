//! Crash trials of a whole node: `docker kill` of the node container under 4 writers and 3
//! watchers, then `rkube start` as a user would, the checks of `support::crash_trial`, and
//! the workload's pods running again.
//!
//! `RKUBE_NODE_KILLS` sets the number of kills (default 1; `scripts/verify` runs 5),
//! `RKUBE_CRASH_SEED` the seed.

use std::time::{Duration, Instant};

use crate::cluster::{docker, exclusive, rkube, Cluster, BUSYBOX};
use crate::support::crash_trial::{
    print_summary, print_trial, run_trial, seed_from_env, trials_from_env,
};
use crate::support::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_watches_and_pods_survive_node_kills() {
    let trials = trials_from_env("RKUBE_NODE_KILLS", 1);
    let seed = seed_from_env();
    println!("node kills: {trials} docker kills of a node, RKUBE_CRASH_SEED={seed}");
    let profile = format!("kill-{}", std::process::id());
    let cluster = tokio::task::spawn_blocking({
        let profile = profile.clone();
        move || {
            let _one = exclusive();
            Cluster::start(&profile)
        }
    })
    .await
    .unwrap();
    let k = cluster.kubectl();
    k.run(&[
        "create",
        "deployment",
        "survivor",
        &format!("--image={BUSYBOX}"),
        "--replicas=2",
        "--",
        "sleep",
        "3600",
    ])
    .ok();
    let ready = || {
        eventually("the deployment's 2 pods Running", 120, || {
            k.run(&["get", "deploy", "survivor", "--no-headers"])
                .stdout
                .contains("2/2")
                .then_some(())
        })
    };
    ready();

    let mut all = Vec::new();
    for trial in 0..trials {
        let trial_seed = seed.wrapping_add(trial as u64 * 7919);
        let kill = async || {
            docker(&["kill", &profile]);
            let p = profile.clone();
            let started = tokio::task::spawn_blocking(move || rkube(&["start", "-p", &p]))
                .await
                .unwrap();
            assert_eq!(
                started.code, 0,
                "rkube start after docker kill:\n{}\n{}",
                started.stdout, started.stderr
            );
            (cluster.client().await, ())
        };
        let client = cluster.client().await;
        let ((), figures) = tokio::time::timeout(
            Duration::from_secs(180),
            run_trial(client, trial, trial_seed, kill),
        )
        .await
        .unwrap_or_else(|_| {
            panic!("node kill {trial} (seed {trial_seed}) did not finish in 180 s")
        });
        print_trial("node kill", trial + 1, trials, trial_seed, &figures);
        let back = Instant::now();
        ready();
        println!(
            "node kill {}/{trials}: the deployment's pods Running again {} ms after the checks",
            trial + 1,
            back.elapsed().as_millis()
        );
        all.push(figures);
    }
    print_summary("node kills", &all);
    let deleted = rkube(&["delete", "-p", &profile]);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
}
