//! Defensive readers of JSON objects and the small formatters the printers share
//! (labels.FormatLabels, metav1.FormatLabelSelector, container layouts, access modes).

use serde_json::{Map, Value};

/// A string at a JSON pointer, "" when absent or not a string.
pub(super) fn s<'a>(o: &'a Value, p: &str) -> &'a str {
    o.pointer(p).and_then(Value::as_str).unwrap_or("")
}

/// An optional string (None when absent or null), for `*string` fields.
pub(super) fn opt_s<'a>(o: &'a Value, p: &str) -> Option<&'a str> {
    o.pointer(p).and_then(Value::as_str)
}

/// An integer at a JSON pointer, 0 when absent.
pub(super) fn i(o: &Value, p: &str) -> i64 {
    opt_i(o, p).unwrap_or(0)
}

/// An optional integer (also accepts floats with no fraction and numeric strings).
pub(super) fn opt_i(o: &Value, p: &str) -> Option<i64> {
    match o.pointer(p)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A boolean (false when absent).
pub(super) fn b(o: &Value, p: &str) -> bool {
    opt_b(o, p).unwrap_or(false)
}

/// An optional boolean.
pub(super) fn opt_b(o: &Value, p: &str) -> Option<bool> {
    o.pointer(p).and_then(Value::as_bool)
}

/// An array at a JSON pointer, empty when absent.
pub(super) fn arr<'a>(o: &'a Value, p: &str) -> &'a [Value] {
    o.pointer(p)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// An object at a JSON pointer, None when absent.
pub(super) fn map<'a>(o: &'a Value, p: &str) -> Option<&'a Map<String, Value>> {
    o.pointer(p).and_then(Value::as_object)
}

/// Number of keys of an object field (0 when absent).
pub(super) fn len_of(o: &Value, p: &str) -> i64 {
    match o.pointer(p) {
        Some(Value::Object(m)) => m.len() as i64,
        Some(Value::Array(a)) => a.len() as i64,
        _ => 0,
    }
}

/// metadata.name.
pub(super) fn name(o: &Value) -> &str {
    s(o, "/metadata/name")
}

/// A resource.Quantity rendered as its String(): quantities are stored canonical, "0" when absent.
pub(super) fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".into(),
    }
}

/// A *resource.Quantity rendered as Go prints a nil pointer ("<nil>") when absent.
pub(super) fn quantity_ptr(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<nil>".into(),
        v => quantity(v),
    }
}

/// An IntOrString rendered as intstr.String().
pub(super) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// labels.Set.String(): sorted `k=v` pairs joined by commas.
pub(super) fn label_set(m: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<String> = m
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// labels.FormatLabels: the label set, or `<none>` when empty.
pub(super) fn format_labels(m: Option<&Map<String, Value>>) -> String {
    match label_set(m) {
        l if l.is_empty() => "<none>".into(),
        l => l,
    }
}

/// metav1.LabelSelectorAsSelector(sel).String(); Err for a selector apimachinery rejects.
pub(super) fn selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = sel.filter(|v| !v.is_null()) else {
        return Ok(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let v = v.as_str().ok_or(())?;
        if !valid_label_key(k) || !valid_label_value(v) {
            return Err(());
        }
        reqs.push((k.clone(), format!("{k}={v}")));
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let mut values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !valid_label_key(key) || !values.iter().all(|v| valid_label_value(v)) {
            return Err(());
        }
        values.sort_unstable();
        let text = match e.get("operator").and_then(Value::as_str) {
            Some(op @ ("In" | "NotIn")) if !values.is_empty() => {
                let word = if op == "In" { "in" } else { "notin" };
                format!("{key} {word} ({})", values.join(","))
            }
            Some("Exists") if values.is_empty() => key.to_string(),
            Some("DoesNotExist") if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_string(), text));
    }
    // Requirements are sorted by key only (stable), like labels.ByKey.
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(","))
}

/// metav1.FormatLabelSelector: `<none>` when it selects everything/nothing, `<error>` when invalid.
pub(super) fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        Err(()) => "<error>".into(),
        Ok(s) if s.is_empty() => "<none>".into(),
        Ok(s) => s,
    }
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, up to 63 bytes.
fn valid_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && is_alnum(b[0])
        && is_alnum(b[b.len() - 1])
        && b.iter()
            .all(|&c| is_alnum(c) || c == b'-' || c == b'_' || c == b'.')
}

fn valid_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
                && b[b.len() - 1].is_ascii_lowercase() | b[b.len() - 1].is_ascii_digit()
                && b.iter()
                    .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        })
}

fn valid_label_key(k: &str) -> bool {
    match k.split_once('/') {
        None => valid_name_part(k),
        Some((p, n)) => !n.contains('/') && valid_dns_subdomain(p) && valid_name_part(n),
    }
}

fn valid_label_value(v: &str) -> bool {
    v.is_empty() || valid_name_part(v)
}

/// layoutContainerCells: container names and images, comma-joined.
pub(super) fn containers(pod_spec: Option<&Value>) -> (String, String) {
    let list = pod_spec
        .and_then(|p| p.get("containers"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let names: Vec<&str> = list.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = list.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

/// helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order, without duplicates.
pub(super) fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|x| x.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// "True"/"False" for a *bool, "<unset>" when absent (printBoolPtr).
pub(super) fn bool_ptr(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// The IP, else the hostname, of each load-balancer ingress, sorted and deduplicated (a sets.String).
pub(super) fn load_balancer_addresses(o: &Value) -> String {
    let mut set: Vec<&str> = arr(o, "/status/loadBalancer/ingress")
        .iter()
        .map(|x| match s(x, "/ip") {
            "" => s(x, "/hostname"),
            ip => ip,
        })
        .filter(|a| !a.is_empty())
        .collect();
    set.sort_unstable();
    set.dedup();
    set.join(",")
}

/// "<joined list> + N more..." as the printers' listWithMoreString writes it.
pub(super) fn list_with_more(list: &[String], more: bool, count: usize, max: usize) -> String {
    let ret = list.join(",");
    if more {
        return format!("{ret} + {} more...", count.saturating_sub(max));
    }
    if ret.is_empty() {
        return "<unset>".into();
    }
    ret
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readers_are_defensive() {
        let o = json!({"a": {"b": "x", "n": 3, "f": 2.0, "t": true, "l": [1, 2]}});
        assert_eq!(s(&o, "/a/b"), "x");
        assert_eq!(s(&o, "/a/n"), "");
        assert_eq!(i(&o, "/a/n"), 3);
        assert_eq!(i(&o, "/a/f"), 2);
        assert_eq!(i(&o, "/nope"), 0);
        assert!(b(&o, "/a/t") && !b(&o, "/a/b"));
        assert_eq!(arr(&o, "/a/l").len(), 2);
        assert!(arr(&o, "/a/b").is_empty());
        assert_eq!(len_of(&o, "/a"), 5);
        assert_eq!(quantity(None), "0");
        assert_eq!(quantity_ptr(None), "<nil>");
    }

    #[test]
    fn labels_and_selectors() {
        let m = json!({"b": "2", "a": "1"});
        assert_eq!(format_labels(m.as_object()), "a=1,b=2");
        assert_eq!(format_labels(None), "<none>");
        let sel = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "NotIn", "values": ["b", "a"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"}
            ]
        });
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app=web,!canary,tier notin (a,b),zone"
        );
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]});
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
        let bad_in = json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]});
        assert_eq!(format_label_selector(Some(&bad_in)), "<error>");
        let bad_key = json!({"matchLabels": {"-a": "x"}});
        assert_eq!(format_label_selector(Some(&bad_key)), "<error>");
    }

    #[test]
    fn selector_requirements_sort_by_key() {
        let sel = json!({"matchLabels": {"z": "1", "a": "2"},
            "matchExpressions": [{"key": "m", "operator": "In", "values": ["y", "x"]}]});
        assert_eq!(selector_string(Some(&sel)), Ok("a=2,m in (x,y),z=1".into()));
    }

    #[test]
    fn modes_and_lb() {
        let modes = json!(["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]);
        assert_eq!(access_modes(modes.as_array().unwrap()), "RWO,RWX");
        let svc = json!({"status": {"loadBalancer": {"ingress": [
            {"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}, {"ip": "1.2.3.4"}, {"ip": "1.2.3.4"}]}}});
        assert_eq!(
            load_balancer_addresses(&svc),
            "1.2.3.4,5.6.7.8,lb.example.com"
        );
    }
}
