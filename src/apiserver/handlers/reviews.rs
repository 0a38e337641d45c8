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
use crate::apiserver::rbac::Decision;
use crate::apiserver::request::RequestInfo;
use crate::apiserver::sa_authn;
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
        "SelfSubjectAccessReview" => access(ctx, &ctx.user, &obj["spec"], None),
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
                access(ctx, &user, spec, Some(&ns))
            } else {
                access(ctx, &user, spec, None)
            }
        }
        "SelfSubjectRulesReview" => {
            let ns = obj
                .pointer("/spec/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            rules(ctx, &ctx.user, ns)
        }
        "TokenReview" => token_review(ctx, &obj["spec"]).await,
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
fn access(ctx: &Ctx, user: &UserInfo, spec: &Value, namespace: Option<&str>) -> Value {
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
    match authz::decide(&ctx.state, user, &req) {
        Decision::Allow(reason) if reason.is_empty() => json!({"allowed": true}),
        Decision::Allow(reason) => json!({"allowed": true, "reason": reason}),
        Decision::Deny => json!({"allowed": false}),
    }
}

/// What the requester may do in a namespace (`kubectl auth can-i --list`). Members of
/// system:masters are answered from RBAC like everyone else: the bootstrap
/// `cluster-admin` binding gives them everything.
fn rules(ctx: &Ctx, user: &UserInfo, namespace: &str) -> Value {
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for rule in ctx.state.authorizer.rules_for(user, namespace) {
        if let Some(urls) = rule.non_resource_urls.filter(|u| !u.is_empty()) {
            non_resource_rules.push(json!({"verbs": rule.verbs, "nonResourceURLs": urls}));
        }
        if let Some(resources) = rule.resources.filter(|r| !r.is_empty()) {
            let mut r = json!({
                "verbs": rule.verbs,
                "apiGroups": rule.api_groups.unwrap_or_default(),
                "resources": resources,
            });
            if let Some(names) = rule.resource_names.filter(|n| !n.is_empty()) {
                r["resourceNames"] = json!(names);
            }
            resource_rules.push(r);
        }
    }
    json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
}

/// TokenReview: whether a service-account token is valid, and for whom.
async fn token_review(ctx: &Ctx, spec: &Value) -> Value {
    let token = spec.get("token").and_then(Value::as_str).unwrap_or("");
    let audiences: Vec<String> = match spec.get("audiences").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![crate::apiserver::tokens::ISSUER.to_string()],
    };
    match sa_authn::authenticate_for(&ctx.state, token, &audiences).await {
        Ok((user, audiences)) => {
            json!({"authenticated": true, "user": user_json(&user), "audiences": audiences})
        }
        Err(reason) => json!({"authenticated": false, "user": {}, "error": reason}),
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
