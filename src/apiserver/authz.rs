//! Authorization of requests, with the real Forbidden messages.
//!
//! Until RBAC is served, only members of `system:masters` (the admin client certificate)
//! are authorized; every other authenticated user gets the real 403.

use super::authn::UserInfo;
use super::request::RequestInfo;
use super::status::ApiError;

/// Authorize a request or explain the refusal as kube-apiserver does.
pub fn authorize(user: &UserInfo, req: &RequestInfo) -> Result<(), ApiError> {
    if user.in_group("system:masters") {
        return Ok(());
    }
    Err(ApiError::forbidden(forbidden_message(user, req)))
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
            authorize(&u, &req).unwrap_err().message,
            "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"y\""
        );
        let admin = UserInfo {
            groups: vec!["system:masters".into()],
            ..u
        };
        assert!(authorize(&admin, &req).is_ok());
    }
}
