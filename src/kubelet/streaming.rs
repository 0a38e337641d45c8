//! The kubelet's streaming endpoints behind the API server's `pods/exec`, `pods/attach`
//! and `pods/portforward`: find the running container, start the runtime's process, then
//! upgrade the connection (WebSocket or SPDY) and hand it to the protocol in `streams`.
//! Errors found before the upgrade are plain HTTP errors, as the kubelet's are.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use tokio::net::TcpStream;

use super::pod_port;
use super::runtime::{Container, ContainerRuntime, ExecSpec, Output, StreamIo};
use super::Kubelet;
use crate::streams::channel::{self, Channel};
use crate::streams::portforward::{self, Dial, PodConn};
use crate::streams::remotecommand::{self, Options, Process};
use crate::streams::ws;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// How long to connect to a pod's port before giving up.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP error answered instead of the upgrade.
struct Refusal(StatusCode, String);

impl Refusal {
    fn new(code: StatusCode, msg: impl Into<String>) -> Refusal {
        Refusal(code, msg.into())
    }

    fn response(self) -> Response<Body> {
        text(self.0, &self.1)
    }
}

/// Stdin and the output of a started process.
type ProcessIo = (
    Option<std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>>,
    futures::stream::BoxStream<'static, (Channel, Bytes)>,
);

fn text(code: StatusCode, msg: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(msg.to_string())).boxed())
        .unwrap_or_default()
}

fn switching(resp: Response<()>) -> Response<Body> {
    let (parts, ()) = resp.into_parts();
    Response::from_parts(parts, Empty::new().boxed())
}

fn query_pairs(req: &Request<hyper::body::Incoming>) -> Vec<(String, String)> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// The transport the client asked for, with the negotiated protocol.
enum Transport {
    WebSocket(String),
    Spdy(String),
}

/// Pick the transport and protocol, or the HTTP error the kubelet would give.
fn negotiate(
    req: &Request<hyper::body::Incoming>,
    ws_protocols: &[&str],
    spdy_protocols: &[&str],
) -> Result<Transport, Refusal> {
    let h = req.headers();
    if ws::is_websocket(h) {
        let offered = ws::offered(h, header::SEC_WEBSOCKET_PROTOCOL.as_str());
        return ws::negotiate(&offered, ws_protocols)
            .map(Transport::WebSocket)
            .ok_or_else(|| {
                Refusal::new(StatusCode::BAD_REQUEST, format!(
                        "requested protocol(s) are not supported: {offered:?}; supports {ws_protocols:?}"
                    ),
                )
            });
    }
    if ws::is_spdy(h) {
        let offered = ws::offered(h, "x-stream-protocol-version");
        return ws::negotiate(&offered, spdy_protocols)
            .map(Transport::Spdy)
            .ok_or_else(|| {
                Refusal::new(StatusCode::FORBIDDEN, format!(
                        "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server supports {spdy_protocols:?}"
                    ),
                )
            });
    }
    Err(Refusal::new(
        StatusCode::BAD_REQUEST,
        "Upgrade request required: use WebSocket or SPDY/3.1",
    ))
}

fn spdy_accept(protocol: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "SPDY/3.1")
        .header("X-Stream-Protocol-Version", protocol)
        .body(Empty::new().boxed())
        .unwrap_or_default()
}

async fn get_pod<R: ContainerRuntime>(
    kubelet: &Kubelet<R>,
    ns: &str,
    name: &str,
) -> Result<Pod, Refusal> {
    let pods: Api<Pod> = Api::namespaced(kubelet.client.clone(), ns);
    match pods.get_opt(name).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(Refusal::new(StatusCode::NOT_FOUND, "pod does not exist")),
        Err(e) => Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
    }
}

/// The pod's running containers (sandbox included) as the runtime sees them.
async fn running<R: ContainerRuntime>(
    kubelet: &Kubelet<R>,
    pod: &Pod,
) -> Result<Vec<Container>, Refusal> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    match kubelet.runtime.list(Some(&uid)).await {
        Ok(all) => Ok(all.into_iter().filter(Container::running).collect()),
        Err(e) => Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
    }
}

/// `/exec/{ns}/{pod}/{container}` and `/attach/...`.
pub async fn remote_command<R: ContainerRuntime>(
    kubelet: Arc<Kubelet<R>>,
    req: Request<hyper::body::Incoming>,
    ns: &str,
    pod_name: &str,
    container: &str,
    attach: bool,
) -> Response<Body> {
    serve_remote_command(kubelet, req, ns, pod_name, container, attach)
        .await
        .unwrap_or_else(Refusal::response)
}

async fn serve_remote_command<R: ContainerRuntime>(
    kubelet: Arc<Kubelet<R>>,
    req: Request<hyper::body::Incoming>,
    ns: &str,
    pod_name: &str,
    container: &str,
    attach: bool,
) -> Result<Response<Body>, Refusal> {
    let opts = Options::from_query(&query_pairs(&req))
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e))?;
    if !attach && opts.command.is_empty() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "you must specify at least one command for the container",
        ));
    }
    let transport = negotiate(&req, channel::PROTOCOLS, remotecommand::SPDY_PROTOCOLS)?;
    let pod = get_pod(&kubelet, ns, pod_name).await?;
    let target = running(&kubelet, &pod)
        .await?
        .into_iter()
        .filter(|c| !c.sandbox && c.name == container)
        .max_by_key(|c| c.attempt);
    let Some(target) = target else {
        return Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("container not found ({container:?})"),
        ));
    };
    let process = if attach {
        start_attach(
            kubelet.clone(),
            &target,
            &opts,
            container_tty(&pod, container),
        )
        .await
    } else {
        start_exec(kubelet.clone(), &target, &opts).await
    };
    let process = process.map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let accept = match &transport {
        Transport::WebSocket(p) => switching(ws::accept(req.headers(), p)),
        Transport::Spdy(p) => spdy_accept(p),
    };
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "exec/attach upgrade failed");
                return;
            }
        };
        match transport {
            Transport::WebSocket(p) => {
                remotecommand::serve_websocket(ws::server(upgraded).await, &p, &opts, process).await
            }
            Transport::Spdy(p) => {
                remotecommand::serve_spdy(TokioIo::new(upgraded), &p, &opts, process).await
            }
        }
    });
    Ok(accept)
}

/// Whether the pod spec gives the container a terminal.
fn container_tty(pod: &Pod, name: &str) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == name))
        .and_then(|c| c.tty)
        .unwrap_or(false)
}

/// The runtime's output as channel chunks; a runtime error ends it.
fn channel_output(io: StreamIo) -> ProcessIo {
    let out = io
        .output
        .take_while(|r| futures::future::ready(r.is_ok()))
        .filter_map(|r| {
            futures::future::ready(match r {
                Ok(Output::Stdout(b)) => Some((Channel::Stdout, b)),
                Ok(Output::Stderr(b)) => Some((Channel::Stderr, b)),
                Err(_) => None,
            })
        })
        .boxed();
    (io.stdin, out)
}

/// Terminal sizes from the client, applied by `apply` in order (latest wins when they
/// arrive faster than the runtime takes them); the receiver fires once the first is applied.
fn resizer<F, Fut>(
    apply: F,
) -> (
    tokio::sync::mpsc::Sender<(u16, u16)>,
    tokio::sync::oneshot::Receiver<()>,
)
where
    F: Fn(u16, u16) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(u16, u16)>(8);
    let (sized_tx, sized_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut sized = Some(sized_tx);
        while let Some(mut size) = rx.recv().await {
            while let Ok(newer) = rx.try_recv() {
                size = newer;
            }
            apply(size.0, size.1).await;
            if let Some(s) = sized.take() {
                let _ = s.send(());
            }
        }
    });
    (tx, sized_rx)
}

async fn start_exec<R: ContainerRuntime>(
    kubelet: Arc<Kubelet<R>>,
    target: &Container,
    opts: &Options,
) -> Result<Process, String> {
    let spec = ExecSpec {
        cmd: opts.command.clone(),
        stdin: opts.stdin,
        stdout: opts.stdout,
        stderr: opts.stderr,
        tty: opts.tty,
    };
    let (exec_id, io) = kubelet
        .runtime
        .exec_stream(&target.id, &spec)
        .await
        .map_err(|e| e.to_string())?;
    let (stdin, output) = channel_output(io);
    let resize = opts.tty.then(|| {
        let k = kubelet.clone();
        let id = exec_id.clone();
        resizer(move |w, h| {
            let k = k.clone();
            let id = id.clone();
            async move {
                if let Err(e) = k.runtime.resize_exec(&id, w, h).await {
                    tracing::debug!(error = %e, "resizing an exec terminal failed");
                }
            }
        })
    });
    let finish = Box::pin(async move {
        // The engine records the exit code just after the output ends.
        for _ in 0..100 {
            match kubelet.runtime.exec_exit_code(&exec_id).await {
                Ok(Some(code)) => return channel::exit_status(code),
                Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => return channel::failure(&e.to_string()),
            }
        }
        channel::failure("the command's exit code is unknown")
    });
    let (resize, sized) = resize.unzip();
    Ok(Process {
        stdin,
        output,
        resize,
        sized,
        finish,
    })
}

async fn start_attach<R: ContainerRuntime>(
    kubelet: Arc<Kubelet<R>>,
    target: &Container,
    opts: &Options,
    tty: bool,
) -> Result<Process, String> {
    let io = kubelet
        .runtime
        .attach(&target.id, opts.stdin, opts.stdout, opts.stderr)
        .await
        .map_err(|e| e.to_string())?;
    let (stdin, output) = channel_output(io);
    let resize = (opts.tty && tty).then(|| {
        let k = kubelet.clone();
        let id = target.id.clone();
        resizer(move |w, h| {
            let k = k.clone();
            let id = id.clone();
            async move {
                if let Err(e) = k.runtime.resize_tty(&id, w, h).await {
                    tracing::debug!(error = %e, "resizing a container terminal failed");
                }
            }
        })
    });
    let (resize, sized) = resize.unzip();
    Ok(Process {
        stdin,
        output,
        resize,
        sized,
        finish: Box::pin(async { serde_json::json!({"metadata": {}, "status": "Success"}) }),
    })
}

/// Go's wording for a failed dial, which is what kubectl users know.
fn dial_error(addr: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            format!("dial tcp {addr}: connect: connection refused")
        }
        std::io::ErrorKind::TimedOut => format!("dial tcp {addr}: i/o timeout"),
        _ => format!("dial tcp {addr}: {e}"),
    }
}

/// `/portForward/{ns}/{pod}`.
pub async fn port_forward<R: ContainerRuntime>(
    kubelet: Arc<Kubelet<R>>,
    req: Request<hyper::body::Incoming>,
    ns: &str,
    pod_name: &str,
) -> Response<Body> {
    serve_port_forward(kubelet, req, ns, pod_name)
        .await
        .unwrap_or_else(Refusal::response)
}

async fn serve_port_forward<R: ContainerRuntime>(
    kubelet: Arc<Kubelet<R>>,
    req: Request<hyper::body::Incoming>,
    ns: &str,
    pod_name: &str,
) -> Result<Response<Body>, Refusal> {
    let mut ws_protocols = vec![portforward::TUNNEL_PROTOCOL];
    ws_protocols.extend_from_slice(portforward::CHANNEL_PROTOCOLS);
    let transport = negotiate(&req, &ws_protocols, &[portforward::SPDY_PROTOCOL])?;
    let pairs = query_pairs(&req);
    let ports: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "ports")
        .map(|(_, v)| v.as_str())
        .collect();
    let ports =
        portforward::parse_ports(&ports).map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e))?;
    let channels =
        matches!(&transport, Transport::WebSocket(p) if p != portforward::TUNNEL_PROTOCOL);
    if channels && ports.is_empty() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "query parameter \"ports\" is required",
        ));
    }
    let pod = get_pod(&kubelet, ns, pod_name).await?;
    let sandbox = running(&kubelet, &pod)
        .await?
        .into_iter()
        .find(|c| c.sandbox);
    let Some(sandbox) = sandbox else {
        return Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("pod {pod_name} is not running"),
        ));
    };
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    // The kubelet shares the node's network namespace, so a hostNetwork pod's ports are on
    // loopback; other pods are reached at their address on the cluster network (the
    // Docker network the node container is on).
    let ip = if host_network {
        Some("127.0.0.1".to_string())
    } else {
        sandbox.ip.clone().filter(|i| !i.is_empty()).or_else(|| {
            pod.status
                .as_ref()
                .and_then(|s| s.pod_ip.clone())
                .filter(|i| !i.is_empty())
        })
    };
    let Some(ip) = ip else {
        return Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("pod {pod_name} has no IP address"),
        ));
    };
    let sandbox_id = sandbox.id.clone();
    let dial: Dial = Arc::new(move |port| {
        let ip = ip.clone();
        let sandbox_id = sandbox_id.clone();
        let kubelet = kubelet.clone();
        Box::pin(async move {
            let addr = format!("{ip}:{port}");
            let r = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&addr)).await;
            let e = match r {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(Box::new(s) as Box<dyn PodConn>);
                }
                Ok(Err(e)) => e,
                Err(_) => std::io::Error::from(std::io::ErrorKind::TimedOut),
            };
            // Refused on the pod's IP: the server may listen on the pod's localhost only.
            if e.kind() == std::io::ErrorKind::ConnectionRefused && !host_network {
                match pod_port::relay(kubelet.runtime.as_ref(), &sandbox_id, port).await {
                    Ok(conn) => return Ok(conn),
                    Err(why) => {
                        tracing::debug!(port, %why, "no server on the pod's localhost either")
                    }
                }
            }
            Err(format!(
                "error forwarding port {port} to pod {sandbox_id}, uid : failed to connect to {addr} inside the pod network: {}",
                dial_error(&addr, &e)
            ))
        })
    });
    let accept = match &transport {
        Transport::WebSocket(p) => switching(ws::accept(req.headers(), p)),
        Transport::Spdy(p) => spdy_accept(p),
    };
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "port-forward upgrade failed");
                return;
            }
        };
        match transport {
            Transport::WebSocket(p) if p == portforward::TUNNEL_PROTOCOL => {
                let pipe = ws::byte_pipe(ws::server(upgraded).await);
                portforward::serve_spdy(pipe, dial).await
            }
            Transport::WebSocket(_) => {
                portforward::serve_websocket(ws::server(upgraded).await, ports, dial).await
            }
            Transport::Spdy(_) => portforward::serve_spdy(TokioIo::new(upgraded), dial).await,
        }
    });
    Ok(accept)
}
