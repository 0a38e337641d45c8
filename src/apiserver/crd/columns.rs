//! Table columns of custom resources from `additionalPrinterColumns`: a NAME column, then
//! each declared column filled by its JSONPath (an Age column when none are declared).

use serde_json::{json, Value};

use super::definition::{Column, Version};
use crate::resources::printers::duration;

fn default_columns() -> Vec<Column> {
    vec![Column {
        name: "Age".into(),
        type_: "date".into(),
        format: String::new(),
        description: String::new(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }]
}

fn declared(v: &Version) -> Vec<Column> {
    if v.columns.is_empty() {
        default_columns()
    } else {
        v.columns.clone()
    }
}

/// `columnDefinitions` of a version's Table.
pub fn definitions(v: &Version) -> Vec<Value> {
    let mut out = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    })];
    for c in declared(v) {
        out.push(json!({
            "name": c.name, "type": c.type_, "format": c.format,
            "description": c.description, "priority": c.priority,
        }));
    }
    out
}

/// One row's cells.
pub fn cells(v: &Version, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let mut out = vec![obj
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or(Value::Null)];
    for c in declared(v) {
        let found = evaluate(obj, &c.json_path);
        out.push(match (c.type_.as_str(), found) {
            (_, None) => Value::Null,
            ("date", Some(t)) => match duration::timestamp(Some(&t)) {
                Some(ts) => Value::String(duration::since(Some(ts), now)),
                None => Value::Null,
            },
            ("integer" | "number" | "boolean", Some(x)) => x,
            ("string", Some(Value::String(s))) => Value::String(s),
            (_, Some(x @ (Value::Object(_) | Value::Array(_)))) => Value::String(x.to_string()),
            (_, Some(Value::String(s))) => Value::String(s),
            (_, Some(x)) => Value::String(x.to_string()),
        });
    }
    out
}

/// One step of a JSONPath.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    All,
    Filter(String, Value),
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let p = path.trim().trim_start_matches('{').trim_end_matches('}');
    let p = p.strip_prefix('$').unwrap_or(p);
    let mut steps = Vec::new();
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end > 0 {
                steps.push(Step::Key(r[..end].to_string()));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            if inner == "*" {
                steps.push(Step::All);
            } else if let Ok(i) = inner.parse() {
                steps.push(Step::Index(i));
            } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (field, value) = f.split_once("==")?;
                let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                steps.push(Step::Filter(field.trim().to_string(), json!(value)));
            } else {
                steps.push(Step::Key(
                    inner.trim_matches(|c| c == '"' || c == '\'').to_string(),
                ));
            }
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The first value a simple JSONPath (`.a.b[0]`, `[*]`, `[?(@.type=="Ready")]`) selects.
pub fn evaluate(obj: &Value, path: &str) -> Option<Value> {
    let steps = parse(path)?;
    let mut current = vec![obj.clone()];
    for step in steps {
        let mut next = Vec::new();
        for v in current {
            match (&step, &v) {
                (Step::Key(k), Value::Object(m)) => next.extend(m.get(k).cloned()),
                (Step::Index(i), Value::Array(a)) => next.extend(a.get(*i).cloned()),
                (Step::All, Value::Array(a)) => next.extend(a.iter().cloned()),
                (Step::All, Value::Object(m)) => next.extend(m.values().cloned()),
                (Step::Filter(field, want), Value::Array(a)) => next.extend(
                    a.iter()
                        .filter(|x| {
                            x.get(field).is_some_and(|got| {
                                got == want
                                    || got.to_string().trim_matches('"')
                                        == want.as_str().unwrap_or("")
                            })
                        })
                        .cloned(),
                ),
                _ => {}
            }
        }
        current = next;
    }
    current.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        let o = json!({"spec": {"cronSpec": "* * * * *", "replicas": 3, "images": ["a", "b"]},
                       "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(evaluate(&o, ".spec.cronSpec"), Some(json!("* * * * *")));
        assert_eq!(evaluate(&o, "{.spec.replicas}"), Some(json!(3)));
        assert_eq!(evaluate(&o, ".spec.images[1]"), Some(json!("b")));
        assert_eq!(
            evaluate(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("True"))
        );
        assert_eq!(evaluate(&o, ".spec.missing"), None);
        assert_eq!(evaluate(&o, "nonsense"), None);
    }

    #[test]
    fn cells_follow_types() {
        let v = Version {
            name: "v1".into(),
            served: true,
            storage: true,
            schema: None,
            columns: vec![
                Column {
                    name: "Spec".into(),
                    type_: "string".into(),
                    format: String::new(),
                    description: String::new(),
                    priority: 0,
                    json_path: ".spec.cronSpec".into(),
                },
                Column {
                    name: "Replicas".into(),
                    type_: "integer".into(),
                    format: String::new(),
                    description: String::new(),
                    priority: 0,
                    json_path: ".spec.replicas".into(),
                },
                Column {
                    name: "Age".into(),
                    type_: "date".into(),
                    format: String::new(),
                    description: String::new(),
                    priority: 0,
                    json_path: ".metadata.creationTimestamp".into(),
                },
            ],
            status: false,
            scale: None,
        };
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let o = json!({"metadata": {"name": "x", "creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"cronSpec": "*/5 * * * *"}});
        assert_eq!(
            cells(&v, &o, now),
            vec![json!("x"), json!("*/5 * * * *"), Value::Null, json!("10m")]
        );
        assert_eq!(definitions(&v).len(), 4);
    }
}
