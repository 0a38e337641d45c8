//! Conversion between served versions that share storage: autoscaling v1 ⇄ v2
//! HorizontalPodAutoscalers and core/v1 ⇄ events.k8s.io/v1 Events.

use serde_json::{json, Map, Value};

use super::registry::ResourceInfo;

/// The version objects of this kind are stored at.
fn storage_version(res: &ResourceInfo) -> Option<&'static str> {
    match (res.group.as_str(), res.kind.as_str()) {
        ("autoscaling", "HorizontalPodAutoscaler") => Some("autoscaling/v2"),
        ("events.k8s.io", "Event") | ("", "Event") => Some("v1"),
        _ => None,
    }
}

/// Convert a stored object to the version the request addressed.
pub fn to_version(res: &ResourceInfo, obj: &mut Value) {
    let have = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let want = res.api_version();
    if have != want && !have.is_empty() {
        between(obj, &res.kind, &have, &want);
    }
}

/// Convert an object to its storage version before it is written.
pub fn to_storage(res: &ResourceInfo, obj: &mut Value) {
    if let Some(sv) = storage_version(res) {
        let have = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if have != sv {
            between(obj, &res.kind, &have, sv);
        }
    }
}

fn take(m: &mut Map<String, Value>, k: &str) -> Option<Value> {
    m.remove(k).filter(|v| !v.is_null())
}

fn rename(m: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = take(m, from) {
        m.insert(to.to_string(), v);
    }
}

/// Convert `obj` of `kind` from apiVersion `from` to `to` in place (no-op for pairs we do
/// not know, which are identical in shape).
pub fn between(obj: &mut Value, kind: &str, from: &str, to: &str) {
    let Some(m) = obj.as_object_mut() else { return };
    match (kind, from, to) {
        ("HorizontalPodAutoscaler", "autoscaling/v1", "autoscaling/v2") => hpa_v1_to_v2(m),
        ("HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1") => hpa_v2_to_v1(m),
        ("Event", "v1", "events.k8s.io/v1") => {
            for (a, b) in EVENT_FIELDS {
                rename(m, a, b);
            }
        }
        ("Event", "events.k8s.io/v1", "v1") => {
            for (a, b) in EVENT_FIELDS {
                rename(m, b, a);
            }
        }
        _ => {}
    }
    m.insert("apiVersion".into(), json!(to));
}

/// core/v1 Event field ⇄ events.k8s.io/v1 Event field.
const EVENT_FIELDS: [(&str, &str); 7] = [
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

fn hpa_v1_to_v2(m: &mut Map<String, Value>) {
    if let Some(spec) = m.get_mut("spec").and_then(Value::as_object_mut) {
        if let Some(cpu) = take(spec, "targetCPUUtilizationPercentage") {
            spec.insert(
                "metrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}]),
            );
        }
    }
    if let Some(status) = m.get_mut("status").and_then(Value::as_object_mut) {
        if let Some(cpu) = take(status, "currentCPUUtilizationPercentage") {
            status.insert(
                "currentMetrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}]),
            );
        }
    }
}

fn cpu_utilization(metrics: Option<&Value>, field: &str) -> Option<Value> {
    metrics?.as_array()?.iter().find_map(|mt| {
        let r = mt.get("resource")?;
        (mt.get("type")?.as_str()? == "Resource" && r.get("name")?.as_str()? == "cpu")
            .then(|| r.get(field)?.get("averageUtilization").cloned())
            .flatten()
    })
}

fn hpa_v2_to_v1(m: &mut Map<String, Value>) {
    if let Some(spec) = m.get_mut("spec").and_then(Value::as_object_mut) {
        let metrics = take(spec, "metrics");
        if let Some(cpu) = cpu_utilization(metrics.as_ref(), "target") {
            spec.insert("targetCPUUtilizationPercentage".into(), cpu);
        }
        spec.remove("behavior");
    }
    if let Some(status) = m.get_mut("status").and_then(Value::as_object_mut) {
        let metrics = take(status, "currentMetrics");
        if let Some(cpu) = cpu_utilization(metrics.as_ref(), "current") {
            status.insert("currentCPUUtilizationPercentage".into(), cpu);
        }
        status.remove("conditions");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_round_trip() {
        let mut o = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "spec": {"maxReplicas": 5, "targetCPUUtilizationPercentage": 50}});
        between(
            &mut o,
            "HorizontalPodAutoscaler",
            "autoscaling/v1",
            "autoscaling/v2",
        );
        assert_eq!(
            o["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            50
        );
        between(
            &mut o,
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
            "autoscaling/v1",
        );
        assert_eq!(o["spec"]["targetCPUUtilizationPercentage"], 50);
        assert_eq!(o["apiVersion"], "autoscaling/v1");
    }

    #[test]
    fn event_round_trip() {
        let mut o = json!({"apiVersion": "v1", "kind": "Event", "involvedObject": {"kind": "Pod"}, "message": "m"});
        between(&mut o, "Event", "v1", "events.k8s.io/v1");
        assert_eq!(o["regarding"]["kind"], "Pod");
        assert_eq!(o["note"], "m");
        between(&mut o, "Event", "events.k8s.io/v1", "v1");
        assert_eq!(o["message"], "m");
    }
}
