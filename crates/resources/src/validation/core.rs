//! Core (`""` group) kinds: Service, ConfigMap, Secret, Namespace, PersistentVolumeClaim,
//! ReplicationController, PodTemplate — create-time specs and update rules (pods are in
//! `pod.rs`).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::field::{sorted_map, FieldError};
use super::names::{
    config_map_key, dns1123_label, dns1123_subdomain, invalid_each, ip, labels_errors, port_num,
    qualified_name,
};
use super::pod::{arr, protocol_errors, template_errors, text};
use super::probe::port_num_or_name;
use super::quantity::Quantity;

/// A Pod's spec.
pub(crate) fn pod(obj: &Value) -> Vec<FieldError> {
    super::pod::spec_errors(obj.get("spec").unwrap_or(&Value::Null), "spec")
}

/// A Pod's update rules.
pub(crate) fn pod_update(new: &Value, old: &Value) -> Vec<FieldError> {
    super::pod::update_errors(new, old)
}

/// A PodTemplate's template.
pub(crate) fn pod_template(obj: &Value) -> Vec<FieldError> {
    template_errors(obj.get("template"), "template")
}

/// A PersistentVolumeClaim's spec.
pub(crate) fn persistent_volume_claim(obj: &Value) -> Vec<FieldError> {
    pvc_errors(obj.get("spec").unwrap_or(&Value::Null))
}

/// A ConfigMap marked `immutable` keeps its data.
pub(crate) fn config_map_update(new: &Value, old: &Value) -> Vec<FieldError> {
    immutable_data_errors(new, old, &["data", "binaryData"])
}

/// A Secret marked `immutable` keeps its data; its type never changes.
pub(crate) fn secret_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = immutable_data_errors(new, old, &["data"]);
    let t = |o: &Value| {
        o.get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if t(new) != t(old) {
        errs.push(FieldError::invalid("type", t(new), "field is immutable"));
    }
    errs
}

fn immutable_data_errors(new: &Value, old: &Value, fields: &[&str]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old.get("immutable").and_then(Value::as_bool) == Some(true) {
        if new.get("immutable").and_then(Value::as_bool) != Some(true) {
            errs.push(FieldError::forbidden(
                "immutable",
                "field is immutable when `immutable` is set",
            ));
        }
        for f in fields {
            if non_empty(new.get(*f)) != non_empty(old.get(*f)) {
                errs.push(FieldError::forbidden(
                    f,
                    "field is immutable when `immutable` is set",
                ));
            }
        }
    }
    errs
}

/// An absent map and an empty one are the same to Go's DeepEqual after decoding.
fn non_empty(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| v.as_object().is_some_and(|m| !m.is_empty()))
}

fn sorted_keys(v: Option<&Value>) -> Vec<String> {
    let mut keys: Vec<String> = v
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

pub(crate) fn config_map(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let data = obj.get("data");
    let binary = obj.get("binaryData");
    let data_keys = sorted_keys(data);
    let binary_keys = sorted_keys(binary);
    let mut size = 0usize;
    for k in &data_keys {
        let f = format!("data[{k}]");
        errs.extend(invalid_each(&f, k, config_map_key(k)));
        if binary_keys.contains(k) {
            errs.push(FieldError::invalid(
                &f,
                k.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        size += data
            .and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .map_or(0, str::len);
    }
    for k in &binary_keys {
        let f = format!("binaryData[{k}]");
        errs.extend(invalid_each(&f, k, config_map_key(k)));
        if data_keys.contains(k) {
            errs.push(FieldError::invalid(
                &f,
                k.as_str(),
                "duplicate of key present in data",
            ));
        }
        // binaryData travels base64-encoded; its decoded size counts.
        size += binary
            .and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .map_or(0, |s| s.len() / 4 * 3);
    }
    if size > 1024 * 1024 {
        errs.push(FieldError::too_long("", 1024 * 1024));
    }
    errs
}

pub(crate) fn secret(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut keys: BTreeSet<String> = sorted_keys(obj.get("data")).into_iter().collect();
    // stringData is merged into data before validation.
    keys.extend(sorted_keys(obj.get("stringData")));
    let mut size = 0usize;
    for k in &keys {
        errs.extend(invalid_each(&format!("data[{k}]"), k, config_map_key(k)));
        size += obj
            .pointer(&format!(
                "/data/{}",
                k.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_str)
            .map_or(0, |s| s.len() / 4 * 3);
    }
    if size > 1024 * 1024 {
        errs.push(FieldError::too_long("data", 1024 * 1024));
    }
    let has = |k: &str| keys.contains(k);
    match text(obj, "type") {
        "kubernetes.io/service-account-token"
            if obj
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty) =>
        {
            errs.push(FieldError::required(
                "metadata.annotations[kubernetes.io/service-account.name]",
                "",
            ));
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => {
            errs.push(FieldError::required("data[.dockercfg]", ""));
        }
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            errs.push(FieldError::required("data[.dockerconfigjson]", ""));
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required("data[username]", ""));
            errs.push(FieldError::required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => {
            errs.push(FieldError::required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/tls" => {
            for k in ["tls.key", "tls.crt"] {
                if !has(k) {
                    errs.push(FieldError::required(&format!("data[{k}]"), ""));
                }
            }
        }
        _ => {}
    }
    errs
}

pub(crate) fn namespace(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, f) in arr(obj.get("spec").unwrap_or(&Value::Null), "finalizers")
        .iter()
        .enumerate()
    {
        let f = f.as_str().unwrap_or("");
        let path = format!("spec.finalizers[{i}]");
        errs.extend(invalid_each(&path, f, qualified_name(f)));
        if !f.contains('/') && f != "kubernetes" {
            errs.push(FieldError::invalid(
                &path,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

fn pvc_errors(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let modes = arr(spec, "accessModes");
    if modes.is_empty() && spec.get("dataSourceRef").is_none() {
        errs.push(FieldError::required(
            "spec.accessModes",
            "at least 1 access mode is required",
        ));
    }
    for m in modes {
        let m = m.as_str().unwrap_or("");
        let valid = [
            "ReadOnlyMany",
            "ReadWriteMany",
            "ReadWriteOnce",
            "ReadWriteOncePod",
        ];
        if !valid.contains(&m) {
            errs.push(FieldError::not_supported("spec.accessModes", m, &valid));
        }
    }
    match spec.pointer("/resources/requests/storage") {
        None => errs.push(FieldError::required("spec.resources[storage]", "")),
        Some(v) => {
            let s = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            if let Some(q) = Quantity::parse(&s) {
                if !q.is_positive() {
                    errs.push(FieldError::invalid(
                        "spec.resources[storage]",
                        q.canonical(),
                        "must be greater than zero",
                    ));
                }
            }
        }
    }
    let mode = text(spec, "volumeMode");
    if !mode.is_empty() && !["Block", "Filesystem"].contains(&mode) {
        errs.push(FieldError::not_supported(
            "spec.volumeMode",
            mode,
            &["Block", "Filesystem"],
        ));
    }
    let sc = text(spec, "storageClassName");
    if !sc.is_empty() {
        errs.extend(invalid_each(
            "spec.storageClassName",
            sc,
            dns1123_subdomain(sc),
        ));
    }
    errs
}

pub(crate) fn persistent_volume_claim_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let strip = |o: &Value| {
        let mut spec = o.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(m) = spec.as_object_mut() {
            m.remove("volumeAttributesClassName");
            if let Some(r) = m.get_mut("resources").and_then(Value::as_object_mut) {
                r.remove("requests");
                if r.is_empty() {
                    m.remove("resources");
                }
            }
            // The binder fills volumeName in; setting it where it was empty is allowed.
            if o.pointer("/spec/volumeName").is_none() {
                m.remove("volumeName");
            }
        }
        spec
    };
    let mut new_spec = strip(new);
    if old.pointer("/spec/volumeName").is_none() {
        if let Some(m) = new_spec.as_object_mut() {
            m.remove("volumeName");
        }
    }
    if new_spec != strip(old) {
        return vec![FieldError::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        )];
    }
    Vec::new()
}

pub(crate) fn replication_controller(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = Vec::new();
    if let Some(r) = spec
        .get("replicas")
        .and_then(Value::as_i64)
        .filter(|r| *r < 0)
    {
        errs.push(FieldError::invalid(
            "spec.replicas",
            r,
            "must be greater than or equal to 0",
        ));
    }
    if let Some(r) = spec
        .get("minReadySeconds")
        .and_then(Value::as_i64)
        .filter(|r| *r < 0)
    {
        errs.push(FieldError::invalid(
            "spec.minReadySeconds",
            r,
            "must be greater than or equal to 0",
        ));
    }
    let selector = spec
        .get("selector")
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()));
    match selector {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(s) => errs.extend(labels_errors("spec.selector", Some(s))),
    }
    let Some(tmpl) = spec.get("template").filter(|t| !t.is_null()) else {
        errs.push(FieldError::required("spec.template", ""));
        return errs;
    };
    let labels = tmpl.pointer("/metadata/labels");
    if let Some(sel) = selector.and_then(Value::as_object) {
        let matches = sel
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !matches {
            errs.push(FieldError::invalid(
                "spec.template.metadata.labels",
                sorted_map(labels),
                "`selector` does not match template `labels`",
            ));
        }
    }
    errs.extend(template_errors(Some(tmpl), "spec.template"));
    let restart = tmpl
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("");
    if restart != "Always" {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            restart,
            &["Always"],
        ));
    }
    if tmpl
        .pointer("/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicationController is not Supported",
        ));
    }
    errs
}

const SERVICE_TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

/// The service's cluster IPs as validation sees them once `clusterIP` and `clusterIPs`
/// are reconciled.
fn cluster_ips(spec: &Value) -> Vec<String> {
    let ips: Vec<String> = arr(spec, "clusterIPs")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let ip = text(spec, "clusterIP");
    if ips.is_empty() && !ip.is_empty() {
        vec![ip.to_string()]
    } else {
        ips
    }
}

pub(crate) fn service(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = Vec::new();
    let ty = text(spec, "type");
    let cluster_ip = text(spec, "clusterIP");
    let headless = cluster_ip == "None";
    let ports = arr(spec, "ports");
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" => {
            if ty == "LoadBalancer" {
                for (i, p) in ports.iter().enumerate() {
                    let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                    if port == 10250 {
                        errs.push(FieldError::invalid(
                            &format!("spec.ports[{i}]"),
                            port,
                            "may not expose port 10250 externally since it is used by kubelet",
                        ));
                    }
                }
            }
            if headless {
                errs.push(FieldError::invalid(
                    "spec.clusterIP",
                    cluster_ip,
                    &format!("may not be set to 'None' for {ty} services"),
                ));
            }
        }
        "ExternalName" => {
            if !cluster_ip.is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.clusterIP",
                    "may not be set for ExternalName services",
                ));
            }
            if !arr(spec, "clusterIPs").is_empty() {
                errs.push(FieldError::forbidden(
                    "spec.clusterIPs",
                    "may not be set for ExternalName services",
                ));
            }
            external_name_errors(&mut errs, text(spec, "externalName"));
        }
        _ => {}
    }
    let multi = ports.len() > 1;
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        let name = text(p, "name");
        if multi && name.is_empty() {
            errs.push(FieldError::required(&format!("{path}.name"), ""));
        } else if !name.is_empty() {
            errs.extend(invalid_each(
                &format!("{path}.name"),
                name,
                dns1123_label(name),
            ));
            if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(&format!("{path}.name"), name));
            }
        }
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        for m in port_num(port) {
            errs.push(FieldError::invalid(&format!("{path}.port"), port, &m));
        }
        protocol_errors(&mut errs, p, &path);
        port_num_or_name(
            &mut errs,
            p.get("targetPort"),
            &format!("{path}.targetPort"),
        );
    }
    errs.extend(labels_errors("spec.selector", spec.get("selector")));
    match text(spec, "sessionAffinity") {
        "" => errs.push(FieldError::required("spec.sessionAffinity", "")),
        "ClientIP" => {}
        "None" => {
            if spec
                .get("sessionAffinityConfig")
                .is_some_and(|v| !v.is_null())
            {
                errs.push(FieldError::forbidden(
                    "spec.sessionAffinityConfig",
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            "spec.sessionAffinity",
            other,
            &["ClientIP", "None"],
        )),
    }
    if ty != "ExternalName" {
        let ips = cluster_ips(spec);
        let given: Vec<Value> = arr(spec, "clusterIPs").to_vec();
        if !cluster_ip.is_empty() && !given.is_empty() && given[0].as_str() != Some(cluster_ip) {
            errs.push(FieldError::invalid(
                "spec.clusterIPs",
                Value::Array(given.clone()),
                "first value must match `clusterIP`",
            ));
        }
        for (i, addr) in ips.iter().enumerate() {
            if i == 0 && addr == "None" {
                if ips.len() > 1 {
                    errs.push(FieldError::invalid(
                        "spec.clusterIPs",
                        json!(ips),
                        "'None' must be the first and only value",
                    ));
                }
                continue;
            }
            errs.extend(invalid_each(
                &format!("spec.clusterIPs[{i}]"),
                addr,
                ip(addr),
            ));
        }
    }
    for (i, addr) in arr(spec, "externalIPs").iter().enumerate() {
        let addr = addr.as_str().unwrap_or("");
        errs.extend(invalid_each(
            &format!("spec.externalIPs[{i}]"),
            addr,
            ip(addr),
        ));
    }
    if ty.is_empty() {
        errs.push(FieldError::required("spec.type", ""));
    } else if !SERVICE_TYPES.contains(&ty) {
        errs.push(FieldError::not_supported("spec.type", ty, &SERVICE_TYPES));
    }
    let mut node_ports = BTreeSet::new();
    let mut port_keys = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        let proto = text(p, "protocol").to_string();
        let np = p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        if np != 0 {
            if ty == "ClusterIP" {
                errs.push(FieldError::forbidden(
                    &format!("{path}.nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else if !(30000..=32767).contains(&np) {
                errs.push(FieldError::invalid(
                    &format!("{path}.nodePort"),
                    np,
                    "provided port is not in the valid range. The range of valid ports is 30000-32767",
                ));
            }
            if !node_ports.insert((proto.clone(), np)) {
                errs.push(FieldError::duplicate(&format!("{path}.nodePort"), np));
            }
        }
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !port_keys.insert((proto.clone(), port)) {
            // Go marshals the internal ServicePort key, field names and all.
            errs.push(FieldError::duplicate(
                &path,
                json!({"Name": "", "Protocol": proto, "AppProtocol": null, "Port": port, "TargetPort": 0, "NodePort": 0}),
            ));
        }
    }
    for (key, valid) in [
        ("externalTrafficPolicy", &["Cluster", "Local"][..]),
        ("internalTrafficPolicy", &["Cluster", "Local"][..]),
        (
            "ipFamilyPolicy",
            &["PreferDualStack", "RequireDualStack", "SingleStack"][..],
        ),
    ] {
        let v = text(spec, key);
        if !v.is_empty() && !valid.contains(&v) {
            errs.push(FieldError::not_supported(&format!("spec.{key}"), v, valid));
        }
    }
    for (i, fam) in arr(spec, "ipFamilies").iter().enumerate() {
        let fam = fam.as_str().unwrap_or("");
        if !["IPv4", "IPv6"].contains(&fam) {
            errs.push(FieldError::not_supported(
                &format!("spec.ipFamilies[{i}]"),
                fam,
                &["IPv4", "IPv6"],
            ));
        }
    }
    errs
}

fn external_name_errors(errs: &mut Vec<FieldError>, name: &str) {
    let path = "spec.externalName";
    let clean = name.strip_suffix('.').unwrap_or(name);
    if clean.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    let msgs = dns1123_subdomain(clean);
    if !msgs.is_empty() {
        errs.push(FieldError::invalid(path, clean, &msgs.join(",")));
        return;
    }
    if clean.split('.').count() < 2 {
        errs.push(FieldError::invalid(
            path,
            clean,
            "should be a domain with at least two segments separated by dots",
        ));
        return;
    }
    for label in clean.split('.') {
        let msgs = dns1123_label(label);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(path, label, &msgs.join(",")));
            return;
        }
    }
}

pub(crate) fn service_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let (ns, os) = (
        new.get("spec").unwrap_or(&null),
        old.get("spec").unwrap_or(&null),
    );
    if text(ns, "type") == "ExternalName" || text(os, "type") == "ExternalName" {
        return Vec::new();
    }
    let new_ips = cluster_ips(ns);
    let old_ips = cluster_ips(os);
    // An empty clusterIP keeps the allocated one (the allocator copies it over).
    match (old_ips.first(), new_ips.first()) {
        (Some(o), Some(n)) if o != n => vec![FieldError::invalid(
            "spec.clusterIPs[0]",
            json!(new_ips),
            "may not change once set",
        )],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    fn svc(spec: Value) -> Value {
        let mut s = json!({"type": "ClusterIP", "sessionAffinity": "None"});
        for (k, v) in spec.as_object().unwrap() {
            s[k] = v.clone();
        }
        json!({"metadata": {"name": "s", "namespace": "n"}, "spec": s})
    }

    #[test]
    fn service_table() {
        let p = |port: i64| json!({"port": port, "protocol": "TCP", "targetPort": port});
        let cases: Vec<(Value, &str)> = vec![
            (json!({"ports": []}), "spec.ports: Required value"),
            (json!({"ports": [p(0)]}), "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"),
            (json!({"ports": [p(80), p(81)]}), "spec.ports[0].name: Required value"),
            (json!({"ports": [{"port": 80, "protocol": "HTTP", "targetPort": 80}]}), "spec.ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""),
            (json!({"type": "Bogus", "ports": [p(80)]}), "spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""),
            (json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30001}]}), "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"),
            (json!({"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 80}]}), "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"),
            (json!({"ports": [p(80)], "clusterIP": "abc"}), "spec.clusterIPs[0]: Invalid value: \"abc\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
            (json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": "Web_1"}]}), "spec.ports[0].targetPort: Invalid value: \"Web_1\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
            (json!({"ports": [{"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80}, {"name": "b", "port": 80, "protocol": "TCP", "targetPort": 80}]}),
             "spec.ports[1]: Duplicate value: {\"Name\":\"\",\"Protocol\":\"TCP\",\"AppProtocol\":null,\"Port\":80,\"TargetPort\":0,\"NodePort\":0}"),
            (json!({"type": "ExternalName", "externalName": ""}), "spec.externalName: Required value"),
            (json!({"sessionAffinity": "Sticky", "ports": [p(80)]}), "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\""),
        ];
        for (spec, want) in cases {
            let got = msgs(&service(&svc(spec)));
            assert!(got.contains(&want.to_string()), "want {want}\n got {got:?}");
        }
        assert!(service(&svc(json!({"clusterIP": "None"}))).is_empty());
        assert!(service(&svc(
            json!({"type": "ExternalName", "externalName": "db.example.com"})
        ))
        .is_empty());
    }

    #[test]
    fn service_cluster_ip_immutable() {
        let old = svc(json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]}));
        let new = svc(json!({"clusterIP": "None"}));
        assert_eq!(
            msgs(&service_update(&new, &old)),
            ["spec.clusterIPs[0]: Invalid value: [\"None\"]: may not change once set"]
        );
        let kept = svc(json!({}));
        assert!(service_update(&kept, &old).is_empty());
    }

    #[test]
    fn config_maps_and_secrets() {
        let cm = json!({"data": {"a b": "1", "ok": "2"}, "binaryData": {"ok": "AA=="}});
        assert_eq!(msgs(&config_map(&cm)), [
            "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            "data[ok]: Invalid value: \"ok\": duplicate of key present in binaryData",
            "binaryData[ok]: Invalid value: \"ok\": duplicate of key present in data",
        ]);
        let tls = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "AA=="}});
        assert_eq!(msgs(&secret(&tls)), ["data[tls.key]: Required value"]);
        let old = json!({"immutable": true, "data": {"a": "MQ=="}, "type": "Opaque"});
        let new = json!({"immutable": true, "data": {"a": "Mg=="}, "type": "Other"});
        assert_eq!(
            msgs(&secret_update(&new, &old)),
            [
                "data: Forbidden: field is immutable when `immutable` is set",
                "type: Invalid value: \"Other\": field is immutable",
            ]
        );
    }

    #[test]
    fn pvc_and_namespace_and_rc() {
        let pvc = json!({"spec": {"accessModes": ["ReadWriteSometimes"]}});
        assert_eq!(msgs(&persistent_volume_claim(&pvc)), [
            "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
            "spec.resources[storage]: Required value",
        ]);
        let old = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        let mut new = old.clone();
        new["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        assert!(persistent_volume_claim_update(&new, &old).is_empty());
        new["spec"]["accessModes"] = json!(["ReadWriteMany"]);
        assert_eq!(persistent_volume_claim_update(&new, &old).len(), 1);
        let ns = json!({"spec": {"finalizers": ["foo"]}});
        assert_eq!(msgs(&namespace(&ns)), ["spec.finalizers[0]: Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified"]);
        let rc = json!({"spec": {"selector": {"a": "1"}, "template": {"metadata": {"labels": {"a": "2"}}, "spec": {}}}});
        let m = msgs(&replication_controller(&rc));
        assert!(m.contains(&"spec.template.metadata.labels: Invalid value: {\"a\":\"2\"}: `selector` does not match template `labels`".to_string()), "{m:?}");
    }
}
