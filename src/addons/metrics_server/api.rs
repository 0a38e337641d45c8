//! The `metrics.k8s.io/v1beta1` API over HTTPS: discovery, NodeMetrics and PodMetrics,
//! each request authenticated and then authorized by a SubjectAccessReview.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::authorization::v1::ResourceAttributes;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::scrape::rate;
use super::Server;
use crate::apiserver::aggregator::PROXY_CLIENT;
use crate::apiserver::authn::{self, UserInfo};
use crate::apiserver::delegated;
use crate::apiserver::selectors::LabelSelector;

const GROUP_VERSION: &str = "metrics.k8s.io/v1beta1";

fn respond(code: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Full<Bytes>> {
    respond(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

/// Serve until the listener fails; `ca_pem` verifies client certificates.
pub async fn serve(listener: TcpListener, server: Arc<Server>, ca_pem: &str) -> Result<(), String> {
    let names = vec![
        "metrics-server.kube-system.svc".to_string(),
        "metrics-server.kube-system.svc.cluster.local".to_string(),
    ];
    let self_signed = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
    let pair = crate::pki::CertPair {
        cert_pem: self_signed.cert.pem(),
        key_pem: self_signed.signing_key.serialize_pem(),
    };
    let tls = authn::server_config(&pair, ca_pem).map_err(|e| e.to_string())?;
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let server = server.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let cert_user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(authn::user_from_certificates);
            let svc = service_fn(move |req| {
                let server = server.clone();
                let cert_user = cert_user.clone();
                async move { Ok::<_, Infallible>(route(&server, cert_user.as_ref(), req).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}

/// Who asks: the user the aggregator vouches for, or the caller's own credentials.
async fn caller(
    server: &Server,
    cert_user: Option<&UserInfo>,
    headers: &HeaderMap,
) -> Option<UserInfo> {
    let all = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    };
    match cert_user {
        Some(u) if u.name == PROXY_CLIENT => {
            let name = all("x-remote-user").into_iter().next()?;
            Some(UserInfo {
                name,
                groups: all("x-remote-group"),
                uid: String::new(),
            })
        }
        Some(u) => Some(u.clone()),
        None => delegated::token_user(&server.client, delegated::bearer(headers)?).await,
    }
}

async fn allowed(
    server: &Server,
    user: &UserInfo,
    verb: &str,
    resource: &str,
    ns: Option<&str>,
    name: Option<&str>,
) -> bool {
    let attrs = ResourceAttributes {
        group: Some("metrics.k8s.io".into()),
        version: Some("v1beta1".into()),
        resource: Some(resource.into()),
        verb: Some(verb.into()),
        namespace: ns.map(str::to_string),
        name: name.map(str::to_string),
        ..Default::default()
    };
    delegated::allowed(&server.client, user, attrs).await
}

async fn route(
    server: &Server,
    cert_user: Option<&UserInfo>,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    if matches!(path.as_str(), "/healthz" | "/livez") {
        return Response::new(Full::new(Bytes::from_static(b"ok")));
    }
    if path == "/readyz" {
        return if server.metrics.read().await.scraped {
            Response::new(Full::new(Bytes::from_static(b"ok")))
        } else {
            status(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "no scrape has finished yet",
            )
        };
    }
    let Some(user) = caller(server, cert_user, req.headers()).await else {
        return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    };
    let query: HashMap<String, String> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let selector = match query.get("labelSelector").map(|s| LabelSelector::parse(s)) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("invalid labelSelector: {e}"),
            )
        }
        None => None,
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["apis"] => respond(
            StatusCode::OK,
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group()]}),
        ),
        ["apis", "metrics.k8s.io"] => respond(StatusCode::OK, group()),
        ["apis", "metrics.k8s.io", "v1beta1"] => respond(StatusCode::OK, resources()),
        ["apis", "metrics.k8s.io", "v1beta1", "nodes", rest @ ..] if rest.len() <= 1 => {
            let name = rest.first().copied();
            let verb = if name.is_some() { "get" } else { "list" };
            if !allowed(server, &user, verb, "nodes", None, name).await {
                return forbidden(&user, verb, "nodes", None);
            }
            nodes(server, name, selector.as_ref()).await
        }
        ["apis", "metrics.k8s.io", "v1beta1", "pods"] => {
            if !allowed(server, &user, "list", "pods", None, None).await {
                return forbidden(&user, "list", "pods", None);
            }
            pods(server, None, None, selector.as_ref()).await
        }
        ["apis", "metrics.k8s.io", "v1beta1", "namespaces", ns, "pods", rest @ ..]
            if rest.len() <= 1 =>
        {
            let name = rest.first().copied();
            let verb = if name.is_some() { "get" } else { "list" };
            if !allowed(server, &user, verb, "pods", Some(ns), name).await {
                return forbidden(&user, verb, "pods", Some(ns));
            }
            pods(server, Some(ns), name, selector.as_ref()).await
        }
        _ => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}

fn forbidden(
    user: &UserInfo,
    verb: &str,
    resource: &str,
    ns: Option<&str>,
) -> Response<Full<Bytes>> {
    let scope = match ns {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    status(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &format!("{resource}.metrics.k8s.io is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"metrics.k8s.io\" {scope}", user.name),
    )
}

fn label_map(l: &BTreeMap<String, String>) -> serde_json::Map<String, Value> {
    l.iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

fn group() -> Value {
    let v = json!({"groupVersion": GROUP_VERSION, "version": "v1beta1"});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": "metrics.k8s.io", "versions": [v], "preferredVersion": v})
}

fn resources() -> Value {
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": [
        {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"]},
        {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]},
    ]})
}

/// CPU in nanocores and memory in bytes, as Quantities.
fn usage(cores: f64, bytes: f64) -> Value {
    json!({"cpu": format!("{}n", (cores * 1e9).round() as u64), "memory": quantity_bytes(bytes as u64)})
}

fn quantity_bytes(b: u64) -> String {
    if b > 0 && b.is_multiple_of(1024) {
        format!("{}Ki", b / 1024)
    } else {
        b.to_string()
    }
}

fn timestamp(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A window as Go prints a `time.Duration` of whole milliseconds (`15s`, `15.012s`).
fn window(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as u64;
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        let frac = format!("{:03}", ms % 1000);
        format!("{}.{}s", ms / 1000, frac.trim_end_matches('0'))
    }
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

async fn nodes(
    server: &Server,
    name: Option<&str>,
    selector: Option<&LabelSelector>,
) -> Response<Full<Bytes>> {
    let m = server.metrics.read().await;
    let mut items = Vec::new();
    let mut names: Vec<&String> = m.nodes.keys().collect();
    names.sort();
    for n in names {
        if name.is_some_and(|w| w != n) {
            continue;
        }
        let (labels, series) = &m.nodes[n];
        if selector.is_some_and(|s| !s.matches(&label_map(labels))) {
            continue;
        }
        let (Some(prev), Some(last)) = (&series.prev, &series.last) else {
            continue;
        };
        let Some((cores, bytes, secs, at)) = rate(prev, last) else {
            continue;
        };
        items.push(json!({
            "metadata": {"name": n, "creationTimestamp": now(), "labels": labels},
            "timestamp": timestamp(at), "window": window(secs), "usage": usage(cores, bytes),
        }));
    }
    match name {
        Some(n) => match items.pop() {
            Some(mut item) => {
                item["kind"] = json!("NodeMetrics");
                item["apiVersion"] = json!(GROUP_VERSION);
                respond(StatusCode::OK, item)
            }
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("nodemetrics.metrics.k8s.io \"{n}\" not found"),
            ),
        },
        None => respond(
            StatusCode::OK,
            json!({"kind": "NodeMetricsList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}),
        ),
    }
}

async fn pods(
    server: &Server,
    ns: Option<&str>,
    name: Option<&str>,
    selector: Option<&LabelSelector>,
) -> Response<Full<Bytes>> {
    // Pod labels come from the API, so selectors (the HPA's) match what kubectl sees.
    let labels: Option<HashMap<(String, String), BTreeMap<String, String>>> = match selector {
        None => None,
        Some(_) => {
            let api: Api<Pod> = match ns {
                Some(ns) => Api::namespaced(server.client.clone(), ns),
                None => Api::all(server.client.clone()),
            };
            match api.list(&ListParams::default()).await {
                Ok(list) => Some(
                    list.items
                        .into_iter()
                        .map(|p| {
                            (
                                (
                                    p.metadata.namespace.clone().unwrap_or_default(),
                                    p.metadata.name.clone().unwrap_or_default(),
                                ),
                                p.metadata.labels.unwrap_or_default(),
                            )
                        })
                        .collect(),
                ),
                Err(e) => {
                    return status(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        &e.to_string(),
                    )
                }
            }
        }
    };
    let m = server.metrics.read().await;
    let mut by_pod: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    let mut meta: HashMap<(String, String), (f64, i64)> = HashMap::new();
    for ((pns, pod, container), series) in &m.containers {
        if ns.is_some_and(|w| w != pns) || name.is_some_and(|w| w != pod) {
            continue;
        }
        let key = (pns.clone(), pod.clone());
        if let (Some(sel), Some(labels)) = (selector, &labels) {
            match labels.get(&key) {
                Some(l) if sel.matches(&label_map(l)) => {}
                _ => continue,
            }
        }
        let (Some(prev), Some(last)) = (&series.prev, &series.last) else {
            continue;
        };
        let Some((cores, bytes, secs, at)) = rate(&prev.point, &last.point) else {
            continue;
        };
        meta.insert(key.clone(), (secs, at));
        by_pod
            .entry(key)
            .or_default()
            .push(json!({"name": container, "usage": usage(cores, bytes)}));
    }
    let mut items: Vec<Value> = by_pod
        .into_iter()
        .map(|((pns, pod), mut containers)| {
            containers.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            let (secs, at) = meta.get(&(pns.clone(), pod.clone())).copied().unwrap_or((0.0, 0));
            let labels = labels
                .as_ref()
                .and_then(|l| l.get(&(pns.clone(), pod.clone())).cloned())
                .unwrap_or_default();
            json!({
                "metadata": {"name": pod, "namespace": pns, "creationTimestamp": now(), "labels": labels},
                "timestamp": timestamp(at), "window": window(secs), "containers": containers,
            })
        })
        .collect();
    match name {
        Some(n) => match items.pop() {
            Some(mut item) => {
                item["kind"] = json!("PodMetrics");
                item["apiVersion"] = json!(GROUP_VERSION);
                respond(StatusCode::OK, item)
            }
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!(
                    "podmetrics.metrics.k8s.io \"{}/{n}\" not found",
                    ns.unwrap_or_default()
                ),
            ),
        },
        None => respond(
            StatusCode::OK,
            json!({"kind": "PodMetricsList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_as_metrics_server_writes_them() {
        assert_eq!(
            usage(0.25, 4096.0),
            json!({"cpu": "250000000n", "memory": "4Ki"})
        );
        assert_eq!(quantity_bytes(1000), "1000");
        assert_eq!(window(15.0), "15s");
        assert_eq!(window(15.012), "15.012s");
        assert_eq!(window(4.5), "4.5s");
        assert_eq!(timestamp(1796385600000), "2026-12-04T12:00:00Z");
    }
}
