//! `GET pods/{name}/log`: validated here like kube-apiserver's log REST, then streamed from
//! the kubelet of the pod's node.

use http::Response;
use serde_json::Value;

use super::Ctx;
use crate::apiserver::http::Body;
use crate::apiserver::kubelet_client;
use crate::apiserver::status::ApiError;

fn int_param(ctx: &Ctx, key: &str, min: i64) -> Result<Option<i64>, ApiError> {
    match ctx.query.get(key) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= min => Ok(Some(n)),
            _ => Err(ApiError::bad_request(format!(
                "{key}: Invalid value: {v:?}: must be greater than or equal to {min}"
            ))),
        },
    }
}

/// Stream a container's log.
pub async fn get(ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let name = ctx.req.name.clone().unwrap_or_default();
    let ns = ctx.namespace().unwrap_or("default").to_string();
    let kv = ctx
        .state
        .store
        .get(&ctx.key(&name))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(&ctx.res, &name))?;
    let pod: Value = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
    let container = super::pod_stream::container(&pod, &name, ctx.query.get("container"))?;
    let tail = int_param(ctx, "tailLines", 0)?;
    let since_seconds = int_param(ctx, "sinceSeconds", 1)?;
    let limit = int_param(ctx, "limitBytes", 1)?;
    let since_time = ctx.query.get("sinceTime").map(str::to_string);
    if since_seconds.is_some() && since_time.is_some() {
        return Err(ApiError::bad_request(
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    if let Some(t) = &since_time {
        if t.parse::<jiff::Timestamp>().is_err() {
            return Err(ApiError::bad_request(format!(
                "sinceTime: Invalid value: {t:?}: not an RFC 3339 time"
            )));
        }
    }
    let Some(node) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) else {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    };
    let query = {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for flag in ["follow", "previous", "timestamps"] {
            if ctx.query.get(flag).is_some_and(|v| v == "true" || v == "1") {
                q.append_pair(flag, "true");
            }
        }
        if let Some(t) = tail {
            q.append_pair("tailLines", &t.to_string());
        }
        if let Some(s) = since_seconds {
            q.append_pair("sinceSeconds", &s.to_string());
        }
        if let Some(t) = &since_time {
            q.append_pair("sinceTime", t);
        }
        if let Some(l) = limit {
            q.append_pair("limitBytes", &l.to_string());
        }
        q.finish()
    };
    let path = format!("/containerLogs/{ns}/{name}/{container}?{query}");
    kubelet_client::get_stream(&ctx.state, node, &path).await
}
