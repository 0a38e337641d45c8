//! Validation of built-in objects with kube-apiserver's field errors and message texts
//! (apimachinery's field.Error and util/validation, pkg/apis/*/validation).
//!
//! Objects arrive defaulted, in their v1 JSON form. Errors come back in the order
//! kube-apiserver reports them: metadata first, then the spec, then update rules.

pub(crate) mod apps;
pub(crate) mod batch;
pub(crate) mod core;
mod cron;
mod field;
mod meta;
mod names;
pub(crate) mod networking;
pub(crate) mod other;
mod pod;
mod probe;
mod quantity;
pub(crate) mod rbac;
mod selector;

use serde_json::Value;

use super::strategy::Strategy;

pub use cron::Schedule;
pub use field::go_quote;
pub use field::{ErrorType, FieldError};
pub use names::NameRule;
pub use names::{label_value, qualified_name};
pub use quantity::nanos as quantity_nanos;

/// Validate a new object against its kind's strategy.
pub fn validate_create(strategy: &Strategy, obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = meta::create_errors(obj, namespaced, strategy.name_rule);
    errs.extend((strategy.validate)(obj));
    errs
}

/// Validate an update against the stored object, including immutable fields.
pub fn validate_update(
    strategy: &Strategy,
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
    errs.extend((strategy.validate)(new));
    errs.extend((strategy.validate_update)(new, old));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    fn strategy(group: &str, kind: &str) -> Strategy {
        crate::kinds::strategy(group, kind).unwrap_or(Strategy::PLAIN)
    }

    fn create(group: &str, kind: &str, obj: &Value, namespaced: bool) -> Vec<FieldError> {
        validate_create(&strategy(group, kind), obj, namespaced)
    }

    fn update(group: &str, kind: &str, new: &Value, old: &Value, ns: bool) -> Vec<FieldError> {
        validate_update(&strategy(group, kind), new, old, ns)
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
        assert!(create("apps", "Deployment", &deployment(3), true).is_empty());
        assert_eq!(
            msgs(&create("apps", "Deployment", &deployment(-1), true)),
            ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
        let ns = json!({"metadata": {"name": "Bad_Name"}, "spec": {"finalizers": ["kubernetes"]}});
        assert_eq!(
            msgs(&create("", "Namespace", &ns, false)),
            ["metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
        );
        let cm = json!({"metadata": {"namespace": "default"}});
        assert_eq!(
            msgs(&create("", "ConfigMap", &cm, true)),
            ["metadata.name: Required value: name or generateName is required"]
        );
        let mut bad_labels = deployment(1);
        bad_labels["spec"]["template"]["metadata"]["labels"] = json!({"app": "y"});
        assert_eq!(
            msgs(&create("apps", "Deployment", &bad_labels, true)),
            ["spec.template.metadata.labels: Invalid value: {\"app\":\"y\"}: `selector` does not match template `labels`"]
        );
    }

    #[test]
    fn name_rules_per_kind() {
        let named = |n: &str| json!({"metadata": {"name": n, "namespace": "d"}, "spec": {"type": "ClusterIP", "sessionAffinity": "None", "clusterIP": "None"}});
        assert!(msgs(&create("", "Service", &named("1svc"), true))[0].contains("a DNS-1035 label"));
        assert!(create("", "Service", &named("svc"), true).is_empty());
        assert!(create("", "ConfigMap", &named("a.b"), true).is_empty());
        assert_eq!(
            msgs(&create(
                "rbac.authorization.k8s.io",
                "ClusterRole",
                &json!({"metadata": {"name": "a:b/c"}}),
                false
            )),
            ["metadata.name: Invalid value: \"a:b/c\": may not contain '/'"]
        );
        assert!(create(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            &json!({"metadata": {"name": "system:controller:x"}}),
            false
        )
        .is_empty());
        assert!(create(
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
        assert!(update("apps", "Deployment", &new, &old, true).is_empty());
        new["spec"]["selector"] = json!({"matchLabels": {"app": "x", "tier": "web"}});
        new["spec"]["template"]["metadata"]["labels"]["tier"] = json!("web");
        assert_eq!(
            msgs(&update("apps", "Deployment", &new, &old, true)),
            ["spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"x\",\"tier\":\"web\"}}: field is immutable"]
        );
        let cm_old = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "1"}});
        let cm_new = json!({"metadata": {"name": "c", "namespace": "d"}, "immutable": true, "data": {"a": "2"}});
        assert_eq!(
            msgs(&update("", "ConfigMap", &cm_new, &cm_old, true)),
            ["data: Forbidden: field is immutable when `immutable` is set"]
        );
    }
}
