//! HorizontalPodAutoscaler on a live metrics API. The metrics come from a test double of
//! metrics-server: an extension API server of the test, registered as
//! `v1beta1.metrics.k8s.io`, that reports the CPU the test chooses for every pod of the
//! target. The HPA scales up and back down on it, and `kubectl top` reads the same API.

use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::aggregation::{extension_server, register_apiservice};
use crate::support::{eventually, namespace, shared_with_node, Kubectl, Server};
use crate::workloads::deployment_requesting_cpu;

/// What the metrics double reports: the pods it knows and the CPU each uses, in millicores.
#[derive(Default)]
struct Usage {
    namespace: String,
    pods: Vec<String>,
    millicores: u32,
}

/// metrics.k8s.io/v1beta1 answers built from `usage`, shaped like metrics-server's.
fn metrics_answer(usage: &Usage, path: &str) -> serde_json::Value {
    if path == "/apis/metrics.k8s.io/v1beta1" {
        return json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "metrics.k8s.io/v1beta1",
            "resources": [
                {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]},
                {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
            ],
        });
    }
    let items: Vec<serde_json::Value> = if path
        == format!(
            "/apis/metrics.k8s.io/v1beta1/namespaces/{}/pods",
            usage.namespace
        ) {
        usage
            .pods
            .iter()
            .map(|p| {
                json!({
                    "metadata": {"name": p, "namespace": usage.namespace},
                    "timestamp": "2026-01-01T00:00:00Z", "window": "15s",
                    "containers": [{"name": "web", "usage": {"cpu": format!("{}m", usage.millicores), "memory": "10Mi"}}],
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items})
}

const HPA: &str = r#"apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
"#;

#[test]
fn hpa_scales_on_cpu_from_the_metrics_api() {
    // A server of its own: the metrics API it registers must not reach other tests.
    let server = Server::start_with_node("node-1");
    let k = server.kubectl();
    let ns = namespace(&k, "hpa-live");
    let n = ns.as_str();
    let usage = Arc::new(Mutex::new(Usage {
        namespace: ns.clone(),
        millicores: 200,
        ..Default::default()
    }));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seen = usage.clone();
    let port = extension_server(&rt, move |req| {
        metrics_answer(&seen.lock().unwrap(), req.uri().path())
    });
    register_apiservice(&k, "metrics-server", "metrics.k8s.io", "v1beta1", port);

    deployment_requesting_cpu(&k, n, 1);
    // The double learns the deployment's pods as they come and go.
    let pods = |usage: &Mutex<Usage>| {
        let names = k
            .run(&[
                "-n",
                n,
                "get",
                "pods",
                "-l",
                "app=web",
                "--field-selector=status.phase=Running",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ])
            .ok()
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>();
        usage.lock().unwrap().pods = names.clone();
        names
    };
    eventually("one running pod", 30, || {
        (pods(&usage).len() == 1).then_some(())
    });
    let top = k.run(&["-n", n, "top", "pod"]).ok().to_string();
    assert!(
        top.starts_with("NAME") && top.contains("200m") && top.contains("10Mi"),
        "{top}"
    );

    // 200m of 100m requested is 200% against a 50% target: four replicas, the maximum.
    k.clone()
        .stdin(HPA)
        .run(&["-n", n, "apply", "-f", "-"])
        .ok();
    eventually("scaled up to 4 ready replicas", 60, || {
        pods(&usage);
        let ready = k
            .run(&[
                "-n",
                n,
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.status.readyReplicas}",
            ])
            .ok()
            .to_string();
        (ready == "4").then_some(())
    });
    // The next sync (every 15 s) sees the four replicas.
    let row = eventually("the HPA reports utilization and replicas", 40, || {
        pods(&usage);
        let out = k.run(&["-n", n, "get", "hpa", "web", "--no-headers"]);
        let row = out.ok().to_string();
        let cols: Vec<String> = row.split_whitespace().map(str::to_string).collect();
        (row.contains("cpu: 200%/50%") && cols.len() > 4 && cols[cols.len() - 2] == "4")
            .then_some(cols)
    });
    assert_eq!(row[..2], ["web", "Deployment/web"], "{row:?}");
    assert_eq!(
        row[row.len() - 4..row.len() - 1],
        ["1", "4", "4"],
        "{row:?}"
    );
    let events = k.run(&["-n", n, "describe", "hpa", "web"]).ok().to_string();
    assert!(
        events.contains(
            "New size: 4; reason: cpu resource utilization (percentage of request) above target"
        ),
        "{events}"
    );

    // 10m is 10%: back down to one replica once the next sync sees it.
    usage.lock().unwrap().millicores = 10;
    eventually("scaled down to 1 replica", 60, || {
        (pods(&usage).len() == 1).then_some(())
    });
    let events = k.run(&["-n", n, "describe", "hpa", "web"]).ok().to_string();
    assert!(
        events.contains("New size: 1; reason: All metrics below target"),
        "{events}"
    );
}

/// The reason and message of an HPA's AbleToScale condition.
fn able_to_scale(k: &Kubectl, ns: &str, hpa: &str) -> (String, String) {
    let out = k
        .run(&[
            "-n",
            ns,
            "get",
            "hpa",
            hpa,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"AbleToScale\")].reason}|{.status.conditions[?(@.type==\"AbleToScale\")].message}",
        ])
        .ok()
        .to_string();
    let (reason, message) = out.split_once('|').unwrap_or_default();
    (reason.to_string(), message.to_string())
}

#[test]
fn hpa_with_a_space_in_its_target_name_leaves_autoscaling_running() {
    let k = shared_with_node().kubectl();
    let ns = namespace(&k, "hpa-odd-target");
    let n = ns.as_str();
    let hpa = |name: &str, api_version: &str, target: &str| {
        let manifest = format!(
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {{name: {name}}}\n\
             spec:\n  scaleTargetRef: {{apiVersion: {api_version:?}, kind: Deployment, name: {target:?}}}\n  maxReplicas: 3\n"
        );
        k.clone()
            .stdin(&manifest)
            .run(&["-n", n, "apply", "-f", "-"])
            .ok();
    };
    // A name upstream validation allows (a path segment) but no Deployment can have,
    // and an apiVersion crafted to steer the controller's requests to another namespace.
    hpa("spaced", "apps/v1", "a b");
    hpa(
        "crafted",
        "apps/v1/namespaces/kube-system/deployments/coredns",
        "x",
    );
    let message = eventually("the spaced target reported missing", 40, || {
        let (reason, message) = able_to_scale(&k, n, "spaced");
        (reason == "FailedGetScale").then_some(message)
    });
    assert!(
        message.contains(r#"deployments.apps "a b" not found"#),
        "{message}"
    );
    let (reason, message) = eventually("the crafted apiVersion refused", 40, || {
        let got = able_to_scale(&k, n, "crafted");
        (!got.0.is_empty()).then_some(got)
    });
    assert_eq!(reason, "FailedGetScale");
    assert!(
        message.contains("invalid API version in scale target reference: unexpected GroupVersion string: apps/v1/namespaces/kube-system/deployments/coredns"),
        "{message}"
    );
    // The controller lives on: an ordinary HPA created after them gets its scale read.
    deployment_requesting_cpu(&k, n, 2);
    hpa("web", "apps/v1", "web");
    eventually("the ordinary HPA synced", 40, || {
        (able_to_scale(&k, n, "web").0 == "SucceededGetScale").then_some(())
    });
}
