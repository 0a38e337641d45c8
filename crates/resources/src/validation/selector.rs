//! Label selectors: `ValidateLabelSelector` errors and `LabelSelectorAsSelector` matching.

use serde_json::Value;

use super::field::FieldError;
use super::names::{invalid_each, label_value, labels_errors, qualified_name};

/// Errors of a `metav1.LabelSelector` at `path` (nothing for an absent selector).
pub(super) fn selector_errors(path: &str, sel: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return errs;
    };
    errs.extend(labels_errors(
        &format!("{path}.matchLabels"),
        sel.get("matchLabels"),
    ));
    for (i, expr) in expressions(sel).iter().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let op = expr.get("operator").and_then(Value::as_str).unwrap_or("");
        let values = string_list(expr.get("values"));
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        &format!("{p}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        &format!("{p}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errs.push(FieldError::invalid(
                &format!("{p}.operator"),
                op,
                "not a valid selector operator",
            )),
        }
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        errs.extend(invalid_each(&format!("{p}.key"), key, qualified_name(key)));
        for (j, v) in values.iter().enumerate() {
            errs.extend(invalid_each(&format!("{p}.values[{j}]"), v, label_value(v)));
        }
    }
    errs
}

fn expressions(sel: &Value) -> &[Value] {
    sel.get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug)]
pub(super) enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

/// A selector converted as `LabelSelectorAsSelector` converts it.
#[derive(Debug)]
pub(super) enum Selector {
    /// A nil selector: matches nothing.
    Nothing,
    /// Requirements, all of which must hold; none means "everything".
    Reqs(Vec<(String, Op)>),
}

impl Selector {
    /// `labels.Selector.Empty()`: true only for a selector without requirements.
    pub(super) fn is_empty(&self) -> bool {
        matches!(self, Selector::Reqs(r) if r.is_empty())
    }

    /// Whether the selector selects these labels.
    pub(super) fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| {
            labels
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        match self {
            Selector::Nothing => false,
            Selector::Reqs(reqs) => reqs.iter().all(|(k, op)| match op {
                Op::In(vs) => get(k).is_some_and(|v| vs.contains(&v)),
                Op::NotIn(vs) => get(k).is_none_or(|v| !vs.contains(&v)),
                Op::Exists => get(k).is_some(),
                Op::DoesNotExist => get(k).is_none(),
            }),
        }
    }
}

/// `LabelSelectorAsSelector`; `Err` for a selector it would refuse.
pub(super) fn as_selector(sel: Option<&Value>) -> Result<Selector, ()> {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return Ok(Selector::Nothing);
    };
    let mut reqs = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            let v = v.as_str().unwrap_or("");
            if !qualified_name(k).is_empty() || !label_value(v).is_empty() {
                return Err(());
            }
            reqs.push((k.clone(), Op::In(vec![v.to_string()])));
        }
    }
    for expr in expressions(sel) {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        if !qualified_name(key).is_empty() {
            return Err(());
        }
        let values = string_list(expr.get("values"));
        if values.iter().any(|v| !label_value(v).is_empty()) {
            return Err(());
        }
        let op = match expr.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" if !values.is_empty() => Op::In(values),
            "NotIn" if !values.is_empty() => Op::NotIn(values),
            "Exists" if values.is_empty() => Op::Exists,
            "DoesNotExist" if values.is_empty() => Op::DoesNotExist,
            _ => return Err(()),
        };
        reqs.push((key.to_string(), op));
    }
    Ok(Selector::Reqs(reqs))
}

/// Number of requirements a selector value spells out (`matchLabels` + `matchExpressions`).
pub(super) fn requirement_count(sel: &Value) -> usize {
    sel.get("matchLabels")
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
        + expressions(sel).len()
}

/// A selector as Go marshals `*metav1.LabelSelector`: matchLabels (sorted), then
/// matchExpressions; `null` when absent.
pub(super) fn selector_value(sel: Option<&Value>) -> Value {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return Value::Null;
    };
    let mut out = serde_json::Map::new();
    if let Some(ml) = sel
        .get("matchLabels")
        .filter(|v| v.as_object().is_some_and(|m| !m.is_empty()))
    {
        out.insert("matchLabels".into(), super::field::sorted_map(Some(ml)));
    }
    let exprs = expressions(sel);
    if !exprs.is_empty() {
        let list = exprs
            .iter()
            .map(|e| {
                let mut m = serde_json::Map::new();
                for k in ["key", "operator", "values"] {
                    if let Some(v) = e.get(k).filter(|v| !v.is_null()) {
                        m.insert(k.into(), v.clone());
                    }
                }
                Value::Object(m)
            })
            .collect();
        out.insert("matchExpressions".into(), Value::Array(list));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matching() {
        let s = as_selector(Some(&json!({"matchLabels": {"app": "x"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                 {"key": "dead", "operator": "DoesNotExist"}]})))
        .unwrap();
        assert!(s.matches(Some(&json!({"app": "x", "tier": "b"}))));
        assert!(!s.matches(Some(&json!({"app": "x", "tier": "c"}))));
        assert!(!s.matches(Some(&json!({"app": "x", "tier": "a", "dead": "1"}))));
        assert!(!s.matches(None));
        let nothing = as_selector(None).unwrap();
        assert!(!nothing.is_empty() && !nothing.matches(Some(&json!({}))));
        let all = as_selector(Some(&json!({}))).unwrap();
        assert!(all.is_empty() && all.matches(None));
        assert!(as_selector(Some(
            &json!({"matchExpressions": [{"key": "a", "operator": "In"}]})
        ))
        .is_err());
        assert!(as_selector(Some(
            &json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
        ))
        .is_err());
    }

    #[test]
    fn errors() {
        let sel = json!({"matchExpressions": [
            {"key": "a", "operator": "In"},
            {"key": "b", "operator": "Exists", "values": ["x"]},
            {"key": "c", "operator": "Bogus"}]});
        let m: Vec<String> = selector_errors("spec.selector", Some(&sel))
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(m, [
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
            "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            "spec.selector.matchExpressions[2].operator: Invalid value: \"Bogus\": not a valid selector operator",
        ]);
        assert_eq!(
            super::super::field::go_value(&selector_value(Some(
                &json!({"matchExpressions": [], "matchLabels": {"b": "1", "a": "2"}})
            ))),
            "{\"matchLabels\":{\"a\":\"2\",\"b\":\"1\"}}"
        );
    }
}
