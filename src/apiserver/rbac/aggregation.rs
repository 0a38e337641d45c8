//! ClusterRole aggregation: a ClusterRole with an `aggregationRule` holds the rules of every
//! ClusterRole its selectors match (how `admin`, `edit` and `view` pick up the rules of
//! CRD installers' `aggregate-to-*` roles).

use serde_json::Value;

use crate::apiserver::selectors::LabelSelector;

/// The rules an aggregated ClusterRole should hold, given every ClusterRole (as stored
/// JSON); `None` when `role` has no aggregation rule. Rules come in the order of the
/// matching roles' names, without repeats, as the real controller writes them.
pub fn aggregated_rules(role: &Value, all: &[Value]) -> Option<Vec<Value>> {
    let selectors = role
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)?;
    let selectors: Vec<LabelSelector> = selectors
        .iter()
        .filter_map(|s| LabelSelector::from_label_selector_json(s).ok())
        .collect();
    let name = role.pointer("/metadata/name");
    let mut sources: Vec<&Value> = all
        .iter()
        .filter(|r| r.pointer("/metadata/name") != name)
        .filter(|r| {
            let labels = r.pointer("/metadata/labels").and_then(Value::as_object);
            selectors.iter().any(|s| s.matches_opt(labels))
        })
        .collect();
    sources.sort_by_key(|r| r.pointer("/metadata/name").and_then(Value::as_str));
    let mut rules: Vec<Value> = Vec::new();
    for r in sources {
        for rule in r
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !rules.contains(rule) {
                rules.push(rule.clone());
            }
        }
    }
    Some(rules)
}

/// Fill every aggregated role's rules until nothing changes (aggregations of aggregations,
/// like admin ← edit ← view, settle in a few rounds). Returns the names of changed roles.
pub fn settle(roles: &mut [Value]) -> Vec<String> {
    let mut changed = Vec::new();
    for _ in 0..8 {
        let mut any = false;
        for i in 0..roles.len() {
            let Some(rules) = aggregated_rules(&roles[i], roles) else {
                continue;
            };
            let rules = Value::Array(rules);
            if roles[i].get("rules") != Some(&rules) {
                if let Some(obj) = roles[i].as_object_mut() {
                    obj.insert("rules".into(), rules);
                }
                let name = roles[i]
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if !changed.contains(&name) {
                    changed.push(name);
                }
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_aggregation_settles() {
        let mut roles = vec![
            json!({"metadata": {"name": "admin"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg-admin": "true"}}]}}),
            json!({"metadata": {"name": "edit", "labels": {"agg-admin": "true"}}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg-edit": "true"}}]}}),
            json!({"metadata": {"name": "x-edit", "labels": {"agg-edit": "true"}}, "rules": [{"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]}]}),
            json!({"metadata": {"name": "x-admin", "labels": {"agg-admin": "true"}}, "rules": [{"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]}, {"verbs": ["*"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"]}]}),
        ];
        let changed = settle(&mut roles);
        assert_eq!(changed, vec!["admin".to_string(), "edit".to_string()]);
        assert_eq!(roles[1]["rules"].as_array().unwrap().len(), 1);
        // admin = edit's rule + x-admin's two, the duplicate pods rule once.
        assert_eq!(roles[0]["rules"].as_array().unwrap().len(), 2);
        assert!(settle(&mut roles).is_empty());
    }
}
