//! Pod specs and templates (`ValidatePodSpec`, `ValidatePodTemplateSpec`, the pod update
//! rule): containers, ports, env, volumes and mounts, resources, probes, policies.

use std::collections::BTreeSet;

use serde_json::Value;

use super::field::FieldError;
use super::names::{
    annotations_errors, config_map_key, dns1123_label, dns1123_subdomain, env_var_name, in_range,
    invalid_each, labels_errors, port_name, port_num,
};
use super::probe::{probe_errors, resource_errors};

pub(super) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(super) fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];

/// The volume sources a pod volume may name, in the order Kubernetes counts them.
const VOLUME_SOURCES: [&str; 30] = [
    "hostPath",
    "emptyDir",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// A pod template: labels and annotations at `path.labels`/`path.annotations` (sic), the
/// spec at `path.spec`.
pub(super) fn template_errors(tmpl: Option<&Value>, path: &str) -> Vec<FieldError> {
    let null = Value::Null;
    let tmpl = tmpl.unwrap_or(&null);
    let mut errs = labels_errors(&format!("{path}.labels"), tmpl.pointer("/metadata/labels"));
    errs.extend(annotations_errors(
        &format!("{path}.annotations"),
        tmpl.pointer("/metadata/annotations"),
    ));
    let spec = tmpl.get("spec").unwrap_or(&null);
    errs.extend(spec_errors(spec, &format!("{path}.spec")));
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            &format!("{path}.spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// `ValidatePodSpec`.
pub(super) fn spec_errors(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let volumes = volume_errors(&mut errs, arr(spec, "volumes"), &format!("{path}.volumes"));
    let restart = text(spec, "restartPolicy");
    let containers = arr(spec, "containers");
    let cpath = format!("{path}.containers");
    if containers.is_empty() {
        errs.push(FieldError::required(&cpath, ""));
    }
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = format!("{cpath}[{i}]");
        container_errors(&mut errs, c, &p, &volumes);
        let name = text(c, "name");
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&format!("{p}.name"), name));
        }
        probe_errors(
            &mut errs,
            c.get("livenessProbe"),
            &format!("{p}.livenessProbe"),
            true,
        );
        probe_errors(
            &mut errs,
            c.get("readinessProbe"),
            &format!("{p}.readinessProbe"),
            false,
        );
        probe_errors(
            &mut errs,
            c.get("startupProbe"),
            &format!("{p}.startupProbe"),
            true,
        );
    }
    let ipath = format!("{path}.initContainers");
    for (i, c) in arr(spec, "initContainers").iter().enumerate() {
        let p = format!("{ipath}[{i}]");
        container_errors(&mut errs, c, &p, &volumes);
        let name = text(c, "name");
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(&format!("{p}.name"), name));
        }
        let sidecar = text(c, "restartPolicy") == "Always";
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if c.get(probe).is_some_and(|v| !v.is_null()) {
                if sidecar {
                    probe_errors(
                        &mut errs,
                        c.get(probe),
                        &format!("{p}.{probe}"),
                        probe != "readinessProbe",
                    );
                } else {
                    errs.push(FieldError::forbidden(
                        &format!("{p}.{probe}"),
                        "may not be set for init containers without restartPolicy=Always",
                    ));
                }
            }
        }
    }
    match restart {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(&format!("{path}.restartPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &format!("{path}.restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    match text(spec, "dnsPolicy") {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(&format!("{path}.dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &format!("{path}.dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    errs.extend(labels_errors(
        &format!("{path}.nodeSelector"),
        spec.get("nodeSelector"),
    ));
    for (key, check) in [
        (
            "serviceAccountName",
            dns1123_subdomain as fn(&str) -> Vec<String>,
        ),
        ("nodeName", dns1123_subdomain),
        ("hostname", dns1123_label),
        ("subdomain", dns1123_label),
        ("priorityClassName", dns1123_subdomain),
    ] {
        let v = text(spec, key);
        if !v.is_empty() {
            errs.extend(invalid_each(&format!("{path}.{key}"), v, check(v)));
        }
    }
    if let Some(ads) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        for m in in_range(ads, 1, i64::from(i32::MAX)) {
            errs.push(FieldError::invalid(
                &format!("{path}.activeDeadlineSeconds"),
                ads,
                &m,
            ));
        }
    }
    for (i, t) in arr(spec, "tolerations").iter().enumerate() {
        toleration_errors(&mut errs, t, &format!("{path}.tolerations[{i}]"));
    }
    errs
}

fn toleration_errors(errs: &mut Vec<FieldError>, t: &Value, path: &str) {
    let key = text(t, "key");
    if !key.is_empty() {
        errs.extend(invalid_each(
            &format!("{path}.key"),
            key,
            super::names::qualified_name(key),
        ));
    }
    let op = text(t, "operator");
    if key.is_empty() && op != "Exists" {
        errs.push(FieldError::invalid(
            &format!("{path}.operator"),
            op,
            "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
        ));
    }
    match op {
        "" | "Equal" => {}
        "Exists" => {
            if !text(t, "value").is_empty() {
                errs.push(FieldError::invalid(
                    &format!("{path}.operator"),
                    text(t, "value"),
                    "value must be empty when `operator` is 'Exists'",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            &format!("{path}.operator"),
            other,
            &["Equal", "Exists"],
        )),
    }
    match text(t, "effect") {
        "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
        other => errs.push(FieldError::not_supported(
            &format!("{path}.effect"),
            other,
            &["NoExecute", "NoSchedule", "PreferNoSchedule"],
        )),
    }
}

/// Volumes; returns the names of the valid ones (mounts may only refer to those).
fn volume_errors(errs: &mut Vec<FieldError>, volumes: &[Value], path: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, vol) in volumes.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let mut verrs = Vec::new();
        let mut sources = 0;
        for src in VOLUME_SOURCES {
            let Some(s) = vol.get(src).filter(|v| !v.is_null()) else {
                continue;
            };
            if sources > 0 {
                verrs.push(FieldError::forbidden(
                    &format!("{p}.{src}"),
                    "may not specify more than 1 volume type",
                ));
                continue;
            }
            sources += 1;
            volume_source_errors(&mut verrs, src, s, &format!("{p}.{src}"));
        }
        if sources == 0 {
            verrs.push(FieldError::required(&p, "must specify a volume type"));
        }
        let name = text(vol, "name");
        if name.is_empty() {
            verrs.push(FieldError::required(&format!("{p}.name"), ""));
        } else {
            verrs.extend(invalid_each(
                &format!("{p}.name"),
                name,
                dns1123_label(name),
            ));
        }
        if names.contains(name) {
            verrs.push(FieldError::duplicate(&format!("{p}.name"), name));
        }
        if verrs.is_empty() {
            names.insert(name.to_string());
        } else {
            errs.extend(verrs);
        }
    }
    names
}

fn volume_source_errors(errs: &mut Vec<FieldError>, kind: &str, s: &Value, path: &str) {
    let required_key = match kind {
        "hostPath" => Some("path"),
        "secret" => Some("secretName"),
        "configMap" => Some("name"),
        "persistentVolumeClaim" => Some("claimName"),
        "nfs" => Some("server"),
        "csi" => Some("driver"),
        _ => None,
    };
    if let Some(k) = required_key {
        if text(s, k).is_empty() {
            errs.push(FieldError::required(&format!("{path}.{k}"), ""));
        }
    }
    if kind == "hostPath" {
        let t = text(s, "type");
        let valid = [
            "",
            "DirectoryOrCreate",
            "Directory",
            "FileOrCreate",
            "File",
            "Socket",
            "CharDevice",
            "BlockDevice",
        ];
        if !valid.contains(&t) {
            errs.push(FieldError::not_supported(
                &format!("{path}.type"),
                t,
                &valid,
            ));
        }
    }
    if let Some(mode) = s.get("defaultMode").and_then(Value::as_i64) {
        if !(0..=0o777).contains(&mode) {
            errs.push(FieldError::invalid(
                &format!("{path}.defaultMode"),
                mode,
                "must be a number between 0 and 0777 (octal), both inclusive",
            ));
        }
    }
    for (j, item) in arr(s, "items").iter().enumerate() {
        let ip = format!("{path}.items[{j}]");
        if text(item, "key").is_empty() && matches!(kind, "configMap" | "secret") {
            errs.push(FieldError::required(&format!("{ip}.key"), ""));
        }
        if text(item, "path").is_empty() {
            errs.push(FieldError::required(&format!("{ip}.path"), ""));
        }
    }
}

/// Checks common to regular and init containers.
fn container_errors(errs: &mut Vec<FieldError>, c: &Value, p: &str, volumes: &BTreeSet<String>) {
    let name = text(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&format!("{p}.name"), ""));
    } else {
        errs.extend(invalid_each(
            &format!("{p}.name"),
            name,
            dns1123_label(name),
        ));
    }
    if text(c, "image").is_empty() {
        errs.push(FieldError::required(&format!("{p}.image"), ""));
    }
    match text(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            &format!("{p}.terminationMessagePolicy"),
            "",
        )),
        other => errs.push(FieldError::not_supported(
            &format!("{p}.terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    port_errors(errs, arr(c, "ports"), &format!("{p}.ports"));
    env_errors(errs, arr(c, "env"), &format!("{p}.env"));
    mount_errors(
        errs,
        arr(c, "volumeMounts"),
        &format!("{p}.volumeMounts"),
        volumes,
    );
    match text(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(&format!("{p}.imagePullPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            &format!("{p}.imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(r) = c.get("resources") {
        resource_errors(errs, r, &format!("{p}.resources"));
    }
}

fn port_errors(errs: &mut Vec<FieldError>, ports: &[Value], path: &str) {
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let name = text(port, "name");
        if !name.is_empty() {
            let msgs = port_name(name);
            if !msgs.is_empty() {
                errs.extend(invalid_each(&format!("{p}.name"), name, msgs));
            } else if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(&format!("{p}.name"), name));
            }
        }
        let cp = port
            .get("containerPort")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if cp == 0 {
            errs.push(FieldError::required(&format!("{p}.containerPort"), ""));
        } else {
            for m in port_num(cp) {
                errs.push(FieldError::invalid(&format!("{p}.containerPort"), cp, &m));
            }
        }
        let hp = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
        if hp != 0 {
            for m in port_num(hp) {
                errs.push(FieldError::invalid(&format!("{p}.hostPort"), hp, &m));
            }
        }
        protocol_errors(errs, port, &p);
    }
}

/// A port's `protocol`: required (it is defaulted) and one of SCTP, TCP, UDP.
pub(super) fn protocol_errors(errs: &mut Vec<FieldError>, port: &Value, p: &str) {
    match text(port, "protocol") {
        "" => errs.push(FieldError::required(&format!("{p}.protocol"), "")),
        proto if PROTOCOLS.contains(&proto) => {}
        proto => errs.push(FieldError::not_supported(
            &format!("{p}.protocol"),
            proto,
            &PROTOCOLS,
        )),
    }
}

fn env_errors(errs: &mut Vec<FieldError>, env: &[Value], path: &str) {
    for (i, e) in env.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let name = text(e, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&format!("{p}.name"), ""));
        }
        errs.extend(invalid_each(&format!("{p}.name"), name, env_var_name(name)));
        let Some(from) = e.get("valueFrom").filter(|v| !v.is_null()) else {
            continue;
        };
        let fp = format!("{p}.valueFrom");
        let mut sources = 0;
        for src in [
            "fieldRef",
            "resourceFieldRef",
            "configMapKeyRef",
            "secretKeyRef",
            "fileKeyRef",
        ] {
            let Some(s) = from.get(src).filter(|v| !v.is_null()) else {
                continue;
            };
            sources += 1;
            let sp = format!("{fp}.{src}");
            match src {
                "fieldRef" => {
                    if text(s, "apiVersion").is_empty() {
                        errs.push(FieldError::required(&format!("{sp}.apiVersion"), ""));
                    }
                    if text(s, "fieldPath").is_empty() {
                        errs.push(FieldError::required(&format!("{sp}.fieldPath"), ""));
                    }
                }
                "resourceFieldRef" if text(s, "resource").is_empty() => {
                    errs.push(FieldError::required(&format!("{sp}.resource"), ""));
                }
                "configMapKeyRef" | "secretKeyRef" => {
                    if text(s, "name").is_empty() {
                        errs.push(FieldError::required(&format!("{sp}.name"), ""));
                    }
                    let key = text(s, "key");
                    if key.is_empty() {
                        errs.push(FieldError::required(&format!("{sp}.key"), ""));
                    } else {
                        errs.extend(invalid_each(&format!("{sp}.key"), key, config_map_key(key)));
                    }
                }
                _ => {}
            }
        }
        if sources == 0 {
            errs.push(FieldError::invalid(
                &fp,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !text(e, "value").is_empty() {
            errs.push(FieldError::invalid(
                &fp,
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(FieldError::invalid(
                &fp,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn mount_errors(
    errs: &mut Vec<FieldError>,
    mounts: &[Value],
    path: &str,
    volumes: &BTreeSet<String>,
) {
    let mut paths = BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let name = text(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(&format!("{p}.name"), ""));
        }
        if !volumes.contains(name) {
            errs.push(FieldError::not_found(&format!("{p}.name"), name));
        }
        let mp = text(m, "mountPath");
        if mp.is_empty() {
            errs.push(FieldError::required(&format!("{p}.mountPath"), ""));
        }
        if !paths.insert(mp.to_string()) {
            errs.push(FieldError::invalid(
                &format!("{p}.mountPath"),
                mp,
                "must be unique",
            ));
        }
        let sub = text(m, "subPath");
        if !sub.is_empty() {
            local_descending_path(errs, sub, &format!("{path}.subPath"));
        }
    }
}

fn local_descending_path(errs: &mut Vec<FieldError>, p: &str, field: &str) {
    if p.starts_with('/') {
        errs.push(FieldError::invalid(field, p, "must be a relative path"));
    }
    if p.split(['/', '\\']).any(|part| part == "..") {
        errs.push(FieldError::invalid(field, p, "must not contain '..'"));
    }
}

const POD_UPDATE_MSG: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// The pod update rule: only images, activeDeadlineSeconds, added tolerations and a
/// corrected negative grace period may change.
pub(super) fn update_errors(new: &Value, old: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let new_spec = new.get("spec").unwrap_or(&null);
    let mut munged = old.get("spec").cloned().unwrap_or(Value::Null);
    for list in ["containers", "initContainers"] {
        let new_list = arr(new_spec, list);
        if let Some(old_list) = munged.get_mut(list).and_then(Value::as_array_mut) {
            if old_list.len() == new_list.len() {
                for (o, n) in old_list.iter_mut().zip(new_list) {
                    if let (Some(o), Some(img)) = (o.as_object_mut(), n.get("image")) {
                        o.insert("image".into(), img.clone());
                    }
                }
            }
        }
    }
    if let Some(m) = munged.as_object_mut() {
        match new_spec.get("activeDeadlineSeconds") {
            Some(v) => {
                m.insert("activeDeadlineSeconds".into(), v.clone());
            }
            None => {
                m.remove("activeDeadlineSeconds");
            }
        }
        let old_tol = m
            .get("tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let new_tol = arr(new_spec, "tolerations");
        if old_tol.iter().all(|t| new_tol.contains(t)) {
            if new_tol.is_empty() {
                m.remove("tolerations");
            } else {
                m.insert("tolerations".into(), Value::Array(new_tol.to_vec()));
            }
        }
        let old_grace = m
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_i64);
        let new_grace = new_spec
            .get("terminationGracePeriodSeconds")
            .and_then(Value::as_i64);
        if old_grace.is_some_and(|g| g < 0) && new_grace == Some(1) {
            m.insert("terminationGracePeriodSeconds".into(), Value::from(1));
        }
    }
    if &munged != new_spec {
        vec![FieldError::forbidden("spec", POD_UPDATE_MSG)]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    fn base() -> Value {
        json!({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "containers": [
            {"name": "c", "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]})
    }

    #[test]
    fn valid_spec_passes() {
        assert!(spec_errors(&base(), "spec").is_empty());
    }

    #[test]
    fn container_table() {
        let cases: Vec<(Value, &str)> = vec![
            (json!({"containers": []}), "spec.containers: Required value"),
            (json!({"containers": [{"name": "c", "image": ""}]}), "spec.containers[0].image: Required value"),
            (json!({"containers": [{"name": "C_1", "image": "x"}]}), "spec.containers[0].name: Invalid value: \"C_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
            (json!({"containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]}), "spec.containers[1].name: Duplicate value: \"c\""),
            (json!({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 70000, "protocol": "TCP"}]}]}), "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"),
            (json!({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]}), "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""),
            (json!({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "protocol": "TCP", "name": "a", }, {"containerPort": 81, "protocol": "TCP", "name": "a"}]}]}), "spec.containers[0].ports[1].name: Duplicate value: \"a\""),
            (json!({"containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}), "spec.containers[0].volumeMounts[0].name: Not found: \"data\""),
            (json!({"containers": [{"name": "c", "image": "x", "env": [{"name": "A=B", "value": "1"}]}]}), "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"),
            (json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]}), "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"),
            (json!({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1.5Gi"}}}]}), "spec.containers[0].resources.requests: Invalid value: \"2Gi\": must be less than or equal to memory limit of 1536Mi"),
            (json!({"containers": [{"name": "c", "image": "x", "livenessProbe": {"periodSeconds": 10}}]}), "spec.containers[0].livenessProbe: Required value: must specify a handler type"),
            (json!({"containers": [{"name": "c", "image": "x", "livenessProbe": {"exec": {"command": ["a"]}, "successThreshold": 2}}]}), "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"),
            (json!({"containers": [{"name": "c", "image": "x", "readinessProbe": {"httpGet": {"path": "/", "port": 0, "scheme": "HTTP"}}}]}), "spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive"),
            (json!({"restartPolicy": "Sometimes"}), "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""),
            (json!({"dnsPolicy": "Foo"}), "spec.dnsPolicy: Unsupported value: \"Foo\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""),
            (json!({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]}), "spec.volumes[1].name: Duplicate value: \"v\""),
            (json!({"volumes": [{"name": "v"}]}), "spec.volumes[0]: Required value: must specify a volume type"),
            (json!({"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]}), "spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type"),
            (json!({"volumes": [{"name": "v", "configMap": {}}]}), "spec.volumes[0].configMap.name: Required value"),
            (json!({"activeDeadlineSeconds": 0}), "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"),
        ];
        for (patch, want) in cases {
            let mut spec = base();
            for (k, v) in patch.as_object().unwrap() {
                spec[k] = v.clone();
            }
            let got = msgs(&spec_errors(&spec, "spec"));
            assert!(got.contains(&want.to_string()), "want {want}\n got {got:?}");
        }
    }

    #[test]
    fn template_paths_and_update_rule() {
        let t = json!({"metadata": {"labels": {"a": "b c"}}, "spec": base()});
        let got = msgs(&template_errors(Some(&t), "spec.template"));
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("spec.template.labels: Invalid value: \"b c\""));
        let old = json!({"spec": base()});
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:2");
        new["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
        assert!(update_errors(&new, &old).is_empty());
        new["spec"]["restartPolicy"] = json!("Never");
        assert_eq!(
            msgs(&update_errors(&new, &old)),
            [format!("spec: Forbidden: {POD_UPDATE_MSG}")]
        );
    }
}
