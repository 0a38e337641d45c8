//! apps/v1 workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet (apps/v1 does not
//! default selectors or labels).

use serde_json::{json, Map, Value};

use super::core::template;
use super::{default, each, obj_mut};

/// The workload's spec, after its pod template is defaulted.
fn workload_spec(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    template(obj, "/spec/template");
    obj_mut(obj, "spec")
}

/// A Deployment: replicas, history, progress deadline and a rolling update of 25%.
pub(crate) fn deployment(obj: &mut Value) {
    let Some(spec) = workload_spec(obj) else {
        return;
    };
    default(spec, "replicas", json!(1));
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    strategy(
        spec,
        "strategy",
        &[("maxUnavailable", json!("25%")), ("maxSurge", json!("25%"))],
    );
}

/// A ReplicaSet's replicas.
pub(crate) fn replica_set(obj: &mut Value) {
    let Some(spec) = workload_spec(obj) else {
        return;
    };
    default(spec, "replicas", json!(1));
}

/// A StatefulSet: replicas, ordered pod management, history, claim retention and partition 0.
pub(crate) fn stateful_set(obj: &mut Value) {
    let Some(spec) = workload_spec(obj) else {
        return;
    };
    default(spec, "replicas", json!(1));
    default(spec, "podManagementPolicy", json!("OrderedReady"));
    default(spec, "revisionHistoryLimit", json!(10));
    default(
        spec,
        "persistentVolumeClaimRetentionPolicy",
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
    );
    if let Some(p) = spec
        .get_mut("persistentVolumeClaimRetentionPolicy")
        .and_then(Value::as_object_mut)
    {
        default(p, "whenDeleted", json!("Retain"));
        default(p, "whenScaled", json!("Retain"));
    }
    strategy(spec, "updateStrategy", &[("partition", json!(0))]);
    for claim in each(spec, "volumeClaimTemplates") {
        if let Some(s) = claim.get_mut("spec").and_then(Value::as_object_mut) {
            default(s, "volumeMode", json!("Filesystem"));
        }
        let status = claim.entry("status").or_insert_with(|| json!({}));
        if let Some(st) = status.as_object_mut() {
            default(st, "phase", json!("Pending"));
        }
    }
}

/// A DaemonSet: history and a rolling update of one pod at a time.
pub(crate) fn daemon_set(obj: &mut Value) {
    let Some(spec) = workload_spec(obj) else {
        return;
    };
    default(spec, "revisionHistoryLimit", json!(10));
    strategy(
        spec,
        "updateStrategy",
        &[("maxUnavailable", json!(1)), ("maxSurge", json!(0))],
    );
}

/// An update strategy: `type` defaults to RollingUpdate, which gets these `rollingUpdate`
/// defaults.
fn strategy(spec: &mut Map<String, Value>, field: &str, rolling: &[(&str, Value)]) {
    let strategy = spec.entry(field).or_insert_with(|| json!({}));
    let Some(s) = strategy.as_object_mut() else {
        return;
    };
    default(s, "type", json!("RollingUpdate"));
    if s.get("type") == Some(&json!("RollingUpdate")) {
        let ru = s.entry("rollingUpdate").or_insert_with(|| json!({}));
        if let Some(ru) = ru.as_object_mut() {
            for (k, v) in rolling {
                default(ru, k, v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_defaults() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}});
        deployment(&mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert!(d["spec"].get("selector").is_none());
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        let mut r = json!({"spec": {"strategy": {"type": "Recreate"}, "replicas": 0}});
        deployment(&mut r);
        assert_eq!(r["spec"]["replicas"], 0);
        assert!(r["spec"]["strategy"].get("rollingUpdate").is_none());
    }

    #[test]
    fn other_workloads() {
        let mut s = json!({"spec": {"volumeClaimTemplates": [{"spec": {}}]}});
        stateful_set(&mut s);
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            s["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            s["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            s["spec"]["volumeClaimTemplates"][0]["status"]["phase"],
            "Pending"
        );
        let mut d = json!({"spec": {}});
        daemon_set(&mut d);
        assert_eq!(
            d["spec"]["updateStrategy"]["rollingUpdate"],
            json!({"maxUnavailable": 1, "maxSurge": 0})
        );
        let mut rs = json!({"spec": {}});
        replica_set(&mut rs);
        assert_eq!(rs["spec"]["replicas"], 1);
    }
}
