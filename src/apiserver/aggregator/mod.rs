//! API aggregation (kube-aggregator): an APIService whose `spec.service` names an
//! in-cluster Service takes over `/apis/<group>/<version>`; requests there are proxied to
//! the Service's endpoints, its resources appear in discovery once its own discovery
//! answers, and its `Available` condition says whether it does.

pub mod backend;

/// The common name of the certificate the aggregator presents to backends (the
/// `requestheader-allowed-names` of a real cluster).
pub const PROXY_CLIENT: &str = "front-proxy-client";

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Response};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use backend::{Target, Unavailable};

use super::authn::UserInfo;
use super::bootstrap::internal_ctx;
use super::handlers::{guaranteed_update, Change};
use super::http::{full, Body};
use super::status::ApiError;
use super::{object, State};
use crate::resources::registry::{ResourceInfo, Subresource};
use crate::resources::strategy::Strategy;
use crate::store::EventKind;

const GROUP: &str = "apiregistration.k8s.io";
/// How often unavailable and available backends are checked again.
const RECHECK: Duration = Duration::from_secs(5);

/// The proxied group-versions, with their backends.
#[derive(Default)]
pub struct Aggregator {
    targets: RwLock<HashMap<(String, String), Target>>,
}

impl Aggregator {
    /// The backend serving `/apis/<group>/<version>`, if an available APIService claims it.
    pub fn target(&self, group: &str, version: &str) -> Option<Target> {
        self.targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(group.to_string(), version.to_string()))
            .cloned()
    }

    fn set(&self, group: &str, version: &str, t: Option<Target>) {
        let mut map = self.targets.write().unwrap_or_else(|e| e.into_inner());
        let key = (group.to_string(), version.to_string());
        match t {
            Some(t) => {
                map.insert(key, t);
            }
            None => {
                map.remove(&key);
            }
        }
    }
}

/// Proxy a request for an aggregated group-version to its backend.
pub async fn proxy(
    state: &State,
    target: &Target,
    user: &UserInfo,
    method: http::Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Body>, ApiError> {
    match backend::send(
        state,
        target,
        Some(user),
        method,
        path_and_query,
        headers,
        body,
    )
    .await
    {
        Ok(resp) => {
            let (parts, bytes) = resp.into_parts();
            Ok(Response::from_parts(parts, full(bytes)))
        }
        Err(e) => Err(ApiError::unavailable(format!(
            "the server is currently unable to handle the request: {}",
            e.message
        ))),
    }
}

fn target_of(svc: &Value, apiservice: &Value) -> Option<Target> {
    Some(Target {
        namespace: svc.get("namespace")?.as_str()?.to_string(),
        name: svc.get("name")?.as_str()?.to_string(),
        port: svc
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(443),
        insecure: apiservice
            .pointer("/spec/insecureSkipTLSVerify")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ca_bundle: apiservice
            .pointer("/spec/caBundle")
            .and_then(Value::as_str)
            .and_then(|b| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(b).ok()
            }),
    })
}

/// Resources from an APIResourceList, as registry entries for discovery.
fn resources_of(group: &str, version: &str, list: &Value) -> Vec<ResourceInfo> {
    let items: Vec<&Value> = list
        .get("resources")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let strings = |v: &Value, k: &str| object::string_list(v.get(k));
    let mut out = Vec::new();
    for r in &items {
        let Some(name) = r.get("name").and_then(Value::as_str) else {
            continue;
        };
        if name.contains('/') {
            continue;
        }
        let subresources = items
            .iter()
            .filter_map(|s| {
                let full = s.get("name")?.as_str()?;
                let sub = full.strip_prefix(&format!("{name}/"))?;
                Some(Subresource {
                    name: sub.to_string(),
                    group: group.to_string(),
                    version: version.to_string(),
                    kind: s
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    verbs: strings(s, "verbs"),
                })
            })
            .collect();
        let kind = r
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        out.push(ResourceInfo {
            group: group.to_string(),
            version: version.to_string(),
            singular: r
                .get("singularName")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| kind.to_lowercase()),
            kind,
            plural: name.to_string(),
            short_names: strings(r, "shortNames"),
            categories: strings(r, "categories"),
            namespaced: r
                .get("namespaced")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            verbs: strings(r, "verbs"),
            subresources,
            stored: true,
            storage: String::new(),
            // Served by the extension API server; nothing here writes these objects.
            strategy: Strategy::PLAIN,
        });
    }
    out
}

/// Check one APIService and record what was found: proxy table, discovery, status.
async fn check(state: &Arc<State>, apiservice: &Value, known: &mut HashMap<String, Vec<String>>) {
    let name = object::name(apiservice).to_string();
    let group = apiservice
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let version = apiservice
        .pointer("/spec/version")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let service = apiservice.pointer("/spec/service").filter(|s| !s.is_null());
    let (status, reason, message) = match service.and_then(|s| target_of(s, apiservice)) {
        None => (
            "True",
            "Local",
            "Local APIServices are always available".to_string(),
        ),
        Some(t) => {
            let path = format!("/apis/{group}/{version}");
            // kube-aggregator's availability check asks as this user.
            let checker = crate::apiserver::authn::UserInfo {
                name: "system:kube-aggregator".into(),
                groups: vec!["system:masters".into()],
                uid: String::new(),
            };
            let result = backend::send(
                state,
                &t,
                Some(&checker),
                http::Method::GET,
                &path,
                &HeaderMap::new(),
                Bytes::new(),
            )
            .await;
            let discovered = match result {
                Ok(resp) if resp.status().is_success() => {
                    serde_json::from_slice::<Value>(resp.body()).map_err(|e| Unavailable {
                        reason: "FailedDiscoveryCheck",
                        message: format!("invalid discovery document: {e}"),
                    })
                }
                Ok(resp) => Err(Unavailable {
                    reason: "FailedDiscoveryCheck",
                    message: format!(
                        "failing or missing response from {path}: bad status from {path}: {}",
                        resp.status().as_u16()
                    ),
                }),
                Err(e) => Err(e),
            };
            // Forget what this APIService served before, then serve what it serves now.
            for plural in known.remove(&name).unwrap_or_default() {
                state.registry.remove(&group, &plural);
            }
            match discovered {
                Ok(list) => {
                    let resources = resources_of(&group, &version, &list);
                    known.insert(
                        name.clone(),
                        resources.iter().map(|r| r.plural.clone()).collect(),
                    );
                    for r in resources {
                        state.registry.insert(r);
                    }
                    state.aggregator.set(&group, &version, Some(t));
                    ("True", "Passed", "all checks passed".to_string())
                }
                Err(e) => {
                    state.aggregator.set(&group, &version, None);
                    ("False", e.reason, e.message)
                }
            }
        }
    };
    let Some(ctx) = internal_ctx(state, GROUP, "v1", "apiservices", None) else {
        return;
    };
    let result = guaranteed_update(&ctx, &name, None, |mut current| {
        let now_cond = current
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|x| x["type"] == "Available"))
            .cloned();
        if now_cond.as_ref().is_some_and(|c| {
            c["status"] == status && c["reason"] == reason && c["message"] == message.as_str()
        }) {
            return Ok(Change::Unchanged);
        }
        let since = match &now_cond {
            Some(c) if c["status"] == status => c["lastTransitionTime"].clone(),
            _ => json!(object::now_rfc3339()),
        };
        current["status"] = json!({"conditions": [{
            "type": "Available", "status": status, "lastTransitionTime": since,
            "reason": reason, "message": message,
        }]});
        Ok(Change::Write(current))
    })
    .await;
    if let Err(e) = result {
        if e.code != 404 {
            tracing::debug!(apiservice = %name, error = %e.message, "updating APIService status");
        }
    }
}

/// Check every APIService now and every few seconds, and whenever one changes.
pub async fn start(state: Arc<State>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Some(res) = state.registry.lookup(GROUP, "v1", "apiservices") else {
            return;
        };
        let prefix = res.prefix(None);
        let mut known: HashMap<String, Vec<String>> = HashMap::new();
        loop {
            let rev = state.store.current_revision();
            if let Ok(listed) = state.store.range(&prefix, None, None, None).await {
                let present: Vec<String> = listed
                    .kvs
                    .iter()
                    .filter_map(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
                    .map(|a| object::name(&a).to_string())
                    .collect();
                // APIServices that are gone stop being proxied and listed.
                for gone in known
                    .keys()
                    .filter(|k| !present.contains(k))
                    .cloned()
                    .collect::<Vec<_>>()
                {
                    if let Some((version, group)) = gone.split_once('.') {
                        state.aggregator.set(group, version, None);
                        for plural in known.remove(&gone).unwrap_or_default() {
                            state.registry.remove(group, &plural);
                        }
                    }
                }
                for kv in &listed.kvs {
                    if let Ok(a) = serde_json::from_slice::<Value>(&kv.value) {
                        check(&state, &a, &mut known).await;
                    }
                }
            }
            // Sleep until an APIService changes or the recheck interval passes.
            if let Ok(mut w) = state
                .store
                .watch(&prefix, state.store.current_revision().max(rev))
                .await
            {
                let _ = tokio::time::timeout(RECHECK, async {
                    while let Some(Ok(ev)) = w.next().await {
                        if ev.kind != EventKind::Updated
                            || ev.prev.as_ref().map(|p| spec_of(&p.value))
                                != Some(spec_of(&ev.kv.value))
                        {
                            return;
                        }
                    }
                })
                .await;
            } else {
                tokio::time::sleep(RECHECK).await;
            }
        }
    })
}

fn spec_of(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("spec").cloned())
        .unwrap_or(Value::Null)
}

/// The APIServices every cluster lists for its built-in group-versions.
pub fn local_apiservices(state: &State) -> Vec<Value> {
    state
        .registry
        .groups()
        .into_iter()
        .flat_map(|(group, versions)| {
            versions.into_iter().map(move |version| {
                json!({
                    "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                    "metadata": {"name": format!("{version}.{group}"), "labels": {"kube-aggregator.kubernetes.io/automanaged": "onstart"}},
                    "spec": {"group": group, "version": version, "groupPriorityMinimum": 18000, "versionPriority": 15},
                })
            })
        })
        .filter(|a| a["spec"]["group"] != GROUP || a["spec"]["version"] == "v1")
        .collect()
}
