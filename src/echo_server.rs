//! `rkube echo-server`: the HTTP echo server of the minikube tutorials (the role of
//! `kicbase/echo-server`): every request is answered with the name of the pod that served
//! it, the request line and the headers, so callers can see which replica answered.
//! On the same port it also answers UDP: each datagram comes back prefixed with the pod's
//! name, which gives UDP services something to reach.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;

/// The port listened on unless `PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 8080;

/// How long in-flight requests get to finish after SIGTERM.
const DRAIN: Duration = Duration::from_secs(10);

/// Who answers: `POD_NAME`, else the hostname (the pod's name in a pod).
pub fn identity() -> String {
    std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// `user-agent` → `User-Agent`, as Go's servers print header names.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join("-")
}

/// The echo text for a request with `body`.
pub fn render(served_by: &str, parts: &http::request::Parts, body: &[u8]) -> String {
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = format!(
        "Request served by {served_by}\n\n{} {target} {:?}\n\n",
        parts.method, parts.version
    );
    let mut headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                canonical(k.as_str()),
                String::from_utf8_lossy(v.as_bytes()).into(),
            )
        })
        .collect();
    // Host first, the rest sorted, like the Go echo server.
    headers.sort_by(|a, b| (a.0 != "Host", &a.0).cmp(&(b.0 != "Host", &b.0)));
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\n"));
    }
    if !body.is_empty() {
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(body));
        out.push('\n');
    }
    out
}

/// What the server answers.
#[derive(Clone, Debug)]
pub enum Mode {
    /// The request, as kicbase/echo-server does.
    Echo,
    /// `Hello, world!`, the version and the host name, as the ingress tutorial's
    /// `gcr.io/google-samples/hello-app` does.
    HelloApp(String),
}

/// hello-app's answer.
pub fn hello(version: &str, hostname: &str) -> String {
    format!("Hello, world!\nVersion: {version}\nHostname: {hostname}\n")
}

/// A WebSocket handshake: the echo server then sends `Request served by <pod>` and echoes
/// every message, as jmalloc/echo-server (kicbase/echo-server's origin) does.
fn websocket(req: &mut Request<Incoming>, served_by: &str) -> Option<Response<Full<Bytes>>> {
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::{Message, Role};
    let wants = req
        .headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = req.headers().get("sec-websocket-key")?.as_bytes().to_vec();
    if !wants {
        return None;
    }
    let upgrade = hyper::upgrade::on(req);
    let greeting = format!("Request served by {served_by}");
    tokio::spawn(async move {
        let Ok(io) = upgrade.await else { return };
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            hyper_util::rt::TokioIo::new(io),
            Role::Server,
            None,
        )
        .await;
        use futures::{SinkExt, StreamExt};
        let (mut tx, mut rx) = ws.split();
        if tx.send(Message::text(greeting)).await.is_err() {
            return;
        }
        while let Some(Ok(msg)) = rx.next().await {
            let echo = matches!(msg, Message::Text(_) | Message::Binary(_));
            if matches!(msg, Message::Close(_)) || (echo && tx.send(msg).await.is_err()) {
                break;
            }
        }
    });
    Response::builder()
        .status(hyper::StatusCode::SWITCHING_PROTOCOLS)
        .header(hyper::header::CONNECTION, "Upgrade")
        .header(hyper::header::UPGRADE, "websocket")
        .header("Sec-WebSocket-Accept", derive_accept_key(&key))
        .body(Full::new(Bytes::new()))
        .ok()
}

async fn handle(
    mut req: Request<Incoming>,
    served_by: String,
    mode: Mode,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if matches!(mode, Mode::Echo) {
        if let Some(resp) = websocket(&mut req, &served_by) {
            return Ok(resp);
        }
    }
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = match &mode {
        Mode::Echo => render(&served_by, &parts, &body),
        Mode::HelloApp(version) => hello(version, &served_by),
    };
    let resp = Response::builder()
        .header("Content-Type", "text/plain")
        .body(Full::new(Bytes::from(text)))
        .unwrap_or_default();
    Ok(resp)
}

async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// After SIGTERM, new connections are still taken until none came for this long: the
/// endpoint removal reaches every proxy a moment after the kubelet's SIGTERM, and a
/// connection refused or reset in that window would fail a request the proxy already sent.
const LAME_DUCK_QUIET: Duration = Duration::from_secs(1);

/// The longest the lame-duck period lasts, however busy the listener stays.
const LAME_DUCK_MAX: Duration = Duration::from_secs(5);

fn spawn_conn(
    conns: &mut tokio::task::JoinSet<()>,
    stream: tokio::net::TcpStream,
    served_by: &str,
    mode: &Mode,
    closing: &watch::Receiver<bool>,
) {
    let served_by = served_by.to_string();
    let mode = mode.clone();
    let mut closing = closing.clone();
    conns.spawn(async move {
        let io = hyper_util::rt::TokioIo::new(stream);
        let svc =
            hyper::service::service_fn(move |req| handle(req, served_by.clone(), mode.clone()));
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, svc)
            .with_upgrades();
        futures::pin_mut!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = stopped(&mut closing) => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    });
}

/// Serve on `listener` until `stop` turns true; then keep accepting through a lame-duck
/// period (until [`LAME_DUCK_QUIET`] passes without a new connection), stop accepting, and
/// let connections finish their current request, so a pod being deleted under traffic
/// fails no request.
pub async fn serve(
    listener: TcpListener,
    served_by: String,
    mode: Mode,
    mut stop: watch::Receiver<bool>,
) {
    let (close, closing) = watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    spawn_conn(&mut conns, stream, &served_by, &mode, &closing);
                }
            }
        }
    }
    let give_up = tokio::time::Instant::now() + LAME_DUCK_MAX;
    loop {
        let quiet = (tokio::time::Instant::now() + LAME_DUCK_QUIET).min(give_up);
        tokio::select! {
            _ = tokio::time::sleep_until(quiet) => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    spawn_conn(&mut conns, stream, &served_by, &mode, &closing);
                }
            }
        }
    }
    drop(listener);
    let _ = close.send(true);
    let _ = tokio::time::timeout(DRAIN, async { while conns.join_next().await.is_some() {} }).await;
}

/// Answer every datagram on `socket` with `Datagram served by <served_by>` and the datagram.
pub async fn serve_udp(socket: UdpSocket, served_by: String) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let mut reply = format!("Datagram served by {served_by}\n\n").into_bytes();
        reply.extend_from_slice(&buf[..n]);
        let _ = socket.send_to(&reply, from).await;
    }
}

/// Run the echo server on `0.0.0.0:$PORT` until SIGTERM or SIGINT.
pub fn run(mode: Mode) -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(DEFAULT_PORT);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let listener = TcpListener::bind(("0.0.0.0", port)).await?;
        match &mode {
            Mode::Echo => {
                let udp = UdpSocket::bind(("0.0.0.0", port)).await?;
                println!("Echo server listening on port {port}.");
                tokio::spawn(serve_udp(udp, identity()));
            }
            Mode::HelloApp(_) => println!("Server listening on port {port}"),
        }
        let (tx, rx) = watch::channel(false);
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            let _ = tx.send(true);
        });
        serve(listener, identity(), mode, rx).await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_request_line_headers_and_body() {
        let req = http::Request::post("/a?b=1")
            .header("user-agent", "curl/8")
            .header("host", "web:8080")
            .header("accept", "*/*")
            .body(())
            .unwrap();
        let (parts, _) = req.into_parts();
        let text = render("hello-node-abc", &parts, b"hi");
        assert_eq!(
            text,
            "Request served by hello-node-abc\n\nPOST /a?b=1 HTTP/1.1\n\nHost: web:8080\nAccept: */*\nUser-Agent: curl/8\n\nhi\n"
        );
    }

    #[tokio::test]
    async fn serves_and_drains_on_stop() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        let server = tokio::spawn(serve(listener, "pod-1".into(), Mode::Echo, rx));
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
        assert!(
            out.contains("Request served by pod-1\n\nGET /x HTTP/1.1\n\nHost: h\n"),
            "{out}"
        );
        // Stopped: a connection in the lame-duck period is still answered, and its
        // request may arrive after the stop.
        let mut late = tokio::net::TcpStream::connect(addr).await.unwrap();
        tx.send(true).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        late.write_all(b"GET /late HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        late.read_to_string(&mut out).await.unwrap();
        assert!(out.contains("GET /late HTTP/1.1"), "{out}");
        let stopped_at = tokio::time::Instant::now();
        server.await.unwrap();
        assert!(stopped_at.elapsed() <= LAME_DUCK_QUIET + Duration::from_millis(500));
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn answers_datagrams() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let server = tokio::spawn(serve_udp(socket, "pod-1".into()));
        let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        c.send_to(b"ping", addr).await.unwrap();
        let mut buf = [0u8; 64];
        let n = c.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"Datagram served by pod-1\n\nping");
        server.abort();
    }
}
