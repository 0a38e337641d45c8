//! The dashboard addon's program (`rkube dashboard-ui`, in its pod): serves the embedded page
//! and nothing else. It holds no credentials; the page talks to the API through whichever
//! proxy served it.

use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;

use super::assets;

/// What the page may load and where it may connect: only its own origin, so a page that
/// acts as the user cannot be made to send data elsewhere or be framed by another site.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; \
form-action 'none'";

/// The ETag of every asset: the binary's build is the version of its files.
fn etag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for a in assets::ALL {
            a.body.hash(&mut h);
        }
        format!("\"{:016x}\"", h.finish())
    })
}

fn respond(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return resp;
    }
    let path = req.uri().path();
    if path == "/healthz" {
        *resp.body_mut() = Full::new(Bytes::from_static(b"ok"));
        return resp;
    }
    let Some(asset) = assets::find(path) else {
        *resp.status_mut() = StatusCode::NOT_FOUND;
        *resp.body_mut() = Full::new(Bytes::from_static(b"not found\n"));
        return resp;
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::ETAG, HeaderValue::from_static(etag()));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag().as_bytes());
    if fresh {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
    } else if req.method() == Method::GET {
        *resp.body_mut() = Full::new(Bytes::from_static(asset.body));
    }
    resp
}

/// Serve the page on `0.0.0.0:port` until SIGTERM or SIGINT.
pub fn run(port: u16) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let listener = TcpListener::bind(("0.0.0.0", port)).await?;
        println!("Serving the rkube dashboard on port {port}");
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        loop {
            tokio::select! {
                _ = term.recv() => return Ok(()),
                _ = int.recv() => return Ok(()),
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    tokio::spawn(async move {
                        let svc = service_fn(|req| async move { Ok::<_, Infallible>(respond(&req)) });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                            .await;
                    });
                }
            }
        }
    })
}
