//! The kubelet's HTTPS endpoint (port 10250): container logs for the API server's
//! `pods/log`, the exec/attach/port-forward streams behind `pods/exec` and friends, and
//! resource metrics. As a real kubelet with anonymous auth off and webhook authorization:
//! every request, `/healthz` included, needs a client certificate or a bearer token, and
//! what RBAC grants on `nodes/proxy` (or `nodes/stats`, `nodes/metrics`, `nodes/healthz`)
//! by a SubjectAccessReview.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::runtime::{ContainerRuntime, LogOptions};
use super::Kubelet;
use super::{stats, streaming};
use crate::apiserver::authn::{self, UserInfo};
use crate::apiserver::delegated;

/// The kubelet port.
pub const PORT: i32 = 10250;
/// The user the API server presents to kubelets.
pub const APISERVER_CLIENT: &str = "kube-apiserver-kubelet-client";

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn text(code: StatusCode, msg: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(msg.to_string())).boxed())
        .unwrap_or_default()
}

/// Callers that need no review: the API server's kubelet-client certificate (upstream binds
/// it to `system:kubelet-api-admin`) and `system:masters`, whom no authorizer denies.
fn allowed(user: Option<&UserInfo>) -> bool {
    user.is_some_and(|u| {
        u.name == APISERVER_CLIENT || u.groups.iter().any(|g| g == "system:masters")
    })
}

/// The SubjectAccessReview verb and `nodes` subresource of a request, as the kubelet's
/// `GetRequestAttributes` maps them: the HTTP method gives the verb; `/healthz`, `/stats/*`,
/// `/metrics/*` and `/logs/*` have their own subresource and every other path (container
/// logs, exec, attach, port-forward) is `proxy`.
pub fn attributes(method: &http::Method, path: &str) -> (&'static str, &'static str) {
    let verb = match *method {
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "get",
    };
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let sub = if under("/healthz") {
        "healthz"
    } else if under("/stats") {
        "stats"
    } else if under("/metrics") {
        "metrics"
    } else if under("/logs") {
        "log"
    } else {
        "proxy"
    };
    (verb, sub)
}

/// Authenticate the caller (client certificate, else bearer token through a TokenReview)
/// and authorize the request with a SubjectAccessReview on `nodes/<sub>` of this node, as
/// the kubelet does in webhook mode: no credentials is 401, a denied review 403.
async fn authorize<B>(
    client: &kube::Client,
    node_name: &str,
    cert_user: Option<&UserInfo>,
    req: &Request<B>,
) -> Result<(), Response<Body>> {
    use k8s_openapi::api::authorization::v1::ResourceAttributes;
    if allowed(cert_user) {
        return Ok(());
    }
    let user = match (cert_user, delegated::bearer(req.headers())) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(t)) => delegated::token_user(client, t).await,
        (None, None) => None,
    };
    let Some(user) = user else {
        return Err(text(StatusCode::UNAUTHORIZED, "Unauthorized"));
    };
    let (verb, sub) = attributes(req.method(), req.uri().path());
    let attrs = ResourceAttributes {
        verb: Some(verb.into()),
        version: Some("v1".into()),
        resource: Some("nodes".into()),
        subresource: Some(sub.into()),
        name: Some(node_name.to_string()),
        ..Default::default()
    };
    // Like the kubelet's fine-grained authorization: `nodes/healthz`, else `nodes/proxy`.
    let fallback = (sub == "healthz").then(|| ResourceAttributes {
        subresource: Some("proxy".into()),
        ..attrs.clone()
    });
    if delegated::allowed(client, &user, attrs).await {
        return Ok(());
    }
    if let Some(proxy) = fallback {
        if delegated::allowed(client, &user, proxy).await {
            return Ok(());
        }
    }
    Err(text(
        StatusCode::FORBIDDEN,
        &format!(
            "Forbidden (user={}, verb={verb}, resource=nodes, subresource(s)=[{sub}])",
            user.name
        ),
    ))
}

/// Serve until aborted. The listener is shared so a restarted server keeps the port.
pub async fn serve<R: ContainerRuntime>(
    listener: Arc<TcpListener>,
    tls: Arc<rustls::ServerConfig>,
    kubelet: Arc<Kubelet<R>>,
) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        // Interactive streams (exec, attach) send small writes that must not wait.
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let kubelet = kubelet.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(authn::user_from_certificates);
            let svc = service_fn(move |req| {
                let kubelet = kubelet.clone();
                let user = user.clone();
                async move { Ok::<_, Infallible>(route(kubelet, user.as_ref(), req).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                .await
            {
                tracing::debug!(%peer, error = %e, "kubelet connection ended");
            }
        });
    }
}

async fn route<R: ContainerRuntime>(
    kubelet: Arc<Kubelet<R>>,
    user: Option<&UserInfo>,
    req: Request<hyper::body::Incoming>,
) -> Response<Body> {
    if let Err(denied) = authorize(&kubelet.client, &kubelet.cfg.node_name, user, &req).await {
        return denied;
    }
    if req.uri().path() == "/healthz" {
        return text(StatusCode::OK, "ok");
    }
    let metrics = match req.uri().path() {
        "/metrics/resource" => Some("metrics"),
        "/stats/summary" => Some("stats"),
        _ => None,
    };
    if let Some(sub) = metrics {
        let node = &kubelet.cfg.node_name;
        let snap = match kubelet.stats.snapshot(&*kubelet.runtime, node).await {
            Ok(s) => s,
            Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        };
        let (kind, body) = if sub == "metrics" {
            (
                "text/plain; version=0.0.4; charset=utf-8",
                stats::prometheus(&snap),
            )
        } else {
            ("application/json", stats::summary(&snap, node).to_string())
        };
        return Response::builder()
            .header("content-type", kind)
            .body(Full::new(Bytes::from(body)).boxed())
            .unwrap_or_default();
    }
    let path = req.uri().path().to_string();
    let query: HashMap<String, String> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["containerLogs", ns, pod, container] => {
            container_logs(&kubelet, ns, pod, container, &query).await
        }
        [kind @ ("exec" | "attach"), ns, pod, container] => {
            let attach = *kind == "attach";
            let (ns, pod, container) = (ns.to_string(), pod.to_string(), container.to_string());
            streaming::remote_command(kubelet, req, &ns, &pod, &container, attach).await
        }
        ["portForward", ns, pod] => {
            let (ns, pod) = (ns.to_string(), pod.to_string());
            streaming::port_forward(kubelet, req, &ns, &pod).await
        }
        _ => text(StatusCode::NOT_FOUND, "404 page not found"),
    }
}

fn parse_bool(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "true" || v == "1")
}

async fn container_logs<R: ContainerRuntime>(
    kubelet: &Kubelet<R>,
    ns: &str,
    pod_name: &str,
    container: &str,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let pods: Api<Pod> = Api::namespaced(kubelet.client.clone(), ns);
    let pod = match pods.get_opt(pod_name).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return text(
                StatusCode::NOT_FOUND,
                &format!("pod \"{pod_name}\" not found"),
            )
        }
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let mut instances: Vec<_> = match kubelet.runtime.list(Some(&uid)).await {
        Ok(all) => all
            .into_iter()
            .filter(|c| !c.sandbox && c.name == container)
            .collect(),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    instances.sort_by_key(|c| std::cmp::Reverse(c.attempt));
    let previous = parse_bool(q, "previous");
    let chosen = if previous {
        instances.get(1)
    } else {
        instances.first()
    };
    let Some(chosen) = chosen else {
        if previous {
            return text(
                StatusCode::BAD_REQUEST,
                &format!(
                    "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
                ),
            );
        }
        let reason = pod
            .status
            .as_ref()
            .and_then(|s| {
                s.container_statuses
                    .iter()
                    .chain(s.init_container_statuses.iter())
                    .flatten()
                    .find(|c| c.name == container)
                    .cloned()
            })
            .and_then(|c| c.state)
            .and_then(|s| s.waiting)
            .and_then(|w| w.reason)
            .unwrap_or_else(|| "ContainerCreating".into());
        return text(
            StatusCode::BAD_REQUEST,
            &format!(
                "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
            ),
        );
    };
    let since = if let Some(s) = q.get("sinceSeconds").and_then(|s| s.parse::<i64>().ok()) {
        Some(jiff::Timestamp::now().as_second() - s)
    } else {
        q.get("sinceTime")
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_second())
    };
    let opts = LogOptions {
        follow: parse_bool(q, "follow") && !previous,
        tail: q.get("tailLines").and_then(|t| t.parse().ok()),
        since,
        timestamps: parse_bool(q, "timestamps"),
    };
    let mut limit: Option<usize> = q.get("limitBytes").and_then(|l| l.parse().ok());
    let stream = match kubelet.runtime.logs(&chosen.id, &opts).await {
        Ok(s) => s,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let chunks = stream
        .take_while(|r| futures::future::ready(r.is_ok()))
        .filter_map(|r| futures::future::ready(r.ok()))
        .map(move |mut chunk| {
            if let Some(left) = limit.as_mut() {
                if chunk.len() > *left {
                    chunk.truncate(*left);
                }
                *left -= chunk.len();
            }
            chunk
        })
        .take_while(|c| futures::future::ready(!c.is_empty()));
    // The runtime's stream is not Sync; a task feeds the body through a channel.
    tokio::spawn(async move {
        futures::pin_mut!(chunks);
        while let Some(c) = chunks.next().await {
            if tx.send(c).await.is_err() {
                break;
            }
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|c| (Ok::<_, Infallible>(Frame::data(c)), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain")
        .body(BodyExt::boxed(StreamBody::new(body)))
        .unwrap_or_default()
}

/// Bind the kubelet port on `addr`.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_follow_the_kubelets_mapping() {
        let get = http::Method::GET;
        let post = http::Method::POST;
        assert_eq!(attributes(&get, "/healthz"), ("get", "healthz"));
        assert_eq!(attributes(&get, "/stats/summary"), ("get", "stats"));
        assert_eq!(attributes(&get, "/stats"), ("get", "stats"));
        assert_eq!(attributes(&get, "/metrics/resource"), ("get", "metrics"));
        assert_eq!(attributes(&get, "/logs/syslog"), ("get", "log"));
        assert_eq!(
            attributes(&get, "/containerLogs/default/web/app"),
            ("get", "proxy")
        );
        assert_eq!(
            attributes(&post, "/exec/default/web/app"),
            ("create", "proxy")
        );
        assert_eq!(
            attributes(&post, "/portForward/default/web"),
            ("create", "proxy")
        );
        assert_eq!(attributes(&get, "/pods"), ("get", "proxy"));
        // A path that only starts like a mapped one is not under it.
        assert_eq!(attributes(&get, "/statsfoo"), ("get", "proxy"));
        assert_eq!(attributes(&http::Method::DELETE, "/x"), ("delete", "proxy"));
    }

    /// A client whose API server never answers: every review fails, and a failed review
    /// must deny.
    fn unreachable_client() -> kube::Client {
        let cfg = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
        kube::Client::try_from(cfg).unwrap()
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            uid: String::new(),
        }
    }

    async fn status(user: Option<&UserInfo>, token: Option<&str>, path: &str) -> u16 {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req.body(()).unwrap();
        match authorize(&unreachable_client(), "n1", user, &req).await {
            Ok(()) => 200,
            Err(r) => r.status().as_u16(),
        }
    }

    #[tokio::test]
    async fn every_path_needs_credentials_and_a_review() {
        for path in ["/containerLogs/default/web/app", "/stats/summary", "/pods"] {
            assert_eq!(status(None, None, path).await, 401, "{path}");
        }
        // A token the API server cannot confirm is no identity.
        assert_eq!(
            status(None, Some("nope"), "/containerLogs/a/b/c").await,
            401
        );
        // A certificate user is reviewed; an unanswered review denies.
        let someone = user("system:node:n2", &["system:nodes"]);
        assert_eq!(status(Some(&someone), None, "/exec/a/b/c").await, 403);
        // The API server's certificate and system:masters pass without a review.
        let apiserver = user(APISERVER_CLIENT, &[]);
        assert_eq!(status(Some(&apiserver), None, "/exec/a/b/c").await, 200);
        let admin = user("rkube-user", &["system:masters"]);
        assert_eq!(status(Some(&admin), None, "/portForward/a/b").await, 200);
    }
}
