//! Reading fields of objects held as JSON, and the small renderings printers share.

use serde_json::Value;

pub(super) fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn i(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

pub(super) fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub(super) fn name(obj: &Value) -> &str {
    s(obj, "/metadata/name")
}

pub(super) fn none_if_empty(x: String) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x
    }
}

pub(super) fn parse_time(t: &str) -> Option<jiff::Timestamp> {
    t.parse().ok()
}

pub(super) fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = Vec::new();
    if sel.get("matchLabels").is_none() && sel.get("matchExpressions").is_none() {
        if let Some(m) = sel.as_object() {
            parts.extend(
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))),
            );
            parts.sort();
            return none_if_empty(parts.join(","));
        }
    }
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        parts.extend(
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))),
        );
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let key = s(e, "/key");
        let vals: Vec<&str> = arr(e, "/values").iter().filter_map(Value::as_str).collect();
        parts.push(match s(e, "/operator") {
            "In" => format!("{key} in ({})", vals.join(",")),
            "NotIn" => format!("{key} notin ({})", vals.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        });
    }
    parts.sort();
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

pub(super) fn containers_images(spec: &Value) -> (String, String) {
    let cs = arr(spec, "/containers");
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

pub(super) fn labels_string(m: Option<&Value>) -> String {
    let mut parts: Vec<String> = m
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    none_if_empty(parts.join(","))
}

pub(super) fn access_modes(modes: &[Value]) -> String {
    let short: Vec<&str> = modes
        .iter()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect();
    short.join(",")
}

pub(super) fn hpa_targets(o: &Value) -> String {
    let metrics = arr(o, "/spec/metrics");
    if metrics.is_empty() {
        return "<none>".into();
    }
    let current = arr(o, "/status/currentMetrics");
    let parts: Vec<String> = metrics
        .iter()
        .map(|m| {
            if s(m, "/type") == "Resource" {
                let res = s(m, "/resource/name");
                let cur = current
                    .iter()
                    .find(|c| s(c, "/type") == "Resource" && s(c, "/resource/name") == res)
                    .and_then(|c| c.pointer("/resource/current/averageUtilization"))
                    .and_then(Value::as_i64)
                    .map(|u| format!("{u}%"))
                    .unwrap_or_else(|| "<unknown>".into());
                match m
                    .pointer("/resource/target/averageUtilization")
                    .and_then(Value::as_i64)
                {
                    Some(t) => format!("{res}: {cur}/{t}%"),
                    None => format!("{res}: {cur}/{}", s(m, "/resource/target/averageValue")),
                }
            } else {
                "<unknown>/<unknown>".to_string()
            }
        })
        .collect();
    parts.join(", ")
}

pub(super) fn condition<'a>(o: &'a Value, p: &str, ty: &str) -> Option<&'a Value> {
    arr(o, p).iter().find(|c| s(c, "/type") == ty)
}

/// The addresses of a load balancer status (`status.loadBalancer.ingress`): IP, else hostname.
pub(super) fn lb_addresses(o: &Value) -> Vec<&str> {
    arr(o, "/status/loadBalancer/ingress")
        .iter()
        .map(|x| match s(x, "/ip") {
            "" => s(x, "/hostname"),
            ip => ip,
        })
        .filter(|a| !a.is_empty())
        .collect()
}
