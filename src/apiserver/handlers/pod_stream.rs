//! `pods/exec`, `pods/attach` and `pods/portforward`: checked here like kube-apiserver's
//! connect REST (the pod, its container, its node), then the upgrade is passed through to
//! the kubelet of the pod's node, which speaks the stream protocols.

use std::sync::Arc;

use http::{Method, Request, Response};
use hyper::body::Incoming;
use serde_json::Value;

use crate::apiserver::authn::UserInfo;
use crate::apiserver::http::Body;
use crate::apiserver::request::RequestInfo;
use crate::apiserver::status::ApiError;
use crate::apiserver::{authz, kubelet_client, State};
use crate::resources::registry::ResourceInfo;

/// Whether the request is for one of the streaming subresources of pods.
pub fn is_stream(res: &ResourceInfo, info: &RequestInfo) -> bool {
    res.kind == "Pod"
        && matches!(
            info.subresource.as_deref(),
            Some("exec" | "attach" | "portforward")
        )
}

fn names(pod: &Value, key: &str) -> Vec<String> {
    pod["spec"][key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// The container the request is for, as kube-apiserver picks and checks it.
pub(super) fn container(pod: &Value, name: &str, asked: Option<&str>) -> Result<String, ApiError> {
    let containers = names(pod, "containers");
    let init = names(pod, "initContainers");
    let ephemeral = names(pod, "ephemeralContainers");
    let c = match asked.filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            let mut msg = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            return Err(ApiError::bad_request(msg));
        }
    };
    if !containers.contains(&c) && !init.contains(&c) && !ephemeral.contains(&c) {
        return Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {name}"
        )));
    }
    Ok(c)
}

/// Serve a streaming subresource request (already authenticated and authorized for its
/// own verb).
pub async fn connect(
    state: Arc<State>,
    res: &ResourceInfo,
    info: &RequestInfo,
    user: &UserInfo,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET && req.method() != Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    // A WebSocket handshake is a GET, yet it starts a process like SPDY's POST does: it
    // needs `create` too (kube-apiserver's AuthorizePodWebsocketUpgradeCreatePermission).
    if req.method() == Method::GET {
        let mut create = info.clone();
        create.verb = "create".into();
        authz::authorize(&state, user, &create)?;
    }
    let name = info.name.clone().unwrap_or_default();
    let ns = info.namespace.clone().unwrap_or_else(|| "default".into());
    let kv = state
        .store
        .get(&res.key(Some(&ns), &name))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(res, &name))?;
    let pod: Value = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
    let Some(node) = pod["spec"]["nodeName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
    else {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    };
    let query = req.uri().query().unwrap_or("").to_string();
    let path = match info.subresource.as_deref() {
        Some("portforward") => format!("/portForward/{ns}/{name}"),
        Some(sub) => {
            let asked = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "container")
                .map(|(_, v)| v.into_owned());
            let c = container(&pod, &name, asked.as_deref())?;
            format!("/{sub}/{ns}/{name}/{c}")
        }
        None => return Err(ApiError::not_found_path()),
    };
    let path_and_query = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    kubelet_client::upgrade(&state, &node, &path_and_query, req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn picks_and_checks_the_container() {
        let one = json!({"spec": {"containers": [{"name": "web"}]}});
        assert_eq!(container(&one, "p", None).unwrap(), "web");
        assert_eq!(container(&one, "p", Some("web")).unwrap(), "web");
        let e = container(&one, "p", Some("db")).unwrap_err();
        assert_eq!(
            (e.code, e.to_status()["message"].as_str().unwrap()),
            (400, "container db is not valid for pod p")
        );
        let two = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}],
            "initContainers": [{"name": "i"}]}});
        let e = container(&two, "p", None).unwrap_err();
        assert_eq!(
            e.to_status()["message"],
            "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]"
        );
        assert_eq!(container(&two, "p", Some("i")).unwrap(), "i");
    }
}
