//! Smaller groups: autoscaling (HorizontalPodAutoscaler), policy (PodDisruptionBudget),
//! scheduling.k8s.io (PriorityClass), storage.k8s.io (StorageClass).

use serde_json::Value;

use super::field::FieldError;
use super::names::{invalid_each, path_segment_name, percent};
use super::pod::text;
use super::selector::selector_errors;

fn spec(obj: &Value) -> &Value {
    obj.get("spec").unwrap_or(&Value::Null)
}

/// A HorizontalPodAutoscaler's spec (v1 and v2).
pub(crate) fn horizontal_pod_autoscaler(obj: &Value) -> Vec<FieldError> {
    hpa_errors(spec(obj))
}

/// A PodDisruptionBudget's spec.
pub(crate) fn pod_disruption_budget(obj: &Value) -> Vec<FieldError> {
    pdb_errors(spec(obj))
}

/// A StorageClass's provisioner, reclaim policy and binding mode.
pub(crate) fn storage_class(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if text(obj, "provisioner").is_empty() {
        errs.push(FieldError::required("provisioner", ""));
    }
    let rp = text(obj, "reclaimPolicy");
    if !rp.is_empty() && rp != "Delete" && rp != "Retain" {
        errs.push(FieldError::not_supported(
            "reclaimPolicy",
            rp,
            &["Delete", "Retain"],
        ));
    }
    let mode = text(obj, "volumeBindingMode");
    if !mode.is_empty() && mode != "Immediate" && mode != "WaitForFirstConsumer" {
        errs.push(FieldError::not_supported(
            "volumeBindingMode",
            mode,
            &["Immediate", "WaitForFirstConsumer"],
        ));
    }
    errs
}

fn hpa_errors(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let min = spec.get("minReplicas").and_then(Value::as_i64);
    if let Some(m) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            m,
            "must be greater than or equal to 1",
        ));
    }
    let max = spec.get("maxReplicas").and_then(Value::as_i64).unwrap_or(0);
    if max < 1 {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let null = Value::Null;
    let target = spec.get("scaleTargetRef").unwrap_or(&null);
    for k in ["kind", "name"] {
        let v = text(target, k);
        let p = format!("spec.scaleTargetRef.{k}");
        if v.is_empty() {
            errs.push(FieldError::required(&p, ""));
        } else {
            errs.extend(invalid_each(&p, v, path_segment_name(v)));
        }
    }
    if let Some(u) = spec
        .get("targetCPUUtilizationPercentage")
        .and_then(Value::as_i64)
    {
        if u < 1 {
            errs.push(FieldError::invalid(
                "spec.targetCPUUtilizationPercentage",
                u,
                "must be greater than 0",
            ));
        }
    }
    errs
}

fn int_or_percent_errors(errs: &mut Vec<FieldError>, v: Option<&Value>, path: &str) {
    match v {
        Some(Value::String(s)) => {
            let msgs = percent(s);
            let valid = msgs.is_empty();
            errs.extend(invalid_each(path, s, msgs));
            let n: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            if valid && n > 100 {
                errs.push(FieldError::invalid(
                    path,
                    s.as_str(),
                    "must not be greater than 100%",
                ));
            }
        }
        Some(v) if !v.is_null() => {
            let n = v.as_i64().unwrap_or(0);
            if n < 0 {
                errs.push(FieldError::invalid(
                    path,
                    n,
                    "must be greater than or equal to 0",
                ));
            }
        }
        _ => {}
    }
}

fn pdb_errors(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let min = spec.get("minAvailable").filter(|v| !v.is_null());
    let max = spec.get("maxUnavailable").filter(|v| !v.is_null());
    if min.is_some() && max.is_some() {
        errs.push(FieldError::invalid(
            "spec",
            spec.clone(),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    int_or_percent_errors(&mut errs, min, "spec.minAvailable");
    int_or_percent_errors(&mut errs, max, "spec.maxUnavailable");
    errs.extend(selector_errors("spec.selector", spec.get("selector")));
    if let Some(p) = spec
        .get("unhealthyPodEvictionPolicy")
        .and_then(Value::as_str)
    {
        if p != "AlwaysAllow" && p != "IfHealthyBudget" {
            errs.push(FieldError::not_supported(
                "spec.unhealthyPodEvictionPolicy",
                p,
                &["AlwaysAllow", "IfHealthyBudget"],
            ));
        }
    }
    errs
}

const SYSTEM_CLASSES: [(&str, i64); 2] = [
    ("system-cluster-critical", 2_000_000_000),
    ("system-node-critical", 2_000_001_000),
];

pub(crate) fn priority_class(obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let value = obj.get("value").and_then(Value::as_i64).unwrap_or(0);
    if name.starts_with("system-") {
        let known = SYSTEM_CLASSES.iter().find(|(n, _)| *n == name);
        let err = match known {
            None => Some(format!("{name:?} is not a known system priority class")),
            Some((_, v)) if *v != value => {
                Some(format!("value of {name} PriorityClass must be {v}"))
            }
            Some(_) => None,
        };
        if let Some(e) = err {
            errs.push(FieldError::forbidden(
                "metadata.name",
                &format!("priority class names with 'system-' prefix are reserved for system use only. error: {e}"),
            ));
        }
    } else if value > 1_000_000_000 {
        errs.push(FieldError::forbidden(
            "value",
            "maximum allowed value of a user defined priority is 1000000000",
        ));
    }
    if let Some(p) = obj.get("preemptionPolicy").and_then(Value::as_str) {
        if p != "Never" && p != "PreemptLowerPriority" {
            errs.push(FieldError::not_supported(
                "preemptionPolicy",
                p,
                &["Never", "PreemptLowerPriority"],
            ));
        }
    }
    errs
}

/// A PriorityClass keeps its value and preemption policy.
pub(crate) fn priority_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if new.get("value") != old.get("value") {
        errs.push(FieldError::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    let n = new.get("preemptionPolicy").cloned().unwrap_or(Value::Null);
    if Some(&n) != old.get("preemptionPolicy").or(Some(&Value::Null)) {
        errs.push(FieldError::invalid(
            "preemptionPolicy",
            n,
            "field is immutable",
        ));
    }
    errs
}

/// A StorageClass keeps its parameters, provisioner, reclaim policy and binding mode.
pub(crate) fn storage_class_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if new.get("parameters") != old.get("parameters") {
        errs.push(FieldError::forbidden(
            "parameters",
            "updates to parameters are forbidden.",
        ));
    }
    if new.get("provisioner") != old.get("provisioner") {
        errs.push(FieldError::forbidden(
            "provisioner",
            "updates to provisioner are forbidden.",
        ));
    }
    if new.get("reclaimPolicy") != old.get("reclaimPolicy") {
        errs.push(FieldError::forbidden(
            "reclaimPolicy",
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    let n = new.get("volumeBindingMode").cloned().unwrap_or(Value::Null);
    if Some(&n) != old.get("volumeBindingMode").or(Some(&Value::Null)) {
        errs.push(FieldError::invalid(
            "volumeBindingMode",
            n,
            "field is immutable",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn hpa_pdb_priority() {
        let hpa = json!({"spec": {"minReplicas": 5, "maxReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "web"}}});
        assert_eq!(msgs(&horizontal_pod_autoscaler(&hpa)), ["spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"]);
        let hpa0 = json!({"spec": {"minReplicas": 0, "maxReplicas": 0, "scaleTargetRef": {"kind": "Deployment", "name": "web"}}});
        assert_eq!(
            msgs(&horizontal_pod_autoscaler(&hpa0)),
            [
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
            ]
        );
        let pdb =
            json!({"spec": {"minAvailable": "120%", "selector": {"matchLabels": {"app": "x"}}}});
        assert_eq!(
            msgs(&pod_disruption_budget(&pdb)),
            ["spec.minAvailable: Invalid value: \"120%\": must not be greater than 100%"]
        );
        let pc = json!({"metadata": {"name": "high"}, "value": 2000000000});
        assert_eq!(
            msgs(&priority_class(&pc)),
            ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
        );
        let old = json!({"value": 1, "preemptionPolicy": "Never"});
        let new = json!({"value": 2, "preemptionPolicy": "Never"});
        assert_eq!(
            msgs(&priority_class_update(&new, &old)),
            ["value: Forbidden: may not be changed in an update."]
        );
    }
}
