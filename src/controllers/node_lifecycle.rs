//! Node lifecycle: a node whose kubelet stops renewing its lease and posting status turns
//! `Unknown`; nodes get the not-ready / unreachable / unschedulable taints their state
//! calls for; pods on nodes with NoExecute taints they do not tolerate (or tolerate only
//! for a while) are evicted; pods bound to nodes that no longer exist are removed.
//! (kube-controller-manager's node-lifecycle, taint-eviction and pod-GC controllers.)

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use super::events::{reference, EventType, Recorder};
use crate::scheduler::filter::tolerates;

/// How often nodes are checked (`--node-monitor-period`).
const MONITOR_PERIOD: Duration = Duration::from_secs(5);
/// How long a node may go without a heartbeat before it is Unknown
/// (`--node-monitor-grace-period`, 50 s since Kubernetes 1.32).
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(50);

/// Taint keys the controller owns.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The node's kubelet stopped reporting.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The node is cordoned.
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// The conditions the kubelet posts, set to Unknown when it goes silent.
const KUBELET_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// What the controller remembers between passes.
struct Monitor {
    grace: Duration,
    /// Per node: the last heartbeat seen, and when (on our clock) it last changed. A node
    /// first seen gets a full grace period, so a control plane coming back after a stop
    /// does not find every node silent.
    health: HashMap<String, (Option<Timestamp>, Instant)>,
    /// Nodes seen missing once: their pods go on the second pass, so a node being
    /// re-registered does not lose its pods.
    missing_once: HashSet<String>,
}

/// Run until aborted; `grace` is how long a kubelet may stay silent.
pub async fn run(client: kube::Client, grace: Duration) {
    let recorder = Recorder::new(client.clone(), "node-controller", "");
    let mut monitor = Monitor {
        grace,
        health: HashMap::new(),
        missing_once: HashSet::new(),
    };
    loop {
        if let Err(e) = pass(&client, &recorder, &mut monitor).await {
            tracing::warn!(component = "node-lifecycle", error = %e, "monitor pass failed");
        }
        tokio::time::sleep(MONITOR_PERIOD.min(grace)).await;
    }
}

impl Monitor {
    /// Whether the node's kubelet has been silent for longer than the grace period.
    fn silent(&mut self, name: &str, heartbeat: Option<Timestamp>) -> bool {
        let entry = self
            .health
            .entry(name.to_string())
            .or_insert((heartbeat, Instant::now()));
        if entry.0 != heartbeat {
            *entry = (heartbeat, Instant::now());
        }
        entry.1.elapsed() > self.grace
    }
}

async fn pass(
    client: &kube::Client,
    recorder: &Recorder,
    monitor: &mut Monitor,
) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let renewals: HashMap<String, Timestamp> = leases
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|l| {
            let renewed = l.spec.as_ref()?.renew_time.as_ref()?.0;
            Some((l.name_any(), renewed))
        })
        .collect();
    let now = Timestamp::now();
    let mut names = HashSet::new();
    for node in nodes.list(&ListParams::default()).await?.items {
        let name = node.name_any();
        names.insert(name.clone());
        let silent = monitor.silent(&name, last_heartbeat(&node, renewals.get(&name)));
        let node = match mark_unknown_if_silent(&nodes, node, silent, now).await {
            Ok(Some(updated)) => {
                recorder.publish(
                    &reference(&updated),
                    EventType::Normal,
                    "NodeNotReady",
                    &format!("Node {name} status is now: NodeNotReady"),
                );
                mark_pods_not_ready(client, recorder, &name).await?;
                updated
            }
            Ok(None) => nodes.get(&name).await?,
            Err(e) => return Err(e),
        };
        let node = sync_taints(&nodes, node, now).await?;
        evict(client, recorder, &node, now).await?;
    }
    monitor.health.retain(|n, _| names.contains(n));
    collect_orphans(client, &names, &mut monitor.missing_once).await
}

/// The last sign of life: the lease renewal or the Ready condition's heartbeat.
fn last_heartbeat(node: &Node, lease_renewed: Option<&Timestamp>) -> Option<Timestamp> {
    let posted = condition(node, "Ready").and_then(|c| c.last_heartbeat_time.as_ref().map(|t| t.0));
    [lease_renewed.copied(), posted].into_iter().flatten().max()
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Ready's status: True, False or Unknown; None while a new node has not posted yet (the
/// monitor marks it Unknown once the grace period has passed).
fn ready_status(node: &Node) -> Option<&str> {
    condition(node, "Ready").map(|c| c.status.as_str())
}

/// When the kubelet has been silent past the grace period, every condition it posts
/// becomes Unknown; returns the updated node when that happened now.
async fn mark_unknown_if_silent(
    nodes: &Api<Node>,
    node: Node,
    silent: bool,
    now: Timestamp,
) -> Result<Option<Node>, kube::Error> {
    let already = KUBELET_CONDITIONS
        .iter()
        .all(|t| condition(&node, t).is_some_and(|c| c.status == "Unknown"));
    if !silent || already {
        return Ok(None);
    }
    let conditions: Vec<NodeCondition> = KUBELET_CONDITIONS
        .iter()
        .map(|t| match condition(&node, t) {
            Some(c) => NodeCondition {
                status: "Unknown".into(),
                reason: Some("NodeStatusUnknown".into()),
                message: Some("Kubelet stopped posting node status.".into()),
                last_transition_time: Some(Time(now)),
                ..c.clone()
            },
            None => NodeCondition {
                type_: (*t).to_string(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                last_transition_time: Some(Time(now)),
            },
        })
        .collect();
    let patch = json!({"status": {"conditions": conditions}});
    let updated = nodes
        .patch_status(
            &node.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await?;
    Ok(Some(updated))
}

/// Pods on a node that went silent are no longer Ready, so endpoints drop them.
async fn mark_pods_not_ready(
    client: &kube::Client,
    recorder: &Recorder,
    node: &str,
) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::all(client.clone());
    let on_node = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?;
    let now = Time(Timestamp::now());
    for pod in on_node.items {
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
        if ready.is_none_or(|c| c.status == "False") {
            continue;
        }
        let patch = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": now}
        ]}});
        let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
        api.patch_status(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await?;
        recorder.publish(
            &reference(&pod),
            EventType::Warning,
            "NodeNotReady",
            "Node is not ready",
        );
    }
    Ok(())
}

/// The taints the node's state calls for (TaintNodesByCondition and the NoExecute taints
/// of the taint manager); keeps `timeAdded` of taints already there.
fn wanted_taints(node: &Node, now: Timestamp) -> Vec<Taint> {
    let current: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let ours = |t: &Taint| [NOT_READY, UNREACHABLE, UNSCHEDULABLE].contains(&t.key.as_str());
    let mut want: Vec<Taint> = current.iter().filter(|t| !ours(t)).cloned().collect();
    let mut add = |key: &str, effect: &str| {
        let existing = current.iter().find(|t| t.key == key && t.effect == effect);
        want.push(existing.cloned().unwrap_or_else(|| Taint {
            key: key.into(),
            effect: effect.into(),
            time_added: (effect == "NoExecute").then_some(Time(now)),
            value: None,
        }));
    };
    match ready_status(node) {
        None | Some("True") => {}
        Some("False") => {
            add(NOT_READY, "NoSchedule");
            add(NOT_READY, "NoExecute");
        }
        Some(_) => {
            add(UNREACHABLE, "NoSchedule");
            add(UNREACHABLE, "NoExecute");
        }
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        add(UNSCHEDULABLE, "NoSchedule");
    }
    want
}

async fn sync_taints(nodes: &Api<Node>, node: Node, now: Timestamp) -> Result<Node, kube::Error> {
    let want = wanted_taints(&node, now);
    let have = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let key = |t: &Taint| (t.key.clone(), t.effect.clone());
    let same =
        have.len() == want.len() && have.iter().all(|h| want.iter().any(|w| key(w) == key(h)));
    if same {
        return Ok(node);
    }
    // A merge patch replaces the whole list; the resourceVersion guards a concurrent edit.
    let patch = json!({
        "metadata": {"resourceVersion": node.resource_version()},
        "spec": {"taints": want},
    });
    nodes
        .patch(
            &node.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
}

/// When a pod must leave a node with these NoExecute taints: `None` never, else the time
/// (the earliest taint time plus the shortest toleration; now when a taint is not
/// tolerated at all).
fn eviction_time(pod: &Pod, taints: &[&Taint], now: Timestamp) -> Option<Timestamp> {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let mut due: Option<Timestamp> = None;
    for taint in taints {
        let matching: Vec<&Toleration> = tolerations
            .iter()
            .filter(|t| tolerates(std::slice::from_ref(*t), taint))
            .collect();
        if matching.is_empty() {
            return Some(now);
        }
        // A toleration without seconds tolerates forever.
        let Some(seconds) = matching
            .iter()
            .map(|t| t.toleration_seconds)
            .collect::<Option<Vec<i64>>>()
            .and_then(|s| s.into_iter().min())
        else {
            continue;
        };
        let added = taint.time_added.as_ref().map_or(now, |t| t.0);
        let at = added
            .checked_add(jiff::SignedDuration::from_secs(seconds.max(0)))
            .unwrap_or(added);
        due = Some(due.map_or(at, |d| d.min(at)));
    }
    due
}

async fn evict(
    client: &kube::Client,
    recorder: &Recorder,
    node: &Node,
    now: Timestamp,
) -> Result<(), kube::Error> {
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let no_execute: Vec<&Taint> = taints.iter().filter(|t| t.effect == "NoExecute").collect();
    if no_execute.is_empty() {
        return Ok(());
    }
    let pods: Api<Pod> = Api::all(client.clone());
    let on_node = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={}", node.name_any())))
        .await?;
    for pod in on_node.items {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if eviction_time(&pod, &no_execute, now).is_none_or(|at| at > now) {
            continue;
        }
        let ns = pod.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let target = json!({"status": {"conditions": [{
            "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": Time(now),
        }]}});
        let _ = api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(&target),
            )
            .await;
        recorder.publish(
            &reference(&pod),
            EventType::Normal,
            "TaintManagerEviction",
            &format!("Marking for deletion Pod {ns}/{}", pod.name_any()),
        );
        match api.delete(&pod.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Pods bound to a node that is gone (seen gone twice) are deleted at once: no kubelet is
/// left to stop them (the pod garbage collector).
async fn collect_orphans(
    client: &kube::Client,
    nodes: &HashSet<String>,
    missing_once: &mut HashSet<String>,
) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::all(client.clone());
    let mut missing_now: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    for pod in pods.list(&ListParams::default()).await?.items {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            continue;
        };
        if !nodes.contains(&node) {
            missing_now.entry(node).or_default().push(pod);
        }
    }
    for (node, orphans) in &missing_now {
        if !missing_once.contains(node) {
            continue;
        }
        for pod in orphans {
            let api: Api<Pod> =
                Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
            match api
                .delete(&pod.name_any(), &DeleteParams::default().grace_period(0))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
    }
    *missing_once = missing_now.into_keys().collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, effect: &str, added: Timestamp) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            time_added: Some(Time(added)),
            value: None,
        }
    }

    fn pod_with(tolerations: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c"}], "tolerations": tolerations}}))
        .unwrap()
    }

    #[test]
    fn eviction_follows_toleration_seconds() {
        let now = Timestamp::now();
        let t = taint(UNREACHABLE, "NoExecute", now);
        let untolerating = pod_with(json!([]));
        assert_eq!(eviction_time(&untolerating, &[&t], now), Some(now));
        let for_a_while = pod_with(json!([
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}
        ]));
        let due = eviction_time(&for_a_while, &[&t], now).unwrap();
        assert_eq!(due.duration_since(now).as_secs(), 30);
        let forever = pod_with(json!([{"operator": "Exists"}]));
        assert_eq!(eviction_time(&forever, &[&t], now), None);
    }

    #[test]
    fn taints_follow_readiness_and_cordon() {
        let now = Timestamp::now();
        let node = |ready: &str, unschedulable: bool| -> Node {
            serde_json::from_value(json!({"metadata": {"name": "n"},
                "spec": {"unschedulable": unschedulable, "taints": [{"key": "other", "effect": "NoSchedule"}]},
                "status": {"conditions": [{"type": "Ready", "status": ready}]}}))
            .unwrap()
        };
        let keys = |n: &Node| -> Vec<(String, String)> {
            wanted_taints(n, now)
                .into_iter()
                .map(|t| (t.key, t.effect))
                .collect()
        };
        assert_eq!(
            keys(&node("True", false)),
            [("other".into(), "NoSchedule".into())]
        );
        let unknown = keys(&node("Unknown", true));
        assert!(unknown.contains(&(UNREACHABLE.into(), "NoExecute".into())));
        assert!(unknown.contains(&(UNSCHEDULABLE.into(), "NoSchedule".into())));
        assert!(keys(&node("False", false)).contains(&(NOT_READY.into(), "NoSchedule".into())));
    }
}
