//! Validation of built-in objects with kube-apiserver's field errors and message texts
//! (apimachinery's field.Error and util/validation, pkg/apis/*/validation).
//!
//! Objects arrive defaulted, in their v1 JSON form. Errors come back in the order
//! kube-apiserver reports them: metadata first, then the spec, then update rules.

mod apps;
mod batch;
mod core;
mod cron;
mod field;
mod meta;
mod names;
mod networking;
mod other;
mod pod;
mod probe;
mod quantity;
mod rbac;
mod selector;

use serde_json::Value;

pub use cron::Schedule;
pub(crate) use field::go_quote;
pub use field::{ErrorType, FieldError};
use names::NameRule;
pub(crate) use names::{label_value, qualified_name};
pub use quantity::nanos as quantity_nanos;

/// How a kind's `metadata.name` is checked.
fn name_rule(group: &str, kind: &str) -> NameRule {
    match (group, kind) {
        ("", "Namespace") | ("apps", "StatefulSet") => NameRule::Label,
        ("", "Service") => NameRule::Dns1035,
        ("rbac.authorization.k8s.io", _) | ("apiregistration.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

fn spec_errors(group: &str, kind: &str, obj: &Value) -> Vec<FieldError> {
    match group {
        "" => core::spec_errors(kind, obj),
        "apps" => apps::spec_errors(kind, obj),
        "batch" => batch::spec_errors(kind, obj),
        "networking.k8s.io" => networking::spec_errors(kind, obj),
        "rbac.authorization.k8s.io" => rbac::spec_errors(kind, obj),
        _ => other::spec_errors(group, kind, obj),
    }
}

fn update_rule_errors(group: &str, kind: &str, new: &Value, old: &Value) -> Vec<FieldError> {
    match group {
        "" => core::update_errors(kind, new, old),
        "apps" => apps::update_errors(kind, new, old),
        "batch" => batch::update_errors(kind, new, old),
        "rbac.authorization.k8s.io" => rbac::update_errors(kind, new, old),
        _ => other::update_errors(group, kind, new, old),
    }
}

/// Validate a new object (group "" = core); unknown kinds get metadata checks only.
pub fn validate_create(group: &str, kind: &str, obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = meta::create_errors(obj, namespaced, name_rule(group, kind));
    errs.extend(spec_errors(group, kind, obj));
    errs
}

/// Validate an update against the stored object, including immutable fields.
pub fn validate_update(
    group: &str,
    kind: &str,
    new: &Value,
    old: &Value,
    namespaced: bool,
) -> Vec<FieldError> {
    let mut errs = meta::update_errors(new, old);
    if namespaced
        && new
            .pointer("/metadata/namespace")
            .is_none_or(Value::is_null)
    {
        errs.push(FieldError::required("metadata.namespace", ""));
    }
    errs.extend(spec_errors(group, kind, new));
    errs.extend(update_rule_errors(group, kind, new, old));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    /// What `kubectl create deployment x --image=nginx --replicas=-1` sends, defaulted.
    fn deployment(replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "namespace": "default", "labels": {"app": "x"}},
            "spec": {"replicas": replicas, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                "selector": {"matchLabels": {"app": "x"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
                    "schedulerName": "default-scheduler", "securityContext": {},
                    "containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "Always",
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "resources": {}}]}}}})
    }

    #[test]
    fn kubectl_visible_messages() {
        assert!(validate_create("apps", "Deployment", &deployment(3), true).is_empty());
        assert_eq!(
            msgs(&validate_create(
                "apps",
                "Deployment",
                &deployment(-1),
                true
            )),
            ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
        let ns = json!({"metadata": {"name": "Bad_Name"}, "spec": {"finalizers": ["kubernetes"]}});
        assert_eq!(
            msgs(&validate_create("", "Namespace", &ns, false)),
            ["metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
        );
        let cm = json!({"metadata": {"namespace": "default"}});
        assert_eq!(
            msgs(&validate_create("", "ConfigMap", &cm, true)),
            ["metadata.name: Required value: name or generateName is required"]
        );
        let mut bad_labels = deployment(1);
        bad_labels["spec"]["template"]["metadata"]["labels"] = json!({"app": "y"});
        assert_eq!(
            msgs(&validate_create("apps", "Deployment", &bad_labels, true)),
            ["spec.template.metadata.labels: Invalid value: {\"app\":\"y\"}: `selector` does not match template `labels`"]
        );
    }

    #[test]
    fn name_rules_per_kind() {
        let named = |n: &str| json!({"metadata": {"name": n, "namespace": "d"}, "spec": {"type": "ClusterIP", "sessionAffinity": "None", "clusterIP": "None"}});
        assert!(
            msgs(&validate_create("", "Service", &named("1svc"), true))[0]
                .contains("a DNS-1035 label")
        );
        assert!(validate_create("", "Service", &named("svc"), true).is_empty());
        assert!(validate_create("", "ConfigMap", &named("a.b"), true).is_empty());
        assert_eq!(
            msgs(&validate_create(
                "rbac.authorization.k8s.io",
                "ClusterRole",
                &json!({"metadata": {"name": "a:b/c"}}),
                false
            )),
            ["metadata.name: Invalid value: \"a:b/c\": may not contain '/'"]
        );
        assert!(validate_create(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            &json!({"metadata": {"name": "system:controller:x"}}),
            false
        )
        .is_empty());
        assert!(validate_create(
            "example.com",
            "Widget",
            &json!({"metadata": {"name": "w", "namespace": "d"}}),
            true
        )
        .is_empty());
    }

    #[test]
    fn updates() {
        let old = deployment(1);
        let mut new = deployment(2);
        assert!(validate_update("apps", "Deployment", &new, &old, true).is_empty());
        new["spec"]["selector"] = json!({"matchLabels": {"app": "x", "tier": "web"}});
        new["spec"]["template"]["metadata"]["labels"]["tier"] = json!("web");
        assert_eq!(
            msgs(&validate_update("apps", "Deployment", &new, &old, true)),
            ["spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"x\",\"tier\":\"web\"}}: field is immutable"]
        );
        let cm_old = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "1"}});
        let cm_new = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "2"}});
        assert_eq!(
            msgs(&validate_update("", "ConfigMap", &cm_new, &cm_old, true)),
            ["data: Forbidden: field is immutable when `immutable` is set"]
        );
    }
}
