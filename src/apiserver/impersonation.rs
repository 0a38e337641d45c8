//! Impersonation (`kubectl --as`, `--as-group`, `--as-uid`): a user allowed the
//! `impersonate` verb on users, groups, service accounts or uids acts as someone else,
//! checked attribute by attribute like kube-apiserver's impersonation filter.

use http::HeaderMap;

use super::authn::UserInfo;
use super::authz;
use super::request::RequestInfo;
use super::status::ApiError;
use super::State;

const USER: &str = "impersonate-user";
const GROUP: &str = "impersonate-group";
const UID: &str = "impersonate-uid";
const EXTRA_PREFIX: &str = "impersonate-extra-";

fn values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

fn check(
    state: &State,
    requester: &UserInfo,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    let req = RequestInfo {
        is_resource: true,
        verb: "impersonate".into(),
        group: group.into(),
        resource: resource.into(),
        namespace: namespace.map(str::to_string),
        name: Some(name.to_string()),
        ..Default::default()
    };
    authz::authorize(state, requester, &req)
}

/// The user the request acts as: `requester` itself without impersonation headers, else
/// the impersonated user once every impersonated attribute is authorized.
pub fn apply(
    state: &State,
    requester: UserInfo,
    headers: &HeaderMap,
) -> Result<UserInfo, ApiError> {
    let user = values(headers, USER);
    let groups = values(headers, GROUP);
    let uid = values(headers, UID);
    let has_extra = headers.keys().any(|k| k.as_str().starts_with(EXTRA_PREFIX));
    let Some(name) = user.first().copied() else {
        if !groups.is_empty() || !uid.is_empty() || has_extra {
            return Err(ApiError::bad_request(
                "requested impersonation of groups, uid or extra without impersonating a user",
            ));
        }
        return Ok(requester);
    };
    let mut impersonated = UserInfo {
        name: name.to_string(),
        groups: Vec::new(),
        uid: String::new(),
    };
    match name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
    {
        Some((ns, sa)) => {
            check(state, &requester, "", "serviceaccounts", Some(ns), sa)?;
            if groups.is_empty() {
                impersonated.groups = vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{ns}"),
                ];
            }
        }
        None => check(state, &requester, "", "users", None, name)?,
    }
    for g in &groups {
        check(state, &requester, "", "groups", None, g)?;
        impersonated.groups.push(g.to_string());
    }
    if let Some(u) = uid.first() {
        check(state, &requester, "authentication.k8s.io", "uids", None, u)?;
        impersonated.uid = u.to_string();
    }
    for (key, value) in headers.iter() {
        if let Some(extra) = key.as_str().strip_prefix(EXTRA_PREFIX) {
            let v = value.to_str().unwrap_or("");
            check(
                state,
                &requester,
                "authentication.k8s.io",
                &format!("userextras/{extra}"),
                None,
                v,
            )?;
        }
    }
    let special = if name == "system:anonymous" {
        "system:unauthenticated"
    } else {
        "system:authenticated"
    };
    if !impersonated.in_group(special) {
        impersonated.groups.push(special.into());
    }
    Ok(impersonated)
}
