//! rbac.authorization.k8s.io/v1: Role, ClusterRole (policy rules), RoleBinding and
//! ClusterRoleBinding (roleRef, subjects; roleRef is immutable).

use serde_json::{json, Value};

use super::field::FieldError;
use super::names::{dns1123_subdomain, invalid_each, path_segment_name};
use super::pod::{arr, text};
use super::selector::selector_errors;

const GROUP: &str = "rbac.authorization.k8s.io";

/// A Role's rules.
pub(crate) fn role(obj: &Value) -> Vec<FieldError> {
    role_errors(obj, true)
}

/// A ClusterRole's rules and aggregation.
pub(crate) fn cluster_role(obj: &Value) -> Vec<FieldError> {
    role_errors(obj, false)
}

/// A RoleBinding's roleRef and subjects.
pub(crate) fn role_binding(obj: &Value) -> Vec<FieldError> {
    binding_errors(obj, true)
}

/// A ClusterRoleBinding's roleRef and subjects.
pub(crate) fn cluster_role_binding(obj: &Value) -> Vec<FieldError> {
    binding_errors(obj, false)
}

fn role_errors(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, rule) in arr(obj, "rules").iter().enumerate() {
        rule_errors(&mut errs, rule, namespaced, &format!("rules[{i}]"));
    }
    if let Some(agg) = obj.get("aggregationRule").filter(|v| !v.is_null()) {
        let selectors = arr(agg, "clusterRoleSelectors");
        if selectors.is_empty() {
            errs.push(FieldError::required(
                "aggregationRule.clusterRoleSelectors",
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, s) in selectors.iter().enumerate() {
            errs.extend(selector_errors(
                &format!("aggregationRule.clusterRoleSelectors[{i}]"),
                Some(s),
            ));
        }
    }
    errs
}

fn binding_errors(obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let role_ref = obj.get("roleRef").unwrap_or(&null);
    let group = text(role_ref, "apiGroup");
    if group != GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            group,
            &[GROUP],
        ));
    }
    let ref_kind = text(role_ref, "kind");
    let allowed: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !allowed.contains(&ref_kind) {
        errs.push(FieldError::not_supported("roleRef.kind", ref_kind, allowed));
    }
    let name = text(role_ref, "name");
    if name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        errs.extend(invalid_each("roleRef.name", name, path_segment_name(name)));
    }
    for (i, s) in arr(obj, "subjects").iter().enumerate() {
        subject_errors(&mut errs, s, namespaced, &format!("subjects[{i}]"));
    }
    errs
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    arr(v, key)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn rule_errors(errs: &mut Vec<FieldError>, rule: &Value, namespaced: bool, path: &str) {
    if arr(rule, "verbs").is_empty() {
        errs.push(FieldError::required(
            &format!("{path}.verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = strings(rule, "nonResourceURLs");
    if !urls.is_empty() {
        if namespaced {
            errs.push(FieldError::invalid(
                &format!("{path}.nonResourceURLs"),
                json!(urls),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !arr(rule, "apiGroups").is_empty()
            || !arr(rule, "resources").is_empty()
            || !arr(rule, "resourceNames").is_empty()
        {
            errs.push(FieldError::invalid(
                &format!("{path}.nonResourceURLs"),
                json!(urls),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return;
    }
    if arr(rule, "apiGroups").is_empty() {
        errs.push(FieldError::required(
            &format!("{path}.apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if arr(rule, "resources").is_empty() {
        errs.push(FieldError::required(
            &format!("{path}.resources"),
            "resource rules must supply at least one resource",
        ));
    }
}

fn subject_errors(errs: &mut Vec<FieldError>, s: &Value, namespaced: bool, path: &str) {
    let name = text(s, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&format!("{path}.name"), ""));
    }
    let group = text(s, "apiGroup");
    match text(s, "kind") {
        "ServiceAccount" => {
            if !name.is_empty() {
                errs.extend(invalid_each(
                    &format!("{path}.name"),
                    name,
                    dns1123_subdomain(name),
                ));
            }
            if !group.is_empty() {
                errs.push(FieldError::not_supported(
                    &format!("{path}.apiGroup"),
                    group,
                    &[""],
                ));
            }
            if !namespaced && text(s, "namespace").is_empty() {
                errs.push(FieldError::required(&format!("{path}.namespace"), ""));
            }
        }
        "User" | "Group" => {
            if group != GROUP {
                errs.push(FieldError::not_supported(
                    &format!("{path}.apiGroup"),
                    group,
                    &[GROUP],
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            &format!("{path}.kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
}

/// A binding's roleRef cannot change.
pub(crate) fn role_ref_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let role_ref = |o: &Value| {
        let r = o.get("roleRef").cloned().unwrap_or(Value::Null);
        // Go prints the internal RoleRef struct, whose JSON keys are its Go field names.
        json!({"APIGroup": text(&r, "apiGroup"), "Kind": text(&r, "kind"), "Name": text(&r, "name")})
    };
    let n = role_ref(new);
    if n != role_ref(old) {
        return vec![FieldError::invalid("roleRef", n, "cannot change roleRef")];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn roles_and_bindings() {
        let r = json!({"rules": [{"apiGroups": [""], "resources": ["pods"]}, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]});
        assert_eq!(msgs(&role(&r)), [
            "rules[0].verbs: Required value: verbs must contain at least one value",
            "rules[1].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs",
        ]);
        assert!(cluster_role(
            &json!({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]})
        )
        .is_empty());
        let rb = json!({"roleRef": {"apiGroup": GROUP, "kind": "Pod", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}, {"kind": "User", "name": "u"}, {"kind": "Robot", "name": "x"}]});
        assert_eq!(msgs(&role_binding(&rb)), [
            "roleRef.kind: Unsupported value: \"Pod\": supported values: \"Role\", \"ClusterRole\"",
            "subjects[1].apiGroup: Unsupported value: \"\": supported values: \"rbac.authorization.k8s.io\"",
            "subjects[2].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
        ]);
        let old = json!({"roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "a"}});
        let new = json!({"roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "b"}});
        assert_eq!(msgs(&role_ref_update(&new, &old)), [
            "roleRef: Invalid value: {\"APIGroup\":\"rbac.authorization.k8s.io\",\"Kind\":\"Role\",\"Name\":\"b\"}: cannot change roleRef",
        ]);
    }
}
