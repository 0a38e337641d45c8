//! `serviceaccounts/<name>/token` (TokenRequest, what `kubectl create token` calls): a
//! bound, expiring token for an existing service account, optionally bound to a pod,
//! secret or node so that deleting that object revokes it.

use bytes::Bytes;
use http::Response;
use serde_json::{json, Value};

use super::Ctx;
use crate::apiserver::http::{decode_body, object_response, Body};
use crate::apiserver::status::ApiError;
use crate::apiserver::tokens::{self, AccountRef, BoundRef, Claims, KubeClaims, ISSUER};

/// Shortest and longest lifetimes kube-apiserver grants.
const MIN_SECONDS: i64 = 600;
const MAX_SECONDS: i64 = 1 << 32;
const DEFAULT_SECONDS: i64 = 3600;

fn invalid(ctx: &Ctx, name: &str, field: &str, detail: String) -> ApiError {
    let mut info = ctx.res.clone();
    info.group = "authentication.k8s.io".into();
    info.kind = "TokenRequest".into();
    ApiError::invalid_field(&info, name, field, &detail)
}

async fn load(
    ctx: &Ctx,
    plural: &str,
    namespaced: bool,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    let Some(res) = ctx.state.registry.lookup("", "v1", plural) else {
        return Ok(None);
    };
    let ns = namespaced.then(|| ctx.namespace()).flatten();
    let kv = ctx
        .state
        .store
        .get(&res.key(ns, name))
        .await
        .map_err(ApiError::internal)?;
    kv.map(|kv| serde_json::from_slice(&kv.value).map_err(ApiError::internal))
        .transpose()
}

fn uid(obj: &Value) -> String {
    obj.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Issue a token for the service account named in the URL.
pub async fn create(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let ns = ctx.namespace().unwrap_or("").to_string();
    let mut req = decode_body(&ctx.content_type, &body)?;
    if !req.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request was not a JSON object",
        ));
    }
    let account = load(ctx, "serviceaccounts", true, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(&ctx.res, &name))?;

    let spec = req.get("spec").cloned().unwrap_or(json!({}));
    let seconds = spec
        .get("expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_SECONDS);
    if seconds < MIN_SECONDS {
        return Err(invalid(
            ctx,
            &name,
            "spec.expirationSeconds",
            format!("Invalid value: {seconds}: may not specify a duration less than 10 minutes"),
        ));
    }
    if seconds > MAX_SECONDS {
        return Err(invalid(
            ctx,
            &name,
            "spec.expirationSeconds",
            format!(
                "Invalid value: {seconds}: may not specify a duration larger than 2^32 seconds"
            ),
        ));
    }
    let audiences: Vec<String> = match spec.get("audiences").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![ISSUER.to_string()],
    };

    let mut kube = KubeClaims {
        namespace: ns.clone(),
        serviceaccount: AccountRef {
            name: name.clone(),
            uid: uid(&account),
        },
        ..Default::default()
    };
    if let Some(bound) = spec.get("boundObjectRef").filter(|b| b.is_object()) {
        let kind = bound.get("kind").and_then(Value::as_str).unwrap_or("");
        let bname = bound.get("name").and_then(Value::as_str).unwrap_or("");
        let (plural, namespaced) = match kind {
            "Pod" => ("pods", true),
            "Secret" => ("secrets", true),
            "Node" => ("nodes", false),
            other => {
                return Err(invalid(
                    ctx,
                    &name,
                    "spec.boundObjectRef.kind",
                    format!("Unsupported value: \"{other}\": supported values: \"Pod\", \"Secret\", \"Node\""),
                ))
            }
        };
        let obj = load(ctx, plural, namespaced, bname).await?.ok_or_else(|| {
            let info = ctx.state.registry.lookup("", "v1", plural);
            match info {
                Some(info) => ApiError::not_found(&info, bname),
                None => ApiError::not_found_path(),
            }
        })?;
        let live_uid = uid(&obj);
        if let Some(want) = bound
            .get("uid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
        {
            if want != live_uid {
                return Err(ApiError::conflict_msg(
                    &ctx.res,
                    &name,
                    &format!("the UID in the bound object reference ({want}) does not match the UID in record. The object might have been deleted and then recreated"),
                ));
            }
        }
        let r = Some(BoundRef {
            name: bname.to_string(),
            uid: live_uid,
        });
        match kind {
            "Pod" => kube.pod = r,
            "Secret" => kube.secret = r,
            _ => kube.node = r,
        }
    }

    let now = tokens::now();
    let exp = now + seconds;
    let claims = Claims {
        iss: ISSUER.into(),
        sub: crate::apiserver::rbac::rules::service_account_user(&ns, &name),
        aud: audiences.clone(),
        exp: Some(exp),
        iat: Some(now),
        nbf: Some(now),
        jti: Some(uuid::Uuid::new_v4().to_string()),
        kubernetes: Some(kube),
        ..Default::default()
    };
    let token = ctx.state.tokens.sign(&claims).map_err(ApiError::internal)?;
    let expiration = jiff::Timestamp::from_second(exp)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .map_err(ApiError::internal)?;

    req["apiVersion"] = json!("authentication.k8s.io/v1");
    req["kind"] = json!("TokenRequest");
    req["metadata"] = json!({"name": name, "namespace": ns, "creationTimestamp": null});
    let mut spec = spec;
    spec["audiences"] = json!(audiences);
    spec["expirationSeconds"] = json!(seconds);
    if spec.get("boundObjectRef").is_none() {
        spec["boundObjectRef"] = Value::Null;
    }
    req["spec"] = spec;
    req["status"] = json!({"token": token, "expirationTimestamp": expiration});
    Ok(object_response(201, &req, &ctx.output))
}
