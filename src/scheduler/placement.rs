//! One scheduling pass's view of the cluster: which pods wait, which pods each node already
//! runs (indexed by node name), and where the next pending pod fits best. Pure, so the
//! scheduler's decisions are tested without an API server.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;

use super::filter;

/// Where a pending pod goes, or why it goes nowhere.
#[derive(Debug, PartialEq, Eq)]
pub enum Choice {
    /// Bind to this node.
    Node(String),
    /// No node fits: the `FailedScheduling` message.
    Unschedulable(String),
}

/// A snapshot of pods and nodes, plus the pods this pass (or an earlier one) bound.
pub struct Placement {
    nodes: Vec<Arc<Node>>,
    /// Pods by the node they are on, including the assumed ones.
    on_node: HashMap<String, Vec<Arc<Pod>>>,
    pending: Vec<Arc<Pod>>,
}

impl Placement {
    /// The pass's view. `assumed` maps the UID of a pod already bound, whose binding the
    /// cache does not show yet, to its node: it counts there and is not placed again, as
    /// kube-scheduler's assumed pods.
    pub fn new(
        pods: &[Arc<Pod>],
        nodes: Vec<Arc<Node>>,
        assumed: &HashMap<String, String>,
    ) -> Self {
        let mut on_node: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
        let mut pending = Vec::new();
        for pod in pods {
            let bound = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .filter(|n| !n.is_empty());
            if let Some(node) = bound {
                on_node
                    .entry(node.to_string())
                    .or_default()
                    .push(pod.clone());
            } else if let Some(node) = pod.uid().and_then(|uid| assumed.get(&uid)) {
                on_node
                    .entry(node.clone())
                    .or_default()
                    .push(Arc::new(bound_to(pod, node)));
            } else if is_pending(pod) {
                pending.push(pod.clone());
            }
        }
        Placement {
            nodes,
            on_node,
            pending,
        }
    }

    /// The pods waiting for a node, oldest first as listed.
    pub fn pending(&self) -> Vec<Arc<Pod>> {
        self.pending.clone()
    }

    /// The best node for `pod` (filter, then score), or why none fits.
    pub fn choose(&self, pod: &Pod) -> Choice {
        let mut rejects: BTreeMap<String, usize> = BTreeMap::new();
        let mut preemption_helps = 0usize;
        let mut best: Option<(i128, String)> = None;
        for node in &self.nodes {
            let name = node.name_any();
            let here: Vec<&Pod> = self
                .on_node
                .get(&name)
                .into_iter()
                .flatten()
                .map(AsRef::as_ref)
                .collect();
            let r = filter::rejects(pod, node, &here);
            if r.is_empty() {
                let s = filter::score(pod, node, &here);
                if best.as_ref().is_none_or(|(b, _)| s > *b) {
                    best = Some((s, name));
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
        match best {
            Some((_, node)) => Choice::Node(node),
            None => Choice::Unschedulable(failure_message(
                self.nodes.len(),
                &rejects,
                preemption_helps,
            )),
        }
    }

    /// Counts `pod` on `node` from now on, once it is bound there.
    pub fn assume(&mut self, pod: &Pod, node: &str) {
        self.on_node
            .entry(node.to_string())
            .or_default()
            .push(Arc::new(bound_to(pod, node)));
    }
}

fn bound_to(pod: &Pod, node: &str) -> Pod {
    let mut p = pod.clone();
    if let Some(spec) = p.spec.as_mut() {
        spec.node_name = Some(node.to_string());
    }
    p
}

/// A pod this scheduler should place: no node yet, ours by name, not deleting, not done.
pub fn is_pending(p: &Pod) -> bool {
    let spec = p.spec.as_ref();
    spec.is_some_and(|s| s.node_name.as_deref().unwrap_or("").is_empty())
        && spec
            .and_then(|s| s.scheduler_name.as_deref())
            .is_none_or(|n| n == super::NAME)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cpu: &str, pods: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name},
                "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": pods}},
            }))
            .unwrap(),
        )
    }

    fn pod(name: &str, cpu: &str, node: Option<&str>, owner: Option<&str>) -> Arc<Pod> {
        let mut p = json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"containers": [{"name": "c", "image": "i",
                "resources": {"requests": {"cpu": cpu}}}]},
        });
        if let Some(n) = node {
            p["spec"]["nodeName"] = json!(n);
        }
        if let Some(o) = owner {
            p["metadata"]["ownerReferences"] =
                json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": o, "uid": o}]);
        }
        Arc::new(serde_json::from_value(p).unwrap())
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter().map(|p| p.name_any()).collect()
    }

    #[test]
    fn only_unbound_live_pods_of_this_scheduler_wait() {
        let mut other: Pod = (*pod("other", "0", None, None)).clone();
        other.spec.as_mut().unwrap().scheduler_name = Some("my-scheduler".into());
        let mut done: Pod = (*pod("done", "0", None, None)).clone();
        done.status = Some(serde_json::from_value(json!({"phase": "Succeeded"})).unwrap());
        let pods = vec![
            pod("waiting", "0", None, None),
            pod("bound", "0", Some("a"), None),
            Arc::new(other),
            Arc::new(done),
        ];
        let placement = Placement::new(&pods, vec![node("a", "1", "110")], &HashMap::new());
        assert_eq!(names(&placement.pending()), ["waiting"]);
    }

    #[test]
    fn replicas_spread_across_nodes_within_one_pass() {
        let pods = vec![
            pod("web-1", "100m", None, Some("rs")),
            pod("web-2", "100m", None, Some("rs")),
        ];
        let nodes = vec![node("a", "2", "110"), node("b", "2", "110")];
        let mut placement = Placement::new(&pods, nodes, &HashMap::new());
        let mut chosen = Vec::new();
        for p in placement.pending() {
            let Choice::Node(n) = placement.choose(&p) else {
                panic!("{p:?} should fit")
            };
            placement.assume(&p, &n);
            chosen.push(n);
        }
        chosen.sort();
        assert_eq!(chosen, ["a", "b"]);
    }

    #[test]
    fn assumed_pods_use_room_and_are_not_placed_again() {
        // One CPU: the pod bound a moment ago (not yet shown bound) takes it all.
        let pods = vec![
            pod("first", "1", None, None),
            pod("second", "1", None, None),
        ];
        let assumed = HashMap::from([("uid-first".to_string(), "a".to_string())]);
        let placement = Placement::new(&pods, vec![node("a", "1", "110")], &assumed);
        assert_eq!(names(&placement.pending()), ["second"]);
        assert_eq!(
            placement.choose(&pod("second", "1", None, None)),
            Choice::Unschedulable(
                "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are \
                 available: 1 No preemption victims found for incoming pod."
                    .into()
            )
        );
    }

    #[test]
    fn a_full_node_and_a_missing_node_explain_themselves() {
        let pods = vec![pod("there", "0", Some("a"), None)];
        let full = Placement::new(&pods, vec![node("a", "1", "1")], &HashMap::new());
        assert_eq!(
            full.choose(&pod("new", "0", None, None)),
            Choice::Unschedulable(
                "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are \
                 available: 1 No preemption victims found for incoming pod."
                    .into()
            )
        );
        let none = Placement::new(&[], Vec::new(), &HashMap::new());
        assert_eq!(
            none.choose(&pod("new", "0", None, None)),
            Choice::Unschedulable("no nodes available to schedule pods".into())
        );
    }
}
