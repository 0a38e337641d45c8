//! The Swagger 2.0 document (`/openapi/v2`) derived from the OpenAPI v3 group-version
//! documents we serve: one document with every path and definition, in the shapes
//! kube-apiserver publishes and kubectl's v2 readers (kube-openapi's `util/proto`,
//! cli-runtime's query-param verifier, the apply patcher) accept.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// Whether a Swagger 2.0 schema keeps `key: v` as it is. gnostic rejects any other key,
/// or a value of the wrong JSON type, and with it the whole document; a custom resource's
/// schema must not be able to take `/openapi/v2` down.
fn plain_keyword(key: &str, v: &Value) -> bool {
    match key {
        "default" | "example" => true,
        "description" | "format" | "pattern" | "title" => v.is_string(),
        "maximum" | "minimum" | "multipleOf" => v.is_number(),
        "maxItems" | "maxLength" | "maxProperties" | "minItems" | "minLength" | "minProperties" => {
            v.is_i64() || v.is_u64()
        }
        "exclusiveMaximum" | "exclusiveMinimum" | "uniqueItems" | "readOnly" => v.is_boolean(),
        "enum" => v.is_array(),
        "externalDocs" => v.as_object().is_some_and(|d| {
            d.iter().all(|(k, x)| {
                k.starts_with("x-")
                    || (matches!(k.as_str(), "description" | "url") && x.is_string())
            })
        }),
        _ => key.starts_with("x-"),
    }
}

/// The types kubectl's v2 reader knows (any other fails the whole document there).
const TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];

/// Keys of a v3 parameter's `schema` that a v2 non-body parameter carries inline.
const PARAMETER_SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "items",
    "default",
    "enum",
    "uniqueItems",
    "maximum",
    "minimum",
    "maxLength",
    "minLength",
    "pattern",
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

const V3_PREFIX: &str = "#/components/schemas/";
const V2_PREFIX: &str = "#/definitions/";

/// One Swagger 2.0 document from the v3 documents of every served group-version.
pub fn swagger<'a>(v3_docs: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut paths = BTreeMap::new();
    let mut definitions = BTreeMap::new();
    for doc in v3_docs {
        if let Some(ps) = doc.get("paths").and_then(Value::as_object) {
            for (path, item) in ps {
                paths.insert(path.clone(), path_item(item));
            }
        }
        if let Some(schemas) = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, s) in schemas {
                definitions
                    .entry(name.clone())
                    .or_insert_with(|| definition(name, s));
            }
        }
    }
    json!({
        "swagger": "2.0",
        "info": {
            "title": "Kubernetes",
            "version": format!("v{}.{}.0", super::super::KUBE_MAJOR, super::super::KUBE_MINOR),
        },
        "paths": paths.into_iter().collect::<Map<_, _>>(),
        "definitions": definitions.into_iter().collect::<Map<_, _>>(),
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "type": "apiKey",
                "name": "authorization",
                "in": "header",
            },
        },
        "security": [{"BearerToken": []}],
    })
}

/// A top-level definition. The two string-or-number types get the shapes kube-apiserver
/// publishes in v2 (a string kubectl lets numbers through for), not the untyped v3 form.
fn definition(name: &str, s: &Value) -> Value {
    let description = s.get("description").cloned();
    let mut out = match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            json!({"type": "string", "format": "int-or-string"})
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => json!({"type": "string"}),
        _ => return schema(s),
    };
    if let Some(d) = description {
        out["description"] = d;
    }
    out
}

fn ref_v2(r: &str) -> Option<String> {
    r.strip_prefix(V3_PREFIX)
        .map(|name| format!("{V2_PREFIX}{name}"))
}

/// A v3 schema in v2 form: `#/definitions/` references, a single-reference `allOf`
/// folded into `$ref`, and what v2 lacks dropped the way kube-apiserver publishes
/// custom resources in v2 (apiextensions `ToStructuralOpenAPIV2`): junctors go, a
/// nullable or unknown-fields-preserving schema loses its type/properties/items, so
/// kubectl treats it as arbitrary rather than rejecting valid values.
pub fn schema(v3: &Value) -> Value {
    let Some(m) = v3.as_object() else {
        // `true` / `false` schemas: anything.
        return json!({});
    };
    let flag = |k: &str| m.get(k).and_then(Value::as_bool) == Some(true);
    let nullable = flag("nullable");
    let opaque = nullable || flag("x-kubernetes-preserve-unknown-fields");
    let single_ref = m
        .get("allOf")
        .and_then(Value::as_array)
        .filter(|a| a.len() == 1)
        .and_then(|a| a[0].get("$ref"))
        .and_then(Value::as_str);
    let mut out = Map::new();
    let mut nullable_props = Vec::new();
    for (k, v) in m {
        match k.as_str() {
            "$ref" => {
                if let Some(r) = v.as_str().and_then(ref_v2) {
                    out.insert(k.clone(), json!(r));
                }
            }
            "allOf" => {
                if let Some(r) = single_ref.and_then(ref_v2) {
                    out.insert("$ref".into(), json!(r));
                }
            }
            "properties" if !opaque => {
                let Some(props) = v.as_object() else { continue };
                let mut conv = Map::new();
                for (name, p) in props {
                    if p.get("nullable").and_then(Value::as_bool) == Some(true) {
                        nullable_props.push(name.clone());
                    }
                    conv.insert(name.clone(), schema(p));
                }
                // An empty (non-nil) properties map would make kubectl reject every field.
                if !conv.is_empty() {
                    out.insert(k.clone(), Value::Object(conv));
                }
            }
            "items" if !opaque && v.is_object() => {
                out.insert(k.clone(), schema(v));
            }
            "additionalProperties" => {
                out.insert(
                    k.clone(),
                    if v.is_boolean() { v.clone() } else { schema(v) },
                );
            }
            "type" if !nullable => {
                let known = |t: &&Value| t.as_str().is_some_and(|t| TYPES.contains(&t));
                match v {
                    Value::String(_) if known(&v) => {
                        out.insert(k.clone(), v.clone());
                    }
                    Value::Array(ts) => {
                        // `[T, "null"]` is a nullable T; anything else has no v2 form.
                        let ts: Vec<&Value> = ts.iter().filter(|t| *t != "null").collect();
                        if let [t] = ts.as_slice() {
                            if known(t) {
                                out.insert(k.clone(), (*t).clone());
                            }
                        }
                    }
                    _ => {}
                }
            }
            "discriminator" if v.is_string() => {
                out.insert(k.clone(), v.clone());
            }
            "required"
                if v.as_array()
                    .is_some_and(|r| !r.is_empty() && r.iter().all(Value::is_string)) =>
            {
                out.insert(k.clone(), v.clone());
            }
            "properties" | "items" | "type" | "discriminator" | "required" => {}
            _ if plain_keyword(k, v) => {
                out.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
    if out.contains_key("$ref") {
        // kubectl refuses a reference that also declares a type or fields.
        for k in ["type", "properties", "items", "additionalProperties"] {
            out.remove(k);
        }
    }
    if out.get("type").and_then(Value::as_str) == Some("array") && !out.contains_key("items") {
        // kubectl cannot cope with an array without an item schema.
        out.remove("type");
    }
    if !nullable_props.is_empty() {
        if let Some(req) = out.get_mut("required").and_then(Value::as_array_mut) {
            req.retain(|r| !nullable_props.iter().any(|n| r == n));
            if req.is_empty() {
                out.remove("required");
            }
        }
    }
    Value::Object(out)
}

fn path_item(item: &Value) -> Value {
    let mut out = Map::new();
    let Some(m) = item.as_object() else {
        return Value::Object(out);
    };
    for (k, v) in m {
        if METHODS.contains(&k.as_str()) {
            out.insert(k.clone(), operation(v));
        } else if k == "parameters" {
            out.insert(k.clone(), parameters(v));
        } else if k.starts_with("x-") {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn parameters(v: &Value) -> Value {
    Value::Array(
        v.as_array()
            .map(|ps| ps.iter().map(parameter).collect())
            .unwrap_or_default(),
    )
}

/// A v3 query/path/header parameter: its schema's type moves inline.
fn parameter(p: &Value) -> Value {
    let mut out = Map::new();
    if let Some(s) = p.get("schema").and_then(Value::as_object) {
        for (k, v) in s {
            if PARAMETER_SCHEMA_KEYS.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out.entry("type").or_insert_with(|| json!("string"));
    for k in ["description", "name", "in", "required"] {
        if let Some(v) = p.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    Value::Object(out)
}

fn operation(op: &Value) -> Value {
    let mut out = Map::new();
    if let Some(d) = op.get("description") {
        out.insert("description".into(), d.clone());
    }
    let body = op.get("requestBody");
    let body_content = body
        .and_then(|b| b.get("content"))
        .and_then(Value::as_object);
    if let Some(content) = body_content {
        out.insert("consumes".into(), json!(content.keys().collect::<Vec<_>>()));
    }
    let mut produces: Vec<&String> = Vec::new();
    for r in op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|rs| rs.values())
    {
        for ct in r
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|c| c.keys())
        {
            if !produces.contains(&ct) {
                produces.push(ct);
            }
        }
    }
    if !produces.is_empty() {
        out.insert("produces".into(), json!(produces));
    }
    out.insert("schemes".into(), json!(["https"]));
    if let Some(id) = op.get("operationId") {
        out.insert("operationId".into(), id.clone());
    }
    let mut params = Vec::new();
    if let Some(content) = body_content {
        let s = content
            .values()
            .find_map(|c| c.get("schema"))
            .map(schema)
            .unwrap_or_else(|| json!({}));
        params.push(json!({
            "name": "body",
            "in": "body",
            "required": body.and_then(|b| b.get("required")).cloned().unwrap_or(json!(true)),
            "schema": s,
        }));
    }
    if let Some(ps) = op.get("parameters").and_then(Value::as_array) {
        params.extend(ps.iter().map(parameter));
    }
    out.insert("parameters".into(), Value::Array(params));
    let mut responses = Map::new();
    if let Some(rs) = op.get("responses").and_then(Value::as_object) {
        for (code, r) in rs {
            let mut resp = Map::new();
            resp.insert(
                "description".into(),
                r.get("description").cloned().unwrap_or(json!("")),
            );
            let content = r.get("content").and_then(Value::as_object);
            let s = content.and_then(|c| {
                c.get("application/json")
                    .or_else(|| c.values().next())
                    .and_then(|m| m.get("schema"))
            });
            if let Some(s) = s {
                resp.insert("schema".into(), schema(s));
            }
            responses.insert(code.clone(), Value::Object(resp));
        }
    }
    out.insert("responses".into(), Value::Object(responses));
    if let Some(m) = op.as_object() {
        for (k, v) in m {
            if k.starts_with("x-") {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_single_ref_all_of_and_rewrites_refs() {
        let s = schema(&json!({
            "description": "Standard object's metadata.",
            "allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}],
            "default": {},
        }));
        assert_eq!(
            s,
            json!({
                "description": "Standard object's metadata.",
                "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "default": {},
            })
        );
    }

    #[test]
    fn drops_what_v2_lacks_like_custom_resource_publishing() {
        let s = schema(&json!({
            "type": "object",
            "required": ["a", "b"],
            "properties": {
                "a": {"type": "string", "nullable": true, "enum": ["x", null]},
                "b": {"type": "array", "x-kubernetes-preserve-unknown-fields": true, "items": {"type": "string"}},
                "c": {"oneOf": [{"type": "string"}, {"type": "integer"}], "x-kubernetes-int-or-string": true},
                "d": {"type": "object", "properties": {}},
                "e": {"type": "string", "writeOnly": true, "deprecated": true},
                "f": {"type": "strin", "maxLength": "5", "externalDocs": {"url": "u", "x": 1}, "xml": {}},
                "g": {"type": ["integer", "null"], "minimum": 1},
            },
        }));
        assert_eq!(
            s,
            json!({
                "type": "object",
                "required": ["b"],
                "properties": {
                    "a": {"enum": ["x", null]},
                    "b": {"x-kubernetes-preserve-unknown-fields": true},
                    "c": {"x-kubernetes-int-or-string": true},
                    "d": {"type": "object"},
                    "e": {"type": "string"},
                    "f": {},
                    "g": {"type": "integer", "minimum": 1},
                },
            })
        );
    }

    #[test]
    fn operations_carry_body_parameters_and_media_types() {
        let v3 = json!({
            "paths": {"/api/v1/namespaces/{namespace}/configmaps/{name}": {
                "parameters": [{"name": "name", "in": "path", "required": true, "description": "name", "schema": {"type": "string", "uniqueItems": true}}],
                "patch": {
                    "description": "patch ConfigMap",
                    "operationId": "patchCoreV1NamespacedConfigMap",
                    "parameters": [{"name": "fieldValidation", "in": "query", "description": "fv", "schema": {"type": "string", "uniqueItems": true}}],
                    "requestBody": {"required": true, "content": {
                        "application/merge-patch+json": {"schema": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}},
                        "application/strategic-merge-patch+json": {"schema": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}},
                    }},
                    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/io.k8s.api.core.v1.ConfigMap"}}}}},
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
                },
            }},
            "components": {"schemas": {"io.k8s.api.core.v1.ConfigMap": {"type": "object", "properties": {"data": {"type": "object", "additionalProperties": {"type": "string"}}}}}},
        });
        let doc = swagger([&v3]);
        let item = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"];
        assert_eq!(
            item["parameters"][0],
            json!({"type": "string", "uniqueItems": true, "description": "name", "name": "name", "in": "path", "required": true})
        );
        let patch = &item["patch"];
        assert_eq!(
            patch["consumes"],
            json!([
                "application/merge-patch+json",
                "application/strategic-merge-patch+json"
            ])
        );
        assert_eq!(patch["produces"], json!(["application/json"]));
        assert_eq!(patch["parameters"][0]["in"], "body");
        assert_eq!(
            patch["parameters"][0]["schema"]["$ref"],
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
        );
        assert_eq!(patch["parameters"][1]["name"], "fieldValidation");
        assert_eq!(patch["parameters"][1]["type"], "string");
        assert_eq!(
            patch["responses"]["200"]["schema"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.ConfigMap"
        );
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "ConfigMap"
        );
        assert!(doc["definitions"]["io.k8s.api.core.v1.ConfigMap"].is_object());
    }

    #[test]
    fn every_served_group_version_converts_and_encodes() {
        let registry = crate::resources::registry::Registry::builtin();
        let mut custom = Map::new();
        // A custom schema with what v3 allows and v2 does not, and values of odd types.
        custom.insert(
            "com.example.v1.Odd".into(),
            json!({"type": "object", "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Odd"}],
                "properties": {"spec": {"type": "object", "properties": {
                    "a": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true},
                    "b": {"type": "string", "enum": ["x", "y"], "default": "x", "maxLength": 3.5, "pattern": 7},
                    "c": {"type": "array", "items": [{"type": "string"}], "x-kubernetes-validations": [{"rule": "self.size() > 0"}]},
                    "d": {"not": {"type": "string"}, "nullable": true, "externalDocs": {"url": 1}},
                }}}}),
        );
        let mut docs = Vec::new();
        for (group, versions) in registry.groups() {
            for version in versions {
                let resources = registry.resources_of(&group, &version);
                docs.push(super::super::group_version_document(
                    &group,
                    &version,
                    &resources,
                    &Map::new(),
                ));
            }
        }
        docs.push(json!({"paths": {}, "components": {"schemas": custom}}));
        let doc = swagger(&docs);
        let defs = doc["definitions"].as_object().unwrap();
        assert!(defs.contains_key("io.k8s.api.core.v1.Pod"));
        assert!(defs.contains_key("com.example.v1.Odd"));
        let mut refs = Vec::new();
        let text = serde_json::to_string(&doc).unwrap();
        assert!(!text.contains("#/components/"), "a v3 reference survived");
        let mut unresolved = Vec::new();
        fn v2_refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                        out.push(r.to_string());
                    }
                    m.values().for_each(|x| v2_refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| v2_refs(x, out)),
                _ => {}
            }
        }
        v2_refs(&doc, &mut refs);
        for r in &refs {
            match r.strip_prefix(V2_PREFIX) {
                Some(name) if defs.contains_key(name) => {}
                _ => unresolved.push(r.clone()),
            }
        }
        assert!(unresolved.is_empty(), "unresolved: {unresolved:?}");
        super::super::gnostic::encode(&doc).expect("encodes as gnostic protobuf");
    }
}
