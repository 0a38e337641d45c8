//! Create-only virtual resources answered from the request itself and never stored:
//! SelfSubjectReview (`kubectl auth whoami`), the access reviews (`kubectl auth can-i`),
//! SelfSubjectRulesReview (`can-i --list`), TokenReview, and Binding (the scheduler's
//! way to set a pod's node).

use bytes::Bytes;
use http::Response;
use serde_json::{json, Value};

use super::write::{guaranteed_update, Change};
use super::Ctx;
use crate::apiserver::authn::UserInfo;
use crate::apiserver::authz;
use crate::apiserver::http::{decode_body, object_response, Body};
use crate::apiserver::request::RequestInfo;
use crate::apiserver::status::ApiError;

/// Answer a create of a virtual resource.
pub async fn create(ctx: &Ctx, body: Bytes) -> Result<Response<Body>, ApiError> {
    let mut obj = decode_body(&ctx.content_type, &body)?;
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request was not a JSON object",
        ));
    }
    obj["apiVersion"] = json!(ctx.res.api_version());
    obj["kind"] = json!(ctx.res.kind);
    let status = match ctx.res.kind.as_str() {
        "SelfSubjectReview" => json!({"userInfo": user_json(&ctx.user)}),
        "SelfSubjectAccessReview" => access(&ctx.user, &obj["spec"], None),
        "LocalSubjectAccessReview" | "SubjectAccessReview" => {
            let spec = &obj["spec"];
            let user = UserInfo {
                name: spec
                    .get("user")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                groups: crate::apiserver::object::string_list(spec.get("groups")),
                uid: spec
                    .get("uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            };
            if ctx.res.kind == "LocalSubjectAccessReview" {
                let ns = ctx.req.namespace.clone().unwrap_or_default();
                let given = spec
                    .pointer("/resourceAttributes/namespace")
                    .and_then(Value::as_str);
                if given.is_some_and(|g| g != ns) {
                    return Err(ApiError::bad_request(format!(
                        "spec.resourceAttributes.namespace must match namespace: {ns}"
                    )));
                }
                access(&user, spec, Some(&ns))
            } else {
                access(&user, spec, None)
            }
        }
        "SelfSubjectRulesReview" => rules(&ctx.user),
        // Only client certificates authenticate until service-account tokens are served.
        "TokenReview" => {
            json!({"authenticated": false, "error": "token authentication is not enabled on this server", "user": {}})
        }
        "Binding" => return bind(ctx, &obj).await,
        _ => return Err(ApiError::method_not_allowed()),
    };
    obj["status"] = status;
    if obj.get("metadata").is_none_or(Value::is_null) {
        obj["metadata"] = json!({});
    }
    Ok(object_response(201, &obj, &ctx.output))
}

fn user_json(u: &UserInfo) -> Value {
    let mut v = json!({"username": u.name, "groups": u.groups});
    if !u.uid.is_empty() {
        v["uid"] = json!(u.uid);
    }
    v
}

/// Evaluate an access review's attributes with the server's own authorizer.
fn access(user: &UserInfo, spec: &Value, namespace: Option<&str>) -> Value {
    let req = if let Some(ra) = spec.get("resourceAttributes").filter(|v| v.is_object()) {
        let s = |k: &str| ra.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let ns = namespace
            .map(str::to_string)
            .unwrap_or_else(|| s("namespace"));
        RequestInfo {
            is_resource: true,
            verb: s("verb"),
            group: s("group"),
            version: s("version"),
            resource: s("resource"),
            subresource: Some(s("subresource")).filter(|x| !x.is_empty()),
            name: Some(s("name")).filter(|x| !x.is_empty()),
            namespace: Some(ns).filter(|x| !x.is_empty()),
            ..Default::default()
        }
    } else {
        let nr = spec
            .get("nonResourceAttributes")
            .cloned()
            .unwrap_or(json!({}));
        RequestInfo {
            verb: nr
                .get("verb")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            path: nr
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            ..Default::default()
        }
    };
    match authz::authorize(user, &req) {
        Ok(()) => json!({"allowed": true, "reason": "allowed by the system:masters group"}),
        Err(_) => json!({"allowed": false}),
    }
}

/// The rules the requester has (everything for system:masters, nothing else yet).
fn rules(user: &UserInfo) -> Value {
    if user.in_group("system:masters") {
        json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        })
    } else {
        json!({"resourceRules": [], "nonResourceRules": [], "incomplete": false})
    }
}

/// POST bindings (or pods/x/binding): set the pod's node once, as kube-apiserver's binding REST does.
pub async fn bind(ctx: &Ctx, binding: &Value) -> Result<Response<Body>, ApiError> {
    let pod = binding
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if pod.is_empty() || node.is_empty() {
        return Err(ApiError::bad_request(
            "a binding needs metadata.name (the pod) and target.name (the node)",
        ));
    }
    let pods = ctx
        .state
        .registry
        .lookup("", "v1", "pods")
        .ok_or_else(|| ApiError::internal("pods are not registered"))?;
    let pod_ctx = Ctx {
        state: ctx.state.clone(),
        res: pods,
        req: ctx.req.clone(),
        query: ctx.query.clone(),
        output: ctx.output.clone(),
        user: ctx.user.clone(),
        content_type: ctx.content_type.clone(),
        user_agent: ctx.user_agent.clone(),
    };
    guaranteed_update(&pod_ctx, &pod, None, |mut current| {
        if crate::apiserver::object::is_deleting(&current) {
            return Err(ApiError::conflict_msg(&pod_ctx.res, &pod, "pod is being deleted, cannot be assigned to a host"));
        }
        match current.pointer("/spec/nodeName").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => Err(ApiError::conflict_msg(
                &pod_ctx.res,
                &pod,
                &format!("pod {pod} is already assigned to node \"{n}\""),
            )),
            _ => {
                current["spec"]["nodeName"] = json!(node);
                let now = crate::apiserver::object::now_rfc3339();
                let mut conditions: Vec<Value> = current
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
                conditions.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
                current["status"]["conditions"] = json!(conditions);
                Ok(Change::Write(current))
            }
        }
    })
    .await?;
    Ok(object_response(
        201,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        &ctx.output,
    ))
}
