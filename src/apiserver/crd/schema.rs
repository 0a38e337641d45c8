//! Custom resources against their CRD's structural schema: validation with kube-openapi's
//! messages, the unknown fields pruning removes, and defaults — apiextensions-apiserver's
//! validation, pruning and defaulting passes.

use regex::Regex;
use serde_json::{Map, Value};

use crate::resources::validation::{ErrorType, FieldError};

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

fn additional(schema: &Value) -> Option<&Value> {
    schema.get("additionalProperties").filter(|a| a.is_object())
}

/// Fields at the root (and in embedded resources) that the schema never lists.
const OBJECT_FIELDS: &[&str] = &["apiVersion", "kind", "metadata"];

/// Paths (`spec.foo`, `spec.items[0].bar`) of fields the schema does not know; these are
/// what pruning removes.
pub fn unknown_fields(schema: &Value, obj: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_unknown(schema, obj, "", true, &mut out);
    out
}

fn walk_unknown(
    schema: &Value,
    v: &Value,
    path: &str,
    is_object_root: bool,
    out: &mut Vec<String>,
) {
    if flag(schema, "x-kubernetes-int-or-string") {
        return;
    }
    let embedded = is_object_root || flag(schema, "x-kubernetes-embedded-resource");
    match v {
        Value::Object(m) => {
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let props = properties(schema);
            let extra = additional(schema);
            for (k, val) in m {
                if embedded
                    && OBJECT_FIELDS.contains(&k.as_str())
                    && props.is_none_or(|p| !p.contains_key(k))
                {
                    continue;
                }
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    walk_unknown(s, val, &child(path, k), false, out);
                } else if let Some(s) = extra {
                    walk_unknown(s, val, &child(path, k), false, out);
                } else if !preserve {
                    out.push(child(path, k));
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk_unknown(s, item, &format!("{path}[{i}]"), false, out);
                }
            }
        }
        _ => {}
    }
}

/// Fill schema defaults into absent fields, recursively (apiextensions' defaulting).
pub fn apply_defaults(schema: &Value, v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(props) = properties(schema) {
                for (k, s) in props {
                    let absent = match m.get(k) {
                        None => true,
                        Some(Value::Null) => !flag(s, "nullable"),
                        Some(_) => false,
                    };
                    if absent {
                        if let Some(d) = s.get("default") {
                            m.insert(k.clone(), d.clone());
                        }
                    }
                    if let Some(val) = m.get_mut(k) {
                        apply_defaults(s, val);
                    }
                }
            }
            if let Some(s) = additional(schema) {
                for (k, val) in m.iter_mut() {
                    if properties(schema).is_none_or(|p| !p.contains_key(k)) {
                        apply_defaults(s, val);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for item in items {
                    apply_defaults(s, item);
                }
            }
        }
        _ => {}
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_ok(want: &str, v: &Value) -> bool {
    match (want, v) {
        ("object", Value::Object(_))
        | ("array", Value::Array(_))
        | ("string", Value::String(_)) => true,
        ("boolean", Value::Bool(_)) => true,
        ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// Validate a custom object against its schema; the root's apiVersion, kind and metadata
/// are the API server's to check.
pub fn validate(schema: &Value, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    walk_validate(schema, obj, "", true, &mut errs);
    errs
}

fn invalid(path: &str, value: Value, detail: String) -> FieldError {
    FieldError::invalid(path, value, &detail)
}

fn walk_validate(schema: &Value, v: &Value, path: &str, root: bool, errs: &mut Vec<FieldError>) {
    if v.is_null() {
        if flag(schema, "nullable") || root {
            return;
        }
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            errs.push(invalid(
                path,
                Value::from("null"),
                format!("{path} in body must be of type {t}: \"null\""),
            ));
        }
        return;
    }
    if flag(schema, "x-kubernetes-int-or-string") {
        if !(v.is_string() || type_ok("integer", v)) {
            errs.push(invalid(
                path,
                Value::from(type_name(v)),
                format!(
                    "{path} in body must be of type integer,string: \"{}\"",
                    type_name(v)
                ),
            ));
        }
        return;
    }
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        if !type_ok(t, v) {
            errs.push(invalid(
                path,
                Value::from(type_name(v)),
                format!("{path} in body must be of type {t}: \"{}\"", type_name(v)),
            ));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            let texts: Vec<String> = options.iter().map(|o| o.to_string()).collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let mut e = FieldError::not_supported(path, v.clone(), &[]);
            e.detail = format!("supported values: {}", refs.join(", "));
            errs.push(e);
        }
    }
    match v {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            let exclusive = |k: &str| flag(schema, k);
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                if x < min || (exclusive("exclusiveMinimum") && x == min) {
                    let word = if exclusive("exclusiveMinimum") {
                        "greater than"
                    } else {
                        "greater than or equal to"
                    };
                    errs.push(invalid(
                        path,
                        v.clone(),
                        format!("{path} in body should be {word} {}", number_text(min)),
                    ));
                }
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                if x > max || (exclusive("exclusiveMaximum") && x == max) {
                    let word = if exclusive("exclusiveMaximum") {
                        "less than"
                    } else {
                        "less than or equal to"
                    };
                    errs.push(invalid(
                        path,
                        v.clone(),
                        format!("{path} in body should be {word} {}", number_text(max)),
                    ));
                }
            }
            if let Some(m) = schema
                .get("multipleOf")
                .and_then(Value::as_f64)
                .filter(|m| *m > 0.0)
            {
                if (x / m).fract() != 0.0 {
                    errs.push(invalid(
                        path,
                        v.clone(),
                        format!("{path} in body should be a multiple of {}", number_text(m)),
                    ));
                }
            }
            if schema.get("format").and_then(Value::as_str) == Some("int32")
                && n.as_i64().is_some_and(|i| i32::try_from(i).is_err())
            {
                errs.push(invalid(
                    path,
                    v.clone(),
                    format!("{path} in body must be of type int32: \"{n}\""),
                ));
            }
        }
        Value::String(s) => {
            let chars = s.chars().count();
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                if chars as u64 > max {
                    errs.push(FieldError::new(
                        ErrorType::TooLong,
                        path,
                        Some(v.clone()),
                        &format!("may not be more than {max} bytes"),
                    ));
                }
            }
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                if (chars as u64) < min {
                    errs.push(invalid(
                        path,
                        v.clone(),
                        format!("{path} in body should be at least {min} chars long"),
                    ));
                }
            }
            if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
                match Regex::new(p) {
                    Ok(re) if !re.is_match(s) => {
                        errs.push(invalid(
                            path,
                            v.clone(),
                            format!("{path} in body should match '{p}'"),
                        ));
                    }
                    _ => {}
                }
            }
            match schema.get("format").and_then(Value::as_str) {
                Some("date-time") if s.parse::<jiff::Timestamp>().is_err() => {
                    errs.push(invalid(
                        path,
                        v.clone(),
                        format!("{path} in body must be of type date-time: \"{s}\""),
                    ));
                }
                Some("date") if s.parse::<jiff::civil::Date>().is_err() => {
                    errs.push(invalid(
                        path,
                        v.clone(),
                        format!("{path} in body must be of type date: \"{s}\""),
                    ));
                }
                _ => {}
            }
        }
        Value::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                if items.len() as u64 > max {
                    errs.push(FieldError::new(
                        ErrorType::TooMany,
                        path,
                        Some(Value::from(items.len())),
                        &format!("must have at most {max} items"),
                    ));
                }
            }
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    errs.push(invalid(
                        path,
                        Value::from(items.len()),
                        format!("{path} in body should have at least {min} items"),
                    ));
                }
            }
            if flag(schema, "uniqueItems") {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        errs.push(FieldError::new(
                            ErrorType::Duplicate,
                            &format!("{path}[{i}]"),
                            Some(item.clone()),
                            "",
                        ));
                    }
                }
            }
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk_validate(s, item, &format!("{path}[{i}]"), false, errs);
                }
            }
        }
        Value::Object(m) => {
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = r.as_str() {
                    if !m.contains_key(name) {
                        errs.push(FieldError::required(&child(path, name), ""));
                    }
                }
            }
            if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
                if m.len() as u64 > max {
                    errs.push(FieldError::new(
                        ErrorType::TooMany,
                        path,
                        Some(Value::from(m.len())),
                        &format!("must have at most {max} items"),
                    ));
                }
            }
            if let Some(min) = schema.get("minProperties").and_then(Value::as_u64) {
                if (m.len() as u64) < min {
                    errs.push(invalid(
                        path,
                        Value::from(m.len()),
                        format!("{path} in body should have at least {min} properties"),
                    ));
                }
            }
            let props = properties(schema);
            for (k, val) in m {
                if root && OBJECT_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    walk_validate(s, val, &child(path, k), false, errs);
                } else if let Some(s) = additional(schema) {
                    walk_validate(s, val, &child(path, k), false, errs);
                }
            }
        }
        _ => {}
    }
}

/// Why a schema is not structural (each node typed, no forbidden constructs), as field
/// errors under `spec.versions[i].schema.openAPIV3Schema`.
pub fn structural_errors(schema: &Value, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    check_structural(schema, path, true, &mut errs);
    errs
}

fn check_structural(schema: &Value, path: &str, root: bool, errs: &mut Vec<FieldError>) {
    let Some(m) = schema.as_object() else {
        errs.push(FieldError::invalid(
            path,
            schema.clone(),
            "must be an object",
        ));
        return;
    };
    let typed = m
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let special = flag(schema, "x-kubernetes-int-or-string")
        || flag(schema, "x-kubernetes-preserve-unknown-fields");
    if !typed && !special {
        errs.push(FieldError::required(
            &format!("{path}.type"),
            "must not be empty for specified object fields",
        ));
    }
    if root
        && m.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t != "object")
    {
        errs.push(FieldError::invalid(
            &format!("{path}.type"),
            m["type"].clone(),
            "must be object at the root",
        ));
    }
    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        if m.contains_key("additionalProperties") && m["additionalProperties"].is_object() {
            errs.push(FieldError::forbidden(
                &format!("{path}.additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        for (k, s) in props {
            if root && k == "metadata" {
                continue;
            }
            check_structural(s, &format!("{path}.properties[{k}]"), false, errs);
        }
    }
    if let Some(items) = m.get("items") {
        check_structural(items, &format!("{path}.items"), false, errs);
    } else if m.get("type").and_then(Value::as_str) == Some("array") {
        errs.push(FieldError::required(
            &format!("{path}.items"),
            "must be specified",
        ));
    }
    if let Some(a) = m.get("additionalProperties").filter(|a| a.is_object()) {
        check_structural(a, &format!("{path}.additionalProperties"), false, errs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crontab_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["cronSpec"],
                    "properties": {
                        "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
                        "image": {"type": "string", "minLength": 1},
                        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                        "mode": {"type": "string", "enum": ["Fast", "Slow"], "default": "Slow"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "ports": {"type": "array", "maxItems": 2, "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "size": {"x-kubernetes-int-or-string": true}
                    }
                },
                "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}
            }
        })
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn validation_messages() {
        let s = crontab_schema();
        let ok = json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "a"},
                        "spec": {"cronSpec": "* * * * */5", "replicas": 3, "size": "10Gi", "labels": {"a": "b"}}});
        assert!(
            validate(&s, &ok).is_empty(),
            "{:?}",
            messages(&validate(&s, &ok))
        );
        let bad = json!({"spec": {"replicas": "three", "mode": "Medium", "image": "", "ports": [{}, {}, {}], "labels": {"a": 1}}});
        let m = messages(&validate(&s, &bad));
        assert!(
            m.contains(&"spec.cronSpec: Required value".to_string()),
            "{m:?}"
        );
        assert!(m.contains(&"spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"".to_string()), "{m:?}");
        assert!(
            m.contains(
                &"spec.mode: Unsupported value: \"Medium\": supported values: \"Fast\", \"Slow\""
                    .to_string()
            ),
            "{m:?}"
        );
        assert!(m.contains(&"spec.image: Invalid value: \"\": spec.image in body should be at least 1 chars long".to_string()), "{m:?}");
        assert!(
            m.contains(&"spec.ports: Too many: 3: must have at most 2 items".to_string()),
            "{m:?}"
        );
        assert!(m.contains(&"spec.labels.a: Invalid value: \"integer\": spec.labels.a in body must be of type string: \"integer\"".to_string()), "{m:?}");
        let range = messages(&validate(
            &s,
            &json!({"spec": {"cronSpec": "bad", "replicas": 0}}),
        ));
        assert!(range.contains(&"spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1".to_string()), "{range:?}");
        assert!(
            range.iter().any(|m| m.starts_with(
                "spec.cronSpec: Invalid value: \"bad\": spec.cronSpec in body should match '"
            )),
            "{range:?}"
        );
    }

    #[test]
    fn pruning_and_defaults() {
        let s = crontab_schema();
        let obj = json!({"apiVersion": "x/v1", "kind": "CronTab", "metadata": {"name": "a"}, "junk": 1,
                         "spec": {"cronSpec": "*", "bogus": true, "ports": [{"port": 1, "proto": "TCP"}],
                                  "extra": {"anything": {"goes": 1}}, "labels": {"k": "v"}}});
        assert_eq!(
            unknown_fields(&s, &obj),
            vec!["junk", "spec.bogus", "spec.ports[0].proto"]
        );
        let mut d = json!({"spec": {"cronSpec": "*"}});
        apply_defaults(&s, &mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["mode"], "Slow");
        let mut keep = json!({"spec": {"replicas": 5}});
        apply_defaults(&s, &mut keep);
        assert_eq!(keep["spec"]["replicas"], 5);
    }

    #[test]
    fn structural_checks() {
        assert!(
            structural_errors(&crontab_schema(), "spec.versions[0].schema.openAPIV3Schema")
                .is_empty()
        );
        let errs = structural_errors(
            &json!({"type": "object", "properties": {"spec": {"properties": {}}, "list": {"type": "array"}}}),
            "s",
        );
        let m = messages(&errs);
        assert!(
            m.iter()
                .any(|e| e.starts_with("s.properties[spec].type: Required value")),
            "{m:?}"
        );
        assert!(
            m.iter()
                .any(|e| e.starts_with("s.properties[list].items: Required value")),
            "{m:?}"
        );
    }
}
