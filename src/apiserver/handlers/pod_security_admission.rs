//! The PodSecurity admission plugin: a namespace's `pod-security.kubernetes.io/{enforce,
//! audit,warn}` labels (and their `-version`s), or the cluster-wide default, choose a Pod
//! Security Standards level. Pods that break the enforce level are refused; pods and pod
//! templates that break the warn level get a warning; tightening a namespace's enforce
//! level warns about the pods already there. The messages are kube-apiserver's.

use serde_json::{Map, Value};

use super::Ctx;
use crate::apiserver::object;
use crate::apiserver::pod_security::{describe, evaluate, Level};
use crate::apiserver::status::{ApiError, Cause};

const LABEL_PREFIX: &str = "pod-security.kubernetes.io/";
/// The modes, in the order kube-apiserver validates their labels.
const MODES: [&str; 3] = ["enforce", "audit", "warn"];

/// Namespaces the cluster-wide default does not reach: rkube's own components run there
/// (kind and minikube exempt `kube-system` the same way). A label on them still counts.
const EXEMPT_FROM_DEFAULT: [&str; 1] = ["kube-system"];

/// A level at a version, printed as kube-apiserver does: `baseline:latest`.
#[derive(Clone, Debug, PartialEq)]
struct LevelVersion {
    level: Level,
    version: String,
}

impl std::fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.level.as_str(), self.version)
    }
}

/// Whether `v` is a version label value: `latest` or `v1.<minor>`.
fn valid_version(v: &str) -> bool {
    v == "latest"
        || v.strip_prefix("v1.").is_some_and(|minor| {
            minor == "0"
                || (!minor.is_empty()
                    && !minor.starts_with('0')
                    && minor.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The field errors of a namespace's Pod Security labels (empty when they are valid).
pub fn label_errors(labels: &Map<String, Value>) -> Vec<(Cause, String)> {
    let mut errs = Vec::new();
    for mode in MODES {
        for (key, ok, want) in [
            (
                format!("{LABEL_PREFIX}{mode}"),
                (|v: &str| Level::parse(v).is_some()) as fn(&str) -> bool,
                "must be one of privileged, baseline, restricted",
            ),
            (
                format!("{LABEL_PREFIX}{mode}-version"),
                valid_version,
                r#"must be "latest" or "v1.x""#,
            ),
        ] {
            let Some(value) = labels.get(&key) else {
                continue;
            };
            let text = value.as_str().unwrap_or_default();
            if !ok(text) {
                let field = format!("metadata.labels[{key}]");
                errs.push((
                    Cause {
                        reason: "FieldValueInvalid".into(),
                        message: format!("Invalid value: {text:?}: {want}"),
                        field: field.clone(),
                    },
                    format!("{field}: Invalid value: {text:?}: {want}"),
                ));
            }
        }
    }
    errs
}

/// The level and version of `mode` for a namespace with `labels`; an unreadable label
/// counts as `restricted`/`latest`, as kube-apiserver parses it.
fn mode_policy(
    labels: &Map<String, Value>,
    mode: &str,
    default: Level,
    exempt: bool,
) -> LevelVersion {
    let text = |k: String| labels.get(&k).and_then(Value::as_str).map(str::to_string);
    let level = match text(format!("{LABEL_PREFIX}{mode}")) {
        Some(v) => Level::parse(&v).unwrap_or(Level::Restricted),
        None if exempt => Level::Privileged,
        None => default,
    };
    let version = text(format!("{LABEL_PREFIX}{mode}-version"))
        .filter(|v| valid_version(v))
        .unwrap_or_else(|| "latest".into());
    LevelVersion { level, version }
}

/// The labels of namespace `ns` (empty when it cannot be read).
async fn namespace_labels(ctx: &Ctx, ns: &str) -> Map<String, Value> {
    let key = format!("/registry/namespaces/{ns}");
    match ctx.state.store.get(&key).await {
        Ok(Some(kv)) => serde_json::from_slice::<Value>(&kv.value)
            .map(|v| object::labels(&v))
            .unwrap_or_default(),
        _ => Map::new(),
    }
}

fn policy_for(ctx: &Ctx, ns: &str, labels: &Map<String, Value>, mode: &str) -> LevelVersion {
    let exempt = EXEMPT_FROM_DEFAULT.contains(&ns);
    mode_policy(labels, mode, ctx.state.pod_security_default, exempt)
}

/// The pod template an object of this kind carries (metadata, spec), if any.
fn pod_parts<'a>(group: &str, kind: &str, obj: &'a Value) -> Option<(&'a Value, &'a Value)> {
    let template = match (group, kind) {
        ("", "Pod") => return Some((obj.get("metadata")?, obj.get("spec")?)),
        ("", "PodTemplate") => obj.get("template")?,
        ("", "ReplicationController")
        | ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job") => obj.pointer("/spec/template")?,
        ("batch", "CronJob") => obj.pointer("/spec/jobTemplate/spec/template")?,
        _ => return None,
    };
    Some((
        template.get("metadata").unwrap_or(&Value::Null),
        template.get("spec")?,
    ))
}

/// Refuse a new pod that breaks the enforce level of `namespace` (called with the pod's
/// final name, so the message names it as kube-apiserver's does).
pub fn enforce(ctx: &Ctx, namespace: &Value, pod: &Value) -> Result<(), ApiError> {
    if !(ctx.res.group.is_empty() && ctx.res.kind == "Pod") {
        return Ok(());
    }
    let ns = object::name(namespace);
    let labels = object::labels(namespace);
    let enforce = policy_for(ctx, ns, &labels, "enforce");
    let Some((meta, spec)) = pod_parts("", "Pod", pod) else {
        return Ok(());
    };
    let violations = evaluate(enforce.level, meta, spec);
    if violations.is_empty() {
        return Ok(());
    }
    Err(ApiError::forbidden_with(
        format!(
            "pods {:?} is forbidden: violates PodSecurity {:?}: {}",
            object::name(pod),
            enforce.to_string(),
            describe(&violations)
        ),
        Some(object::name(pod)),
        "",
        "pods",
    ))
}

/// The warning a pod or pod template gets under its namespace's warn level.
pub async fn warnings(ctx: &Ctx, obj: &Value) -> Vec<String> {
    let Some((meta, spec)) = pod_parts(&ctx.res.group, &ctx.res.kind, obj) else {
        return Vec::new();
    };
    let Some(ns) = ctx.namespace() else {
        return Vec::new();
    };
    let labels = namespace_labels(ctx, ns).await;
    let warn = policy_for(ctx, ns, &labels, "warn");
    // A pod the enforce level refuses hears it once, in the refusal.
    if ctx.res.kind == "Pod" && policy_for(ctx, ns, &labels, "enforce") == warn {
        return Vec::new();
    }
    let violations = evaluate(warn.level, meta, spec);
    if violations.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "would violate PodSecurity {:?}: {}",
        warn.to_string(),
        describe(&violations)
    )]
}

/// Warnings for a namespace whose enforce level a write tightens: the pods already there
/// that break the new level, grouped by what they break.
pub async fn namespace_warnings(ctx: &Ctx, old: Option<&Value>, new: &Value) -> Vec<String> {
    if !(ctx.res.group.is_empty() && ctx.res.kind == "Namespace") {
        return Vec::new();
    }
    let ns = object::name(new);
    let new_labels = object::labels(new);
    let old_labels = old.map(object::labels).unwrap_or_default();
    let enforce = policy_for(ctx, ns, &new_labels, "enforce");
    if old.is_none()
        || enforce == policy_for(ctx, ns, &old_labels, "enforce")
        || enforce.level == Level::Privileged
    {
        return Vec::new();
    }
    let Ok(pods) = ctx
        .state
        .store
        .range(&format!("/registry/pods/{ns}/"), None, None, None)
        .await
    else {
        return Vec::new();
    };
    // Pods that break the level the same way share one line, as kube-apiserver prints.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for kv in &pods.kvs {
        let Ok(pod) = serde_json::from_slice::<Value>(&kv.value) else {
            continue;
        };
        let Some((meta, spec)) = pod_parts("", "Pod", &pod) else {
            continue;
        };
        let violations = evaluate(enforce.level, meta, spec);
        if violations.is_empty() {
            continue;
        }
        let reasons: Vec<&str> = violations.iter().map(|v| v.reason.as_str()).collect();
        let reasons = reasons.join(", ");
        let name = object::name(&pod).to_string();
        match groups.iter_mut().find(|(r, _)| *r == reasons) {
            Some((_, names)) => names.push(name),
            None => groups.push((reasons, vec![name])),
        }
    }
    if groups.is_empty() {
        return Vec::new();
    }
    let mut out = vec![format!(
        "existing pods in namespace {ns:?} violate the new PodSecurity enforce level {:?}",
        enforce.to_string()
    )];
    for (reasons, mut names) in groups {
        names.sort();
        let who = match names.len() {
            1 => names[0].clone(),
            n => format!("{} (and {} other pods)", names[0], n - 1),
        };
        out.push(format!("{who}: {reasons}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn bad_label_values_are_field_errors_with_upstream_texts() {
        let errs = label_errors(&labels(json!({
            "pod-security.kubernetes.io/enforce": "strict",
            "pod-security.kubernetes.io/warn-version": "v1.08",
            "pod-security.kubernetes.io/audit": "baseline",
            "pod-security.kubernetes.io/audit-version": "v1.29",
        })));
        let texts: Vec<&str> = errs.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(
            texts,
            [
                r#"metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted"#,
                r#"metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "v1.08": must be "latest" or "v1.x""#,
            ]
        );
    }

    #[test]
    fn labels_choose_the_level_and_the_default_fills_in() {
        let l = labels(json!({"pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/enforce-version": "v1.30"}));
        let p = mode_policy(&l, "enforce", Level::Privileged, false);
        assert_eq!(p.to_string(), "baseline:v1.30");
        let p = mode_policy(&l, "warn", Level::Restricted, false);
        assert_eq!(p.to_string(), "restricted:latest");
        // kube-system keeps running rkube's components under a strict default.
        let p = mode_policy(&Map::new(), "enforce", Level::Restricted, true);
        assert_eq!(p.level, Level::Privileged);
    }

    #[test]
    fn templates_are_found_in_every_workload_kind() {
        let t = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}});
        assert!(pod_parts("apps", "Deployment", &json!({"spec": {"template": t}})).is_some());
        assert!(pod_parts(
            "batch",
            "CronJob",
            &json!({"spec": {"jobTemplate": {"spec": {"template": t}}}})
        )
        .is_some());
        assert!(pod_parts("", "ConfigMap", &json!({"data": {}})).is_none());
    }
}
