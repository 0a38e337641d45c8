//! Durability: a server killed with SIGKILL in the middle of a stream of creates comes back
//! with every create it had answered 201.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_sigkill() {
    let server = Server::start();
    let client = crate::support::kube_client(&server.kubeconfig).await;
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client, "default");
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let api = api.clone();
        let acked = acked.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("durable-{w}-{i}");
                let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(
                    serde_json::json!({"metadata": {"name": name}, "data": {"i": i.to_string()}}),
                )
                .unwrap();
                match api.create(&Default::default(), &cm).await {
                    Ok(_) => acked.lock().unwrap().push(name),
                    Err(_) => break,
                }
                i += 1;
            }
        }));
    }
    // Let a good number of writes land, then kill mid-stream.
    while acked.lock().unwrap().len() < 150 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let dir = server.kill();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    let restarted = Server::start_in(dir);
    let out = restarted
        .kubectl()
        .run(&["get", "cm", "-n", "default", "-o", "name"]);
    let present: std::collections::HashSet<String> = out
        .ok()
        .lines()
        .map(|l| l.trim_start_matches("configmap/").to_string())
        .collect();
    let missing: Vec<&String> = acked.iter().filter(|n| !present.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged creates lost: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(acked.len() >= 150);
}
