//! Whether a pod fits a node, and why not, in the words `FailedScheduling` events use:
//! resources against allocatable, unschedulable nodes, taints, nodeSelector and required
//! node affinity, and pod anti-affinity by hostname.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use serde_json::Value;

use crate::resources::validation::quantity_nanos;

/// Why a node was rejected.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reject {
    /// Not enough of a resource (`cpu`, `memory`, `pods`).
    Insufficient(String),
    /// `spec.unschedulable`.
    Unschedulable,
    /// A taint the pod does not tolerate.
    Taint(String),
    /// nodeSelector or node affinity.
    Affinity,
    /// Anti-affinity with a pod already there.
    AntiAffinity,
}

impl Reject {
    /// The reason text of the event.
    pub fn text(&self) -> String {
        match self {
            Reject::Insufficient(r) if r == "pods" => "Too many pods".into(),
            Reject::Insufficient(r) => format!("Insufficient {r}"),
            Reject::Unschedulable => "node(s) were unschedulable".into(),
            Reject::Taint(t) => format!("node(s) had untolerated taint {t}"),
            Reject::Affinity => "node(s) didn't match Pod's node affinity/selector".into(),
            Reject::AntiAffinity => "node(s) didn't match pod anti-affinity rules".into(),
        }
    }

    /// Whether evicting lower-priority pods could help (only for resources).
    pub fn preemptable(&self) -> bool {
        matches!(self, Reject::Insufficient(_))
    }
}

/// Requests of a pod in nano-units: the max of init containers against the sum of
/// app containers, per resource (the scheduler's effective request).
pub fn requests(pod: &Pod) -> BTreeMap<String, i128> {
    let mut sum: BTreeMap<String, i128> = BTreeMap::new();
    let Some(spec) = &pod.spec else { return sum };
    for c in &spec.containers {
        for (k, q) in c
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .into_iter()
            .flatten()
        {
            *sum.entry(k.clone()).or_default() += quantity_nanos(&q.0).unwrap_or(0);
        }
    }
    for c in spec.init_containers.iter().flatten() {
        for (k, q) in c
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .into_iter()
            .flatten()
        {
            let v = quantity_nanos(&q.0).unwrap_or(0);
            let e = sum.entry(k.clone()).or_default();
            *e = (*e).max(v);
        }
    }
    sum
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        let key_ok = t.key.as_deref().is_none_or(|k| k.is_empty())
            || t.key.as_deref() == Some(taint.key.as_str());
        let value_ok = match t.operator.as_deref().unwrap_or("Equal") {
            "Exists" => true,
            _ => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        };
        effect_ok && key_ok && value_ok
    })
}

fn expression_matches(labels: &BTreeMap<String, String>, e: &Value) -> bool {
    let key = e.get("key").and_then(Value::as_str).unwrap_or("");
    let values: Vec<&str> = e
        .get("values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let have = labels.get(key).map(String::as_str);
    match e.get("operator").and_then(Value::as_str).unwrap_or("") {
        "In" => have.is_some_and(|h| values.contains(&h)),
        "NotIn" => have.is_none_or(|h| !values.contains(&h)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" | "Lt" => {
            let (Some(h), Some(v)) = (
                have.and_then(|h| h.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if e["operator"] == "Gt" {
                h > v
            } else {
                h < v
            }
        }
        _ => false,
    }
}

fn affinity_matches(pod: &Value, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    if let Some(sel) = pod.pointer("/spec/nodeSelector").and_then(Value::as_object) {
        for (k, v) in sel {
            if labels.get(k).map(String::as_str) != v.as_str() {
                return false;
            }
        }
    }
    let Some(terms) = pod
        .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array)
    else {
        return true;
    };
    let mut fields = BTreeMap::new();
    fields.insert(
        "metadata.name".to_string(),
        node.metadata.name.clone().unwrap_or_default(),
    );
    // Terms are ORed; expressions within a term are ANDed.
    terms.iter().any(|term| {
        let exprs_ok = term
            .get("matchExpressions")
            .and_then(Value::as_array)
            .is_none_or(|es| es.iter().all(|e| expression_matches(&labels, e)));
        let fields_ok = term
            .get("matchFields")
            .and_then(Value::as_array)
            .is_none_or(|es| es.iter().all(|e| expression_matches(&fields, e)));
        exprs_ok && fields_ok
    })
}

fn allocatable(node: &Node, resource: &str) -> Option<i128> {
    let q = node.status.as_ref()?.allocatable.as_ref()?.get(resource)?;
    quantity_nanos(&q.0)
}

/// Pods on the node that count against it (not finished).
fn active<'a>(pods: &'a [&'a Pod], node: &str) -> Vec<&'a Pod> {
    pods.iter()
        .copied()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .collect()
}

/// Reasons `pod` cannot go to `node` (empty: it fits).
pub fn rejects(pod: &Pod, node: &Node, pods: &[&Pod]) -> Vec<Reject> {
    let mut out = Vec::new();
    let name = node.metadata.name.clone().unwrap_or_default();
    if node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
    {
        out.push(Reject::Unschedulable);
    }
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    for taint in node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
    {
        if (taint.effect == "NoSchedule" || taint.effect == "NoExecute")
            && !tolerates(&tolerations, taint)
        {
            out.push(Reject::Taint(format!(
                "{{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or("")
            )));
        }
    }
    let pod_json = serde_json::to_value(pod).unwrap_or(Value::Null);
    if !affinity_matches(&pod_json, node) {
        out.push(Reject::Affinity);
    }
    let here = active(pods, &name);
    let want = requests(pod);
    for (resource, need) in &want {
        if *need == 0 {
            continue;
        }
        let Some(cap) = allocatable(node, resource) else {
            continue;
        };
        let used: i128 = here
            .iter()
            .map(|p| requests(p).get(resource).copied().unwrap_or(0))
            .sum();
        if used + need > cap {
            out.push(Reject::Insufficient(resource.clone()));
        }
    }
    if let Some(max) = allocatable(node, "pods") {
        if (here.len() as i128 + 1) * 1_000_000_000 > max {
            out.push(Reject::Insufficient("pods".into()));
        }
    }
    if anti_affinity_conflict(&pod_json, &here) {
        out.push(Reject::AntiAffinity);
    }
    out
}

/// Required pod anti-affinity on the hostname topology: another pod on the node matches
/// one of the pod's terms.
fn anti_affinity_conflict(pod: &Value, here: &[&Pod]) -> bool {
    let Some(terms) = pod
        .pointer("/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution")
        .and_then(Value::as_array)
    else {
        return false;
    };
    let ns = pod.pointer("/metadata/namespace").cloned();
    terms.iter().any(|term| {
        let Ok(sel) = crate::apiserver::selectors::LabelSelector::from_label_selector_json(
            term.get("labelSelector").unwrap_or(&Value::Null),
        ) else {
            return false;
        };
        here.iter().any(|other| {
            let other = serde_json::to_value(other).unwrap_or(Value::Null);
            other.pointer("/metadata/namespace") == ns.as_ref()
                && sel.matches_opt(other.pointer("/metadata/labels").and_then(Value::as_object))
        })
    })
}

/// A node's score for the pod: more free cpu and memory after placing it is better, and
/// fewer pods of the same owner already there spreads replicas.
pub fn score(pod: &Pod, node: &Node, pods: &[&Pod]) -> i128 {
    let name = node.metadata.name.clone().unwrap_or_default();
    let here = active(pods, &name);
    let want = requests(pod);
    let mut free = 0i128;
    for r in ["cpu", "memory"] {
        let Some(cap) = allocatable(node, r).filter(|c| *c > 0) else {
            continue;
        };
        let used: i128 = here
            .iter()
            .map(|p| requests(p).get(r).copied().unwrap_or(0))
            .sum::<i128>()
            + want.get(r).copied().unwrap_or(0);
        free += (cap - used).max(0) * 100 / cap;
    }
    let owner = pod
        .metadata
        .owner_references
        .as_ref()
        .and_then(|o| o.first())
        .map(|o| o.uid.clone());
    let siblings = here
        .iter()
        .filter(|p| {
            p.metadata
                .owner_references
                .as_ref()
                .and_then(|o| o.first())
                .map(|o| o.uid.clone())
                == owner
                && owner.is_some()
        })
        .count() as i128;
    free - siblings * 10
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, extra: Value) -> Node {
        let mut n = json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "zone": "a", "rank": "5"}},
            "spec": {},
            "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "3"}},
        });
        merge(&mut n, extra);
        serde_json::from_value(n).unwrap()
    }

    fn pod(name: &str, extra: Value) -> Pod {
        let mut p = json!({
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        });
        merge(&mut p, extra);
        serde_json::from_value(p).unwrap()
    }

    fn on(node: &str, p: Pod) -> Pod {
        let mut p = p;
        p.spec.as_mut().unwrap().node_name = Some(node.into());
        p
    }

    fn merge(base: &mut Value, extra: Value) {
        match (base, extra) {
            (Value::Object(b), Value::Object(e)) => {
                for (k, v) in e {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
            (b, e) => *b = e,
        }
    }

    fn asking(cpu: &str, memory: &str) -> Value {
        json!({"spec": {"containers": [{"name": "c", "image": "i",
            "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}})
    }

    #[test]
    fn effective_request_is_the_larger_of_init_and_app_containers() {
        let p = pod(
            "p",
            json!({"spec": {
                "initContainers": [
                    {"name": "i1", "image": "i", "resources": {"requests": {"cpu": "700m"}}},
                    {"name": "i2", "image": "i", "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}}],
                "containers": [
                    {"name": "a", "image": "i", "resources": {"requests": {"cpu": "200m", "memory": "10Mi"}}},
                    {"name": "b", "image": "i", "resources": {"requests": {"cpu": "300m"}}}]}}),
        );
        let r = requests(&p);
        assert_eq!(r["cpu"], 700_000_000);
        assert_eq!(r["memory"], (1i128 << 30) * 1_000_000_000);
    }

    #[test]
    fn a_pod_fits_an_empty_node() {
        let n = node("n1", json!({}));
        assert!(rejects(&pod("p", asking("1", "512Mi")), &n, &[]).is_empty());
    }

    #[test]
    fn resources_count_only_unfinished_pods_on_that_node() {
        let n = node("n1", json!({}));
        let big = asking("1500m", "100Mi");
        let running = on("n1", pod("a", big.clone()));
        let elsewhere = on("n2", pod("b", big.clone()));
        let mut done = on("n1", pod("c", big.clone()));
        done.status = Some(serde_json::from_value(json!({"phase": "Succeeded"})).unwrap());
        let want = pod("p", asking("600m", "100Mi"));
        assert_eq!(
            rejects(&want, &n, &[&running]),
            [Reject::Insufficient("cpu".into())]
        );
        assert!(rejects(&want, &n, &[&elsewhere, &done]).is_empty());
        assert_eq!(
            Reject::Insufficient("cpu".into()).text(),
            "Insufficient cpu"
        );
    }

    #[test]
    fn the_pod_count_is_a_resource_too() {
        let n = node("n1", json!({}));
        let here: Vec<Pod> = (0..3)
            .map(|i| on("n1", pod(&format!("a{i}"), json!({}))))
            .collect();
        let refs: Vec<&Pod> = here.iter().collect();
        let r = rejects(&pod("p", json!({})), &n, &refs);
        assert_eq!(r, [Reject::Insufficient("pods".into())]);
        assert_eq!(r[0].text(), "Too many pods");
        assert!(r[0].preemptable());
        assert!(rejects(&pod("p", json!({})), &n, &refs[..2]).is_empty());
    }

    #[test]
    fn cordoned_nodes_and_untolerated_taints_reject() {
        let cordoned = node("n1", json!({"spec": {"unschedulable": true}}));
        let r = rejects(&pod("p", json!({})), &cordoned, &[]);
        assert_eq!(r, [Reject::Unschedulable]);
        assert!(!r[0].preemptable());

        let tainted = node(
            "n1",
            json!({"spec": {"taints": [
                {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                {"key": "soft", "effect": "PreferNoSchedule"}]}}),
        );
        let r = rejects(&pod("p", json!({})), &tainted, &[]);
        assert_eq!(r, [Reject::Taint("{dedicated: gpu}".into())]);
        assert_eq!(
            r[0].text(),
            "node(s) had untolerated taint {dedicated: gpu}"
        );

        for toleration in [
            json!({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}),
            json!({"key": "dedicated", "operator": "Exists"}),
            json!({"operator": "Exists"}),
        ] {
            let p = pod("p", json!({"spec": {"tolerations": [toleration]}}));
            assert!(rejects(&p, &tainted, &[]).is_empty(), "{:?}", p.spec);
        }
        for toleration in [
            json!({"key": "dedicated", "operator": "Equal", "value": "cpu"}),
            json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}),
            json!({"key": "other", "operator": "Exists"}),
        ] {
            let p = pod("p", json!({"spec": {"tolerations": [toleration]}}));
            assert_eq!(rejects(&p, &tainted, &[]).len(), 1, "{:?}", p.spec);
        }
    }

    #[test]
    fn node_selector_and_required_node_affinity() {
        let n = node("n1", json!({}));
        let selector = |sel: Value| pod("p", json!({"spec": {"nodeSelector": sel}}));
        assert!(rejects(&selector(json!({"zone": "a"})), &n, &[]).is_empty());
        assert_eq!(
            rejects(&selector(json!({"zone": "b"})), &n, &[]),
            [Reject::Affinity]
        );
        let affinity = |terms: Value| {
            pod(
                "p",
                json!({"spec": {"affinity": {"nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}}),
            )
        };
        let fits = |terms: Value| rejects(&affinity(terms), &n, &[]).is_empty();
        assert!(fits(
            json!([{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}])
        ));
        assert!(!fits(
            json!([{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}])
        ));
        assert!(fits(
            json!([{"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}])
        ));
        assert!(fits(
            json!([{"matchExpressions": [{"key": "rank", "operator": "Gt", "values": ["4"]}]}])
        ));
        assert!(!fits(
            json!([{"matchExpressions": [{"key": "rank", "operator": "Lt", "values": ["5"]}]}])
        ));
        // Expressions in a term are ANDed, terms are ORed.
        assert!(!fits(json!([{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["a"]},
            {"key": "gpu", "operator": "Exists"}]}])));
        assert!(fits(json!([
            {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}])));
        assert!(!fits(
            json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}])
        ));
        assert_eq!(
            Reject::Affinity.text(),
            "node(s) didn't match Pod's node affinity/selector"
        );
    }

    #[test]
    fn anti_affinity_by_hostname_sees_matching_pods_of_the_same_namespace() {
        let n = node("n1", json!({}));
        let p = pod(
            "p",
            json!({"spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}}}),
        );
        let twin = on("n1", pod("a", json!({})));
        let other_ns = on("n1", pod("b", json!({"metadata": {"namespace": "other"}})));
        let other_app = on(
            "n1",
            pod("c", json!({"metadata": {"labels": {"app": "db"}}})),
        );
        assert_eq!(rejects(&p, &n, &[&twin]), [Reject::AntiAffinity]);
        assert!(rejects(&p, &n, &[&other_ns, &other_app]).is_empty());
        assert!(rejects(&p, &node("n2", json!({})), &[&twin]).is_empty());
    }

    #[test]
    fn scores_prefer_free_room_and_spread_replicas() {
        let owned = |name: &str| {
            pod(
                name,
                json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web", "uid": "rs-1", "controller": true}]}}),
            )
        };
        let n1 = node("n1", json!({}));
        let n2 = node("n2", json!({}));
        let sibling = on("n1", owned("a"));
        let p = owned("p");
        assert!(score(&p, &n2, &[&sibling]) > score(&p, &n1, &[&sibling]));

        let busy = on("n1", pod("b", asking("1", "512Mi")));
        let want = pod("q", asking("100m", "10Mi"));
        assert!(score(&want, &n2, &[&busy]) > score(&want, &n1, &[&busy]));
    }
}
