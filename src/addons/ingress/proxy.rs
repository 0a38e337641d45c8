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
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection_with_upgrades(TokioIo::new(io), svc)
        .await;
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
    // Like nginx's proxy_next_upstream: an endpoint that refuses (a pod going away before
    // its EndpointSlice says so) costs a retry on the next, not the request.
    let mut connected = None;
    for _ in 0..backend.endpoints.len().min(3) {
        let Some(endpoint) = backend.pick() else {
            break;
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(endpoint)).await {
            Ok(Ok(tcp)) => {
                connected = Some((tcp, endpoint));
                break;
            }
            Ok(Err(e)) => {
                tracing::debug!(%endpoint, error = %e, "endpoint refused; trying the next")
            }
            Err(_) => tracing::debug!(%endpoint, "endpoint timed out; trying the next"),
        }
    }
    let Some((tcp, endpoint)) = connected else {
        return page(StatusCode::BAD_GATEWAY, "502 Bad Gateway");
    };
    let new_path = match route {
        Some(r) => routes::rewrite(r, &path),
        None => path,
    };
    match forward(
        req,
        peer,
        https,
        &host,
        &new_path,
        tcp,
        endpoint,
        backend.https,
    )
    .await
    {
        Ok(resp) => resp,
        Err(e) => {
            tracing::warn!(backend = %backend.name, %endpoint, error = %e, "proxying");
            page(StatusCode::BAD_GATEWAY, "502 Bad Gateway")
        }
    }
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

#[allow(clippy::too_many_arguments)]
async fn forward(
    mut req: Request<Incoming>,
    peer: SocketAddr,
    https: bool,
    host: &str,
    path: &str,
    tcp: TcpStream,
    endpoint: SocketAddr,
    backend_tls: bool,
) -> Result<Response<Body>, String> {
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
    parts.uri = format!("{path}{query}")
        .parse()
        .map_err(|e| format!("{e}"))?;
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
    let out = Request::from_parts(parts, body);

    let _ = tcp.set_nodelay(true);
    let mut resp = if backend_tls {
        let cfg = crate::apiserver::aggregator::backend::accept_any_config()
            .map_err(|e| e.to_string())?;
        let name = rustls_pki_types::ServerName::IpAddress(endpoint.ip().into());
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        send(tls, out).await?
    } else {
        send(tcp, out).await?
    };
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
        return Ok(Response::from_parts(
            parts,
            Full::new(Bytes::new()).map_err(Into::into).boxed(),
        ));
    }
    let (mut parts, body) = resp.into_parts();
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    Ok(Response::from_parts(
        parts,
        body.map_err(Into::into).boxed(),
    ))
}

async fn send<S>(io: S, req: Request<Incoming>) -> Result<Response<Incoming>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    sender.send_request(req).await.map_err(|e| e.to_string())
}
