//! Printer tests: realistic objects checked cell by cell against what kube-apiserver prints.

use super::*;
use serde_json::json;

fn names(group: &str, kind: &str) -> Vec<(String, i32)> {
    columns(group, kind)
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.priority))
        .collect()
}

#[test]
fn every_printer_has_matching_cells_for_an_empty_object() {
    let kinds = [
        ("", "Pod"),
        ("", "PodTemplate"),
        ("", "ReplicationController"),
        ("", "Service"),
        ("", "Endpoints"),
        ("", "Node"),
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("", "Namespace"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "ConfigMap"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "ResourceQuota"),
        ("", "ComponentStatus"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("storage.k8s.io", "StorageClass"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("coordination.k8s.io", "Lease"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("policy", "PodDisruptionBudget"),
        ("scheduling.k8s.io", "PriorityClass"),
    ];
    // Junk of every shape must never panic.
    let junk = [
        json!({}),
        json!(null),
        json!([1, 2]),
        json!({"metadata": 5, "spec": "x", "status": [1]}),
        json!({"spec": {"containers": "x", "ports": {"a": 1}, "metrics": [{"type": "Pods"}]},
               "status": {"conditions": [null, 1], "containerStatuses": [{"state": 3}]}}),
    ];
    for (g, k) in kinds {
        for j in &junk {
            row(g, k, j);
        }
        let cols = columns(g, k).unwrap();
        assert_eq!(
            cols[cols.iter().position(|c| c.name == "Name").unwrap()].format,
            "name"
        );
        assert!(cols.iter().all(|c| c.name == "Name" || c.format.is_empty()));
        // Every `Type.field` description resolved to API documentation.
        for c in &cols {
            let unresolved = !c.description.contains(' ') && c.description.contains('.');
            assert!(!unresolved, "{g}/{k} {}: {}", c.name, c.description);
            assert!(!c.description.is_empty(), "{g}/{k} {}", c.name);
        }
    }
}

#[test]
fn default_convertor_kinds() {
    for (g, k) in [
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("", "LimitRange"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("example.com", "Widget"),
    ] {
        assert!(columns(g, k).is_none(), "{g}/{k}");
    }
    let cols = default_columns();
    assert_eq!(cols.len(), 2);
    assert_eq!(
        (
            cols[0].name.as_str(),
            cols[0].type_.as_str(),
            cols[0].format.as_str()
        ),
        ("Name", "string", "name")
    );
    assert_eq!(
        (cols[1].name.as_str(), cols[1].type_.as_str()),
        ("Created At", "date")
    );
    assert!(cols[1]
        .description
        .starts_with("CreationTimestamp is a timestamp"));
    let role =
        json!({"metadata": {"name": "pod-reader", "creationTimestamp": "2024-04-30T08:15:00Z"}});
    assert_eq!(
        cells("rbac.authorization.k8s.io", "Role", &role, now()),
        vec![json!("pod-reader"), json!("2024-04-30T08:15:00Z")]
    );
    assert_eq!(
        default_cells(&json!({}), now()),
        vec![json!(""), json!("0001-01-01T00:00:00Z")]
    );
    let frac =
        json!({"metadata": {"name": "x", "creationTimestamp": "2024-04-30T08:15:00.5+02:00"}});
    assert_eq!(
        default_cells(&frac, now())[1],
        json!("2024-04-30T06:15:00Z")
    );
}

#[test]
fn column_definitions_serialize_like_metav1() {
    let v = serde_json::to_value(&columns("", "Pod").unwrap()[5]).unwrap();
    assert_eq!(
        v,
        json!({"name": "IP", "type": "string", "format": "", "priority": 1,
               "description": "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."})
    );
    let restarts = &columns("", "Pod").unwrap()[3];
    assert_eq!(restarts.type_, "string");
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-7d4b9c8f5-x2x9z", "namespace": "default", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": {"nodeName": "minikube", "containers": [{"name": "nginx", "image": "nginx:1.25"}]},
        "status": {
            "phase": "Running", "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}],
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"},
                           {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "nginx", "ready": true, "restartCount": 0, "started": true,
                                   "state": {"running": {"startedAt": "2024-05-01T11:00:05Z"}}}]
        }
    })
}

#[test]
fn pod_running() {
    assert_eq!(
        names("", "Pod"),
        [
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1)
        ]
        .map(|(n, p)| (n.to_string(), p))
    );
    assert_eq!(
        row("", "Pod", &pod()),
        vec![
            json!("web-7d4b9c8f5-x2x9z"),
            json!("1/1"),
            json!("Running"),
            json!("0"),
            json!("60m"),
            json!("10.244.0.5"),
            json!("minikube"),
            json!("<none>"),
            json!("<none>")
        ]
    );
    assert_eq!(row_conditions("", "Pod", &pod()), None);
}

#[test]
fn pod_pending_unscheduled_and_wide_fallbacks() {
    let p = json!({"metadata": {"name": "p", "creationTimestamp": "2024-05-01T11:59:30Z"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}],
                 "readinessGates": [{"conditionType": "example.com/gate"}, {"conditionType": "other"}]},
        "status": {"phase": "Pending", "podIPs": [{"ip": "fd00::5"}], "nominatedNodeName": "n2",
                   "conditions": [{"type": "example.com/gate", "status": "True"}, {"type": "other", "status": "False"}]}});
    assert_eq!(
        row("", "Pod", &p),
        vec![
            json!("p"),
            json!("0/2"),
            json!("Pending"),
            json!("0"),
            json!("30s"),
            json!("fd00::5"),
            json!("<none>"),
            json!("n2"),
            json!("1/2")
        ]
    );
}

#[test]
fn pod_restarts_show_the_last_restart() {
    let mut p = pod();
    p["status"]["containerStatuses"][0]["restartCount"] = json!(3);
    p["status"]["containerStatuses"][0]["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2024-05-01T11:55:00Z"}});
    assert_eq!(row("", "Pod", &p)[3], json!("3 (5m ago)"));
    // Without a last termination time only the count shows.
    p["status"]["containerStatuses"][0]["lastState"] = json!({});
    assert_eq!(row("", "Pod", &p)[3], json!("3"));
}

/// The pod-status reason table, case by case.
#[test]
fn pod_status_reasons() {
    let base = |status: Value, spec: Value| json!({"metadata": {"name": "p"}, "spec": spec, "status": status});
    let one = json!({"containers": [{"name": "c"}]});
    let with_init =
        json!({"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "c"}]});
    let waiting = |r: &str| json!({"name": "c", "state": {"waiting": {"reason": r}}});
    let term = |code: i64, reason: &str, signal: i64| json!({"name": "c", "state": {"terminated": {"exitCode": code, "reason": reason, "signal": signal}}});
    let cases: Vec<(Value, &str)> = vec![
        (
            base(
                json!({"phase": "Pending", "containerStatuses": [waiting("ContainerCreating")]}),
                one.clone(),
            ),
            "ContainerCreating",
        ),
        (
            base(
                json!({"phase": "Running", "containerStatuses": [waiting("CrashLoopBackOff")]}),
                one.clone(),
            ),
            "CrashLoopBackOff",
        ),
        (
            base(
                json!({"phase": "Pending", "containerStatuses": [waiting("ImagePullBackOff")]}),
                one.clone(),
            ),
            "ImagePullBackOff",
        ),
        (
            base(
                json!({"phase": "Pending", "containerStatuses": [waiting("ErrImagePull")]}),
                one.clone(),
            ),
            "ErrImagePull",
        ),
        (
            base(
                json!({"phase": "Succeeded", "containerStatuses": [term(0, "Completed", 0)]}),
                one.clone(),
            ),
            "Completed",
        ),
        (
            base(
                json!({"phase": "Failed", "containerStatuses": [term(1, "Error", 0)]}),
                one.clone(),
            ),
            "Error",
        ),
        (
            base(
                json!({"phase": "Failed", "containerStatuses": [term(137, "OOMKilled", 0)]}),
                one.clone(),
            ),
            "OOMKilled",
        ),
        (
            base(
                json!({"phase": "Failed", "containerStatuses": [term(2, "", 0)]}),
                one.clone(),
            ),
            "ExitCode:2",
        ),
        (
            base(
                json!({"phase": "Failed", "containerStatuses": [term(0, "", 9)]}),
                one.clone(),
            ),
            "Signal:9",
        ),
        (
            base(json!({"phase": "Failed", "reason": "Evicted"}), one.clone()),
            "Evicted",
        ),
        (
            base(
                json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                one.clone(),
            ),
            "SchedulingGated",
        ),
        (
            base(
                json!({"phase": "Pending", "initContainerStatuses": [{"name": "i1", "state": {"running": {}}}]}),
                with_init.clone(),
            ),
            "Init:0/2",
        ),
        (
            base(
                json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                with_init.clone(),
            ),
            "Init:1/2",
        ),
        (
            base(
                json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
                with_init.clone(),
            ),
            "Init:CrashLoopBackOff",
        ),
        (
            base(
                json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
                with_init.clone(),
            ),
            "Init:Error",
        ),
        (
            base(
                json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 3}}}]}),
                with_init.clone(),
            ),
            "Init:ExitCode:3",
        ),
        (
            base(
                json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 0, "signal": 15}}},
            {"name": "i2", "state": {"terminated": {"exitCode": 143, "signal": 15}}}]}),
                with_init.clone(),
            ),
            "Init:Signal:15",
        ),
        (
            base(
                json!({"phase": "Pending",
            "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "i2", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
            "containerStatuses": [waiting("PodInitializing")]}),
                with_init.clone(),
            ),
            "PodInitializing",
        ),
        // A container that completed while another still runs and the pod is Ready: Running.
        (
            base(
                json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": [
            {"name": "a", "ready": true, "state": {"running": {}}}, term(0, "Completed", 0)]}),
                json!({"containers": [{"name": "a"}, {"name": "c"}]}),
            ),
            "Running",
        ),
        // ... not Ready: NotReady.
        (
            base(
                json!({"phase": "Running", "containerStatuses": [
            {"name": "a", "ready": true, "state": {"running": {}}}, term(0, "Completed", 0)]}),
                json!({"containers": [{"name": "a"}, {"name": "c"}]}),
            ),
            "NotReady",
        ),
        // ... a failed sibling wins over Completed.
        (
            base(
                json!({"phase": "Running", "containerStatuses": [
            term(1, "Error", 0), term(0, "Completed", 0)]}),
                json!({"containers": [{"name": "a"}, {"name": "c"}]}),
            ),
            "Error",
        ),
    ];
    for (p, want) in &cases {
        assert_eq!(pod::status(p), *want, "{p}");
    }
}

#[test]
fn pod_terminating_and_node_lost() {
    let mut p = pod();
    p["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:50Z");
    assert_eq!(row("", "Pod", &p)[2], json!("Terminating"));
    p["status"]["reason"] = json!("NodeLost");
    assert_eq!(row("", "Pod", &p)[2], json!("Unknown"));
    let mut done = pod();
    done["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:50Z");
    done["status"]["phase"] = json!("Succeeded");
    done["status"]["containerStatuses"][0] =
        json!({"name": "nginx", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
    assert_eq!(row("", "Pod", &done)[2], json!("Completed"));
}

#[test]
fn pod_sidecars_count_towards_ready_and_restarts() {
    let p = json!({"metadata": {"name": "p", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}], "containers": [{"name": "app"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 2,
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:50:00Z"}}, "state": {"running": {}}}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 1, "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:40:00Z"}}}]}});
    let cells = row("", "Pod", &p);
    assert_eq!(cells[1], json!("2/2"));
    assert_eq!(cells[2], json!("Running"));
    assert_eq!(cells[3], json!("3 (10m ago)"));
}

#[test]
fn pod_row_conditions() {
    let mut p = pod();
    p["status"]["phase"] = json!("Succeeded");
    assert_eq!(
        row_conditions("", "Pod", &p),
        Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}])
        )
    );
    p["status"]["phase"] = json!("Failed");
    assert_eq!(
        row_conditions("", "Pod", &p),
        Some(
            json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}])
        )
    );
    assert_eq!(row_conditions("apps", "Deployment", &p), None);
}
