//! RBAC escalation prevention: a user may only write a Role or ClusterRole whose
//! permissions they hold themselves (or with the `escalate` verb), and only bind a role
//! whose permissions they hold (or with the `bind` verb) — kube-apiserver's policy-based
//! RBAC storage.

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::Value;

use super::Decision;
use crate::apiserver::authn::UserInfo;
use crate::apiserver::authz::{self, MASTERS};
use crate::apiserver::request::RequestInfo;
use crate::apiserver::status::ApiError;
use crate::apiserver::State;

const GROUP: &str = "rbac.authorization.k8s.io";

/// One verb on one resource (or URL) of a rule, the unit coverage is checked in.
#[derive(Clone, Debug, PartialEq)]
struct Atom {
    verb: String,
    group: Option<String>,
    resource: Option<String>,
    name: Option<String>,
    url: Option<String>,
}

fn atoms(rule: &PolicyRule) -> Vec<Atom> {
    let mut out = Vec::new();
    for verb in &rule.verbs {
        for url in rule.non_resource_urls.iter().flatten() {
            out.push(Atom {
                verb: verb.clone(),
                group: None,
                resource: None,
                name: None,
                url: Some(url.clone()),
            });
        }
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                let names: Vec<Option<String>> = match rule.resource_names.as_deref() {
                    None | Some([]) => vec![None],
                    Some(n) => n.iter().cloned().map(Some).collect(),
                };
                for name in names {
                    out.push(Atom {
                        verb: verb.clone(),
                        group: Some(group.clone()),
                        resource: Some(resource.clone()),
                        name,
                        url: None,
                    });
                }
            }
        }
    }
    out
}

fn has(list: Option<&Vec<String>>, want: &str) -> bool {
    list.is_some_and(|l| l.iter().any(|x| x == "*" || x == want))
}

fn covers(owner: &PolicyRule, atom: &Atom) -> bool {
    if !owner.verbs.iter().any(|v| v == "*" || *v == atom.verb) {
        return false;
    }
    if let Some(url) = &atom.url {
        return owner.non_resource_urls.iter().flatten().any(|o| {
            o == "*"
                || o == url
                || o.strip_suffix('*')
                    .is_some_and(|prefix| url.starts_with(prefix))
        });
    }
    let (Some(group), Some(resource)) = (&atom.group, &atom.resource) else {
        return false;
    };
    if !has(owner.api_groups.as_ref(), group) {
        return false;
    }
    let resource_ok = owner.resources.iter().flatten().any(|o| {
        o == "*"
            || o == resource
            || resource
                .split_once('/')
                .is_some_and(|(_, sub)| o.strip_prefix("*/") == Some(sub))
    });
    if !resource_ok {
        return false;
    }
    match owner.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => atom.name.as_ref().is_some_and(|n| names.contains(n)),
    }
}

fn quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

fn describe(atom: &Atom) -> String {
    match &atom.url {
        Some(url) => format!("{{NonResourceURLs:[{url:?}], Verbs:[{:?}]}}", atom.verb),
        None => {
            let names = atom
                .name
                .as_ref()
                .map(|n| format!(", ResourceNames:[{n:?}]"))
                .unwrap_or_default();
            format!(
                "{{APIGroups:[{:?}], Resources:[{:?}]{names}, Verbs:[{:?}]}}",
                atom.group.as_deref().unwrap_or(""),
                atom.resource.as_deref().unwrap_or(""),
                atom.verb
            )
        }
    }
}

/// The permissions in `wanted` that `held` does not cover, described one per line.
fn uncovered(held: &[PolicyRule], wanted: &[PolicyRule]) -> Vec<String> {
    wanted
        .iter()
        .flat_map(atoms)
        .filter(|a| !held.iter().any(|o| covers(o, a)))
        .map(|a| describe(&a))
        .collect()
}

fn rules_of(obj: &Value) -> Vec<PolicyRule> {
    obj.get("rules")
        .cloned()
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default()
}

fn allowed(
    state: &State,
    user: &UserInfo,
    verb: &str,
    resource: &str,
    ns: Option<&str>,
    name: &str,
) -> bool {
    let req = RequestInfo {
        is_resource: true,
        verb: verb.into(),
        group: GROUP.into(),
        resource: resource.into(),
        namespace: ns.map(str::to_string),
        name: Some(name.to_string()),
        ..Default::default()
    };
    matches!(authz::decide(state, user, &req), Decision::Allow(_))
}

fn forbidden(plural: &str, name: &str, user: &UserInfo, missing: &[String]) -> ApiError {
    ApiError::forbidden_with(
        format!(
            "{plural}.{GROUP} {name:?} is forbidden: user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
            user.name,
            quote_list(&user.groups),
            missing.join("\n")
        ),
        Some(name),
        GROUP,
        plural,
    )
}

/// Refuse a write of an RBAC object that would give someone permissions the writer lacks.
/// `old` is the stored object on update (unchanged rules or role references pass).
pub fn check(
    state: &State,
    user: &UserInfo,
    kind: &str,
    obj: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    if user.in_group(MASTERS) {
        return Ok(());
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str);
    match kind {
        "Role" | "ClusterRole" => {
            let plural = if kind == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            if old.is_some_and(|o| o.get("rules") == obj.get("rules"))
                && old.is_some_and(|o| o.get("aggregationRule") == obj.get("aggregationRule"))
            {
                return Ok(());
            }
            if allowed(state, user, "escalate", plural, ns, name) {
                return Ok(());
            }
            if obj.get("aggregationRule").is_some_and(|a| !a.is_null()) {
                return Err(ApiError::forbidden_with(
                    format!("{plural}.{GROUP} {name:?} is forbidden: must have cluster-admin privileges to use the aggregationRule"),
                    Some(name),
                    GROUP,
                    plural,
                ));
            }
            let held = state.authorizer.rules_for(user, ns.unwrap_or(""));
            let missing = uncovered(&held, &rules_of(obj));
            if missing.is_empty() {
                Ok(())
            } else {
                Err(forbidden(plural, name, user, &missing))
            }
        }
        "RoleBinding" | "ClusterRoleBinding" => {
            let plural = if kind == "RoleBinding" {
                "rolebindings"
            } else {
                "clusterrolebindings"
            };
            let role_ref = obj.get("roleRef").cloned().unwrap_or(Value::Null);
            if old.is_some_and(|o| o.get("roleRef") == Some(&role_ref)) {
                return Ok(());
            }
            let role_kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
            let role_name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
            let role_plural = if role_kind == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            if allowed(state, user, "bind", role_plural, ns, role_name) {
                return Ok(());
            }
            let rules = state
                .authorizer
                .role_rules(role_kind, ns.unwrap_or(""), role_name)
                .ok_or_else(|| {
                    ApiError::new(
                        404,
                        "NotFound",
                        format!("{role_plural}.{GROUP} {role_name:?} not found"),
                    )
                    .with_object_details(GROUP, role_plural, role_name)
                })?;
            let held = state.authorizer.rules_for(user, ns.unwrap_or(""));
            let missing = uncovered(&held, &rules);
            if missing.is_empty() {
                Ok(())
            } else {
                Err(forbidden(plural, name, user, &missing))
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        PolicyRule {
            verbs: v(verbs),
            api_groups: Some(v(groups)),
            resources: Some(v(resources)),
            ..Default::default()
        }
    }

    #[test]
    fn coverage() {
        let held = vec![
            rule(&["get", "list"], &[""], &["pods", "pods/log"]),
            rule(&["*"], &["apps"], &["deployments"]),
            rule(&["update"], &["*"], &["*/status"]),
        ];
        assert!(uncovered(&held, &[rule(&["get"], &[""], &["pods/log"])]).is_empty());
        assert!(uncovered(
            &held,
            &[rule(&["delete", "create"], &["apps"], &["deployments"])]
        )
        .is_empty());
        assert!(uncovered(&held, &[rule(&["update"], &["batch"], &["jobs/status"])]).is_empty());
        assert_eq!(
            uncovered(&held, &[rule(&["get", "create"], &[""], &["pods"])]),
            vec!["{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"create\"]}"]
        );
        // A wildcard is only covered by a wildcard.
        assert_eq!(uncovered(&held, &[rule(&["get"], &[""], &["*"])]).len(), 1);
        let mut named = rule(&["get"], &[""], &["secrets"]);
        named.resource_names = Some(vec!["a".into()]);
        assert_eq!(uncovered(&held, &[named.clone()]).len(), 1);
        assert!(uncovered(&[named.clone()], &[named]).is_empty());
    }
}
