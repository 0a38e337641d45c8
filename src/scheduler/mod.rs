//! The scheduler: binds each pending pod to the best node that fits it (filter, then
//! score), as kube-scheduler does; a pod that fits nowhere stays Pending with
//! PodScheduled=False and a `FailedScheduling` event saying why.

pub mod filter;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use tokio::sync::Notify;

use crate::controllers::events::{reference, EventType, Recorder};
use crate::informer::Informer;

/// The scheduler name pods ask for by default.
pub const NAME: &str = "default-scheduler";
/// Unschedulable pods are tried again at least this often.
const RETRY: Duration = Duration::from_secs(5);

/// Schedule pods until the future is dropped.
pub async fn run(client: kube::Client) {
    let changed = Arc::new(Notify::new());
    let pods = Informer::<Pod>::start(Api::all(client.clone()), changed.clone());
    let nodes = Informer::<Node>::start(Api::all(client.clone()), changed.clone());
    let recorder = Recorder::new(client.clone(), NAME, "");
    // The last failure reported per pod, so the same event is not repeated every pass.
    let mut reported: HashMap<String, String> = HashMap::new();
    loop {
        let _ = tokio::time::timeout(RETRY, changed.notified()).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let all_pods = pods.list();
        let mut placed: Vec<Pod> = Vec::new();
        let all_nodes = nodes.list();
        let pending: Vec<Arc<Pod>> = all_pods.iter().filter(|p| is_pending(p)).cloned().collect();
        for pod in pending {
            let mut view: Vec<&Pod> = all_pods.iter().map(AsRef::as_ref).collect();
            view.extend(placed.iter());
            let mut rejects: BTreeMap<String, usize> = BTreeMap::new();
            let mut preemption_helps = 0usize;
            let mut best: Option<(i128, String)> = None;
            for node in &all_nodes {
                let r = filter::rejects(&pod, node, &view);
                if r.is_empty() {
                    let s = filter::score(&pod, node, &view);
                    if best.as_ref().is_none_or(|(b, _)| s > *b) {
                        best = Some((s, node.name_any()));
                    }
                } else {
                    if r.iter().all(filter::Reject::preemptable) {
                        preemption_helps += 1;
                    }
                    for x in r {
                        *rejects.entry(x.text()).or_default() += 1;
                    }
                }
            }
            let key = format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any());
            match best {
                Some((_, node)) => {
                    if bind(&client, &recorder, &pod, &node).await {
                        let mut p = (*pod).clone();
                        if let Some(spec) = p.spec.as_mut() {
                            spec.node_name = Some(node);
                        }
                        placed.push(p);
                        reported.remove(&key);
                    }
                }
                None => {
                    let message = failure_message(all_nodes.len(), &rejects, preemption_helps);
                    if reported.get(&key) != Some(&message) {
                        mark_unschedulable(&client, &recorder, &pod, &message).await;
                        reported.insert(key, message);
                    }
                }
            }
        }
        reported.retain(|k, _| {
            all_pods.iter().any(|p| {
                format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any()) == *k
                    && is_pending(p)
            })
        });
    }
}

fn is_pending(p: &Pod) -> bool {
    let spec = p.spec.as_ref();
    spec.is_some_and(|s| s.node_name.as_deref().unwrap_or("").is_empty())
        && spec
            .and_then(|s| s.scheduler_name.as_deref())
            .is_none_or(|n| n == NAME)
        && p.metadata.deletion_timestamp.is_none()
        && !matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
}

/// `0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No
/// preemption victims found for incoming pod.`
fn failure_message(
    nodes: usize,
    rejects: &BTreeMap<String, usize>,
    preemption_helps: usize,
) -> String {
    if nodes == 0 {
        return "no nodes available to schedule pods".into();
    }
    let reasons: Vec<String> = rejects.iter().map(|(r, n)| format!("{n} {r}")).collect();
    let mut preemption = Vec::new();
    if preemption_helps > 0 {
        preemption.push(format!(
            "{preemption_helps} No preemption victims found for incoming pod"
        ));
    }
    if nodes > preemption_helps {
        preemption.push(format!(
            "{} Preemption is not helpful for scheduling",
            nodes - preemption_helps
        ));
    }
    format!(
        "0/{nodes} nodes are available: {}. preemption: 0/{nodes} nodes are available: {}.",
        reasons.join(", "),
        preemption.join(", ")
    )
}

async fn bind(client: &kube::Client, recorder: &Recorder, pod: &Pod, node: &str) -> bool {
    let ns = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let binding = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": name, "namespace": ns, "uid": pod.uid()},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    match api
        .create_subresource::<serde_json::Value, serde_json::Value>(
            "binding",
            &name,
            &PostParams::default(),
            &binding,
        )
        .await
    {
        Ok(_) => {
            recorder
                .publish(
                    &reference(pod),
                    EventType::Normal,
                    "Scheduled",
                    &format!("Successfully assigned {ns}/{name} to {node}"),
                )
                .await;
            true
        }
        Err(e) => {
            tracing::warn!(pod = %name, error = %e, "binding failed");
            false
        }
    }
}

async fn mark_unschedulable(client: &kube::Client, recorder: &Recorder, pod: &Pod, message: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let patch = json!({"status": {"conditions": [{
        "type": "PodScheduled", "status": "False", "lastProbeTime": null, "lastTransitionTime": now,
        "reason": "Unschedulable", "message": message,
    }]}});
    if let Err(e) = api
        .patch_status(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await
    {
        tracing::debug!(error = %e, "marking pod unschedulable");
    }
    recorder
        .publish(
            &reference(pod),
            EventType::Warning,
            "FailedScheduling",
            message,
        )
        .await;
}
