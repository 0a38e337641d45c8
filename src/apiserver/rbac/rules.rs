//! Whether one RBAC rule or subject covers a request (the matching half of Kubernetes'
//! RBAC authorizer: verbs, API groups, resources with subresources, resource names,
//! non-resource URLs, and users, groups and service accounts as subjects).

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};

use crate::apiserver::authn::UserInfo;
use crate::apiserver::request::RequestInfo;

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    has(&rule.verbs, verb)
}

fn group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.as_deref().is_some_and(|g| has(g, group))
}

/// `pods`, `pods/log`, `*`, and `*/log` forms, as RBAC writes resources.
fn resource_matches(rule: &PolicyRule, resource: &str, subresource: Option<&str>) -> bool {
    let Some(resources) = rule.resources.as_deref() else {
        return false;
    };
    let combined = match subresource {
        Some(s) => format!("{resource}/{s}"),
        None => resource.to_string(),
    };
    resources.iter().any(|r| {
        r == "*" || *r == combined || subresource.is_some_and(|s| r.strip_prefix("*/") == Some(s))
    })
}

fn name_matches(rule: &PolicyRule, name: Option<&str>) -> bool {
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => name.is_some_and(|n| names.iter().any(|x| x == n)),
    }
}

fn url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.as_deref().is_some_and(|urls| {
        urls.iter().any(|u| {
            u == "*"
                || u == path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix))
        })
    })
}

/// Whether `rule` allows the request.
pub fn rule_allows(rule: &PolicyRule, req: &RequestInfo) -> bool {
    if !verb_matches(rule, &req.verb) {
        return false;
    }
    if req.is_resource {
        group_matches(rule, &req.group)
            && resource_matches(rule, &req.resource, req.subresource.as_deref())
            && name_matches(rule, req.name.as_deref())
    } else {
        url_matches(rule, &req.path)
    }
}

/// The user name of a service account.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// Whether a binding subject names the user; `namespace` is the binding's (a service
/// account subject without a namespace means one in the binding's namespace).
pub fn subject_matches(subject: &Subject, user: &UserInfo, namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => subject.name == user.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let ns = subject.namespace.as_deref().filter(|n| !n.is_empty());
            let ns = ns.unwrap_or(namespace);
            !ns.is_empty() && user.name == service_account_user(ns, &subject.name)
        }
        _ => false,
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

    fn req(verb: &str, group: &str, resource: &str, sub: Option<&str>) -> RequestInfo {
        RequestInfo {
            is_resource: true,
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.map(str::to_string),
            name: Some("web".into()),
            namespace: Some("ns".into()),
            ..Default::default()
        }
    }

    #[test]
    fn resources_and_subresources() {
        let r = rule(&["get", "list"], &[""], &["pods", "pods/log"]);
        assert!(rule_allows(&r, &req("get", "", "pods", None)));
        assert!(rule_allows(&r, &req("get", "", "pods", Some("log"))));
        assert!(!rule_allows(&r, &req("get", "", "pods", Some("exec"))));
        assert!(!rule_allows(&r, &req("create", "", "pods", None)));
        assert!(!rule_allows(&r, &req("get", "apps", "pods", None)));
        let any_status = rule(&["update"], &["*"], &["*/status"]);
        assert!(rule_allows(
            &any_status,
            &req("update", "apps", "deployments", Some("status"))
        ));
        assert!(!rule_allows(
            &any_status,
            &req("update", "apps", "deployments", None)
        ));
        let all = rule(&["*"], &["*"], &["*"]);
        assert!(rule_allows(
            &all,
            &req("delete", "x.io", "things", Some("scale"))
        ));
    }

    #[test]
    fn resource_names() {
        let mut r = rule(&["get", "update"], &[""], &["configmaps"]);
        r.resource_names = Some(vec!["web".into()]);
        assert!(rule_allows(&r, &req("get", "", "configmaps", None)));
        let mut other = req("get", "", "configmaps", None);
        other.name = Some("db".into());
        assert!(!rule_allows(&r, &other));
        // A list has no name, so a name-restricted rule never allows it.
        other.name = None;
        other.verb = "get".into();
        assert!(!rule_allows(&r, &other));
    }

    #[test]
    fn non_resource_urls() {
        let r = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/healthz".into(), "/apis/*".into()]),
            ..Default::default()
        };
        let get = |p: &str| RequestInfo {
            verb: "get".into(),
            path: p.into(),
            ..Default::default()
        };
        assert!(rule_allows(&r, &get("/healthz")));
        assert!(rule_allows(&r, &get("/apis/apps/v1")));
        assert!(!rule_allows(&r, &get("/apis")));
        assert!(!rule_allows(&r, &get("/metrics")));
        // A resource rule never matches a URL.
        assert!(!rule_allows(
            &rule(&["get"], &["*"], &["*"]),
            &get("/healthz")
        ));
    }

    #[test]
    fn subjects() {
        let user = UserInfo {
            name: "system:serviceaccount:dev:ci".into(),
            groups: vec![
                "system:serviceaccounts".into(),
                "system:authenticated".into(),
            ],
            uid: String::new(),
        };
        let s = |kind: &str, name: &str, ns: Option<&str>| Subject {
            kind: kind.into(),
            name: name.into(),
            namespace: ns.map(str::to_string),
            ..Default::default()
        };
        assert!(subject_matches(
            &s("ServiceAccount", "ci", Some("dev")),
            &user,
            ""
        ));
        assert!(subject_matches(
            &s("ServiceAccount", "ci", None),
            &user,
            "dev"
        ));
        assert!(!subject_matches(
            &s("ServiceAccount", "ci", None),
            &user,
            "prod"
        ));
        assert!(!subject_matches(
            &s("ServiceAccount", "ci", None),
            &user,
            ""
        ));
        assert!(subject_matches(
            &s("Group", "system:serviceaccounts", None),
            &user,
            ""
        ));
        assert!(subject_matches(
            &s("User", "system:serviceaccount:dev:ci", None),
            &user,
            ""
        ));
        assert!(!subject_matches(&s("User", "ci", None), &user, ""));
    }
}
