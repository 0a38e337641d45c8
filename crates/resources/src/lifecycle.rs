//! What kinds' strategies do around writes: the server-owned fields kube-apiserver's
//! PrepareForCreate and PrepareForUpdate set or keep before validation, and the grace
//! period CheckGracefulDelete gives a delete (pkg/registry/core/{pod,service,namespace}).

use serde_json::{json, Value};

/// A new pod starts Pending, with the QoS class its resources give.
pub(crate) fn pod_create(obj: &mut Value) {
    obj["status"] = json!({"phase": "Pending", "qosClass": qos_class(obj)});
}

/// How long a pod may take to stop: none when it never reached a node or has finished,
/// else the grace period the delete asked for or the pod's own (30 s by default).
pub(crate) fn pod_grace(obj: &Value, asked: Option<i64>) -> i64 {
    let scheduled = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let phase = obj.pointer("/status/phase").and_then(Value::as_str);
    if !scheduled || matches!(phase, Some("Succeeded") | Some("Failed")) {
        return 0;
    }
    asked.unwrap_or_else(|| {
        obj.pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30)
    })
}

/// A new service has an empty load balancer status.
pub(crate) fn service_create(obj: &mut Value) {
    obj["status"] = json!({"loadBalancer": {}});
}

/// A new namespace is Active and labelled with its name.
pub(crate) fn namespace_create(obj: &mut Value) {
    obj["status"] = json!({"phase": "Active"});
    label_namespace_name(obj);
}

/// An updated namespace keeps its name label.
pub(crate) fn namespace_update(_old: &Value, new: &mut Value) {
    label_namespace_name(new);
}

/// Every namespace carries its name as the `kubernetes.io/metadata.name` label.
fn label_namespace_name(obj: &mut Value) {
    let name = obj.pointer("/metadata/name").cloned().unwrap_or(json!(""));
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    let meta = root.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    let labels = &mut meta["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    labels["kubernetes.io/metadata.name"] = name;
}

/// An updated service keeps the cluster IPs and node ports it was given unless the update
/// names others; fields of external types go when the type no longer needs them.
pub(crate) fn service_update(old: &Value, new: &mut Value) {
    for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        let missing = new
            .pointer(&format!("/spec/{f}"))
            .is_none_or(Value::is_null);
        if missing {
            if let Some(v) = old.pointer(&format!("/spec/{f}")) {
                new["spec"][f] = v.clone();
            }
        }
    }
    // Keep node ports of ports that are still there (matched by port+protocol).
    let old_ports = old
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let needs_node_port = matches!(
        new.pointer("/spec/type").and_then(Value::as_str),
        Some("NodePort") | Some("LoadBalancer")
    );
    // Fields that only mean something for externally reachable types go with the type
    // (upstream's dropTypeDependentFields).
    if !needs_node_port {
        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("externalTrafficPolicy");
            spec.remove("healthCheckNodePort");
            spec.remove("allocateLoadBalancerNodePorts");
        }
    }
    if let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut() {
            if !needs_node_port {
                if let Some(m) = p.as_object_mut() {
                    m.remove("nodePort");
                }
                continue;
            }
            if p.get("nodePort").is_some_and(|v| !v.is_null()) {
                continue;
            }
            let same = old_ports.iter().find(|o| {
                o.get("port") == p.get("port")
                    && o.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                        == p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
            });
            if let Some(np) = same.and_then(|o| o.get("nodePort")) {
                p["nodePort"] = np.clone();
            }
        }
    }
}

/// The pod's QoS class: BestEffort without requests or limits, Guaranteed when every
/// container's CPU and memory requests equal their limits, Burstable otherwise.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/spec/{f}"))?.as_array())
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        if req.is_some_and(|r| !r.is_empty()) || lim.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for res in ["cpu", "memory"] {
            let l = lim.and_then(|l| l.get(res));
            let r = req.and_then(|r| r.get(res)).or(l);
            if l.is_none() || r != l {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos() {
        assert_eq!(
            qos_class(&json!({"spec": {"containers": [{"name": "a"}]}})),
            "BestEffort"
        );
        assert_eq!(
            qos_class(
                &json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}})
            ),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(
                &json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}})
            ),
            "Burstable"
        );
    }

    #[test]
    fn pod_grace_follows_the_delete_then_the_pod() {
        let pod = json!({"spec": {"nodeName": "n", "terminationGracePeriodSeconds": 5}, "status": {"phase": "Running"}});
        assert_eq!(pod_grace(&pod, None), 5);
        assert_eq!(pod_grace(&pod, Some(0)), 0);
        assert_eq!(pod_grace(&pod, Some(12)), 12);
        assert_eq!(pod_grace(&json!({"spec": {"nodeName": "n"}}), None), 30);
        let unscheduled = json!({"spec": {"terminationGracePeriodSeconds": 5}});
        assert_eq!(pod_grace(&unscheduled, Some(9)), 0);
        let done = json!({"spec": {"nodeName": "n"}, "status": {"phase": "Succeeded"}});
        assert_eq!(pod_grace(&done, None), 0);
    }
}
