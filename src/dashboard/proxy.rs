//! The local proxy `rkube dashboard` runs on 127.0.0.1: it forwards the API paths to the
//! cluster's API server with the user's credentials, as `kubectl proxy` does, so the
//! dashboard page (served through the API server's service proxy) acts as the user.
//!
//! It refuses what a web page elsewhere could make a browser send: a `Host` that is not a
//! loopback name (DNS rebinding, minikube's CVE-2018-1002103) and cross-origin writes or
//! WebSocket upgrades (cross-site request forgery).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use super::helper::{self, Helper};
use crate::apiserver::http::{relay, Body};
use crate::pki::CertPair;

/// Why the proxy could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The credentials could not be loaded into TLS.
    #[error("loading the cluster credentials: {0}")]
    Tls(String),
}

/// The API server the proxy forwards to, and how it logs in.
pub struct Upstream {
    addr: SocketAddr,
    h2_connector: tokio_rustls::TlsConnector,
    h1_connector: tokio_rustls::TlsConnector,
    h2: Mutex<Option<hyper::client::conn::http2::SendRequest<Full<Bytes>>>>,
}

impl Upstream {
    /// The API server at `addr` (loopback), trusted through `ca_pem`, logged in as `client`.
    pub fn new(addr: SocketAddr, ca_pem: &str, client: &CertPair) -> Result<Self, ProxyError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let tls = |e: &dyn std::fmt::Display| ProxyError::Tls(e.to_string());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.map_err(|e| tls(&e))?).map_err(|e| tls(&e))?;
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(client.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| tls(&e))?;
        let key = PrivateKeyDer::from_pem_slice(client.key_pem.as_bytes()).map_err(|e| tls(&e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls(&e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| tls(&e))?;
        // Upgrades (exec, port-forward) need HTTP/1.1; everything else shares one HTTP/2
        // connection.
        let mut h1 = cfg.clone();
        h1.alpn_protocols = vec![b"http/1.1".to_vec()];
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Upstream {
            addr,
            h2_connector: tokio_rustls::TlsConnector::from(Arc::new(cfg)),
            h1_connector: tokio_rustls::TlsConnector::from(Arc::new(h1)),
            h2: Mutex::new(None),
        })
    }

    async fn tls(
        &self,
        connector: &tokio_rustls::TlsConnector,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        connector
            .connect(ServerName::IpAddress(self.addr.ip().into()), tcp)
            .await
            .map_err(|e| e.to_string())
    }

    /// One multiplexed HTTP/2 connection carries every plain request; it is made again
    /// when the API server restarts.
    async fn sender(&self) -> Result<hyper::client::conn::http2::SendRequest<Full<Bytes>>, String> {
        let mut slot = self.h2.lock().await;
        if let Some(s) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(s.clone());
        }
        let io = hyper_util::rt::TokioIo::new(self.tls(&self.h2_connector).await?);
        let (sender, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        *slot = Some(sender.clone());
        Ok(sender)
    }
}

/// Which requests the proxy lets through.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Forward,
    /// What only the program running the proxy can do (`/rkube/v1/...`).
    Helper,
    /// `/`: to the dashboard.
    Redirect,
    Refuse(StatusCode, &'static str),
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The host name of a `Host` header (`[::1]:8001` → `[::1]`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

/// Whether `host` is a loopback name, as `kubectl proxy --accept-hosts` allows by default.
fn loopback_host(host: &str) -> bool {
    matches!(
        host_name(host).to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "[::1]"
    )
}

/// Whether a request comes from a page of this origin (or from no page at all).
fn same_origin(h: &HeaderMap, host: &str) -> bool {
    if header_str(h, header::HeaderName::from_static("sec-fetch-site"))
        .is_some_and(|s| s == "cross-site" || s == "same-site")
    {
        return false;
    }
    match header_str(h, header::ORIGIN) {
        None => true,
        Some(origin) => origin.eq_ignore_ascii_case(&format!("http://{host}")),
    }
}

fn judge(method: &Method, path: &str, h: &HeaderMap) -> Verdict {
    let Some(host) = header_str(h, header::HOST).filter(|h| loopback_host(h)) else {
        return Verdict::Refuse(
            StatusCode::FORBIDDEN,
            "Host not allowed: the dashboard proxy answers only to localhost and 127.0.0.1\n",
        );
    };
    let api = |p: &str| path == p || path.starts_with(&format!("{p}/"));
    if path == "/" {
        return Verdict::Redirect;
    }
    let helper = api(helper::PREFIX);
    if !(api("/api") || api("/apis") || path == "/version" || helper) {
        return Verdict::Refuse(
            StatusCode::NOT_FOUND,
            "Not found: the dashboard proxy serves only the Kubernetes API paths\n",
        );
    }
    let writes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if (writes || h.contains_key(header::UPGRADE)) && !same_origin(h, host) {
        return Verdict::Refuse(StatusCode::FORBIDDEN, "Cross-origin request refused: only pages served by this proxy may change the cluster\n");
    }
    if helper {
        return Verdict::Helper;
    }
    Verdict::Forward
}

fn plain(code: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(crate::apiserver::http::full(text));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Hop-by-hop headers do not cross the proxy; neither do browser credentials, which the
/// API server must never mistake for the user's.
fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, upgrade: bool) {
    for (k, v) in from {
        let keep_for_upgrade = upgrade && matches!(k.as_str(), "connection" | "upgrade");
        let hop = matches!(
            k.as_str(),
            "connection"
                | "keep-alive"
                | "proxy-connection"
                | "te"
                | "trailer"
                | "transfer-encoding"
                | "upgrade"
                | "host"
                | "authorization"
                | "cookie"
        );
        if keep_for_upgrade || !hop {
            to.append(k.clone(), v.clone());
        }
    }
}

async fn forward(
    up: Arc<Upstream>,
    helper: Option<Arc<dyn Helper>>,
    req: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let path = req.uri().path().to_string();
    match judge(req.method(), &path, req.headers()) {
        Verdict::Refuse(code, text) => return Ok(plain(code, text)),
        Verdict::Helper => return Ok(helper::serve(helper.as_ref(), req).await),
        Verdict::Redirect => {
            let mut r = plain(StatusCode::TEMPORARY_REDIRECT, "");
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static(super::PATH));
            return Ok(r);
        }
        Verdict::Forward => {}
    }
    let upgrade = req.headers().contains_key(header::UPGRADE);
    let result = if upgrade {
        forward_upgrade(&up, req).await
    } else {
        forward_plain(&up, req).await
    };
    Ok(result.unwrap_or_else(|e| {
        tracing::debug!(%path, error = %e, "proxying failed");
        let mut r = Response::new(crate::apiserver::http::full(format!(
            "The dashboard proxy cannot reach the API server: {e}\n"
        )));
        *r.status_mut() = StatusCode::BAD_GATEWAY;
        r
    }))
}

fn upstream_request(
    parts: &http::request::Parts,
    authority: SocketAddr,
    upgrade: bool,
    h2: bool,
) -> Result<http::request::Builder, String> {
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    // HTTP/2 carries the authority in the URI; HTTP/1.1 in Host.
    let uri = if h2 {
        format!("https://{authority}{pq}")
    } else {
        pq.to_string()
    };
    let mut b = Request::builder().method(parts.method.clone()).uri(uri);
    let h = b.headers_mut().ok_or("bad request")?;
    copy_headers(&parts.headers, h, upgrade);
    if !h2 {
        h.insert(
            header::HOST,
            HeaderValue::from_str(&authority.to_string()).map_err(|e| e.to_string())?,
        );
    }
    Ok(b)
}

async fn forward_plain(up: &Upstream, req: Request<Incoming>) -> Result<Response<Body>, String> {
    let (parts, body) = req.into_parts();
    let body = http_body_util::Limited::new(body, crate::apiserver::http::MAX_BODY)
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let mut attempt = 0;
    let resp = loop {
        let out = upstream_request(&parts, up.addr, false, true)?
            .body(Full::new(body.clone()))
            .map_err(|e| e.to_string())?;
        let mut sender = up.sender().await?;
        match sender.send_request(out).await {
            Ok(r) => break r,
            // A connection the API server closed (it restarted) is made once more.
            Err(e) if attempt == 0 && (e.is_closed() || e.is_canceled()) => {
                *up.h2.lock().await = None;
                attempt += 1;
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    let (parts, incoming) = resp.into_parts();
    let mut back = Response::builder().status(parts.status);
    if let Some(h) = back.headers_mut() {
        copy_headers(&parts.headers, h, false);
    }
    back.body(relay(incoming)).map_err(|e| e.to_string())
}

/// A WebSocket upgrade (exec, attach, port-forward) on its own HTTP/1.1 connection; after
/// the API server's 101 both sides are joined byte for byte.
async fn forward_upgrade(up: &Upstream, req: Request<Incoming>) -> Result<Response<Body>, String> {
    let (parts, body) = req.into_parts();
    let tls = up.tls(&up.h1_connector).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let out = upstream_request(&parts, up.addr, true, false)?
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let mut resp = sender.send_request(out).await.map_err(|e| e.to_string())?;
    let mut back = Response::builder().status(resp.status());
    if let Some(h) = back.headers_mut() {
        copy_headers(
            resp.headers(),
            h,
            resp.status() == StatusCode::SWITCHING_PROTOCOLS,
        );
    }
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let upstream = hyper::upgrade::on(&mut resp);
        let client = hyper::upgrade::on(Request::from_parts(parts, body));
        tokio::spawn(async move {
            if let (Ok(a), Ok(b)) = (client.await, upstream.await) {
                let mut a = hyper_util::rt::TokioIo::new(a);
                let mut b = hyper_util::rt::TokioIo::new(b);
                let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
            }
        });
        return back
            .body(crate::apiserver::http::full(""))
            .map_err(|e| e.to_string());
    }
    let (_, incoming) = resp.into_parts();
    back.body(relay(incoming)).map_err(|e| e.to_string())
}

/// Serve the proxy on `listener` until the task is dropped; `helper`, when given, answers
/// what only the program running the proxy can do (addons, port-forwards).
pub async fn serve(
    listener: TcpListener,
    upstream: Arc<Upstream>,
    helper: Option<Arc<dyn Helper>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let up = upstream.clone();
        let helper = helper.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| forward(up.clone(), helper.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn answers_only_to_loopback_hosts() {
        for host in [
            "127.0.0.1:8001",
            "localhost:8001",
            "LOCALHOST",
            "[::1]:8001",
        ] {
            assert_eq!(
                judge(&Method::GET, "/api/v1/pods", &headers(&[("host", host)])),
                Verdict::Forward,
                "{host}"
            );
        }
        for host in [
            "evil.example:8001",
            "127.0.0.1.evil.example",
            "10.0.0.1:8001",
        ] {
            assert!(
                matches!(
                    judge(&Method::GET, "/api/v1/pods", &headers(&[("host", host)])),
                    Verdict::Refuse(StatusCode::FORBIDDEN, _)
                ),
                "{host}"
            );
        }
        assert!(matches!(
            judge(&Method::GET, "/api", &HeaderMap::new()),
            Verdict::Refuse(StatusCode::FORBIDDEN, _)
        ));
    }

    #[test]
    fn serves_only_api_paths() {
        let h = headers(&[("host", "127.0.0.1:1")]);
        assert_eq!(judge(&Method::GET, "/", &h), Verdict::Redirect);
        assert_eq!(judge(&Method::GET, "/apis", &h), Verdict::Forward);
        assert_eq!(judge(&Method::GET, "/version", &h), Verdict::Forward);
        assert_eq!(judge(&Method::GET, "/rkube/v1/addons", &h), Verdict::Helper);
        let evil = headers(&[("host", "127.0.0.1:1"), ("origin", "http://evil.example")]);
        assert!(matches!(
            judge(&Method::POST, "/rkube/v1/addons/ingress", &evil),
            Verdict::Refuse(StatusCode::FORBIDDEN, _)
        ));
        for p in ["/metrics", "/logs/", "/apisx", "/debug/pprof", "/healthz"] {
            assert!(
                matches!(
                    judge(&Method::GET, p, &h),
                    Verdict::Refuse(StatusCode::NOT_FOUND, _)
                ),
                "{p}"
            );
        }
    }

    #[test]
    fn refuses_cross_origin_writes_and_upgrades() {
        let path = "/api/v1/namespaces/default/pods";
        let ok = headers(&[("host", "127.0.0.1:9"), ("origin", "http://127.0.0.1:9")]);
        assert_eq!(judge(&Method::POST, path, &ok), Verdict::Forward);
        let cli = headers(&[("host", "127.0.0.1:9")]);
        assert_eq!(judge(&Method::DELETE, path, &cli), Verdict::Forward);
        let evil = headers(&[("host", "127.0.0.1:9"), ("origin", "http://evil.example")]);
        assert!(matches!(
            judge(&Method::POST, path, &evil),
            Verdict::Refuse(StatusCode::FORBIDDEN, _)
        ));
        // Reading is harmless: the browser keeps a cross-origin answer from the page.
        assert_eq!(judge(&Method::GET, path, &evil), Verdict::Forward);
        let ws = headers(&[
            ("host", "127.0.0.1:9"),
            ("origin", "http://evil.example"),
            ("upgrade", "websocket"),
        ]);
        assert!(matches!(
            judge(&Method::GET, path, &ws),
            Verdict::Refuse(StatusCode::FORBIDDEN, _)
        ));
        let fetch = headers(&[("host", "localhost:9"), ("sec-fetch-site", "cross-site")]);
        assert!(matches!(
            judge(&Method::PATCH, path, &fetch),
            Verdict::Refuse(StatusCode::FORBIDDEN, _)
        ));
    }

    #[test]
    fn keeps_credentials_and_hop_headers_back() {
        let h = headers(&[
            ("cookie", "a=b"),
            ("authorization", "Bearer x"),
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-protocol", "v5.channel.k8s.io"),
        ]);
        let mut out = HeaderMap::new();
        copy_headers(&h, &mut out, false);
        assert_eq!(out.len(), 1);
        let mut out = HeaderMap::new();
        copy_headers(&h, &mut out, true);
        assert_eq!(out.len(), 3);
    }
}
