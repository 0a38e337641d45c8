//! Table-driven tests for patches and field ownership against a small Deployment-like schema.

use serde_json::{json, Map, Value};

use super::*;

mod apply_tests;
mod smp_tests;

/// A hand-written OpenAPI v3 `components.schemas` in the shape the generator emits.
pub(super) fn definitions() -> Map<String, Value> {
    let v = json!({
        "Deployment": {"type": "object", "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"allOf": [{"$ref": "#/components/schemas/ObjectMeta"}], "default": {}},
            "spec": {"allOf": [{"$ref": "#/components/schemas/DeploymentSpec"}], "default": {}},
            "status": {"allOf": [{"$ref": "#/components/schemas/DeploymentStatus"}], "default": {}}
        }},
        "ObjectMeta": {"type": "object", "properties": {
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "uid": {"type": "string"},
            "resourceVersion": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""},
                "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
            "ownerReferences": {"type": "array", "items": {"$ref": "#/components/schemas/OwnerReference"},
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["uid"],
                "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"},
            "managedFields": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "atomic"}
        }},
        "OwnerReference": {"type": "object", "properties": {
            "uid": {"type": "string"}, "name": {"type": "string"}, "kind": {"type": "string"}
        }},
        "LabelSelector": {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {
            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}
        }},
        "DeploymentSpec": {"type": "object", "properties": {
            "replicas": {"type": "integer"},
            "paused": {"type": "boolean"},
            "selector": {"$ref": "#/components/schemas/LabelSelector"},
            "template": {"allOf": [{"$ref": "#/components/schemas/PodTemplateSpec"}], "default": {}},
            "strategy": {"allOf": [{"$ref": "#/components/schemas/DeploymentStrategy"}], "default": {},
                "x-kubernetes-patch-strategy": "retainKeys"}
        }},
        "DeploymentStrategy": {"type": "object", "properties": {
            "type": {"type": "string"},
            "rollingUpdate": {"$ref": "#/components/schemas/RollingUpdateDeployment"}
        }},
        "RollingUpdateDeployment": {"type": "object", "properties": {
            "maxSurge": {}, "maxUnavailable": {}
        }},
        "PodTemplateSpec": {"type": "object", "properties": {
            "metadata": {"allOf": [{"$ref": "#/components/schemas/ObjectMeta"}], "default": {}},
            "spec": {"allOf": [{"$ref": "#/components/schemas/PodSpec"}], "default": {}}
        }},
        "PodSpec": {"type": "object", "required": ["containers"], "properties": {
            "containers": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Container"}], "default": {}},
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
            "volumes": {"type": "array", "items": {"$ref": "#/components/schemas/Volume"},
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge,retainKeys"},
            "tolerations": {"type": "array", "items": {"type": "object"}, "x-kubernetes-list-type": "atomic"},
            "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"},
                "x-kubernetes-map-type": "atomic"},
            "restartPolicy": {"type": "string"}
        }},
        "Container": {"type": "object", "properties": {
            "name": {"type": "string"},
            "image": {"type": "string"},
            "args": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"},
            "ports": {"type": "array", "items": {"$ref": "#/components/schemas/ContainerPort"},
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                "x-kubernetes-patch-merge-key": "containerPort", "x-kubernetes-patch-strategy": "merge"},
            "env": {"type": "array", "items": {"$ref": "#/components/schemas/EnvVar"},
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
            "resources": {"type": "object", "properties": {
                "limits": {"type": "object", "additionalProperties": {}}
            }}
        }},
        "ContainerPort": {"type": "object", "properties": {
            "containerPort": {"type": "integer"},
            "protocol": {"type": "string", "default": "TCP"},
            "name": {"type": "string"}
        }},
        "EnvVar": {"type": "object", "properties": {
            "name": {"type": "string"}, "value": {"type": "string"}, "valueFrom": {"type": "object"}
        }},
        "Volume": {"type": "object", "properties": {
            "name": {"type": "string"}, "configMap": {"type": "object"}, "emptyDir": {"type": "object"}
        }},
        "DeploymentStatus": {"type": "object", "properties": {
            "replicas": {"type": "integer"},
            "conditions": {"type": "array", "items": {"type": "object"},
                "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                "x-kubernetes-patch-merge-key": "type", "x-kubernetes-patch-strategy": "merge"}
        }}
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The Deployment schema from `defs`.
pub(super) fn deployment(defs: &Map<String, Value>) -> SchemaRef<'_> {
    match defs.get("Deployment") {
        Some(root) => SchemaRef::new(defs, root),
        None => SchemaRef::unknown(),
    }
}

/// A live Deployment with two containers.
pub(super) fn live_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "5",
            "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "finalizers": ["a", "b"]
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25",
                         "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                        {"name": "sidecar", "image": "busybox", "args": ["sleep", "1"]}
                    ],
                    "tolerations": [{"key": "k1", "operator": "Exists"}],
                    "volumes": [{"name": "cfg", "configMap": {"name": "c"}}]
                }
            }
        },
        "status": {"replicas": 2}
    })
}

#[test]
fn json_patch_cases() {
    let live = live_deployment();
    let undo = json!([
        {"op": "replace", "path": "/spec/template", "value": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.24"}]}}},
        {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "3"}}
    ]);
    let out = json_patch(&live, &undo).expect("rollout undo patch applies");
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.24"
    );
    assert_eq!(
        out["metadata"]["annotations"],
        json!({"deployment.kubernetes.io/revision": "3"})
    );
    assert_eq!(
        json_patch(&live, &Value::Null).expect("null is empty"),
        live
    );

    // (patch, code, reason)
    let failures: Vec<(Value, u16, &str)> = vec![
        (json!({"op": "add"}), 400, "BadRequest"),
        (json!(["x"]), 400, "BadRequest"),
        (
            json!([{"op": "test", "path": "/spec/replicas", "value": 9}]),
            422,
            "Invalid",
        ),
        (
            json!([{"op": "replace", "path": "/metadata/nope/x", "value": 1}]),
            422,
            "Invalid",
        ),
        (
            json!([{"op": "remove", "path": "/spec/missing"}]),
            422,
            "Invalid",
        ),
        (
            json!([{"op": "frobnicate", "path": "/spec"}]),
            422,
            "Invalid",
        ),
        (
            json!([{"op": "add", "path": "no-slash", "value": 1}]),
            422,
            "Invalid",
        ),
        (
            json!([{"op": "replace", "path": "", "value": [1]}]),
            422,
            "Invalid",
        ),
    ];
    for (patch, code, reason) in failures {
        let err = json_patch(&live, &patch).expect_err("patch must fail");
        assert_eq!((err.code(), err.reason()), (code, reason), "patch {patch}");
    }
    let err = json_patch(
        &live,
        &json!([{"op": "test", "path": "/spec/replicas", "value": 9}]),
    )
    .expect_err("test fails");
    assert_eq!(
        err.to_string(),
        "the server rejected our request due to an error in our request"
    );
    let many: Vec<Value> = (0..=MAX_JSON_PATCH_OPERATIONS)
        .map(|_| json!({"op": "test", "path": "/kind", "value": "Deployment"}))
        .collect();
    let err = json_patch(&live, &Value::Array(many)).expect_err("too many operations");
    assert_eq!((err.code(), err.reason()), (413, "RequestEntityTooLarge"));
}

/// CVE-2019-1002100 (kubernetes#74000): a JSON patch body of 10,001 operations is refused
/// with 413 before any operation is parsed or applied.
#[test]
fn cve_2019_1002100_json_patch_over_10000_operations_is_413() {
    let body = format!("[{}]", vec!["{}"; MAX_JSON_PATCH_OPERATIONS + 1].join(","));
    let patch = crate::apiserver::http::decode_body("application/json-patch+json", body.as_bytes())
        .expect("a JSON array");
    let started = std::time::Instant::now();
    let err = json_patch(&live_deployment(), &patch).expect_err("too many operations");
    assert_eq!((err.code(), err.reason()), (413, "RequestEntityTooLarge"));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let at_limit = format!("[{}]", vec!["{}"; MAX_JSON_PATCH_OPERATIONS].join(","));
    let patch: Value = serde_json::from_str(&at_limit).expect("a JSON array");
    assert_ne!(
        json_patch(&live_deployment(), &patch).map_err(|e| e.code()),
        Err(413)
    );
}

/// Each `copy` of a document into itself doubles it: 40 of them would need terabytes.
/// Like kube-apiserver (JSONPatchMaxCopyBytes), copies may add 3 MiB in all, then 422.
#[test]
fn json_patch_copy_bomb_is_422() {
    let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "x".repeat(64)}});
    let ops: Vec<Value> = (0..40)
        .map(|i| json!({"op": "copy", "from": "/data", "path": format!("/data/m{i}")}))
        .collect();
    let started = std::time::Instant::now();
    let err = json_patch(&live, &Value::Array(ops)).expect_err("copies over the limit");
    assert_eq!((err.code(), err.reason()), (422, "Invalid"));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let few = json!([{"op": "copy", "from": "/data/a", "path": "/data/b"}]);
    let out = json_patch(&live, &few).expect("a small copy");
    assert_eq!(out["data"]["b"], out["data"]["a"]);
}

/// Each `add` can go one level into the last: a long patch nests deeper than JSON reads.
#[test]
fn json_patch_nesting_deeper_than_json_reads_is_422() {
    let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}});
    let mut path = String::from("/data");
    let mut ops = Vec::new();
    for _ in 0..200 {
        ops.push(json!({"op": "add", "path": path.clone(), "value": {}}));
        path.push_str("/a");
    }
    let err = json_patch(&live, &Value::Array(ops)).expect_err("too deep");
    assert_eq!(err.code(), 422);
}

#[test]
fn merge_patch_cases() {
    let live = live_deployment();
    // kubectl label app- tier=fe ; kubectl annotate x=y
    let out = merge_patch(
        &live,
        &json!({"metadata": {"labels": {"app": null, "tier": "fe"}, "annotations": {"x": "y"}}}),
    )
    .expect("label patch");
    assert_eq!(out["metadata"]["labels"], json!({"tier": "fe"}));
    assert_eq!(out["metadata"]["annotations"]["x"], "y");
    assert_eq!(
        out["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    // Lists are replaced whole by merge patches.
    let out = merge_patch(&live, &json!({"metadata": {"finalizers": ["z"]}})).expect("lists");
    assert_eq!(out["metadata"]["finalizers"], json!(["z"]));
    // Nulls for absent keys do not appear.
    let out = merge_patch(&live, &json!({"spec": {"paused": null}})).expect("absent null");
    assert!(out["spec"].get("paused").is_none());

    for (patch, code, reason) in [
        (json!(null), 400, "BadRequest"),
        (json!(5), 400, "BadRequest"),
        (json!("x"), 400, "BadRequest"),
        (json!([1, 2]), 422, "Invalid"),
    ] {
        let err = merge_patch(&live, &patch).expect_err("must fail");
        assert_eq!((err.code(), err.reason()), (code, reason), "patch {patch}");
    }
    let err = merge_patch(&live, &json!([1])).expect_err("array");
    assert_eq!(err.causes()[0].field, "patch");
    assert_eq!(err.causes()[0].reason, "FieldValueInvalid");
}

#[test]
fn error_codes_and_reasons() {
    let e = PatchError::strategic_merge_unsupported();
    assert_eq!((e.code(), e.reason()), (415, "UnsupportedMediaType"));
    assert_eq!(
        e.to_string(),
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    assert_eq!(PatchError::Internal("x".into()).reason(), "");
    assert_eq!(PatchError::Internal("x".into()).code(), 500);
    assert_eq!(
        go_format(&json!({"b": [1, "x"], "a": null})),
        "map[a:<nil> b:[1 x]]"
    );
}
