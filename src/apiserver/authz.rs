//! Authorization of requests: members of `system:masters` always (kube-apiserver's
//! privileged-group authorizer), kubelets by the Node authorizer, then everyone by RBAC
//! (`--authorization-mode=Node,RBAC`), with the real Forbidden messages.

use super::authn::UserInfo;
use super::rbac::Decision;
use super::request::RequestInfo;
use super::status::ApiError;
use super::State;

/// The group whose members bypass RBAC.
pub const MASTERS: &str = "system:masters";

/// Decide a request: Allow with the reason access reviews report, or Deny.
pub fn decide(state: &State, user: &UserInfo, req: &RequestInfo) -> Decision {
    if user.in_group(MASTERS) {
        return Decision::Allow(String::new());
    }
    match state.node_authorizer.decide(user, req) {
        Decision::Allow(reason) => Decision::Allow(reason),
        Decision::Deny => state.authorizer.decide(user, req),
    }
}

/// Authorize a request or explain the refusal as kube-apiserver does.
pub fn authorize(state: &State, user: &UserInfo, req: &RequestInfo) -> Result<(), ApiError> {
    match decide(state, user, req) {
        Decision::Allow(_) => Ok(()),
        Decision::Deny => Err(ApiError::forbidden_with(
            match state.node_authorizer.refusal(user, req) {
                Some(reason) => format!("{}: {reason}", forbidden_message(user, req)),
                None => forbidden_message(user, req),
            },
            req.name.as_deref(),
            req.group.as_str(),
            &req.resource,
        )),
    }
}

/// The message of a 403, e.g. `pods is forbidden: User "x" cannot list resource "pods" in
/// API group "" in the namespace "y"`.
pub fn forbidden_message(user: &UserInfo, req: &RequestInfo) -> String {
    if !req.is_resource {
        return format!(
            "forbidden: User \"{}\" cannot {} path \"{}\"",
            user.name, req.verb, req.path
        );
    }
    let resource = match &req.subresource {
        Some(s) => format!("{}/{}", req.resource, s),
        None => req.resource.clone(),
    };
    let subject = match &req.name {
        Some(n) => format!("{} \"{}\" is forbidden", qualified(req), n),
        None => format!("{} is forbidden", qualified(req)),
    };
    let scope = match &req.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    format!(
        "{subject}: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        user.name, req.verb, req.group
    )
}

fn qualified(req: &RequestInfo) -> String {
    if req.group.is_empty() {
        req.resource.clone()
    } else {
        format!("{}.{}", req.resource, req.group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let u = UserInfo {
            name: "bob".into(),
            groups: vec!["system:authenticated".into()],
            uid: String::new(),
        };
        let req = RequestInfo {
            is_resource: true,
            verb: "list".into(),
            resource: "pods".into(),
            namespace: Some("y".into()),
            ..Default::default()
        };
        assert_eq!(
            forbidden_message(&u, &req),
            "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"y\""
        );
        let get = RequestInfo {
            verb: "get".into(),
            group: "apps".into(),
            resource: "deployments".into(),
            subresource: Some("scale".into()),
            name: Some("web".into()),
            namespace: None,
            ..req
        };
        assert_eq!(
            forbidden_message(&u, &get),
            "deployments.apps \"web\" is forbidden: User \"bob\" cannot get resource \"deployments/scale\" in API group \"apps\" at the cluster scope"
        );
    }
}
