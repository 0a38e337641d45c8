//! OpenAPI v3 documents generated from k8s-openapi's schemas plus our table of the
//! Kubernetes extensions (group-version-kind, patch strategies and merge keys, list
//! types), and strict decoding of built-in objects (which fields the types do not know).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use k8s_openapi::api::{
    apps::v1 as apps, authentication::v1 as authn, authorization::v1 as authz,
    autoscaling::v1 as as1, autoscaling::v2 as as2, batch::v1 as batch, coordination::v1 as coord,
    core::v1 as core, discovery::v1 as disc, events::v1 as events, networking::v1 as net,
    policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as sched, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde_json::{json, Map, Value};

use crate::resources::registry::ResourceInfo;

type StrictFn = fn(&Value) -> Result<Vec<String>, String>;
type SchemaFn = fn(&mut schemars::SchemaGenerator);

struct KindEntry {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    schema: SchemaFn,
    strict: StrictFn,
}

fn strict_decode<T: serde::de::DeserializeOwned>(v: &Value) -> Result<Vec<String>, String> {
    let mut unknown = Vec::new();
    let result: Result<T, _> = serde_ignored::deserialize(v.clone(), |path| {
        unknown.push(kube_path(&path.to_string()));
    });
    match result {
        Ok(_) => Ok(unknown),
        Err(e) => Err(e.to_string()),
    }
}

/// serde_ignored writes `spec.containers.0.imagee`; Kubernetes writes `spec.containers[0].imagee`.
fn kube_path(p: &str) -> String {
    let mut out = String::new();
    for seg in p.split('.').filter(|s| !s.is_empty() && *s != "?") {
        if seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

macro_rules! kinds {
    ($( ($g:literal, $v:literal, $k:literal, $t:ty) ),* $(,)?) => {
        fn kind_table() -> &'static [KindEntry] {
            static TABLE: OnceLock<Vec<KindEntry>> = OnceLock::new();
            TABLE.get_or_init(|| vec![$(
                KindEntry {
                    group: $g,
                    version: $v,
                    kind: $k,
                    schema: |g| { let _ = g.subschema_for::<$t>(); },
                    strict: strict_decode::<$t>,
                }
            ),*]).as_slice()
        }
        fn definition_of(group: &str, version: &str, kind: &str) -> Option<String> {
            $(
                if group == $g && version == $v && kind == $k {
                    return Some(<$t as schemars::JsonSchema>::schema_name().into_owned());
                }
            )*
            None
        }
    };
}

kinds![
    ("", "v1", "Namespace", core::Namespace),
    ("", "v1", "Pod", core::Pod),
    ("", "v1", "Service", core::Service),
    ("", "v1", "Endpoints", core::Endpoints),
    ("", "v1", "ConfigMap", core::ConfigMap),
    ("", "v1", "Secret", core::Secret),
    ("", "v1", "ServiceAccount", core::ServiceAccount),
    ("", "v1", "Event", core::Event),
    ("", "v1", "Node", core::Node),
    ("", "v1", "PersistentVolume", core::PersistentVolume),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        core::PersistentVolumeClaim
    ),
    (
        "",
        "v1",
        "ReplicationController",
        core::ReplicationController
    ),
    ("", "v1", "ResourceQuota", core::ResourceQuota),
    ("", "v1", "LimitRange", core::LimitRange),
    ("", "v1", "PodTemplate", core::PodTemplate),
    ("", "v1", "Binding", core::Binding),
    ("", "v1", "ComponentStatus", core::ComponentStatus),
    ("apps", "v1", "Deployment", apps::Deployment),
    ("apps", "v1", "ReplicaSet", apps::ReplicaSet),
    ("apps", "v1", "StatefulSet", apps::StatefulSet),
    ("apps", "v1", "DaemonSet", apps::DaemonSet),
    ("apps", "v1", "ControllerRevision", apps::ControllerRevision),
    ("batch", "v1", "Job", batch::Job),
    ("batch", "v1", "CronJob", batch::CronJob),
    (
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        as1::HorizontalPodAutoscaler
    ),
    ("autoscaling", "v1", "Scale", as1::Scale),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        as2::HorizontalPodAutoscaler
    ),
    ("networking.k8s.io", "v1", "Ingress", net::Ingress),
    ("networking.k8s.io", "v1", "IngressClass", net::IngressClass),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        net::NetworkPolicy
    ),
    (
        "storage.k8s.io",
        "v1",
        "StorageClass",
        storage::StorageClass
    ),
    ("rbac.authorization.k8s.io", "v1", "Role", rbac::Role),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        rbac::RoleBinding
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        rbac::ClusterRole
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        rbac::ClusterRoleBinding
    ),
    ("coordination.k8s.io", "v1", "Lease", coord::Lease),
    (
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        disc::EndpointSlice
    ),
    ("events.k8s.io", "v1", "Event", events::Event),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        policy::PodDisruptionBudget
    ),
    ("policy", "v1", "Eviction", policy::Eviction),
    (
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        sched::PriorityClass
    ),
    (
        "authentication.k8s.io",
        "v1",
        "TokenRequest",
        authn::TokenRequest
    ),
    (
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        authn::TokenReview
    ),
    (
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        authn::SelfSubjectReview
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        authz::SubjectAccessReview
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        authz::SelfSubjectAccessReview
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        authz::SelfSubjectRulesReview
    ),
    (
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        authz::LocalSubjectAccessReview
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        apiext::CustomResourceDefinition
    ),
];

/// Meta types every document refers to.
fn meta_schemas(g: &mut schemars::SchemaGenerator) {
    let _ = g.subschema_for::<meta::Status>();
    let _ = g.subschema_for::<meta::DeleteOptions>();
    let _ = g.subschema_for::<meta::Patch>();
    let _ = g.subschema_for::<meta::APIResourceList>();
}

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

fn annotate(defs: &mut Map<String, Value>) {
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

/// All component schemas, with the Kubernetes extensions, built once.
pub fn definitions() -> &'static Map<String, Value> {
    static DEFS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let mut g = schemars::generate::SchemaSettings::openapi3().into_generator();
        for e in kind_table() {
            (e.schema)(&mut g);
        }
        meta_schemas(&mut g);
        let mut defs = g.take_definitions(true);
        annotate(&mut defs);
        defs
    })
}

/// The definition name of a served kind.
pub fn definition_name(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    static NAMES: OnceLock<Vec<(String, String, String, String)>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        kind_table()
            .iter()
            .filter_map(|e| {
                Some((
                    e.group.to_string(),
                    e.version.to_string(),
                    e.kind.to_string(),
                    definition_of(e.group, e.version, e.kind)?,
                ))
            })
            .collect()
    });
    names
        .iter()
        .find(|(g, v, k, _)| g == group && v == version && k == kind)
        .map(|(_, _, _, d)| d.as_str())
}

/// Unknown fields of a built-in object (Kubernetes paths), an error for type mismatches,
/// None when the kind is not built in.
pub fn unknown_fields(
    group: &str,
    version: &str,
    kind: &str,
    obj: &Value,
) -> Option<Result<Vec<String>, String>> {
    let e = kind_table()
        .iter()
        .find(|e| e.group == group && e.version == version && e.kind == kind)?;
    Some((e.strict)(obj))
}

fn schema_ref(def: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{def}")})
}

fn query_param(name: &str, description: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": ty, "uniqueItems": true}})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn write_params(patch: bool) -> Vec<Value> {
    let mut p = vec![
        query_param("dryRun", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed", "string"),
        query_param("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes.", "string"),
        query_param("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict", "string"),
    ];
    if patch {
        p.push(query_param("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people.", "boolean"));
    }
    p
}

fn list_params(watch: bool) -> Vec<Value> {
    let mut p = vec![
        query_param("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".", "boolean"),
        query_param("continue", "The continue option should be set when retrieving more results from the server.", "string"),
        query_param("fieldSelector", "A selector to restrict the list of returned objects by their fields.", "string"),
        query_param("labelSelector", "A selector to restrict the list of returned objects by their labels.", "string"),
        query_param("limit", "limit is a maximum number of responses to return for a list call.", "integer"),
        query_param("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from.", "string"),
        query_param("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls.", "string"),
        query_param("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.", "boolean"),
        query_param("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
    ];
    if watch {
        p.push(query_param("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.", "boolean"));
    }
    p
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema.clone()}, "application/yaml": {"schema": schema.clone()}, "application/vnd.kubernetes.protobuf": {"schema": schema}})
}

fn operation(
    action: &str,
    id: &str,
    gvk: &Value,
    params: Vec<Value>,
    body: Option<Value>,
    resp: Value,
) -> Value {
    let mut op = json!({
        "description": format!("{action} {}", gvk["kind"].as_str().unwrap_or("")),
        "operationId": id,
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": json_content(resp)}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    });
    if let Some(b) = body {
        op["requestBody"] = b;
    }
    op
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The OpenAPI 3.0 document of one group-version.
pub fn group_version_document(group: &str, version: &str, resources: &[ResourceInfo]) -> Value {
    let defs = definitions();
    let mut paths = Map::new();
    let mut wanted: BTreeSet<String> = [
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let id_group = group.split('.').next().map(upper_first).unwrap_or_default();
    let id_prefix = format!(
        "{}{}",
        if group.is_empty() {
            "Core".to_string()
        } else {
            id_group
        },
        upper_first(version)
    );
    for r in resources {
        let Some(def) = definition_name(&r.group, &r.version, &r.kind) else {
            continue;
        };
        wanted.insert(def.to_string());
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let obj = schema_ref(def);
        let body = json!({"required": true, "content": {"*/*": {"schema": obj.clone()}}});
        let patch_body = json!({"required": true, "content": {
            "application/apply-patch+yaml": {"schema": schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")},
            "application/json-patch+json": {"schema": schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")},
            "application/merge-patch+json": {"schema": schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")},
            "application/strategic-merge-patch+json": {"schema": schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")},
        }});
        let ns_word = if r.namespaced { "Namespaced" } else { "" };
        let base = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
        } else {
            format!("{prefix}/{}", r.plural)
        };
        let mut common = vec![query_param(
            "pretty",
            "If 'true', then the output is pretty printed.",
            "string",
        )];
        if r.namespaced {
            common.push(path_param(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            ));
        }
        let has = |v: &str| r.verbs.iter().any(|x| x == v);
        let mut coll = Map::new();
        if has("list") {
            coll.insert(
                "get".into(),
                operation(
                    "list",
                    &format!("list{id_prefix}{ns_word}{}", r.kind),
                    &gvk,
                    list_params(true),
                    None,
                    json!({"type": "object"}),
                ),
            );
        }
        if has("create") {
            coll.insert(
                "post".into(),
                operation(
                    "post",
                    &format!("create{id_prefix}{ns_word}{}", r.kind),
                    &gvk,
                    write_params(false),
                    Some(body.clone()),
                    obj.clone(),
                ),
            );
        }
        if has("deletecollection") {
            coll.insert(
                "delete".into(),
                operation(
                    "deletecollection",
                    &format!("deletecollection{id_prefix}{ns_word}{}", r.kind),
                    &gvk,
                    list_params(false),
                    None,
                    schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
                ),
            );
        }
        if !coll.is_empty() {
            coll.insert("parameters".into(), json!(common));
            paths.insert(base.clone(), Value::Object(coll));
        }
        let mut item = Map::new();
        let named = format!("{base}/{{name}}");
        if has("get") {
            item.insert(
                "get".into(),
                operation(
                    "get",
                    &format!("read{id_prefix}{ns_word}{}", r.kind),
                    &gvk,
                    vec![],
                    None,
                    obj.clone(),
                ),
            );
        }
        if has("update") {
            item.insert(
                "put".into(),
                operation(
                    "put",
                    &format!("replace{id_prefix}{ns_word}{}", r.kind),
                    &gvk,
                    write_params(false),
                    Some(body.clone()),
                    obj.clone(),
                ),
            );
        }
        if has("patch") {
            item.insert(
                "patch".into(),
                operation(
                    "patch",
                    &format!("patch{id_prefix}{ns_word}{}", r.kind),
                    &gvk,
                    write_params(true),
                    Some(patch_body.clone()),
                    obj.clone(),
                ),
            );
        }
        if has("delete") {
            item.insert(
                "delete".into(),
                operation(
                    "delete",
                    &format!("delete{id_prefix}{ns_word}{}", r.kind),
                    &gvk,
                    vec![
                        query_param(
                            "gracePeriodSeconds",
                            "The duration in seconds before the object should be deleted.",
                            "integer",
                        ),
                        query_param(
                            "propagationPolicy",
                            "Whether and how garbage collection will be performed.",
                            "string",
                        ),
                    ],
                    None,
                    schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
                ),
            );
        }
        if !item.is_empty() {
            let mut params = common.clone();
            params.push(path_param("name", &format!("name of the {}", r.kind)));
            item.insert("parameters".into(), json!(params));
            paths.insert(named.clone(), Value::Object(item));
        }
        for s in &r.subresources {
            let Some(sdef) = definition_name(&s.group, &s.version, &s.kind) else {
                continue;
            };
            wanted.insert(sdef.to_string());
            let sgvk = json!({"group": s.group, "version": s.version, "kind": s.kind});
            let sobj = schema_ref(sdef);
            let sbody = json!({"required": true, "content": {"*/*": {"schema": sobj.clone()}}});
            let sname = upper_first(&s.name);
            let mut ops = Map::new();
            for v in &s.verbs {
                match v.as_str() {
                    "get" => ops.insert(
                        "get".into(),
                        operation(
                            "get",
                            &format!("read{id_prefix}{ns_word}{}{sname}", r.kind),
                            &sgvk,
                            vec![],
                            None,
                            sobj.clone(),
                        ),
                    ),
                    "update" => ops.insert(
                        "put".into(),
                        operation(
                            "put",
                            &format!("replace{id_prefix}{ns_word}{}{sname}", r.kind),
                            &sgvk,
                            write_params(false),
                            Some(sbody.clone()),
                            sobj.clone(),
                        ),
                    ),
                    "patch" => ops.insert(
                        "patch".into(),
                        operation(
                            "patch",
                            &format!("patch{id_prefix}{ns_word}{}{sname}", r.kind),
                            &sgvk,
                            write_params(true),
                            Some(patch_body.clone()),
                            sobj.clone(),
                        ),
                    ),
                    "create" => ops.insert(
                        "post".into(),
                        operation(
                            "post",
                            &format!("create{id_prefix}{ns_word}{}{sname}", r.kind),
                            &sgvk,
                            write_params(false),
                            Some(sbody.clone()),
                            sobj.clone(),
                        ),
                    ),
                    _ => None,
                };
            }
            if !ops.is_empty() {
                let mut params = common.clone();
                params.push(path_param("name", &format!("name of the {}", s.kind)));
                ops.insert("parameters".into(), json!(params));
                paths.insert(format!("{named}/{}", s.name), Value::Object(ops));
            }
        }
    }
    // The transitive closure of referenced schemas.
    let mut schemas = Map::new();
    let mut todo: Vec<String> = wanted.into_iter().collect();
    while let Some(name) = todo.pop() {
        if schemas.contains_key(&name) {
            continue;
        }
        let Some(s) = defs.get(&name) else { continue };
        collect_refs(s, &mut todo);
        schemas.insert(name, s.clone());
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v{}.{}.0", super::KUBE_MAJOR, super::KUBE_MINOR)},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    out.push(name.to_string());
                }
            }
            for v in m.values() {
                collect_refs(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy_desc() -> ResourceInfo {
        crate::resources::registry::Registry::builtin()
            .lookup("apps", "v1", "deployments")
            .expect("deployments")
    }

    #[test]
    fn patch_operation_carries_gvk_and_field_validation() {
        let doc = group_version_document("apps", "v1", &[deploy_desc()]);
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation"));
        assert!(patch["requestBody"]["content"]
            .get("application/strategic-merge-patch+json")
            .is_some());
        let mut refs = Vec::new();
        collect_refs(&doc["paths"], &mut refs);
        collect_refs(&doc["components"], &mut refs);
        for r in refs {
            assert!(
                doc["components"]["schemas"].get(&r).is_some(),
                "unresolved {r}"
            );
        }
    }

    #[test]
    fn pod_spec_containers_have_merge_metadata() {
        let c = &definitions()["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(c["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(c["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(c["x-kubernetes-list-type"], "map");
        assert_eq!(c["x-kubernetes-list-map-keys"], json!(["name"]));
        assert_eq!(
            definitions()["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]
                ["kind"],
            "Deployment"
        );
    }

    #[test]
    fn strict_decoding_names_unknown_fields() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"any": "thing"}},
            "spec": {"foo": 1, "selector": {}, "template": {"spec": {"containers": [{"name": "c", "imagee": "x"}]}}}});
        let mut unknown = unknown_fields("apps", "v1", "Deployment", &obj)
            .unwrap()
            .unwrap();
        unknown.sort();
        assert_eq!(
            unknown,
            ["spec.foo", "spec.template.spec.containers[0].imagee"]
        );
        let bad = json!({"spec": {"replicas": "three"}});
        assert!(unknown_fields("apps", "v1", "Deployment", &bad)
            .unwrap()
            .is_err());
        assert!(unknown_fields("example.com", "v1", "Thing", &obj).is_none());
    }
}
