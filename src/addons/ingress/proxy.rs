//! The ingress data path: HTTP on :80 and HTTPS on :443 (HTTP/1.1 and HTTP/2 from
//! clients), each request routed by the current table and passed to one ready endpoint
//! over HTTP/1.1, bodies streamed both ways, WebSocket and other upgrades spliced.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::routes::{self, Decision, Options, Table};

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// How long a backend has to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn page(code: StatusCode, title: &str) -> Response<Body> {
    let html = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>rkube ingress</center>\r\n</body>\r\n</html>\r\n"
    );
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/html")
        .body(Full::new(Bytes::from(html)).map_err(Into::into).boxed())
        .unwrap_or_default()
}

/// Serve plain HTTP (`https == false`) or the TLS side on `listener` until it fails.
pub async fn serve(
    listener: TcpListener,
    table: watch::Receiver<Arc<Table>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let table = table.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(tcp).await {
                        connection(stream, peer, table, true).await;
                    }
                }
                None => connection(tcp, peer, table, false).await,
            }
        });
    }
}

async fn connection<S>(io: S, peer: SocketAddr, table: watch::Receiver<Arc<Table>>, https: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let table = table.borrow().clone();
        async move { Ok::<_, Infallible>(handle(&table, req, peer, https).await) }
    });
    if https {
        // ALPN may have chosen HTTP/2; the auto builder reads which from the preface.
        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
            .serve_connection_with_upgrades(TokioIo::new(io), svc)
            .await;
    } else {
        // Plain HTTP is HTTP/1.1 (ingress-nginx serves no h2c): no preface to sniff.
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(io), svc)
            .with_upgrades()
            .await;
    }
}

/// The host a request names, lower-cased and without its port.
fn host_of(req: &Request<Incoming>) -> String {
    let raw = req
        .uri()
        .host()
        .map(str::to_string)
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let host = if raw.starts_with('[') {
        raw.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        raw.split(':').next().unwrap_or("").to_string()
    };
    host.to_ascii_lowercase()
}

async fn handle(
    table: &Table,
    req: Request<Incoming>,
    peer: SocketAddr,
    https: bool,
) -> Response<Body> {
    let host = host_of(&req);
    let path = req.uri().path().to_string();
    let (route, backend, options) = match table.decide(&host, &path) {
        Decision::Proxy(r) => (Some(r), r.backend.clone(), &r.options),
        Decision::Default(b, o) => (None, b.clone(), o),
        Decision::NotFound => return page(StatusCode::NOT_FOUND, "404 Not Found"),
    };
    let tls_host = table.server(&host).is_some_and(|s| s.tls);
    if !https && tls_host && options.ssl_redirect {
        let pq = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        return Response::builder()
            .status(StatusCode::PERMANENT_REDIRECT)
            .header(header::LOCATION, format!("https://{host}{pq}"))
            .body(Full::new(Bytes::new()).map_err(Into::into).boxed())
            .unwrap_or_default();
    }
    if too_large(&req, options) {
        return page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "413 Request Entity Too Large",
        );
    }
    if backend.endpoints.is_empty() {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "503 Service Temporarily Unavailable",
        );
    }
    let new_path = match route {
        Some(r) => routes::rewrite(r, &path),
        None => path,
    };
    let (out, client_upgrade) = prepare(req, peer, https, &host, &new_path);
    let replay = replayable(&out, client_upgrade.is_some()).then(|| head_of(&out));
    let mut out = out.map(Upstream::Left);
    // Like nginx's proxy_next_upstream: an endpoint that refuses (a pod going away before
    // its EndpointSlice says so), or a kept-alive connection it closed before taking the
    // request, costs a retry, not the request; so does a connection lost before the
    // answer began, for a request without a body that is safe to repeat.
    for _ in 0..backend.endpoints.len().clamp(2, 3) {
        let Some((mut sender, endpoint)) = upstream(&backend).await else {
            break;
        };
        match sender.try_send_request(out).await {
            Ok(resp) => {
                if client_upgrade.is_none() {
                    POOL.put(endpoint, sender);
                }
                return respond(resp, client_upgrade);
            }
            Err(mut e) => match (e.take_message(), &replay) {
                (Some(unsent), _) => out = unsent,
                (None, Some(head)) => {
                    tracing::debug!(backend = %backend.name, %endpoint, error = %e.error(), "retrying on another endpoint");
                    out = rebuild(head);
                }
                (None, None) => {
                    tracing::warn!(backend = %backend.name, %endpoint, error = %e.error(), "proxying");
                    return page(StatusCode::BAD_GATEWAY, "502 Bad Gateway");
                }
            },
        }
    }
    page(StatusCode::BAD_GATEWAY, "502 Bad Gateway")
}

/// Idle HTTP/1.1 connections to endpoints, kept alive between requests as nginx's
/// upstream keepalive does.
struct Pool {
    idle: std::sync::Mutex<std::collections::HashMap<SocketAddr, Vec<Sender>>>,
}

type Sender = hyper::client::conn::http1::SendRequest<Upstream>;

/// A request body on its way to a backend: the client's, or none for a repeated request.
type Upstream = http_body_util::Either<Incoming, http_body_util::Empty<Bytes>>;

/// Whether a request may be sent again after a connection failed under it: no body, no
/// upgrade, and a method that changes nothing (nginx repeats only those too).
fn replayable(req: &Request<Incoming>, upgrade: bool) -> bool {
    use hyper::body::Body as _;
    !upgrade
        && matches!(
            *req.method(),
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
        )
        && req.body().is_end_stream()
}

/// What it takes to send a bodiless request again.
fn head_of(req: &Request<Incoming>) -> (http::Method, http::Uri, http::HeaderMap) {
    (
        req.method().clone(),
        req.uri().clone(),
        req.headers().clone(),
    )
}

fn rebuild(head: &(http::Method, http::Uri, http::HeaderMap)) -> Request<Upstream> {
    let mut req = Request::new(Upstream::Right(http_body_util::Empty::new()));
    *req.method_mut() = head.0.clone();
    *req.uri_mut() = head.1.clone();
    *req.headers_mut() = head.2.clone();
    *req.version_mut() = Version::HTTP_11;
    req
}

/// Idle connections kept per endpoint.
const IDLE_PER_ENDPOINT: usize = 32;

static POOL: std::sync::LazyLock<Pool> = std::sync::LazyLock::new(|| Pool {
    idle: std::sync::Mutex::default(),
});

impl Pool {
    fn take(&self, endpoint: SocketAddr) -> Option<Sender> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(&endpoint)?;
        list.retain(|s| !s.is_closed());
        // Ready means the previous response was read to its end. One still streaming its
        // response stays pooled: it is ready again once the body is through, and dropping it
        // would close a connection nginx would keep.
        let i = list.iter().position(|s| s.is_ready())?;
        Some(list.swap_remove(i))
    }

    fn put(&self, endpoint: SocketAddr, sender: Sender) {
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(endpoint).or_default();
            list.retain(|s| !s.is_closed());
            if list.len() < IDLE_PER_ENDPOINT {
                list.push(sender);
            }
        }
    }
}

/// A connection to the next endpoint: an idle one, or a new one (skipping endpoints that
/// refuse).
async fn upstream(backend: &routes::Backend) -> Option<(Sender, SocketAddr)> {
    for _ in 0..backend.endpoints.len().min(3) {
        let endpoint = backend.pick()?;
        if let Some(s) = POOL.take(endpoint) {
            return Some((s, endpoint));
        }
        match connect(endpoint, backend.https).await {
            Ok(s) => return Some((s, endpoint)),
            Err(e) => tracing::debug!(%endpoint, error = %e, "endpoint refused; trying the next"),
        }
    }
    None
}

async fn connect(endpoint: SocketAddr, tls: bool) -> Result<Sender, String> {
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(endpoint))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    if tls {
        let cfg = crate::apiserver::aggregator::backend::accept_any_config()
            .map_err(|e| e.to_string())?;
        let name = rustls_pki_types::ServerName::IpAddress(endpoint.ip().into());
        let stream = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        handshake(stream).await
    } else {
        handshake(tcp).await
    }
}

async fn handshake<S>(io: S) -> Result<Sender, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}

fn too_large(req: &Request<Incoming>, options: &Options) -> bool {
    let Some(limit) = options.body_limit else {
        return false;
    };
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit)
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
];

fn wants_upgrade(req: &Request<Incoming>) -> bool {
    req.headers().contains_key(header::UPGRADE)
        && req
            .headers()
            .get(header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
}

/// The request as the backend gets it: the new path, HTTP/1.1, hop-by-hop headers dropped
/// (an upgrade's kept), and the X-Forwarded headers; and the client's side of an upgrade.
fn prepare(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    https: bool,
    host: &str,
    path: &str,
) -> (Request<Incoming>, Option<hyper::upgrade::OnUpgrade>) {
    let upgrade = wants_upgrade(&req);
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let original_host = req
        .headers()
        .get(header::HOST)
        .cloned()
        .or_else(|| HeaderValue::from_str(host).ok());
    let (mut parts, body) = req.into_parts();
    if let Ok(uri) = format!("{path}{query}").parse() {
        parts.uri = uri;
    }
    parts.version = Version::HTTP_11;
    let upgrade_to = parts.headers.get(header::UPGRADE).cloned();
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    if let Some(h) = original_host {
        parts.headers.insert(header::HOST, h);
    }
    if let Some(u) = upgrade_to.filter(|_| upgrade) {
        parts.headers.insert(header::UPGRADE, u);
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    let ip = peer.ip().to_string();
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prev) => format!("{prev}, {ip}"),
        None => ip.clone(),
    };
    let set = |h: &mut http::HeaderMap, k: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    };
    set(&mut parts.headers, "x-forwarded-for", &forwarded_for);
    set(&mut parts.headers, "x-real-ip", &ip);
    set(
        &mut parts.headers,
        "x-forwarded-proto",
        if https { "https" } else { "http" },
    );
    set(&mut parts.headers, "x-forwarded-host", host);
    set(
        &mut parts.headers,
        "x-forwarded-port",
        if https { "443" } else { "80" },
    );
    (Request::from_parts(parts, body), client_upgrade)
}

/// The backend's answer for the client; a `101` splices the two upgraded connections.
fn respond(
    mut resp: Response<Incoming>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<Body> {
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client) = client_upgrade {
            let backend = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                if let (Ok(c), Ok(b)) = (client.await, backend.await) {
                    let mut c = TokioIo::new(c);
                    let mut b = TokioIo::new(b);
                    let _ = tokio::io::copy_bidirectional(&mut c, &mut b).await;
                }
            });
        }
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, Full::new(Bytes::new()).map_err(Into::into).boxed());
    }
    let (mut parts, body) = resp.into_parts();
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    Response::from_parts(parts, body.map_err(Into::into).boxed())
}
