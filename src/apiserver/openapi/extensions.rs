//! Our table of the Kubernetes OpenAPI extensions that k8s-openapi's schemas lack: patch
//! strategies and merge keys, list types and map keys, and group-version-kind; and the one
//! place its schemas are stricter than Kubernetes' (`metadata` is never required).

use serde_json::{json, Map, Value};

use super::kinds::{definition_of, kind_table};

/// Patch and list metadata of one field: (strategy, merge key, list type, list map keys).
type FieldExt = (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static [&'static str],
);

/// Kubernetes' patch strategies and list types for the fields users patch
/// (the `patchStrategy`/`patchMergeKey` tags and `+listType` markers of k8s.io/api).
fn field_extensions(definition: &str, field: &str) -> Option<FieldExt> {
    let short = definition.rsplit('.').next().unwrap_or(definition);
    let merge = |key: &'static str, keys: &'static [&'static str]| {
        (Some("merge"), Some(key), Some("map"), keys)
    };
    Some(match (short, field) {
        ("PodSpec", "containers")
        | ("PodSpec", "initContainers")
        | ("PodSpec", "ephemeralContainers") => merge("name", &["name"]),
        ("PodSpec", "volumes") => (
            Some("merge,retainKeys"),
            Some("name"),
            Some("map"),
            &["name"],
        ),
        ("PodSpec", "resourceClaims") => (
            Some("merge,retainKeys"),
            Some("name"),
            Some("map"),
            &["name"],
        ),
        ("PodSpec", "imagePullSecrets") => (Some("merge"), Some("name"), None, &[]),
        ("PodSpec", "hostAliases") => merge("ip", &["ip"]),
        ("PodSpec", "topologySpreadConstraints") => {
            merge("topologyKey", &["topologyKey", "whenUnsatisfiable"])
        }
        ("PodSpec", "schedulingGates") => merge("name", &["name"]),
        ("PodSpec", "tolerations") | ("PodSpec", "readinessGates") => {
            (None, None, Some("atomic"), &[])
        }
        ("Container", "ports") | ("EphemeralContainer", "ports") => {
            merge("containerPort", &["containerPort", "protocol"])
        }
        ("Container", "env") | ("EphemeralContainer", "env") => merge("name", &["name"]),
        ("Container", "volumeMounts") | ("EphemeralContainer", "volumeMounts") => {
            merge("mountPath", &["mountPath"])
        }
        ("Container", "volumeDevices") | ("EphemeralContainer", "volumeDevices") => {
            merge("devicePath", &["devicePath"])
        }
        ("Container", "args") | ("Container", "command") | ("Container", "envFrom") => {
            (None, None, Some("atomic"), &[])
        }
        ("ServiceSpec", "ports") => merge("port", &["port", "protocol"]),
        ("ServiceSpec", "clusterIPs")
        | ("ServiceSpec", "ipFamilies")
        | ("ServiceSpec", "externalIPs") => (None, None, Some("atomic"), &[]),
        ("ServiceAccount", "secrets") => (Some("merge"), Some("name"), None, &[]),
        ("DeploymentSpec", "strategy") => (Some("retainKeys"), None, None, &[]),
        ("NodeStatus", "addresses") => (Some("merge"), Some("type"), None, &[]),
        ("PodStatus", "podIPs") | ("PodStatus", "hostIPs") => merge("ip", &["ip"]),
        ("NodeSpec", "podCIDRs") => (Some("merge"), None, Some("set"), &[]),
        ("NodeSpec", "taints") => (None, None, Some("atomic"), &[]),
        ("ObjectMeta", "ownerReferences") => merge("uid", &["uid"]),
        ("ObjectMeta", "finalizers") => (Some("merge"), None, Some("set"), &[]),
        ("LabelSelector", "matchExpressions") => (None, None, Some("atomic"), &[]),
        ("PolicyRule", _)
        | ("Role", "rules")
        | ("ClusterRole", "rules")
        | ("RoleBinding", "subjects")
        | ("ClusterRoleBinding", "subjects") => (None, None, Some("atomic"), &[]),
        (s, "conditions") if s.ends_with("Status") => merge("type", &["type"]),
        _ => return None,
    })
}

pub(super) fn annotate(defs: &mut Map<String, Value>) {
    for schema in defs.values_mut() {
        // k8s-openapi makes every object's `metadata` required; Kubernetes never does (an
        // item without it must not fail kubectl's client-side validation).
        let Some(s) = schema.as_object_mut() else {
            continue;
        };
        if let Some(req) = s.get_mut("required").and_then(Value::as_array_mut) {
            req.retain(|f| f != "metadata");
            if req.is_empty() {
                s.remove("required");
            }
        }
    }
    for (name, schema) in defs.iter_mut() {
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (field, prop) in props.iter_mut() {
            let Some((strategy, key, list_type, map_keys)) = field_extensions(name, field) else {
                continue;
            };
            let Some(p) = prop.as_object_mut() else {
                continue;
            };
            if let Some(s) = strategy {
                p.insert("x-kubernetes-patch-strategy".into(), json!(s));
            }
            if let Some(k) = key {
                p.insert("x-kubernetes-patch-merge-key".into(), json!(k));
            }
            if let Some(t) = list_type {
                p.insert("x-kubernetes-list-type".into(), json!(t));
            }
            if !map_keys.is_empty() {
                p.insert("x-kubernetes-list-map-keys".into(), json!(map_keys));
            }
        }
    }
    for e in kind_table() {
        if let Some(def) = definition_of(e.group, e.version, e.kind) {
            if let Some(s) = defs.get_mut(&def).and_then(Value::as_object_mut) {
                s.insert(
                    "x-kubernetes-group-version-kind".into(),
                    json!([{"group": e.group, "version": e.version, "kind": e.kind}]),
                );
            }
        }
    }
}
