//! apps/v1 workloads: Deployment, ReplicaSet, StatefulSet, DaemonSet (pkg/apis/apps/validation
//! and the apps/v1 registry strategies' selector immutability).

use serde_json::Value;

use super::field::{sorted_map, FieldError};
use super::names::percent;
use super::pod::{template_errors, text};
use super::selector::{as_selector, requirement_count, selector_errors, selector_value};

fn non_negative(errs: &mut Vec<FieldError>, spec: &Value, key: &str, path: &str) {
    if let Some(n) = spec.get(key).and_then(Value::as_i64) {
        if n < 0 {
            errs.push(FieldError::invalid(
                path,
                n,
                "must be greater than or equal to 0",
            ));
        }
    }
}

fn spec(obj: &Value) -> &Value {
    obj.get("spec").unwrap_or(&Value::Null)
}

/// A Deployment's spec.
pub(crate) fn deployment(obj: &Value) -> Vec<FieldError> {
    deployment_errors(spec(obj))
}

/// A ReplicaSet's spec.
pub(crate) fn replica_set(obj: &Value) -> Vec<FieldError> {
    let spec = spec(obj);
    let mut errs = Vec::new();
    non_negative(&mut errs, spec, "replicas", "spec.replicas");
    non_negative(&mut errs, spec, "minReadySeconds", "spec.minReadySeconds");
    replica_set_like(&mut errs, spec, "deployment", "ReplicaSet");
    errs
}

/// A StatefulSet's spec.
pub(crate) fn stateful_set(obj: &Value) -> Vec<FieldError> {
    stateful_set_errors(spec(obj))
}

/// A DaemonSet's spec.
pub(crate) fn daemon_set(obj: &Value) -> Vec<FieldError> {
    daemon_set_errors(spec(obj))
}

/// Selector and template checks shared by Deployments and ReplicaSets.
fn replica_set_like(errs: &mut Vec<FieldError>, spec: &Value, what: &str, owner: &str) {
    required_selector(errs, spec, what);
    match as_selector(spec.get("selector")) {
        Err(()) => errs.push(FieldError::invalid(
            "spec.selector",
            selector_value(spec.get("selector")),
            "invalid label selector",
        )),
        Ok(sel) => {
            let tmpl = spec.get("template");
            let labels = tmpl.and_then(|t| t.pointer("/metadata/labels"));
            if !sel.is_empty() && !sel.matches(labels) {
                errs.push(mismatch(labels));
            }
            errs.extend(template_errors(tmpl, "spec.template"));
            restart_always(errs, spec, owner);
        }
    }
}

fn required_selector(errs: &mut Vec<FieldError>, spec: &Value, what: &str) {
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            errs.extend(selector_errors("spec.selector", Some(sel)));
            if requirement_count(sel) == 0 {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    selector_value(Some(sel)),
                    &format!("empty selector is invalid for {what}"),
                ));
            }
        }
    }
}

fn mismatch(labels: Option<&Value>) -> FieldError {
    FieldError::invalid(
        "spec.template.metadata.labels",
        sorted_map(labels),
        "`selector` does not match template `labels`",
    )
}

fn restart_always(errs: &mut Vec<FieldError>, spec: &Value, owner: &str) {
    let rp = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
    if spec
        .pointer("/template/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            &format!("activeDeadlineSeconds in {owner} is not Supported"),
        ));
    }
}

/// `getIntOrPercentValue`: a percentage's number, an int, or 0 for anything else.
fn int_or_percent(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::String(s)) => s.strip_suffix('%').unwrap_or(s).parse().unwrap_or(0),
        Some(v) => v.as_i64().unwrap_or(0),
        None => 0,
    }
}

/// `ValidatePositiveIntOrPercent` plus `IsNotMoreThan100Percent` when `cap` is set.
fn int_or_percent_errors(errs: &mut Vec<FieldError>, v: Option<&Value>, path: &str, cap: bool) {
    match v {
        Some(Value::String(s)) => {
            let msgs = percent(s);
            let valid = msgs.is_empty();
            for m in msgs {
                errs.push(FieldError::invalid(path, s.as_str(), &m));
            }
            if cap && valid && int_or_percent(v) > 100 {
                errs.push(FieldError::invalid(
                    path,
                    s.as_str(),
                    "must not be greater than 100%",
                ));
            }
        }
        Some(n) => {
            let n = n.as_i64().unwrap_or(0);
            if n < 0 {
                errs.push(FieldError::invalid(
                    path,
                    n,
                    "must be greater than or equal to 0",
                ));
            }
        }
        None => {}
    }
}

fn deployment_errors(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    non_negative(&mut errs, spec, "replicas", "spec.replicas");
    replica_set_like(&mut errs, spec, "deployment", "ReplicaSet");
    let strategy = spec.get("strategy").cloned().unwrap_or(Value::Null);
    let ru = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match text(&strategy, "type") {
        "Recreate" => {
            if ru.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match ru {
            None => errs.push(FieldError::required(
                "spec.strategy.rollingUpdate",
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let p = "spec.strategy.rollingUpdate";
                let mu = ru.get("maxUnavailable");
                let ms = ru.get("maxSurge");
                int_or_percent_errors(&mut errs, mu, &format!("{p}.maxUnavailable"), false);
                int_or_percent_errors(&mut errs, ms, &format!("{p}.maxSurge"), false);
                if int_or_percent(mu) == 0 && int_or_percent(ms) == 0 {
                    errs.push(FieldError::invalid(
                        &format!("{p}.maxUnavailable"),
                        mu.cloned().unwrap_or(Value::from(0)),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                if let Some(Value::String(s)) = mu {
                    if percent(s).is_empty() && int_or_percent(mu) > 100 {
                        errs.push(FieldError::invalid(
                            &format!("{p}.maxUnavailable"),
                            s.as_str(),
                            "must not be greater than 100%",
                        ));
                    }
                }
            }
        },
        _ => errs.push(FieldError::not_supported(
            "spec.strategy",
            strategy.clone(),
            &["Recreate", "RollingUpdate"],
        )),
    }
    non_negative(&mut errs, spec, "minReadySeconds", "spec.minReadySeconds");
    non_negative(
        &mut errs,
        spec,
        "revisionHistoryLimit",
        "spec.revisionHistoryLimit",
    );
    if let Some(pds) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
        non_negative(
            &mut errs,
            spec,
            "progressDeadlineSeconds",
            "spec.progressDeadlineSeconds",
        );
        let min_ready = spec
            .get("minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if pds <= min_ready {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

fn stateful_set_errors(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match text(spec, "podManagementPolicy") {
        "" => errs.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            "spec.podManagementPolicy",
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let strategy = spec.get("updateStrategy").cloned().unwrap_or(Value::Null);
    let ru = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match text(&strategy, "type") {
        "" => errs.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if let Some(ru) = ru {
                errs.push(FieldError::invalid(
                    "spec.updateStrategy.rollingUpdate",
                    ru.clone(),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = ru {
                let p = "spec.updateStrategy.rollingUpdate";
                non_negative(&mut errs, ru, "partition", &format!("{p}.partition"));
                if let Some(mu) = ru.get("maxUnavailable").filter(|v| !v.is_null()) {
                    let mp = format!("{p}.maxUnavailable");
                    int_or_percent_errors(&mut errs, Some(mu), &mp, false);
                    if int_or_percent(Some(mu)) == 0 {
                        errs.push(FieldError::invalid(&mp, mu.clone(), "cannot be 0"));
                    }
                    if let Value::String(s) = mu {
                        if percent(s).is_empty() && int_or_percent(Some(mu)) > 100 {
                            errs.push(FieldError::invalid(
                                &mp,
                                s.as_str(),
                                "must not be greater than 100%",
                            ));
                        }
                    }
                }
            }
        }
        _ => errs.push(FieldError::invalid(
            "spec.updateStrategy",
            strategy.clone(),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = spec
        .get("persistentVolumeClaimRetentionPolicy")
        .filter(|v| !v.is_null())
    {
        for k in ["whenDeleted", "whenScaled"] {
            let v = text(policy, k);
            if !["Retain", "Delete"].contains(&v) {
                errs.push(FieldError::not_supported(
                    &format!("spec.persistentVolumeClaimRetentionPolicy.{k}"),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    non_negative(&mut errs, spec, "replicas", "spec.replicas");
    non_negative(&mut errs, spec, "minReadySeconds", "spec.minReadySeconds");
    if let Some(start) = spec.pointer("/ordinals/start").and_then(Value::as_i64) {
        if start < 0 {
            errs.push(FieldError::invalid(
                "spec.ordinals.start",
                start,
                "must be greater than or equal to 0",
            ));
        }
    }
    required_selector(&mut errs, spec, "statefulset");
    match as_selector(spec.get("selector")) {
        Err(()) => errs.push(FieldError::invalid(
            "spec.selector",
            selector_value(spec.get("selector")),
            "",
        )),
        Ok(sel) => {
            // StatefulSets check only the template's labels and annotations, not its spec.
            let tmpl = spec.get("template");
            let labels = tmpl.and_then(|t| t.pointer("/metadata/labels"));
            if !sel.is_empty() && !sel.matches(labels) {
                errs.push(mismatch(labels));
            }
            errs.extend(super::names::labels_errors("spec.template.labels", labels));
            errs.extend(super::names::annotations_errors(
                "spec.template.annotations",
                tmpl.and_then(|t| t.pointer("/metadata/annotations")),
            ));
        }
    }
    restart_always(&mut errs, spec, "StatefulSet");
    errs
}

fn daemon_set_errors(spec: &Value) -> Vec<FieldError> {
    let mut errs = selector_errors("spec.selector", spec.get("selector"));
    let tmpl = spec.get("template");
    let labels = tmpl.and_then(|t| t.pointer("/metadata/labels"));
    if let Ok(sel) = as_selector(spec.get("selector")) {
        if !sel.matches(labels) {
            errs.push(mismatch(labels));
        }
    }
    if let Some(sel) = spec.get("selector").filter(|s| !s.is_null()) {
        if requirement_count(sel) == 0 {
            errs.push(FieldError::invalid(
                "spec.selector",
                selector_value(Some(sel)),
                "empty selector is invalid for daemonset",
            ));
        }
    }
    errs.extend(template_errors(tmpl, "spec.template"));
    restart_always(&mut errs, spec, "DaemonSet");
    non_negative(&mut errs, spec, "minReadySeconds", "spec.minReadySeconds");
    non_negative(
        &mut errs,
        spec,
        "templateGeneration",
        "spec.templateGeneration",
    );
    let strategy = spec.get("updateStrategy").cloned().unwrap_or(Value::Null);
    match text(&strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
            None => errs.push(FieldError::required(
                "spec.updateStrategy.rollingUpdate",
                "",
            )),
            Some(ru) => {
                let p = "spec.updateStrategy.rollingUpdate";
                let mu = ru.get("maxUnavailable");
                let ms = ru.get("maxSurge");
                int_or_percent_errors(&mut errs, mu, &format!("{p}.maxUnavailable"), true);
                int_or_percent_errors(&mut errs, ms, &format!("{p}.maxSurge"), true);
                let has_unavailable = int_or_percent(mu) != 0;
                let has_surge = int_or_percent(ms) != 0;
                if has_unavailable && has_surge {
                    errs.push(FieldError::invalid(
                        &format!("{p}.maxSurge"),
                        ms.cloned().unwrap_or(Value::from(0)),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_unavailable && !has_surge {
                    errs.push(FieldError::required(
                        &format!("{p}.maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        },
        _ => errs.push(FieldError::not_supported(
            "spec.updateStrategy",
            strategy.clone(),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    non_negative(
        &mut errs,
        spec,
        "revisionHistoryLimit",
        "spec.revisionHistoryLimit",
    );
    errs
}

/// Deployments, ReplicaSets and DaemonSets keep their selector (apps/v1).
pub(crate) fn selector_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let n = selector_value(new.pointer("/spec/selector"));
    if n == selector_value(old.pointer("/spec/selector")) {
        return Vec::new();
    }
    vec![FieldError::invalid(
        "spec.selector",
        n,
        "field is immutable",
    )]
}

/// A StatefulSet may change only a few spec fields.
pub(crate) fn stateful_set_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let strip = |o: &Value| {
        let mut spec = o.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(m) = spec.as_object_mut() {
            for k in [
                "replicas",
                "template",
                "updateStrategy",
                "minReadySeconds",
                "ordinals",
                "persistentVolumeClaimRetentionPolicy",
            ] {
                m.remove(k);
            }
            if let Some(sel) = m.get("selector").cloned() {
                m.insert("selector".into(), selector_value(Some(&sel)));
            }
        }
        spec
    };
    if strip(new) == strip(old) {
        return Vec::new();
    }
    vec![FieldError::forbidden(
        "spec",
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    fn deployment() -> Value {
        json!({"spec": {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "x"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]}}}})
    }

    fn with(mut obj: Value, pointer: &str, v: Value) -> Value {
        if let Some(slot) = obj.pointer_mut(pointer) {
            *slot = v;
        }
        obj
    }

    #[test]
    fn deployment_table() {
        assert!(super::deployment(&deployment()).is_empty());
        let cases = [
            ("/spec/replicas", json!(-1), "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
            ("/spec/selector", json!({}), "spec.selector: Invalid value: {}: empty selector is invalid for deployment"),
            ("/spec/selector", Value::Null, "spec.selector: Required value"),
            ("/spec/template/metadata/labels", json!({"app": "y"}), "spec.template.metadata.labels: Invalid value: {\"app\":\"y\"}: `selector` does not match template `labels`"),
            ("/spec/template/spec/restartPolicy", json!("Never"), "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""),
            ("/spec/strategy", json!({"type": "Foo"}), "spec.strategy: Unsupported value: {\"type\":\"Foo\"}: supported values: \"Recreate\", \"RollingUpdate\""),
            ("/spec/strategy/rollingUpdate", json!({"maxUnavailable": 0, "maxSurge": 0}), "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"),
            ("/spec/strategy/rollingUpdate", json!({"maxUnavailable": "150%", "maxSurge": 1}), "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%"),
            ("/spec/strategy/rollingUpdate", json!({"maxUnavailable": "x", "maxSurge": 1}), "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"x\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"),
            ("/spec/strategy", json!({"type": "Recreate", "rollingUpdate": {}}), "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"),
            ("/spec/progressDeadlineSeconds", json!(0), "spec.progressDeadlineSeconds: Invalid value: 0: must be greater than minReadySeconds"),
        ];
        for (ptr, v, want) in cases {
            let got = msgs(&super::deployment(&with(deployment(), ptr, v)));
            assert!(got.contains(&want.to_string()), "want {want}\n got {got:?}");
        }
        let nil_sel = msgs(&super::deployment(&with(
            deployment(),
            "/spec/selector",
            Value::Null,
        )));
        assert_eq!(nil_sel, [
            "spec.selector: Required value",
            "spec.template.metadata.labels: Invalid value: {\"app\":\"x\"}: `selector` does not match template `labels`",
        ]);
    }

    #[test]
    fn other_workloads() {
        let mut sts = deployment();
        sts["spec"] = json!({"replicas": 1, "podManagementPolicy": "Sometimes", "updateStrategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": {"app": "x"}}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"restartPolicy": "Always"}}});
        assert_eq!(msgs(&stateful_set(&sts)), ["spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' or 'Parallel'"]);
        let mut ds = deployment();
        ds["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}});
        assert_eq!(msgs(&daemon_set(&ds)), ["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]);
        let rs = with(deployment(), "/spec/selector", json!({}));
        assert!(msgs(&replica_set(&rs)).contains(
            &"spec.selector: Invalid value: {}: empty selector is invalid for deployment"
                .to_string()
        ));
    }

    #[test]
    fn immutable_selectors() {
        let old = deployment();
        let new = with(
            deployment(),
            "/spec/selector",
            json!({"matchLabels": {"app": "y"}}),
        );
        assert_eq!(msgs(&selector_update(&new, &old)), ["spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"y\"}}: field is immutable"]);
        let mut sts_old = deployment();
        sts_old["spec"]["serviceName"] = json!("a");
        let mut sts_new = sts_old.clone();
        sts_new["spec"]["replicas"] = json!(3);
        assert!(stateful_set_update(&sts_new, &sts_old).is_empty());
        sts_new["spec"]["serviceName"] = json!("b");
        assert_eq!(stateful_set_update(&sts_new, &sts_old).len(), 1);
    }
}
