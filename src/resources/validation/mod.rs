//! Validation of built-in objects with kube-apiserver's field errors and message texts
//! (apimachinery's field.Error and util/validation, pkg/apis/*/validation).

mod field;
mod names;

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use field::go_value;
pub use field::{ErrorType, FieldError};
use names::{dns_label_errors, metadata_errors};

fn non_negative(errs: &mut Vec<FieldError>, obj: &Value, pointer: &str, field: &str) {
    if let Some(v) = obj.pointer(pointer) {
        if v.as_i64().is_some_and(|n| n < 0) {
            errs.push(FieldError::invalid(
                field,
                v,
                "must be greater than or equal to 0",
            ));
        }
    }
}

fn container_errors(
    errs: &mut Vec<FieldError>,
    path: &str,
    containers: &[Value],
    volumes: &BTreeSet<String>,
    names: &mut BTreeSet<String>,
) {
    for (i, c) in containers.iter().enumerate() {
        let f = format!("{path}[{i}]");
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            errs.push(FieldError::required(&format!("{f}.name"), ""));
        } else {
            errs.extend(dns_label_errors(&format!("{f}.name"), name));
            if !names.insert(name.to_string()) {
                errs.push(FieldError::new(
                    ErrorType::Duplicate,
                    &format!("{f}.name"),
                    Some(format!("{name:?}")),
                    "",
                ));
            }
        }
        if c.get("image")
            .and_then(Value::as_str)
            .is_none_or(|s| s.trim().is_empty())
        {
            errs.push(FieldError::required(&format!("{f}.image"), ""));
        }
        for (j, p) in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let pf = format!("{f}.ports[{j}]");
            match p.get("containerPort").and_then(Value::as_i64) {
                Some(n) if (1..=65535).contains(&n) => {}
                Some(n) => errs.push(FieldError::invalid(
                    &format!("{pf}.containerPort"),
                    &Value::from(n),
                    "must be between 1 and 65535, inclusive",
                )),
                None => errs.push(FieldError::required(&format!("{pf}.containerPort"), "")),
            }
            if let Some(proto) = p.get("protocol").and_then(Value::as_str) {
                if !matches!(proto, "TCP" | "UDP" | "SCTP") {
                    errs.push(FieldError::new(
                        ErrorType::NotSupported,
                        &format!("{pf}.protocol"),
                        Some(format!("{proto:?}")),
                        "supported values: \"SCTP\", \"TCP\", \"UDP\"",
                    ));
                }
            }
        }
        for (j, m) in c
            .get("volumeMounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let vname = m.get("name").and_then(Value::as_str).unwrap_or("");
            if !volumes.contains(vname) {
                errs.push(FieldError::new(
                    ErrorType::NotFound,
                    &format!("{f}.volumeMounts[{j}].name"),
                    Some(format!("{vname:?}")),
                    "",
                ));
            }
        }
    }
}

fn pod_spec_errors(errs: &mut Vec<FieldError>, spec: &Value, path: &str, allowed_restart: &[&str]) {
    let volumes: BTreeSet<String> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|x| x.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut names = BTreeSet::new();
    let containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if containers.is_empty() {
        errs.push(FieldError::required(&format!("{path}.containers"), ""));
    }
    if let Some(init) = spec.get("initContainers").and_then(Value::as_array) {
        container_errors(
            errs,
            &format!("{path}.initContainers"),
            init,
            &volumes,
            &mut names,
        );
    }
    container_errors(
        errs,
        &format!("{path}.containers"),
        containers,
        &volumes,
        &mut names,
    );
    if let Some(r) = spec.get("restartPolicy").and_then(Value::as_str) {
        if !allowed_restart.contains(&r) {
            let supported: Vec<String> = allowed_restart.iter().map(|s| format!("{s:?}")).collect();
            errs.push(FieldError::new(
                ErrorType::NotSupported,
                &format!("{path}.restartPolicy"),
                Some(format!("{r:?}")),
                format!("supported values: {}", supported.join(", ")),
            ));
        }
    }
    non_negative(
        errs,
        spec,
        "/terminationGracePeriodSeconds",
        &format!("{path}.terminationGracePeriodSeconds"),
    );
}

fn selector_matches_template(errs: &mut Vec<FieldError>, obj: &Value, required: bool) {
    let selector = obj.pointer("/spec/selector");
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    match selector {
        None | Some(Value::Null) if required => {
            errs.push(FieldError::required("spec.selector", ""))
        }
        Some(sel) => {
            let empty = sel
                .get("matchLabels")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
                && sel
                    .get("matchExpressions")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty);
            if empty && required {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    sel,
                    "empty selector is invalid for deployment",
                ));
                return;
            }
            let ok = match crate::apiserver::selectors::LabelSelector::from_label_selector_json(sel)
            {
                Ok(s) => s.matches(labels.as_object().unwrap_or(&Map::new())),
                Err(_) => false,
            };
            if !ok {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    &labels,
                    "`selector` does not match template `labels`",
                ));
            }
        }
        _ => {}
    }
}

fn spec_errors(group: &str, kind: &str, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match (group, kind) {
        ("", "Pod") => {
            if let Some(spec) = obj.get("spec") {
                pod_spec_errors(&mut errs, spec, "spec", &["Always", "OnFailure", "Never"]);
            } else {
                errs.push(FieldError::required("spec.containers", ""));
            }
        }
        ("apps", "Deployment")
        | ("apps", "ReplicaSet")
        | ("apps", "StatefulSet")
        | ("apps", "DaemonSet")
        | ("", "ReplicationController") => {
            non_negative(&mut errs, obj, "/spec/replicas", "spec.replicas");
            non_negative(
                &mut errs,
                obj,
                "/spec/minReadySeconds",
                "spec.minReadySeconds",
            );
            non_negative(
                &mut errs,
                obj,
                "/spec/revisionHistoryLimit",
                "spec.revisionHistoryLimit",
            );
            if kind != "ReplicationController" {
                selector_matches_template(&mut errs, obj, true);
            }
            if let Some(spec) = obj.pointer("/spec/template/spec") {
                pod_spec_errors(&mut errs, spec, "spec.template.spec", &["Always"]);
            }
            if kind == "Deployment" {
                if let Some(t) = obj.pointer("/spec/strategy/type").and_then(Value::as_str) {
                    if !matches!(t, "RollingUpdate" | "Recreate") {
                        errs.push(FieldError::new(
                            ErrorType::NotSupported,
                            "spec.strategy.type",
                            Some(format!("{t:?}")),
                            "supported values: \"Recreate\", \"RollingUpdate\"",
                        ));
                    }
                }
            }
        }
        ("batch", "Job") => {
            non_negative(&mut errs, obj, "/spec/parallelism", "spec.parallelism");
            non_negative(&mut errs, obj, "/spec/completions", "spec.completions");
            non_negative(&mut errs, obj, "/spec/backoffLimit", "spec.backoffLimit");
            selector_matches_template(&mut errs, obj, false);
            if let Some(spec) = obj.pointer("/spec/template/spec") {
                pod_spec_errors(
                    &mut errs,
                    spec,
                    "spec.template.spec",
                    &["OnFailure", "Never"],
                );
            }
        }
        ("batch", "CronJob") => {
            let schedule = obj
                .pointer("/spec/schedule")
                .and_then(Value::as_str)
                .unwrap_or("");
            if schedule.is_empty() {
                errs.push(FieldError::required("spec.schedule", ""));
            } else if !cron_ok(schedule) {
                errs.push(FieldError::invalid(
                    "spec.schedule",
                    &Value::String(schedule.into()),
                    "unparseable cron expression",
                ));
            }
            if let Some(p) = obj
                .pointer("/spec/concurrencyPolicy")
                .and_then(Value::as_str)
            {
                if !matches!(p, "Allow" | "Forbid" | "Replace") {
                    errs.push(FieldError::new(
                        ErrorType::NotSupported,
                        "spec.concurrencyPolicy",
                        Some(format!("{p:?}")),
                        "supported values: \"Allow\", \"Forbid\", \"Replace\"",
                    ));
                }
            }
            if let Some(spec) = obj.pointer("/spec/jobTemplate/spec/template/spec") {
                pod_spec_errors(
                    &mut errs,
                    spec,
                    "spec.jobTemplate.spec.template.spec",
                    &["OnFailure", "Never"],
                );
            }
        }
        ("", "Service") => service_errors(&mut errs, obj),
        ("", "ConfigMap") | ("", "Secret") => {
            for field in ["data", "binaryData", "stringData"] {
                for k in obj
                    .get(field)
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    let ok = !k.is_empty()
                        && k.len() <= 253
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                    if !ok {
                        errs.push(FieldError::invalid(&format!("{field}[{k}]"), &Value::String(k.clone()), "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
                    }
                }
            }
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let max = obj
                .pointer("/spec/maxReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let min = obj
                .pointer("/spec/minReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            if max < 1 {
                errs.push(FieldError::invalid(
                    "spec.maxReplicas",
                    &Value::from(max),
                    "must be greater than or equal to 1",
                ));
            } else if min > max {
                errs.push(FieldError::invalid(
                    "spec.maxReplicas",
                    &Value::from(max),
                    "must be greater than or equal to `minReplicas`",
                ));
            }
        }
        ("rbac.authorization.k8s.io", "Role") | ("rbac.authorization.k8s.io", "ClusterRole") => {
            for (i, r) in obj
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if r.get("verbs")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
                {
                    errs.push(FieldError::required(
                        &format!("rules[{i}].verbs"),
                        "verbs must contain at least one value",
                    ));
                }
            }
        }
        _ => {}
    }
    errs
}

fn cron_ok(s: &str) -> bool {
    if s.starts_with('@') {
        return matches!(
            s,
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly"
        ) || s.starts_with("@every ");
    }
    let fields: Vec<&str> = s
        .split_whitespace()
        .filter(|f| !f.starts_with("CRON_TZ=") && !f.starts_with("TZ="))
        .collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || "*/,-?".contains(c))
        })
}

fn service_errors(errs: &mut Vec<FieldError>, obj: &Value) {
    let ty = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if !matches!(
        ty,
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
    ) {
        errs.push(FieldError::new(
            ErrorType::NotSupported,
            "spec.type",
            Some(format!("{ty:?}")),
            "supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
        ));
    }
    let ports = obj
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let headless = obj.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
    if ports.is_empty() && ty != "ExternalName" && !headless {
        errs.push(FieldError::required("spec.ports", ""));
    }
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let f = format!("spec.ports[{i}]");
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(&format!("{f}.name"), ""));
        }
        if !name.is_empty() && !names.insert(name.to_string()) {
            errs.push(FieldError::new(
                ErrorType::Duplicate,
                &format!("{f}.name"),
                Some(format!("{name:?}")),
                "",
            ));
        }
        match p.get("port").and_then(Value::as_i64) {
            Some(n) if (1..=65535).contains(&n) => {}
            Some(n) => errs.push(FieldError::invalid(
                &format!("{f}.port"),
                &Value::from(n),
                "must be between 1 and 65535, inclusive",
            )),
            None => errs.push(FieldError::required(&format!("{f}.port"), "")),
        }
        if let Some(np) = p.get("nodePort").and_then(Value::as_i64) {
            if np != 0 && ty == "ClusterIP" {
                errs.push(FieldError::new(
                    ErrorType::Forbidden,
                    &format!("{f}.nodePort"),
                    None,
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
        if let Some(proto) = p.get("protocol").and_then(Value::as_str) {
            if !matches!(proto, "TCP" | "UDP" | "SCTP") {
                errs.push(FieldError::new(
                    ErrorType::NotSupported,
                    &format!("{f}.protocol"),
                    Some(format!("{proto:?}")),
                    "supported values: \"SCTP\", \"TCP\", \"UDP\"",
                ));
            }
        }
    }
}

/// Validate a new object.
pub fn validate_create(group: &str, kind: &str, obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = metadata_errors(group, kind, obj, namespaced);
    errs.extend(spec_errors(group, kind, obj));
    errs
}

fn immutable(errs: &mut Vec<FieldError>, new: &Value, old: &Value, pointer: &str, field: &str) {
    if new.pointer(pointer) != old.pointer(pointer) {
        errs.push(FieldError::new(
            ErrorType::Invalid,
            field,
            new.pointer(pointer).map(go_value),
            "field is immutable",
        ));
    }
}

/// Validate an update against the stored object (also checks immutable fields).
pub fn validate_update(
    group: &str,
    kind: &str,
    new: &Value,
    old: &Value,
    namespaced: bool,
) -> Vec<FieldError> {
    let mut errs = validate_create(group, kind, new, namespaced);
    match (group, kind) {
        ("apps", "Deployment")
        | ("apps", "ReplicaSet")
        | ("apps", "DaemonSet")
        | ("apps", "StatefulSet") => {
            immutable(&mut errs, new, old, "/spec/selector", "spec.selector");
        }
        ("batch", "Job") => {
            immutable(&mut errs, new, old, "/spec/selector", "spec.selector");
            immutable(&mut errs, new, old, "/spec/completions", "spec.completions");
        }
        ("", "ConfigMap") | ("", "Secret")
            if old.get("immutable").and_then(Value::as_bool) == Some(true) =>
        {
            for f in ["data", "binaryData"] {
                if new.get(f) != old.get(f) {
                    errs.push(FieldError::new(
                        ErrorType::Forbidden,
                        f,
                        None,
                        "field is immutable when `immutable` is set",
                    ));
                }
            }
        }
        ("", "Service") => {
            let old_ip = old
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .unwrap_or("");
            let new_ip = new
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !old_ip.is_empty()
                && !new_ip.is_empty()
                && old_ip != new_ip
                && new.pointer("/spec/type").and_then(Value::as_str) != Some("ExternalName")
            {
                errs.push(FieldError::new(
                    ErrorType::Invalid,
                    "spec.clusterIPs[0]",
                    Some(format!("[]string{{{new_ip:?}}}")),
                    "may not change once set",
                ));
            }
        }
        ("", "PersistentVolumeClaim") => immutable(
            &mut errs,
            new,
            old,
            "/spec/resources/requests/storage",
            "spec",
        ),
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::names::DNS1123_LABEL_MSG;
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_match_kube() {
        let d = json!({"metadata": {"name": "bad", "namespace": "n"}, "spec": {"replicas": -1,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
        let errs = validate_create("apps", "Deployment", &d, true);
        let msgs: Vec<String> = errs.iter().map(FieldError::message).collect();
        assert_eq!(msgs, [
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"y\"}: `selector` does not match template `labels`",
        ]);
        let ns = json!({"metadata": {"name": "Bad_Name"}});
        assert_eq!(
            validate_create("", "Namespace", &ns, false)[0].message(),
            format!("metadata.name: Invalid value: \"Bad_Name\": {DNS1123_LABEL_MSG}")
        );
        let none = json!({"metadata": {"namespace": "n"}});
        assert_eq!(
            validate_create("", "ConfigMap", &none, true)[0].message(),
            "metadata.name: Required value: name or generateName is required"
        );
    }

    #[test]
    fn pods_services_and_updates() {
        let p = json!({"metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": [{"name": "a", "image": "", "ports": [{"containerPort": 70000}]}]}});
        let msgs: Vec<String> = validate_create("", "Pod", &p, true)
            .iter()
            .map(FieldError::message)
            .collect();
        assert!(
            msgs.contains(&"spec.containers[0].image: Required value".to_string()),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m
                .starts_with("spec.containers[0].ports[0].containerPort: Invalid value: 70000")),
            "{msgs:?}"
        );
        let s = json!({"metadata": {"name": "s", "namespace": "n"}, "spec": {"ports": []}});
        assert_eq!(
            validate_create("", "Service", &s, true)[0].message(),
            "spec.ports: Required value"
        );
        let old = json!({"metadata": {"name": "d", "namespace": "n"}, "spec": {"selector": {"matchLabels": {"a": "1"}}, "template": {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"b": "2"}});
        let msgs: Vec<String> = validate_update("apps", "Deployment", &new, &old, true)
            .iter()
            .map(FieldError::message)
            .collect();
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("spec.selector: Invalid value")
                    && m.ends_with("field is immutable")),
            "{msgs:?}"
        );
        assert!(cron_ok("*/5 * * * *") && cron_ok("@hourly") && !cron_ok("every minute"));
    }
}
