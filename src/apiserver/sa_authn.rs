//! The service-account token authenticator: a bearer token is a user when its signature,
//! issuer, audience and expiry check out and the account (and the pod or secret it is bound
//! to) still exists with the same uid — deleting any of them revokes the token.

use http::HeaderMap;
use serde_json::Value;

use super::authn::UserInfo;
use super::tokens::{Claims, ISSUER, LEGACY_ISSUER};
use super::State;

/// The bearer token of a request, if it has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn load(state: &State, plural: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
    let res = state.registry.lookup("", "v1", plural)?;
    let kv = state.store.get(&res.key(namespace, name)).await.ok()??;
    serde_json::from_slice(&kv.value).ok()
}

fn uid_of(obj: &Value) -> &str {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The user a service-account token stands for, or the reason it stands for no one.
pub async fn authenticate(state: &State, token: &str) -> Result<UserInfo, String> {
    authenticate_for(state, token, &[ISSUER.to_string()])
        .await
        .map(|(user, _)| user)
}

/// Like [`authenticate`], for a bound token meant for any of `audiences`; also returns the
/// audiences it is good for (TokenReview's `status.audiences`).
pub async fn authenticate_for(
    state: &State,
    token: &str,
    audiences: &[String],
) -> Result<(UserInfo, Vec<String>), String> {
    let claims: Claims = state.tokens.verify(token).map_err(|e| e.to_string())?;
    let (ns, name, uid) = claims
        .account()
        .ok_or("the token names no service account")?;
    let expected_sub = super::rbac::rules::service_account_user(ns, name);
    if claims.sub != expected_sub {
        return Err("the token's subject does not match its service account".into());
    }
    let account = load(state, "serviceaccounts", Some(ns), name)
        .await
        .ok_or_else(|| format!("service account {ns}/{name} has been deleted"))?;
    if uid_of(&account) != uid {
        return Err(format!("service account {ns}/{name} has been recreated"));
    }
    // Legacy tokens carry no audience and are good for whatever was asked.
    let mut matched = audiences.to_vec();
    match (&claims.kubernetes, claims.iss.as_str()) {
        (Some(bound), ISSUER) => {
            matched = claims
                .aud
                .iter()
                .filter(|a| audiences.contains(a))
                .cloned()
                .collect();
            if matched.is_empty() {
                return Err("token audiences do not match".into());
            }
            if claims.exp.is_none() {
                return Err("bound token without expiry".into());
            }
            if let Some(pod) = &bound.pod {
                let live = load(state, "pods", Some(ns), &pod.name).await;
                if live.as_ref().map(uid_of) != Some(pod.uid.as_str()) {
                    return Err(format!(
                        "pod {ns}/{} the token is bound to is gone",
                        pod.name
                    ));
                }
            }
            if let Some(secret) = &bound.secret {
                let live = load(state, "secrets", Some(ns), &secret.name).await;
                if live.as_ref().map(uid_of) != Some(secret.uid.as_str()) {
                    return Err(format!(
                        "secret {ns}/{} the token is bound to is gone",
                        secret.name
                    ));
                }
            }
        }
        (None, LEGACY_ISSUER) => {
            // A legacy token lives as long as its Secret holds exactly this token.
            let secret_name = claims.legacy_secret.as_deref().unwrap_or("");
            let secret = load(state, "secrets", Some(ns), secret_name)
                .await
                .ok_or_else(|| format!("secret {ns}/{secret_name} has been deleted"))?;
            let stored = secret
                .pointer("/data/token")
                .and_then(Value::as_str)
                .and_then(|b64| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.decode(b64).ok()
                });
            if stored.as_deref() != Some(token.as_bytes()) {
                return Err(format!(
                    "secret {ns}/{secret_name} no longer holds this token"
                ));
            }
        }
        _ => return Err("unknown token type".into()),
    }
    let user = UserInfo {
        name: expected_sub,
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{ns}"),
            "system:authenticated".into(),
        ],
        uid: uid.to_string(),
    };
    Ok((user, matched))
}
