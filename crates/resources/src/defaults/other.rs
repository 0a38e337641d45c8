//! Smaller groups: autoscaling (HorizontalPodAutoscaler v1 and v2), scheduling.k8s.io
//! (PriorityClass), storage.k8s.io (StorageClass), discovery.k8s.io (EndpointSlice ports).

use serde_json::{json, Map, Value};

use super::{default, each, obj_mut};

/// A HorizontalPodAutoscaler: one replica at least, and in v2 the CPU target and behaviour.
pub(crate) fn horizontal_pod_autoscaler(obj: &mut Value) {
    let v1 = obj.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v1");
    if let Some(spec) = obj_mut(obj, "spec") {
        default(spec, "minReplicas", json!(1));
        if !v1 {
            hpa_v2(spec);
        }
    }
}

/// A PriorityClass's preemption policy.
pub(crate) fn priority_class(obj: &mut Value) {
    if let Some(m) = obj.as_object_mut() {
        default(m, "preemptionPolicy", json!("PreemptLowerPriority"));
    }
}

/// A StorageClass's reclaim policy and binding mode.
pub(crate) fn storage_class(obj: &mut Value) {
    if let Some(m) = obj.as_object_mut() {
        default(m, "reclaimPolicy", json!("Delete"));
        default(m, "volumeBindingMode", json!("Immediate"));
    }
}

/// EndpointSlice ports' name and protocol.
pub(crate) fn endpoint_slice(obj: &mut Value) {
    if let Some(m) = obj.as_object_mut() {
        for p in each(m, "ports") {
            default(p, "name", json!(""));
            default(p, "protocol", json!("TCP"));
        }
    }
}

/// autoscaling/v2: CPU at 80% when no metric is given; a given `behavior` is completed
/// with the default scale-up and scale-down rules.
fn hpa_v2(spec: &mut Map<String, Value>) {
    if spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    let Some(behavior) = spec.get_mut("behavior").and_then(Value::as_object_mut) else {
        return;
    };
    let up = behavior.entry("scaleUp").or_insert_with(|| json!({}));
    if let Some(up) = up.as_object_mut() {
        default(up, "stabilizationWindowSeconds", json!(0));
        default(up, "selectPolicy", json!("Max"));
        default(
            up,
            "policies",
            json!([{"type": "Pods", "value": 4, "periodSeconds": 15},
                   {"type": "Percent", "value": 100, "periodSeconds": 15}]),
        );
    }
    let down = behavior.entry("scaleDown").or_insert_with(|| json!({}));
    if let Some(down) = down.as_object_mut() {
        default(down, "stabilizationWindowSeconds", json!(300));
        default(down, "selectPolicy", json!("Max"));
        default(
            down,
            "policies",
            json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_and_friends() {
        let mut v2 = json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 3}});
        horizontal_pod_autoscaler(&mut v2);
        assert_eq!(v2["spec"]["minReplicas"], 1);
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        assert!(v2["spec"].get("behavior").is_none());
        let mut b = json!({"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        horizontal_pod_autoscaler(&mut b);
        assert_eq!(
            b["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
            60
        );
        assert_eq!(b["spec"]["behavior"]["scaleUp"]["policies"][0]["value"], 4);
        let mut v1 = json!({"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 3}});
        horizontal_pod_autoscaler(&mut v1);
        assert!(v1["spec"].get("metrics").is_none());
        let mut pc = json!({"value": 5});
        priority_class(&mut pc);
        assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
        let mut sc = json!({"provisioner": "p"});
        storage_class(&mut sc);
        assert_eq!(
            (sc["reclaimPolicy"].clone(), sc["volumeBindingMode"].clone()),
            (json!("Delete"), json!("Immediate"))
        );
    }
}
