//! OpenAPI v3 documents generated from k8s-openapi's schemas plus the Kubernetes
//! extensions (group-version-kind, and patch strategies, merge keys, list types and
//! defaults from the protos' markers), the Swagger 2.0 document derived from them (`v2`, encoded by `gnostic`), and
//! strict decoding of built-in objects against those schemas (`strict`).

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

mod extensions;
pub mod gnostic;
mod kinds;
mod strict;
#[cfg(test)]
mod strict_tests;
pub mod v2;

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::resources::registry::ResourceInfo;
use kinds::{definition_of, kind_table};

/// The component schemas as schemars writes them from k8s-openapi's types, one definition
/// per line. The test `generated_definitions_are_current` writes and checks the file; the
/// code that generates it stays out of the binary, of which it was a tenth.
const GENERATED: &str = include_str!("definitions.json");

/// Component schemas by definition name.
pub trait Definitions: Sync {
    /// The schema named `name`, if there is one.
    fn schema(&self, name: &str) -> Option<&Value>;
}

impl Definitions for Map<String, Value> {
    fn schema(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// The built-in component schemas with the Kubernetes extensions but without their
/// descriptions: what decoding, defaulting and patching read on every write. Each is parsed
/// on first use and kept: an idle control plane holds 0.3 MiB of them, where all parsed
/// held 2 MiB (heaptrack, live heap).
pub struct BuiltIn {
    entries: HashMap<&'static str, (&'static RawValue, OnceLock<Value>)>,
}

impl Definitions for BuiltIn {
    fn schema(&self, name: &str) -> Option<&Value> {
        let (name, (raw, parsed)) = self.entries.get_key_value(name)?;
        Some(parsed.get_or_init(|| {
            let mut schema = serde_json::from_str(raw.get()).unwrap_or_else(|e| {
                tracing::error!(error = %e, name, "a built-in OpenAPI definition does not parse");
                Value::Null
            });
            extensions::annotate(name, &mut schema);
            strip_descriptions(&mut schema);
            schema
        }))
    }
}

/// The built-in component schemas (see [`BuiltIn`]).
pub fn definitions() -> &'static BuiltIn {
    static DEFS: OnceLock<BuiltIn> = OnceLock::new();
    DEFS.get_or_init(|| {
        let entries = raw_index(GENERATED, "definitions")
            .into_iter()
            .map(|(name, raw)| (name, (raw, OnceLock::new())))
            .collect();
        BuiltIn { entries }
    })
}

/// The members of an embedded JSON object, each left unparsed; empty (and logged) if the
/// text does not parse.
fn raw_index(text: &'static str, what: &str) -> HashMap<&'static str, &'static RawValue> {
    serde_json::from_str(text).unwrap_or_else(|e| {
        tracing::error!(error = %e, what, "built-in OpenAPI data does not parse");
        HashMap::new()
    })
}

/// All component schemas with the Kubernetes extensions and descriptions, for the served
/// documents. Built per document rather than kept: the descriptions are two thirds of the
/// schemas' text and only `kubectl explain` reads them, from documents cached as bytes.
fn documented_definitions() -> Map<String, Value> {
    let mut defs: Map<String, Value> = serde_json::from_str(GENERATED).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the built-in OpenAPI definitions do not parse");
        Map::new()
    });
    for (name, schema) in defs.iter_mut() {
        extensions::annotate(name, schema);
    }
    defs
}

/// Removes the descriptions of a schema and of the schemas within it (a property may itself
/// be named `description`, as PriorityClass's is).
fn strip_descriptions(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            if m.get("description").is_some_and(Value::is_string) {
                m.remove("description");
            }
            for (key, child) in m.iter_mut() {
                match (key.as_str(), child) {
                    ("properties", Value::Object(props)) => {
                        props.values_mut().for_each(strip_descriptions)
                    }
                    (_, child) => strip_descriptions(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

/// The component schemas from k8s-openapi's types, as `definitions.json` holds them.
#[cfg(test)]
fn generate() -> String {
    let mut g = schemars::generate::SchemaSettings::openapi3().into_generator();
    for e in kind_table() {
        (e.schema)(&mut g);
    }
    kinds::meta_schemas(&mut g);
    let lines: Vec<String> = g
        .take_definitions(true)
        .iter()
        .map(|(name, schema)| format!("{}:{schema}", Value::from(name.as_str())))
        .collect();
    format!("{{\n{}\n}}\n", lines.join(",\n"))
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
    let root = definition_name(group, version, kind)?;
    Some(strict::decode(definitions(), root, obj))
}

/// Follow `$ref` / `allOf: [{$ref}]`, returning the definition name when there was one.
fn resolve<'a>(defs: &'a dyn Definitions, s: &'a Value) -> (Option<&'a str>, &'a Value) {
    let r = s
        .get("$ref")
        .or_else(|| {
            s.get("allOf")
                .and_then(|a| a.get(0))
                .and_then(|x| x.get("$ref"))
        })
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"));
    match r.and_then(|name| defs.schema(name).map(|d| (name, d))) {
        Some((name, d)) => (Some(name), d),
        None => (None, s),
    }
}

/// The Go type a schema decodes into, as encoding/json names it (`int32`, `v1.PodSpec`).
fn go_type(defs: &dyn Definitions, s: &Value) -> String {
    let (name, s) = resolve(defs, s);
    let short = |n: &str| {
        let mut parts = n.rsplit('.');
        let ty = parts.next().unwrap_or(n).to_string();
        let pkg = parts.next().unwrap_or("");
        format!("{pkg}.{ty}")
    };
    if let Some(n) = name {
        return match n {
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => "intstr.IntOrString".into(),
            "io.k8s.apimachinery.pkg.api.resource.Quantity" => "resource.Quantity".into(),
            _ if s.get("type").and_then(Value::as_str) != Some("object") => go_type(defs, s),
            _ => short(n),
        };
    }
    match s.get("type").and_then(Value::as_str) {
        Some("integer") => match s.get("format").and_then(Value::as_str) {
            Some(f @ ("int32" | "int64")) => f.to_string(),
            _ => "int".into(),
        },
        Some("number") => "float64".into(),
        Some("boolean") => "bool".into(),
        Some("string") => "string".into(),
        Some("array") => format!(
            "[]{}",
            s.get("items").map(|i| go_type(defs, i)).unwrap_or_default()
        ),
        Some("object") => match s.get("additionalProperties") {
            Some(v) if v.is_object() => format!("map[string]{}", go_type(defs, v)),
            _ => "map[string]interface {}".into(),
        },
        _ => "interface {}".into(),
    }
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

/// The component name of a custom resource's schema (`com.example.stable.v1.CronTab`,
/// the reversed group as kube-apiserver names them).
pub fn custom_definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// The OpenAPI 3.0 document of one group-version; `custom` holds the component schemas
/// of custom resources (named by [`custom_definition_name`]).
pub fn group_version_document(
    group: &str,
    version: &str,
    resources: &[ResourceInfo],
    custom: &Map<String, Value>,
) -> Value {
    let defs = documented_definitions();
    let lookup = |name: &str| defs.get(name).or_else(|| custom.get(name));
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
        let custom_name = custom_definition_name(&r.group, &r.version, &r.kind);
        let builtin = definition_name(&r.group, &r.version, &r.kind);
        let Some(def) = builtin.or_else(|| {
            custom
                .contains_key(&custom_name)
                .then_some(custom_name.as_str())
        }) else {
            continue;
        };
        wanted.insert(def.to_string());
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        let obj = schema_ref(def);
        let body = json!({"required": true, "content": {"*/*": {"schema": obj.clone()}}});
        let patch_schema =
            json!({"schema": schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")});
        let mut patch_types = vec![
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
        ];
        // Custom resources take no strategic merge patch; kubectl's apply reads this list
        // to choose between a strategic and a plain merge patch.
        if builtin.is_some() {
            patch_types.push("application/strategic-merge-patch+json");
        }
        let patch_body = json!({"required": true, "content": patch_types
            .iter()
            .map(|t| (t.to_string(), patch_schema.clone()))
            .collect::<Map<String, Value>>()});
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
        let Some(s) = lookup(&name) else { continue };
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
        let doc = group_version_document("apps", "v1", &[deploy_desc()], &Map::new());
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
    fn descriptions_are_served_but_not_kept() {
        let spec = "io.k8s.api.apps.v1.DeploymentSpec";
        let kept = definitions().schema(spec).expect("defined");
        assert!(kept.get("description").is_none());
        assert!(kept["properties"]["replicas"].get("description").is_none());
        assert_eq!(kept["properties"]["replicas"]["type"], "integer");
        let pc = &definitions()
            .schema("io.k8s.api.scheduling.v1.PriorityClass")
            .expect("defined")["properties"];
        assert_eq!(pc["description"]["type"], "string");

        let doc = group_version_document("apps", "v1", &[deploy_desc()], &Map::new());
        let served = &doc["components"]["schemas"][spec];
        assert!(served["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
        assert!(served["properties"]["replicas"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("desired pods")));
    }

    #[test]
    fn each_kept_definition_is_the_served_one_without_descriptions() {
        let documented = documented_definitions();
        assert!(documented.len() > 400, "{} definitions", documented.len());
        for (name, schema) in &documented {
            let mut expected = schema.clone();
            strip_descriptions(&mut expected);
            assert_eq!(definitions().schema(name), Some(&expected), "{name}");
        }
        assert!(definitions().schema("io.k8s.api.core.v1.Nothing").is_none());
    }

    #[test]
    fn pod_spec_containers_have_merge_metadata() {
        let c = &definitions()
            .schema("io.k8s.api.core.v1.PodSpec")
            .expect("defined")["properties"]["containers"];
        assert_eq!(c["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(c["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(c["x-kubernetes-list-type"], "map");
        assert_eq!(c["x-kubernetes-list-map-keys"], json!(["name"]));
        assert_eq!(
            definitions()
                .schema("io.k8s.api.apps.v1.Deployment")
                .expect("defined")["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        // As in Kubernetes: metadata is optional, other required fields stay.
        assert!(definitions()
            .schema("io.k8s.api.core.v1.Pod")
            .expect("defined")
            .get("required")
            .is_none());
        assert_eq!(
            definitions()
                .schema("io.k8s.api.core.v1.Binding")
                .expect("defined")["required"],
            json!(["target"])
        );
    }

    #[test]
    fn list_types_and_defaults_follow_the_proto_markers() {
        let defs = definitions();
        let prop =
            |def: &str, field: &str| &defs.schema(def).expect("defined")["properties"][field];
        // Atomic upstream; the hand-written table they replace merged them by key.
        let job = prop("io.k8s.api.batch.v1.JobStatus", "conditions");
        assert_eq!(job["x-kubernetes-list-type"], "atomic");
        let host_ips = prop("io.k8s.api.core.v1.PodStatus", "hostIPs");
        assert_eq!(host_ips["x-kubernetes-list-type"], "atomic");
        // A Service port without a protocol is keyed by its default (helm's apply).
        let protocol = prop("io.k8s.api.core.v1.ServicePort", "protocol");
        assert_eq!(protocol["default"], "TCP");
        let ports = prop("io.k8s.api.core.v1.ServiceSpec", "ports");
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["port", "protocol"])
        );
        assert_eq!(
            defs.schema("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")
                .expect("defined")["x-kubernetes-map-type"],
            "atomic"
        );
    }

    #[test]
    fn generated_definitions_are_current() {
        let generated = generate();
        if std::env::var_os("RKUBE_BLESS").is_some() {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/apiserver/openapi/definitions.json"
            );
            std::fs::write(path, &generated).expect("write definitions.json");
        }
        assert!(
            generated == GENERATED,
            "src/apiserver/openapi/definitions.json does not match k8s-openapi's schemas; \
             write it again with RKUBE_BLESS=1 cargo test --lib generated_definitions_are_current"
        );
        let parsed: Map<String, Value> = serde_json::from_str(GENERATED).expect("JSON");
        assert!(parsed.len() > 400, "{} definitions", parsed.len());
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
        assert_eq!(
            unknown_fields("apps", "v1", "Deployment", &bad).unwrap().unwrap_err(),
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        );
        let bad = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": "80"}]}]}}}});
        assert_eq!(
            unknown_fields("apps", "v1", "Deployment", &bad).unwrap().unwrap_err(),
            "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"
        );
        assert!(unknown_fields("example.com", "v1", "Thing", &obj).is_none());
    }
}
