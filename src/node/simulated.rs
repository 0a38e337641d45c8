//! A TEST DOUBLE of the kubelet for API tests without Docker (`rkube server
//! --simulated-node NAME`, hidden, never used by `rkube start`). It registers a Node,
//! renews its Lease, and moves pods bound to it through the states a kubelet would
//! report, without running anything.
//!
//! Pods steer it with the annotation `rkube.io/simulate`:
//! * absent: the pod runs and is Ready;
//! * `not-ready`: it runs but is never Ready;
//! * `succeed` / `fail`: its containers exit 0 / 1 (phase Succeeded / Failed for
//!   restartPolicy Never or OnFailure; with Always the restart count grows instead).
//!
//! A pod being deleted is removed at once, as a kubelet does after its containers stop.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;

use crate::kubelet::node_status::{self, NodeInfo};
use serde_json::{json, Value};

const ANNOTATION: &str = "rkube.io/simulate";

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Register `name` and serve it until the future is dropped.
pub async fn run(client: kube::Client, name: String) {
    if let Err(e) = node_status::register(&client, &info(&name)).await {
        tracing::warn!(error = %e, "simulated node: registering");
    }
    let heartbeat = tokio::spawn(node_status::heartbeat(
        client.clone(),
        info(&name),
        "simulated-node",
    ));
    let pods: Api<Pod> = Api::all(client.clone());
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={name}"));
    let mut stream = watcher::watcher(pods, cfg).default_backoff().boxed();
    let mut ip_counter: u32 = 1;
    let mut seen: HashSet<String> = HashSet::new();
    while let Some(ev) = stream.next().await {
        let pods = match ev {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => vec![p],
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "simulated node watch");
                continue;
            }
        };
        for pod in pods {
            let uid = pod.uid().unwrap_or_default();
            if seen.insert(uid) {
                ip_counter += 1;
            }
            if let Err(e) = sync_pod(&client, &pod, ip_counter).await {
                tracing::debug!(pod = %pod.name_any(), error = %e, "simulated node: pod");
            }
        }
    }
    heartbeat.abort();
}

fn info(name: &str) -> NodeInfo {
    NodeInfo {
        name: name.to_string(),
        ip: "10.0.0.2".into(),
        cpus: 4,
        memory_mb: 8192,
        runtime_version: "simulated://1.0".into(),
        kernel: "simulated".into(),
        os_image: "rkube simulated node".into(),
        control_plane: true,
    }
}

async fn sync_pod(client: &kube::Client, pod: &Pod, ip: u32) -> Result<(), kube::Error> {
    let ns = pod.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let name = pod.name_any();
    if pod.metadata.deletion_timestamp.is_some() {
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        return match api.delete(&name, &dp).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e),
        };
    }
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.clone().unwrap_or_default();
    if phase == "Succeeded" || phase == "Failed" {
        return Ok(());
    }
    let mode = pod
        .annotations()
        .get(ANNOTATION)
        .cloned()
        .unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let restart = spec
        .restart_policy
        .clone()
        .unwrap_or_else(|| "Always".into());
    let started = status
        .start_time
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_else(now);
    let t = now();
    let exit = match mode.as_str() {
        "succeed" => Some(0),
        "fail" => Some(1),
        _ => None,
    };
    let finished = match (exit, restart.as_str()) {
        (Some(0), "Never" | "OnFailure") => Some("Succeeded"),
        (Some(_), "Never") => Some("Failed"),
        _ => None,
    };
    let ready = finished.is_none() && mode != "not-ready" && exit.is_none();
    let already = status
        .container_statuses
        .as_ref()
        .and_then(|c| c.first())
        .map(|c| c.restart_count)
        .unwrap_or(0);
    let restarts = match (exit, finished) {
        (Some(_), None) => already + 1,
        _ => already,
    };
    // A restarting container is only reported again after a pause, like a back-off.
    if restarts > already {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let container_statuses: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| {
            let state = match (finished, exit) {
                (Some(_), Some(code)) => json!({"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }, "startedAt": started, "finishedAt": t, "containerID": format!("simulated://{name}-{}", c.name)}}),
                _ => json!({"running": {"startedAt": started}}),
            };
            json!({"name": c.name, "image": c.image, "imageID": format!("simulated://{}", c.image.clone().unwrap_or_default()),
                   "containerID": format!("simulated://{name}-{}", c.name), "ready": ready, "started": finished.is_none(),
                   "restartCount": restarts, "state": state})
        })
        .collect();
    let cond = |kind: &str, ok: bool| json!({"type": kind, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": t});
    let pod_ip = format!("10.244.{}.{}", (ip / 250) % 250, ip % 250 + 2);
    let patch = json!({"status": {
        "phase": finished.unwrap_or("Running"),
        "hostIP": "10.0.0.2", "hostIPs": [{"ip": "10.0.0.2"}],
        "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": started,
        "conditions": [cond("PodReadyToStartContainers", true), cond("Initialized", true), cond("Ready", ready), cond("ContainersReady", ready), cond("PodScheduled", true)],
        "containerStatuses": container_statuses,
    }});
    // Skip writes that would not change what the pod reports.
    let unchanged = phase == patch["status"]["phase"]
        && status.pod_ip.as_deref() == Some(pod_ip.as_str())
        && status
            .conditions
            .as_ref()
            .and_then(|c| c.iter().find(|x| x.type_ == "Ready"))
            .map(|c| c.status == if ready { "True" } else { "False" })
            .unwrap_or(false)
        && restarts == already;
    if unchanged {
        return Ok(());
    }
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}
