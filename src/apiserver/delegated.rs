//! Delegated authentication and authorization for servers beside the API server (the
//! kubelet, metrics-server): a bearer token is checked with a TokenReview and a request
//! with a SubjectAccessReview, both through the API, as k8s.io/apiserver's delegating
//! authenticator and authorizer do.

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::Api;

use super::authn::UserInfo;

/// The bearer token of an `Authorization` header, if any.
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Who `token` belongs to, or `None` when the API server does not accept it.
pub async fn token_user(client: &kube::Client, token: &str) -> Option<UserInfo> {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: token.to_string(),
            audiences: None,
        },
        ..Default::default()
    };
    let done = Api::<TokenReview>::all(client.clone())
        .create(&Default::default(), &review)
        .await
        .ok()?;
    let status = done.status?;
    if status.authenticated != Some(true) {
        return None;
    }
    let user = status.user?;
    Some(UserInfo {
        name: user.username.unwrap_or_default(),
        groups: user.groups.unwrap_or_default(),
        uid: user.uid.unwrap_or_default(),
    })
}

/// Whether RBAC lets `user` do `attrs`; a review that fails denies.
pub async fn allowed(client: &kube::Client, user: &UserInfo, attrs: ResourceAttributes) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.name.clone()),
            groups: Some(user.groups.clone()),
            uid: Some(user.uid.clone()).filter(|u| !u.is_empty()),
            resource_attributes: Some(attrs),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<SubjectAccessReview>::all(client.clone())
        .create(&Default::default(), &review)
        .await
        .ok()
        .and_then(|r| r.status)
        .is_some_and(|s| s.allowed)
}
