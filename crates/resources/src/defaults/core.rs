//! Core kinds: pod specs and containers (also inside every workload template), Service,
//! Namespace, Secret, PersistentVolume(Claim), ReplicationController, Endpoints.

use serde_json::{json, Map, Value};

use super::{at, default, default_map, each, obj_mut};

/// A Pod's spec and containers.
pub(crate) fn pod(obj: &mut Value) {
    if let Some(spec) = obj_mut(obj, "spec") {
        pod_spec(spec);
    }
}

/// A PodTemplate's pod template.
pub(crate) fn pod_template(obj: &mut Value) {
    template(obj, "/template");
}

/// A ReplicationController: replicas, and selector and labels from its template.
pub(crate) fn replication_controller(obj: &mut Value) {
    template(obj, "/spec/template");
    let labels = obj.pointer("/spec/template/metadata/labels").cloned();
    if let Some(spec) = obj_mut(obj, "spec") {
        default(spec, "replicas", json!(1));
        if let Some(l) = &labels {
            default_map(spec, "selector", l.clone());
        }
    }
    if let (Some(l), Some(meta)) = (labels, obj_mut(obj, "metadata")) {
        default_map(meta, "labels", l);
    }
}

/// A Service's spec.
pub(crate) fn service(obj: &mut Value) {
    if let Some(spec) = obj_mut(obj, "spec") {
        service_spec(spec);
    }
}

/// A Namespace: its name label, the `kubernetes` finalizer and phase Active.
pub(crate) fn namespace(obj: &mut Value) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let (Some(name), Some(meta)) = (name, obj_mut(obj, "metadata")) {
        if let Some(labels) = obj_mut_in(meta, "labels") {
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
    if let Some(spec) = obj_mut(obj, "spec") {
        default(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = obj_mut(obj, "status") {
        default(status, "phase", json!("Active"));
    }
}

/// A Secret's type, Opaque.
pub(crate) fn secret(obj: &mut Value) {
    if let Some(m) = obj.as_object_mut() {
        default(m, "type", json!("Opaque"));
    }
}

/// A PersistentVolumeClaim's volume mode and phase.
pub(crate) fn persistent_volume_claim(obj: &mut Value) {
    if let Some(spec) = obj_mut(obj, "spec") {
        default(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = obj_mut(obj, "status") {
        default(status, "phase", json!("Pending"));
    }
}

/// A PersistentVolume's reclaim policy, volume mode and phase.
pub(crate) fn persistent_volume(obj: &mut Value) {
    if let Some(spec) = obj_mut(obj, "spec") {
        default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        default(spec, "volumeMode", json!("Filesystem"));
    }
    if let Some(status) = obj_mut(obj, "status") {
        default(status, "phase", json!("Pending"));
    }
}

/// Endpoints ports' protocol, TCP.
pub(crate) fn endpoints(obj: &mut Value) {
    if let Some(m) = obj.as_object_mut() {
        for subset in each(m, "subsets") {
            for port in each(subset, "ports") {
                default(port, "protocol", json!("TCP"));
            }
        }
    }
}

fn obj_mut_in<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    if !m.get(key).is_some_and(Value::is_object) {
        m.insert(key.to_string(), json!({}));
    }
    m.get_mut(key)?.as_object_mut()
}

/// Defaults of the pod spec inside a template at `pointer` (when the template exists).
pub(super) fn template(obj: &mut Value, pointer: &str) {
    if let Some(spec) = at(obj, &format!("{pointer}/spec")) {
        pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec` and everything below it, plus `SetDefaults_Pod`'s requests.
pub(super) fn pod_spec(spec: &mut Map<String, Value>) {
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    default(spec, "enableServiceLinks", json!(true));
    if let Some(sa) = spec.get("serviceAccountName").cloned() {
        default(spec, "serviceAccount", sa);
    }
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in each(spec, list) {
            container(c, host_network);
        }
    }
    for v in each(spec, "volumes") {
        volume(v);
    }
}

fn volume(v: &mut Map<String, Value>) {
    let has_source = v.iter().any(|(k, val)| k != "name" && !val.is_null());
    if !has_source {
        v.insert("emptyDir".into(), json!({}));
    }
    for src in ["configMap", "secret", "projected", "downwardAPI"] {
        if let Some(s) = v.get_mut(src).and_then(Value::as_object_mut) {
            default(s, "defaultMode", json!(420));
        }
    }
    if let Some(h) = v.get_mut("hostPath").and_then(Value::as_object_mut) {
        default(h, "type", json!(""));
    }
    if let Some(p) = v.get_mut("projected").and_then(Value::as_object_mut) {
        for source in each(p, "sources") {
            if let Some(t) = source
                .get_mut("serviceAccountToken")
                .and_then(Value::as_object_mut)
            {
                default(t, "expirationSeconds", json!(3600));
            }
            if let Some(d) = source.get_mut("downwardAPI").and_then(Value::as_object_mut) {
                for item in each(d, "items") {
                    if let Some(f) = item.get_mut("fieldRef").and_then(Value::as_object_mut) {
                        default(f, "apiVersion", json!("v1"));
                    }
                }
            }
        }
    }
    if let Some(d) = v.get_mut("downwardAPI").and_then(Value::as_object_mut) {
        for item in each(d, "items") {
            if let Some(f) = item.get_mut("fieldRef").and_then(Value::as_object_mut) {
                default(f, "apiVersion", json!("v1"));
            }
        }
    }
}

/// Always pull `:latest` and untagged images; digests and other tags only if absent.
fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None | Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn container(c: &mut Map<String, Value>, host_network: bool) {
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    default(c, "imagePullPolicy", json!(pull_policy(&image)));
    default(c, "resources", json!({}));
    // Requests default to limits where only limits are given.
    let limits = c
        .get("resources")
        .and_then(|r| r.get("limits"))
        .and_then(Value::as_object)
        .cloned();
    if let (Some(limits), Some(r)) = (
        limits,
        c.get_mut("resources").and_then(Value::as_object_mut),
    ) {
        if let Some(req) = obj_mut_in(r, "requests") {
            for (k, v) in limits {
                req.entry(k).or_insert(v);
            }
        }
    }
    for p in each(c, "ports") {
        default(p, "protocol", json!("TCP"));
        if host_network {
            if let Some(cp) = p.get("containerPort").cloned() {
                default(p, "hostPort", cp);
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            default(p, "timeoutSeconds", json!(1));
            default(p, "periodSeconds", json!(10));
            default(p, "successThreshold", json!(1));
            default(p, "failureThreshold", json!(3));
            if let Some(h) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                default(h, "path", json!("/"));
                default(h, "scheme", json!("HTTP"));
            }
        }
    }
    if let Some(lc) = c.get_mut("lifecycle").and_then(Value::as_object_mut) {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lc
                .get_mut(hook)
                .and_then(|h| h.get_mut("httpGet"))
                .and_then(Value::as_object_mut)
            {
                default(h, "path", json!("/"));
                default(h, "scheme", json!("HTTP"));
            }
        }
    }
    for e in each(c, "env") {
        if let Some(fr) = e
            .get_mut("valueFrom")
            .and_then(|v| v.get_mut("fieldRef"))
            .and_then(Value::as_object_mut)
        {
            default(fr, "apiVersion", json!("v1"));
        }
    }
}

fn service_spec(spec: &mut Map<String, Value>) {
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        if let Some(cfg) = obj_mut_in(spec, "sessionAffinityConfig") {
            if let Some(ip) = obj_mut_in(cfg, "clientIP") {
                default(ip, "timeoutSeconds", json!(10800));
            }
        }
    }
    if ty != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
        default(spec, "ipFamilies", json!(["IPv4"]));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    for p in each(spec, "ports") {
        default(p, "protocol", json!("TCP"));
        let unset = p
            .get("targetPort")
            .is_none_or(|t| t.is_null() || *t == json!(0) || *t == json!(""));
        if unset {
            if let Some(port) = p.get("port").cloned() {
                p.insert("targetPort".into(), port);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_defaults() {
        let mut p = json!({"spec": {"containers": [{"name": "c", "image": "nginx",
            "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}},
            "livenessProbe": {"httpGet": {"port": 80}}}], "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}}]}});
        pod(&mut p);
        let s = &p["spec"];
        for (k, v) in [
            ("restartPolicy", json!("Always")),
            ("dnsPolicy", json!("ClusterFirst")),
            ("terminationGracePeriodSeconds", json!(30)),
            ("schedulerName", json!("default-scheduler")),
            ("securityContext", json!({})),
            ("enableServiceLinks", json!(true)),
        ] {
            assert_eq!(s[k], v, "{k}");
        }
        let c = &s["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["resources"]["requests"]["cpu"], "1");
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(s["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(s["volumes"][1]["secret"]["defaultMode"], 420);
    }

    #[test]
    fn image_pull_policy() {
        for (image, want) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1", "IfNotPresent"),
            ("localhost:5000/app", "Always"),
            ("localhost:5000/app:v1", "IfNotPresent"),
            ("a@sha256:0", "IfNotPresent"),
        ] {
            assert_eq!(pull_policy(image), want, "{image}");
        }
    }

    #[test]
    fn service_namespace_secret_pvc() {
        let mut s = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 81, "targetPort": "http"}]}});
        service(&mut s);
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(s["spec"]["ports"][1]["targetPort"], "http");
        assert_eq!(s["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(s["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(s["spec"]["sessionAffinity"], "None");
        assert_eq!(s["spec"]["internalTrafficPolicy"], "Cluster");
        assert_eq!(s["spec"]["ipFamilyPolicy"], "SingleStack");
        let mut en = json!({"spec": {"type": "ExternalName", "externalName": "a.b"}});
        service(&mut en);
        assert!(
            en["spec"].get("ipFamilies").is_none()
                && en["spec"].get("externalTrafficPolicy").is_none()
        );
        let mut ns = json!({"metadata": {"name": "team"}});
        namespace(&mut ns);
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team"
        );
        let mut sec = json!({"data": {}});
        secret(&mut sec);
        assert_eq!(sec["type"], "Opaque");
        let mut pvc = json!({"spec": {}});
        persistent_volume_claim(&mut pvc);
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        let mut rc = json!({"spec": {"template": {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": []}}}});
        replication_controller(&mut rc);
        assert_eq!(rc["spec"]["selector"], json!({"a": "1"}));
        assert_eq!(rc["metadata"]["labels"], json!({"a": "1"}));
    }
}
