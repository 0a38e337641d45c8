//! batch/v1: Job and CronJob defaults, and the job registry's generated selector and labels.

use serde_json::{json, Map, Value};

use super::core::template;
use super::{default, default_map, obj_mut};

/// A Job: its spec and pod template; a job without labels takes its template's.
pub(crate) fn job(obj: &mut Value) {
    template(obj, "/spec/template");
    let labels = obj.pointer("/spec/template/metadata/labels").cloned();
    if let Some(spec) = obj_mut(obj, "spec") {
        job_spec(spec);
    }
    if let (Some(l), Some(meta)) = (labels, obj_mut(obj, "metadata")) {
        default_map(meta, "labels", l);
    }
}

/// A CronJob: concurrency, suspend and history limits, and its job's pod template.
pub(crate) fn cron_job(obj: &mut Value) {
    // Only the pod template inside the job template is defaulted, not the job spec.
    template(obj, "/spec/jobTemplate/spec/template");
    if let Some(spec) = obj_mut(obj, "spec") {
        default(spec, "concurrencyPolicy", json!("Allow"));
        default(spec, "suspend", json!(false));
        default(spec, "successfulJobsHistoryLimit", json!(3));
        default(spec, "failedJobsHistoryLimit", json!(1));
    }
}

fn job_spec(spec: &mut Map<String, Value>) {
    let absent = |s: &Map<String, Value>, k: &str| s.get(k).is_none_or(Value::is_null);
    if absent(spec, "completions") && absent(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
    }
    default(spec, "parallelism", json!(1));
    let backoff = if absent(spec, "backoffLimitPerIndex") {
        6
    } else {
        i64::from(i32::MAX)
    };
    default(spec, "backoffLimit", json!(backoff));
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    let replacement = if absent(spec, "podFailurePolicy") {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    default(spec, "podReplacementPolicy", json!(replacement));
    if let Some(rules) = spec
        .get_mut("podFailurePolicy")
        .and_then(|p| p.get_mut("rules"))
        .and_then(Value::as_array_mut)
    {
        for rule in rules.iter_mut() {
            if let Some(patterns) = rule
                .get_mut("onPodConditions")
                .and_then(Value::as_array_mut)
            {
                for p in patterns.iter_mut().filter_map(Value::as_object_mut) {
                    default(p, "status", json!("True"));
                }
            }
        }
    }
}

/// The job strategy's PrepareForCreate: the selector and labels from the job's uid.
pub(crate) fn job_prepare(obj: &mut Value) {
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    prepare_job_selector(obj, &uid);
}

/// The job registry's create-time selector and labels (`batch.kubernetes.io/controller-uid`,
/// `batch.kubernetes.io/job-name` and their legacy forms), unless the user manages the
/// selector. Labels the user set are kept (validation refuses conflicting ones).
fn prepare_job_selector(obj: &mut Value, uid: &str) {
    if obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(spec) = obj_mut(obj, "spec") else {
        return;
    };
    if let Some(sel) = obj_in(spec, "selector").and_then(|s| obj_in(s, "matchLabels")) {
        sel.entry("batch.kubernetes.io/controller-uid")
            .or_insert_with(|| json!(uid));
    }
    let labels = obj_in(spec, "template")
        .and_then(|t| obj_in(t, "metadata"))
        .and_then(|m| obj_in(m, "labels"));
    let mut snapshot = None;
    if let Some(l) = labels {
        for (k, v) in [
            ("controller-uid", uid),
            ("job-name", name.as_str()),
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name.as_str()),
        ] {
            l.entry(k).or_insert_with(|| json!(v));
        }
        snapshot = Some(Value::Object(l.clone()));
    }
    // Kubernetes re-defaults on every read, so a job without labels shows its template's.
    if let (Some(l), Some(meta)) = (snapshot, obj_mut(obj, "metadata")) {
        default_map(meta, "labels", l);
    }
}

fn obj_in<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    if !m.get(key).is_some_and(Value::is_object) {
        m.insert(key.to_string(), json!({}));
    }
    m.get_mut(key)?.as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_defaults_and_selector() {
        let mut j = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": []}}}});
        job(&mut j);
        prepare_job_selector(&mut j, "u1");
        let s = &j["spec"];
        assert_eq!(
            (
                s["completions"].clone(),
                s["parallelism"].clone(),
                s["backoffLimit"].clone()
            ),
            (json!(1), json!(1), json!(6))
        );
        assert_eq!(s["completionMode"], "NonIndexed");
        assert_eq!(s["suspend"], false);
        assert_eq!(s["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(
            s["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}})
        );
        let want = json!({"controller-uid": "u1", "job-name": "j", "batch.kubernetes.io/controller-uid": "u1", "batch.kubernetes.io/job-name": "j"});
        assert_eq!(s["template"]["metadata"]["labels"], want);
        assert_eq!(j["metadata"]["labels"], want);
        assert_eq!(s["template"]["spec"]["dnsPolicy"], "ClusterFirst");

        let mut p = json!({"spec": {"parallelism": 3, "podFailurePolicy": {"rules": [{"onPodConditions": [{"type": "DisruptionTarget"}]}]}}});
        job(&mut p);
        assert!(p["spec"].get("completions").is_none());
        assert_eq!(p["spec"]["podReplacementPolicy"], "Failed");
        assert_eq!(
            p["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
            "True"
        );

        let mut manual = json!({"metadata": {"name": "m"}, "spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}}}});
        prepare_job_selector(&mut manual, "u");
        assert_eq!(
            manual["spec"]["selector"],
            json!({"matchLabels": {"a": "b"}})
        );
    }

    #[test]
    fn cron_job_defaults() {
        let mut c = json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "b"}]}}}}}});
        cron_job(&mut c);
        assert_eq!(c["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(c["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(c["spec"]["failedJobsHistoryLimit"], 1);
        assert_eq!(c["spec"]["suspend"], false);
        assert!(c["spec"]["jobTemplate"]["spec"]
            .get("backoffLimit")
            .is_none());
        assert_eq!(
            c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
            "Always"
        );
    }
}
