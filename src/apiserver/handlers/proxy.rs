//! `services/<[scheme:]name[:port]>/proxy/<path>` and `pods/<[scheme:]name[:port]>/proxy/<path>`:
//! kube-apiserver's proxy subresources, which forward an HTTP request to a ready endpoint of
//! the Service (or to the pod) from inside the cluster network. The dashboard's URL is one.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderMap, Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::apiserver::http::{relay, Body};
use crate::apiserver::request::RequestInfo;
use crate::apiserver::status::ApiError;
use crate::apiserver::{aggregator, http::MAX_BODY, State};
use crate::resources::registry::ResourceInfo;

/// Whether the request is for the proxy subresource of a Service or a Pod.
pub fn is_proxy(res: &ResourceInfo, info: &RequestInfo) -> bool {
    matches!(res.kind.as_str(), "Service" | "Pod") && info.subresource.as_deref() == Some("proxy")
}

/// `[scheme:]name[:port]`, as kube's `SplitSchemeNamePort` reads it.
#[derive(Debug, PartialEq, Eq)]
struct Id<'a> {
    scheme: &'a str,
    name: &'a str,
    port: &'a str,
}

fn split_id(id: &str) -> Option<Id<'_>> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return None,
    };
    (!name.is_empty() && matches!(scheme, "" | "http" | "https")).then_some(Id {
        scheme,
        name,
        port,
    })
}

/// The path after `.../<id>/proxy`, always starting with `/`.
fn forwarded_path(path: &str) -> String {
    let rest = path
        .split_once("/proxy")
        .map(|(_, r)| r)
        .unwrap_or_default();
    if rest.starts_with('/') {
        rest.to_string()
    } else {
        format!("/{rest}")
    }
}

async fn load(state: &State, res: &ResourceInfo, ns: &str, name: &str) -> Result<Value, ApiError> {
    let kv = state
        .store
        .get(&res.key(Some(ns), name))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(res, name))?;
    serde_json::from_slice(&kv.value).map_err(ApiError::internal)
}

/// A ready endpoint of the Service port `port` (a name, a number, or "" for the unnamed port).
async fn service_endpoint(
    state: &State,
    svc: &Value,
    ns: &str,
    name: &str,
    port: &str,
) -> Result<SocketAddr, ApiError> {
    // A number names the service port with that number; the endpoints carry its name.
    let port_name = match port.parse::<u64>() {
        Ok(n) => svc["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["port"].as_u64() == Some(n))
            .map(|p| p["name"].as_str().unwrap_or("").to_string())
            .ok_or_else(|| {
                ApiError::unavailable(format!("no service port {n} found for service \"{name}\""))
            })?,
        Err(_) => port.to_string(),
    };
    let no_endpoints =
        || ApiError::unavailable(format!("no endpoints available for service \"{name}\""));
    let slices = state
        .registry
        .lookup("discovery.k8s.io", "v1", "endpointslices")
        .ok_or_else(no_endpoints)?;
    let listed = state
        .store
        .range(&slices.prefix(Some(ns)), None, None, None)
        .await
        .map_err(ApiError::internal)?;
    let mut candidates = Vec::new();
    for kv in listed.kvs {
        let Ok(slice) = serde_json::from_slice::<Value>(&kv.value) else {
            continue;
        };
        if slice.pointer("/metadata/labels/kubernetes.io~1service-name") != Some(&Value::from(name))
        {
            continue;
        }
        let Some(number) = slice["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"].as_str().unwrap_or("") == port_name)
            .and_then(|p| p["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        for ep in slice["endpoints"].as_array().into_iter().flatten() {
            if ep.pointer("/conditions/ready") == Some(&Value::Bool(false)) {
                continue;
            }
            if let Some(ip) = ep["addresses"][0]
                .as_str()
                .and_then(|a| a.parse::<IpAddr>().ok())
            {
                candidates.push(SocketAddr::new(ip, number));
            }
        }
    }
    if candidates.is_empty() {
        return Err(no_endpoints());
    }
    Ok(candidates[rand::random_range(0..candidates.len())])
}

fn pod_endpoint(pod: &Value, name: &str, port: &str) -> Result<SocketAddr, ApiError> {
    let ip = pod["status"]["podIP"]
        .as_str()
        .and_then(|a| a.parse::<IpAddr>().ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!("address not allowed: pod {name} has no IP yet"))
        })?;
    let number = if port.is_empty() {
        80
    } else {
        port.parse::<u16>()
            .ok()
            .or_else(|| {
                pod["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                    .find(|p| p["name"].as_str() == Some(port))
                    .and_then(|p| p["containerPort"].as_u64())
                    .and_then(|p| u16::try_from(p).ok())
            })
            .ok_or_else(|| {
                ApiError::bad_request(format!("pod {name} has no container port named {port}"))
            })?
    };
    Ok(SocketAddr::new(ip, number))
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// Hop-by-hop headers and the caller's credentials stay at the API server.
fn forwardable(name: &header::HeaderName) -> bool {
    let n = name.as_str();
    !(matches!(
        n,
        "authorization"
            | "connection"
            | "keep-alive"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "cookie"
    ) || n.starts_with("impersonate-")
        || n.starts_with("x-remote-"))
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (k, v) in from {
        if forwardable(k) {
            to.append(k.clone(), v.clone());
        }
    }
}

/// Forward the request (already authorized) to its Service endpoint or pod.
pub async fn forward(
    state: Arc<State>,
    res: &ResourceInfo,
    info: &RequestInfo,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let ns = info.namespace.clone().unwrap_or_else(|| "default".into());
    let raw = info.name.clone().unwrap_or_default();
    let id = split_id(&raw)
        .ok_or_else(|| ApiError::bad_request(format!("invalid service request {raw:?}")))?;
    let object = load(&state, res, &ns, id.name).await?;
    let addr = if res.kind == "Service" {
        service_endpoint(&state, &object, &ns, id.name, id.port).await?
    } else {
        pod_endpoint(&object, id.name, id.port)?
    };
    let path = forwarded_path(&info.path);
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let (parts, body) = req.into_parts();
    let body = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| ApiError::too_large())?
        .to_bytes();
    let uri: Uri = path_and_query
        .parse()
        .map_err(|_| ApiError::bad_request("invalid proxy path"))?;
    let mut out = Request::builder().method(parts.method).uri(uri);
    if let Some(h) = out.headers_mut() {
        copy_headers(&parts.headers, h);
        h.insert(
            header::HOST,
            addr.to_string().parse().map_err(ApiError::internal)?,
        );
    }
    let out = out
        .body(http_body_util::Full::new(body))
        .map_err(ApiError::internal)?;
    let unreachable =
        |e: String| ApiError::unavailable(format!("error trying to reach {addr}: {e}"));
    let exchange = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let resp = if id.scheme == "https" {
            let cfg = aggregator::backend::accept_any_config().map_err(|e| e.to_string())?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
                .connect(ServerName::IpAddress(addr.ip().into()), tcp)
                .await
                .map_err(|e| e.to_string())?;
            send(hyper_util::rt::TokioIo::new(tls), out).await?
        } else {
            send(hyper_util::rt::TokioIo::new(tcp), out).await?
        };
        Ok::<_, String>(resp)
    };
    let resp = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(unreachable)?;
    let (parts, incoming) = resp.into_parts();
    let mut back = Response::builder().status(parts.status);
    if let Some(h) = back.headers_mut() {
        copy_headers(&parts.headers, h);
        h.remove(header::SET_COOKIE);
    }
    // Streamed: a backend's long response (logs, events) passes as it comes.
    back.body(relay(incoming)).map_err(ApiError::internal)
}

async fn send<T>(
    io: T,
    req: Request<http_body_util::Full<bytes::Bytes>>,
) -> Result<Response<Incoming>, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_scheme_name_port() {
        let id = |s, n, p| {
            Some(Id {
                scheme: s,
                name: n,
                port: p,
            })
        };
        assert_eq!(split_id("web"), id("", "web", ""));
        assert_eq!(split_id("web:8080"), id("", "web", "8080"));
        assert_eq!(
            split_id("http:kubernetes-dashboard:"),
            id("http", "kubernetes-dashboard", "")
        );
        assert_eq!(split_id("https:web:api"), id("https", "web", "api"));
        assert_eq!(split_id("ftp:web:21"), None);
        assert_eq!(split_id(":80"), None);
        assert_eq!(split_id("a:b:c:d"), None);
    }

    #[test]
    fn forwards_the_rest_of_the_path() {
        let p =
            "/api/v1/namespaces/kubernetes-dashboard/services/http:kubernetes-dashboard:/proxy/";
        assert_eq!(forwarded_path(p), "/");
        assert_eq!(forwarded_path(&format!("{p}app.js")), "/app.js");
        assert_eq!(forwarded_path("/api/v1/namespaces/d/pods/web/proxy"), "/");
    }

    #[test]
    fn pod_ports_by_number_name_or_default() {
        let pod = json!({"status": {"podIP": "10.0.0.5"},
            "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]}});
        assert_eq!(
            pod_endpoint(&pod, "p", "").unwrap(),
            "10.0.0.5:80".parse().unwrap()
        );
        assert_eq!(
            pod_endpoint(&pod, "p", "http").unwrap(),
            "10.0.0.5:8080".parse().unwrap()
        );
        assert_eq!(
            pod_endpoint(&pod, "p", "9000").unwrap(),
            "10.0.0.5:9000".parse().unwrap()
        );
        assert_eq!(pod_endpoint(&pod, "p", "grpc").unwrap_err().code, 400);
        assert_eq!(pod_endpoint(&json!({}), "p", "").unwrap_err().code, 400);
    }

    #[test]
    fn credentials_and_hop_headers_stay_behind() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer x".parse().unwrap());
        h.insert("impersonate-user", "root".parse().unwrap());
        h.insert("connection", "close".parse().unwrap());
        h.insert("accept", "text/html".parse().unwrap());
        let mut out = HeaderMap::new();
        copy_headers(&h, &mut out);
        assert_eq!(out.len(), 1);
        assert!(out.contains_key("accept"));
    }
}
