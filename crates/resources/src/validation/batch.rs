//! batch/v1: Job (generated selector, spec, immutable fields) and CronJob (schedule, time
//! zone, concurrency policy, job template).

use serde_json::Value;

use super::cron::parse_standard;
use super::field::{sorted_map, FieldError};
use super::names::dns1123_label;
use super::pod::{template_errors, text};
use super::selector::{as_selector, selector_errors, selector_value};

fn non_negative(errs: &mut Vec<FieldError>, spec: &Value, key: &str, path: &str) {
    if let Some(n) = spec.get(key).and_then(Value::as_i64) {
        if n < 0 {
            errs.push(FieldError::invalid(
                &format!("{path}.{key}"),
                n,
                "must be greater than or equal to 0",
            ));
        }
    }
}

/// A Job's spec and its generated selector.
pub(crate) fn job(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = generated_selector_errors(obj, spec);
    job_spec_errors(&mut errs, spec, "spec");
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => errs.extend(selector_errors("spec.selector", Some(sel))),
    }
    if let Ok(sel) = as_selector(spec.get("selector")) {
        let labels = spec.pointer("/template/metadata/labels");
        if !sel.matches(labels) {
            errs.push(FieldError::invalid(
                "spec.template.metadata.labels",
                sorted_map(labels),
                "`selector` does not match template `labels`",
            ));
        }
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let completions = spec.get("completions").and_then(Value::as_i64).unwrap_or(0);
    if text(spec, "completionMode") == "Indexed" && completions > 0 {
        let host = format!("{name}-{}", completions - 1);
        if !dns1123_label(&host).is_empty() {
            errs.push(FieldError::invalid(
                "metadata.name",
                name,
                &format!("will not able to create pod with invalid DNS label: {host}"),
            ));
        }
    }
    errs
}

/// The selector and labels the job registry generates must be in place.
fn generated_selector_errors(obj: &Value, spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return errs;
    }
    let Some(sel) = spec.get("selector").filter(|s| !s.is_null()) else {
        return errs;
    };
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if uid.is_empty() {
        errs.push(FieldError::required("metadata.uid", ""));
    }
    let labels = spec.pointer("/template/metadata/labels");
    for (key, want) in [
        ("controller-uid", uid),
        ("job-name", name),
        ("batch.kubernetes.io/controller-uid", uid),
        ("batch.kubernetes.io/job-name", name),
    ] {
        let path = format!("spec.template.metadata.labels[{key}]");
        match labels.and_then(|l| l.get(key)).and_then(Value::as_str) {
            None => errs.push(FieldError::required(&path, want)),
            Some(v) if v != want => errs.push(FieldError::invalid(
                &path,
                sorted_map(labels),
                &format!("must be '{want}'"),
            )),
            Some(_) => {}
        }
    }
    let expected = serde_json::json!({
        "controller-uid": uid, "job-name": name,
        "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
    });
    if let Ok(s) = as_selector(Some(sel)) {
        if !s.matches(Some(&expected)) {
            errs.push(FieldError::invalid(
                "spec.selector",
                selector_value(Some(sel)),
                "`selector` not auto-generated",
            ));
        }
    }
    errs
}

/// `validateJobSpec`, shared by Jobs and CronJob job templates.
fn job_spec_errors(errs: &mut Vec<FieldError>, spec: &Value, path: &str) {
    for key in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        non_negative(errs, spec, key, path);
    }
    let has = |k: &str| spec.get(k).is_some_and(|v| !v.is_null());
    if has("maxFailedIndexes") && !has("backoffLimitPerIndex") {
        errs.push(FieldError::required(
            &format!("{path}.backoffLimitPerIndex"),
            "when maxFailedIndexes is specified",
        ));
    }
    let mode = spec.get("completionMode").and_then(Value::as_str);
    if let Some(m) = mode {
        if m != "NonIndexed" && m != "Indexed" {
            errs.push(FieldError::not_supported(
                &format!("{path}.completionMode"),
                m,
                &["NonIndexed", "Indexed"],
            ));
        }
        if m == "Indexed" {
            if !has("completions") {
                errs.push(FieldError::required(
                    &format!("{path}.completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(p) = spec
                .get("parallelism")
                .and_then(Value::as_i64)
                .filter(|p| *p > 100_000)
            {
                errs.push(FieldError::invalid(
                    &format!("{path}.parallelism"),
                    p,
                    "must be less than or equal to 100000 when completion mode is Indexed",
                ));
            }
        }
    }
    if mode.is_none_or(|m| m == "NonIndexed") {
        for key in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if let Some(v) = spec.get(key).filter(|v| !v.is_null()) {
                errs.push(FieldError::invalid(
                    &format!("{path}.{key}"),
                    v.clone(),
                    "requires indexed completion mode",
                ));
            }
        }
    }
    if let Some(p) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        if has("podFailurePolicy") {
            if p != "Failed" {
                errs.push(FieldError::not_supported(
                    &format!("{path}.podReplacementPolicy"),
                    p,
                    &["Failed"],
                ));
            }
        } else if p != "Failed" && p != "TerminatingOrFailed" {
            errs.push(FieldError::not_supported(
                &format!("{path}.podReplacementPolicy"),
                p,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    errs.extend(template_errors(
        spec.get("template"),
        &format!("{path}.template"),
    ));
    let rp = spec
        .pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("");
    let rp_path = format!("{path}.template.spec.restartPolicy");
    if rp == "Always" || rp.is_empty() {
        errs.push(FieldError::required(
            &rp_path,
            "valid values: \"OnFailure\", \"Never\"",
        ));
    } else if rp != "OnFailure" && rp != "Never" {
        errs.push(FieldError::not_supported(
            &rp_path,
            rp,
            &["OnFailure", "Never"],
        ));
    } else if has("podFailurePolicy") && rp != "Never" {
        errs.push(FieldError::invalid(
            &rp_path,
            rp,
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
}

/// A CronJob's schedule, time zone and job template.
pub(crate) fn cron_job(obj: &Value) -> Vec<FieldError> {
    let null = Value::Null;
    let spec = obj.get("spec").unwrap_or(&null);
    let mut errs = Vec::new();
    let schedule = text(spec, "schedule");
    if schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else {
        if let Err(e) = parse_standard(schedule) {
            errs.push(FieldError::invalid("spec.schedule", schedule, &e));
        }
        if schedule.contains("TZ") {
            errs.push(FieldError::invalid(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    non_negative(&mut errs, spec, "startingDeadlineSeconds", "spec");
    if let Some(tz) = spec.get("timeZone").and_then(Value::as_str) {
        time_zone_errors(&mut errs, tz);
    }
    match text(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required("spec.concurrencyPolicy", "")),
        other => errs.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let jt = spec.pointer("/jobTemplate/spec").unwrap_or(&null);
    job_spec_errors(&mut errs, jt, "spec.jobTemplate.spec");
    if let Some(sel) = jt.get("selector").filter(|s| !s.is_null()) {
        errs.push(FieldError::invalid(
            "spec.jobTemplate.spec.selector",
            selector_value(Some(sel)),
            "`selector` will be auto-generated",
        ));
    }
    if jt.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        errs.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
    non_negative(&mut errs, spec, "successfulJobsHistoryLimit", "spec");
    non_negative(&mut errs, spec, "failedJobsHistoryLimit", "spec");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
    errs
}

fn time_zone_errors(errs: &mut Vec<FieldError>, tz: &str) {
    let path = "spec.timeZone";
    if tz.is_empty() {
        errs.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be nil or non-empty string",
        ));
        return;
    }
    let part_ok = |p: &str| {
        p != "."
            && p != ".."
            && !p.starts_with('-')
            && (1..=14).contains(&p.len())
            && p.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-_+".contains(&c))
    };
    if !tz.split('/').all(part_ok) {
        errs.push(FieldError::invalid(
            path,
            tz,
            &format!("unknown time zone {tz}"),
        ));
        return;
    }
    if tz.eq_ignore_ascii_case("local") {
        errs.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
}

/// Update rules for Jobs: completions, selector, template and modes are immutable (a
/// suspended job that never started may change its scheduling directives).
pub(crate) fn job_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let field = |o: &Value, k: &str| {
        o.pointer(&format!("/spec/{k}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let indexed = text(new.get("spec").unwrap_or(&Value::Null), "completionMode") == "Indexed";
    let (nc, oc) = (field(new, "completions"), field(old, "completions"));
    if nc != oc {
        if !indexed {
            errs.push(FieldError::invalid(
                "spec.completions",
                nc,
                "field is immutable",
            ));
        } else if !nc.is_null() && nc != field(new, "parallelism") {
            errs.push(FieldError::invalid(
                "spec.completions",
                nc,
                "can only be modified in tandem with spec.parallelism",
            ));
        }
    }
    let ns = selector_value(new.pointer("/spec/selector"));
    if ns != selector_value(old.pointer("/spec/selector")) {
        errs.push(FieldError::invalid(
            "spec.selector",
            ns,
            "field is immutable",
        ));
    }
    let mutable_scheduling = old.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true)
        && old.pointer("/status/startTime").is_none_or(Value::is_null);
    let template = |o: &Value| {
        let mut t = field(o, "template");
        if mutable_scheduling {
            if let Some(m) = t.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("labels");
                m.remove("annotations");
            }
            if let Some(s) = t.get_mut("spec").and_then(Value::as_object_mut) {
                for k in ["nodeSelector", "tolerations", "schedulingGates", "affinity"] {
                    s.remove(k);
                }
            }
        }
        t
    };
    if template(new) != template(old) {
        errs.push(FieldError::invalid(
            "spec.template",
            field(new, "template"),
            "field is immutable",
        ));
    }
    for k in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        let nv = field(new, k);
        if nv != field(old, k) {
            errs.push(FieldError::invalid(
                &format!("spec.{k}"),
                nv,
                "field is immutable",
            ));
        }
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

    fn job() -> Value {
        json!({"metadata": {"name": "j", "uid": "u1"}, "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 6,
            "completionMode": "NonIndexed", "suspend": false, "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
            "template": {"metadata": {"labels": {"controller-uid": "u1", "job-name": "j",
                "batch.kubernetes.io/controller-uid": "u1", "batch.kubernetes.io/job-name": "j"}},
              "spec": {"restartPolicy": "Never", "dnsPolicy": "ClusterFirst",
                "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]}}}})
    }

    #[test]
    fn job_table() {
        assert!(
            super::job(&job()).is_empty(),
            "{:?}",
            msgs(&super::job(&job()))
        );
        let cases = [
            ("/spec/parallelism", json!(-1), "spec.parallelism: Invalid value: -1: must be greater than or equal to 0"),
            ("/spec/completions", json!(-2), "spec.completions: Invalid value: -2: must be greater than or equal to 0"),
            ("/spec/template/spec/restartPolicy", json!("Always"), "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""),
            ("/spec/template/spec/restartPolicy", json!("Maybe"), "spec.template.spec.restartPolicy: Unsupported value: \"Maybe\": supported values: \"OnFailure\", \"Never\""),
            ("/spec/completionMode", json!("Both"), "spec.completionMode: Unsupported value: \"Both\": supported values: \"NonIndexed\", \"Indexed\""),
            ("/spec/template/metadata/labels/job-name", json!("k"), "spec.template.metadata.labels[job-name]: Invalid value: {\"batch.kubernetes.io/controller-uid\":\"u1\",\"batch.kubernetes.io/job-name\":\"j\",\"controller-uid\":\"u1\",\"job-name\":\"k\"}: must be 'j'"),
            ("/spec/selector", json!({"matchLabels": {"app": "x"}}), "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"x\"}}: `selector` not auto-generated"),
        ];
        for (ptr, v, want) in cases {
            let mut j = job();
            if let Some(slot) = j.pointer_mut(ptr) {
                *slot = v;
            }
            let got = msgs(&super::job(&j));
            assert!(got.contains(&want.to_string()), "want {want}\n got {got:?}");
        }
    }

    #[test]
    fn job_updates() {
        let old = job();
        let mut new = job();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("other");
        new["spec"]["completions"] = json!(3);
        let got = msgs(&job_update(&new, &old));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[0],
            "spec.completions: Invalid value: 3: field is immutable"
        );
        assert!(
            got[1].starts_with("spec.template: Invalid value: {")
                && got[1].ends_with(": field is immutable")
        );
        let mut suspended = job();
        suspended["spec"]["suspend"] = json!(true);
        let mut moved = suspended.clone();
        moved["spec"]["template"]["spec"]["nodeSelector"] = json!({"zone": "a"});
        assert!(job_update(&moved, &suspended).is_empty());
    }

    #[test]
    fn cron_jobs() {
        let mut cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "every minute", "concurrencyPolicy": "Sometimes",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "dnsPolicy": "ClusterFirst",
                "containers": [{"name": "c", "image": "b", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}]}}}}}});
        assert_eq!(msgs(&cron_job(&cj)), [
            "spec.schedule: Invalid value: \"every minute\": expected exactly 5 fields, found 2: [every minute]",
            "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
        ]);
        cj["spec"]["schedule"] = json!("*/1 * * * *");
        cj["spec"]["concurrencyPolicy"] = json!("Allow");
        cj["spec"]["timeZone"] = json!("Local");
        assert_eq!(msgs(&cron_job(&cj)), [
            "spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ]);
    }
}
