//! The scheduler: binds each pending pod to the best node that fits it (filter, then
//! score), as kube-scheduler does; a pod that fits nowhere stays Pending with
//! PodScheduled=False and a `FailedScheduling` event saying why.

pub mod filter;
mod placement;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;

use crate::controllers::events::{reference, EventType, Recorder};
use crate::controllers::object_key;
use crate::informer::{Changes, SharedCaches};
use placement::{Choice, Placement};

/// The scheduler name pods ask for by default.
pub const NAME: &str = "default-scheduler";
/// Unschedulable pods are tried again at least this often.
const RETRY: Duration = Duration::from_secs(5);
/// A pass waits this long after a change, so a burst of new pods is placed in one pass.
const SETTLE: Duration = Duration::from_millis(2);

/// Schedule pods until the future is dropped, reading pods and nodes from the process's
/// shared caches and writing bindings and events as `client`.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    let mut changes = Changes::of::<Pod>(&caches).and::<Node>(&caches);
    let recorder = Recorder::new(client.clone(), NAME, "");
    // The last failure reported per pod, so the same event is not repeated every pass.
    let mut reported: HashMap<String, String> = HashMap::new();
    // Pods bound whose binding the cache does not show yet, by UID, with their node.
    let mut assumed: HashMap<String, String> = HashMap::new();
    loop {
        let all_pods = caches.all::<Pod>().await;
        let all_nodes = caches.all::<Node>().await;
        // An assumption ends once the cache shows the pod bound, or gone.
        let unbound: HashSet<String> = all_pods
            .iter()
            .filter(|p| placement::is_pending(p))
            .filter_map(|p| p.uid())
            .collect();
        assumed.retain(|uid, _| unbound.contains(uid));
        let mut placement = Placement::new(&all_pods, all_nodes, &assumed);
        let pending = placement.pending();
        tracing::debug!(
            pods = all_pods.len(),
            pending = pending.len(),
            "scheduling pass"
        );
        for pod in &pending {
            let key = object_key(pod.as_ref());
            match placement.choose(pod) {
                Choice::Node(node) => {
                    if bind(&client, &recorder, pod, &node).await {
                        placement.assume(pod, &node);
                        if let Some(uid) = pod.uid() {
                            assumed.insert(uid, node);
                        }
                        reported.remove(&key);
                    }
                }
                Choice::Unschedulable(message) => {
                    if reported.get(&key) != Some(&message) {
                        mark_unschedulable(&client, &recorder, pod, &message).await;
                        reported.insert(key, message);
                    }
                }
            }
        }
        let waiting: HashSet<String> = pending.iter().map(|p| object_key(p.as_ref())).collect();
        reported.retain(|k, _| waiting.contains(k));
        changes.next_pass(RETRY, SETTLE).await;
    }
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
            recorder.publish(
                &reference(pod),
                EventType::Normal,
                "Scheduled",
                &format!("Successfully assigned {ns}/{name} to {node}"),
            );
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
    recorder.publish(
        &reference(pod),
        EventType::Warning,
        "FailedScheduling",
        message,
    );
}
