//! Object metadata (`ValidateObjectMeta` / `ValidateObjectMetaUpdate`): names per kind,
//! generateName, namespace by scope, labels, annotations, owner references, finalizers.

use std::collections::BTreeSet;

use serde_json::Value;

use super::field::FieldError;
use super::names::{
    annotations_errors, dns1123_label, invalid_each, labels_errors, name_errors, qualified_name,
    NameRule,
};

fn meta_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.pointer(&format!("/metadata/{key}"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Metadata errors of a new object.
pub(super) fn create_errors(obj: &Value, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let generate = meta_str(obj, "generateName");
    if !generate.is_empty() {
        errs.extend(invalid_each(
            "metadata.generateName",
            generate,
            name_errors(rule, generate, true),
        ));
    }
    let name = meta_str(obj, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        errs.extend(invalid_each(
            "metadata.name",
            name,
            name_errors(rule, name, false),
        ));
    }
    let ns = meta_str(obj, "namespace");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            errs.extend(invalid_each("metadata.namespace", ns, dns1123_label(ns)));
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }
    errs.extend(common_errors(obj));
    errs.extend(finalizer_errors(obj));
    errs
}

/// Checks shared by create and update.
fn common_errors(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(g) = obj.pointer("/metadata/generation").and_then(Value::as_i64) {
        if g < 0 {
            errs.push(FieldError::invalid(
                "metadata.generation",
                g,
                "must be greater than or equal to 0",
            ));
        }
    }
    errs.extend(labels_errors(
        "metadata.labels",
        obj.pointer("/metadata/labels"),
    ));
    errs.extend(annotations_errors(
        "metadata.annotations",
        obj.pointer("/metadata/annotations"),
    ));
    errs.extend(owner_reference_errors(obj));
    errs
}

fn owner_reference_errors(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let refs = obj
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut first_controller: Option<String> = None;
    for (i, r) in refs.iter().enumerate() {
        let path = format!("metadata.ownerReferences[{i}]");
        let get = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        let api_version = get("apiVersion");
        if api_version.is_empty() {
            errs.push(FieldError::required(
                &format!("{path}.apiVersion"),
                "must not be empty",
            ));
        } else if !valid_group_version(api_version) {
            errs.push(FieldError::invalid(
                &format!("{path}.apiVersion"),
                api_version,
                "must be <group>/<version> or <version>",
            ));
        }
        for k in ["kind", "name", "uid"] {
            if get(k).is_empty() {
                errs.push(FieldError::required(
                    &format!("{path}.{k}"),
                    "must not be empty",
                ));
            }
        }
        if api_version == "v1" && get("kind") == "Event" {
            errs.push(FieldError::invalid(
                &path,
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{}/{}", get("kind"), get("name"));
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    "metadata.ownerReferences",
                    Value::Array(refs.to_vec()),
                    &format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

fn valid_group_version(gv: &str) -> bool {
    match gv.split('/').collect::<Vec<_>>().as_slice() {
        [v] => !v.is_empty(),
        [g, v] => !g.is_empty() && !v.is_empty(),
        _ => false,
    }
}

fn finalizer_errors(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let finalizers: Vec<&str> = obj
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for f in &finalizers {
        errs.extend(invalid_each("metadata.finalizers", f, qualified_name(f)));
    }
    if finalizers.contains(&"orphan") && finalizers.contains(&"foregroundDeletion") {
        errs.push(FieldError::invalid(
            "metadata.finalizers",
            Value::from(finalizers.clone()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Metadata errors of an update: identity fields are immutable.
pub(super) fn update_errors(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        let set = |o: &Value| -> BTreeSet<String> {
            o.pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let extra: Vec<String> = set(new).difference(&set(old)).cloned().collect();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|s| format!("{s:?}")).collect();
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }
    if let Some(g) = new.pointer("/metadata/generation").and_then(Value::as_i64) {
        if g < 0 {
            errs.push(FieldError::invalid(
                "metadata.generation",
                g,
                "must be greater than or equal to 0",
            ));
        }
    }
    for key in ["name", "namespace"] {
        immutable_meta(&mut errs, new, old, key, false);
    }
    // The handler carries these over from the stored object; only a client that sends a
    // different value is refused.
    for key in ["uid", "creationTimestamp"] {
        immutable_meta(&mut errs, new, old, key, true);
    }
    errs.extend(labels_errors(
        "metadata.labels",
        new.pointer("/metadata/labels"),
    ));
    errs.extend(annotations_errors(
        "metadata.annotations",
        new.pointer("/metadata/annotations"),
    ));
    errs.extend(owner_reference_errors(new));
    errs
}

fn immutable_meta(errs: &mut Vec<FieldError>, new: &Value, old: &Value, key: &str, lenient: bool) {
    let n = meta_str(new, key);
    let o = meta_str(old, key);
    if n != o && !(lenient && n.is_empty()) {
        errs.push(FieldError::invalid(
            &format!("metadata.{key}"),
            n,
            "field is immutable",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn names_namespaces_scope() {
        let o = json!({"metadata": {"name": "Bad_Name", "namespace": "x"}});
        let m = msgs(&create_errors(&o, false, NameRule::Label));
        assert_eq!(m.len(), 2);
        assert!(m[0]
            .starts_with("metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label"));
        assert_eq!(
            m[1],
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        let o = json!({"metadata": {"generateName": "web-"}});
        assert_eq!(
            msgs(&create_errors(&o, true, NameRule::Subdomain)),
            [
                "metadata.name: Required value: name or generateName is required",
                "metadata.namespace: Required value"
            ]
        );
    }

    #[test]
    fn owner_references_and_finalizers() {
        let o = json!({"metadata": {"name": "a", "namespace": "n",
            "finalizers": ["orphan", "foregroundDeletion"],
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "1", "controller": true},
                {"apiVersion": "a/b/c", "kind": "X", "name": "y", "uid": "2", "controller": true}]}});
        let m = msgs(&create_errors(&o, true, NameRule::Subdomain));
        assert!(m.contains(&"metadata.ownerReferences[1].apiVersion: Invalid value: \"a/b/c\": must be <group>/<version> or <version>".to_string()), "{m:?}");
        assert!(
            m.iter()
                .any(|x| x.ends_with("Found \"true\" in references for ReplicaSet/r and X/y")),
            "{m:?}"
        );
        assert!(m.contains(&"metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer orphan and foregroundDeletion cannot be both set".to_string()));
    }

    #[test]
    fn update_identity() {
        let old = json!({"metadata": {"name": "a", "namespace": "n", "uid": "u1", "deletionTimestamp": "t", "finalizers": ["a/b"]}});
        let new =
            json!({"metadata": {"name": "b", "namespace": "n", "finalizers": ["a/b", "c/d"]}});
        assert_eq!(
            msgs(&update_errors(&new, &old)),
            [
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"c/d\"}",
                "metadata.name: Invalid value: \"b\": field is immutable"
            ]
        );
    }
}
