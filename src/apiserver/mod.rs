//! The Kubernetes API server: HTTPS with client-certificate authentication, discovery,
//! OpenAPI, and generic REST over the registry's resources backed by the store.

pub mod aggregator;
pub mod authn;
pub mod authz;
mod bootstrap;
pub mod crd;
pub mod discovery;
pub mod handlers;
mod health;
pub mod http;
pub mod impersonation;
pub mod node_authz;
pub mod normalize;
pub mod object;
pub mod openapi;
mod openapi_cache;
mod openapi_http;
pub mod patch;
pub mod pod_security;
pub mod protobuf;
mod raw_list;
pub mod rbac;
pub mod request;
mod router;
pub mod sa_authn;
pub mod selectors;
pub mod status;
pub mod table;
pub mod tokens;
mod watch_lines;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::resources::registry::Registry;
use crate::store::Store;

pub mod delegated;
pub mod kubelet_client;

pub use bootstrap::{bootstrap, keep_system_objects, node_services};
pub use handlers::Allocators;

/// The Kubernetes version this server presents itself as.
pub const KUBE_MAJOR: &str = "1";
/// Minor version, matching the k8s-openapi types we serve.
pub const KUBE_MINOR: &str = "37";

/// Shared state of a running API server.
pub struct State {
    /// The datastore.
    pub store: Arc<dyn Store>,
    /// Served resources.
    pub registry: Registry,
    /// Service IP and NodePort allocators.
    pub allocators: Allocators,
    /// `host:port` clients reach us at (legacy discovery's serverAddress).
    pub server_address: String,
    /// Cached OpenAPI documents.
    openapi: openapi_cache::OpenApiCache,
    /// The RBAC authorizer.
    pub authorizer: rbac::Authorizer,
    /// The Node authorizer, consulted before RBAC.
    pub node_authorizer: node_authz::NodeAuthorizer,
    /// Signs and verifies service-account tokens.
    pub tokens: Arc<tokens::TokenIssuer>,
    /// Established CustomResourceDefinitions.
    pub crds: crd::Crds,
    /// Group-versions proxied to APIService backends.
    pub aggregator: aggregator::Aggregator,
    /// The certificate this server presents to kubelets, and the CA they serve with.
    pub kubelet_client: std::sync::OnceLock<kubelet_client::Credentials>,
    /// The client certificate presented to APIService backends (kube-apiserver's
    /// `--proxy-client-cert-file`), vouching for the user headers it sends.
    pub proxy_client: std::sync::OnceLock<crate::pki::CertPair>,
    /// The node's supervised components, reported by the health checks.
    pub supervisor: Arc<crate::supervisor::Supervisor>,
    /// The Pod Security level of namespaces without labels (`--pod-security`).
    pub pod_security_default: pod_security::Level,
    /// Watch event lines encoded once for all the watchers that send the same bytes.
    pub watch_lines: watch_lines::WatchLines,
}

impl State {
    /// New state over a store.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        allocators: Allocators,
        server_address: String,
        tokens: Arc<tokens::TokenIssuer>,
    ) -> Self {
        State {
            store,
            registry,
            allocators,
            server_address,
            openapi: openapi_cache::OpenApiCache::default(),
            authorizer: rbac::Authorizer::default(),
            node_authorizer: node_authz::NodeAuthorizer::default(),
            tokens,
            crds: crd::Crds::default(),
            aggregator: aggregator::Aggregator::default(),
            kubelet_client: std::sync::OnceLock::new(),
            proxy_client: std::sync::OnceLock::new(),
            supervisor: crate::supervisor::Supervisor::new(),
            pod_security_default: pod_security::Level::Privileged,
            watch_lines: watch_lines::WatchLines::default(),
        }
    }
}

/// `/version`.
pub fn version_info() -> Value {
    json!({
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "emulationMajor": KUBE_MAJOR,
        "emulationMinor": KUBE_MINOR,
        "minCompatibilityMajor": KUBE_MAJOR,
        "minCompatibilityMinor": "36",
        "gitVersion": format!("v{KUBE_MAJOR}.{KUBE_MINOR}.0+rkube-{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH { "x86_64" => "amd64", "aarch64" => "arm64", a => a }),
    })
}

/// Serve HTTPS on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    state: Arc<State>,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let user = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(authn::user_from_certificates);
            serve_connection(tls, user, state, peer).await;
        });
    }
}

/// Serve HTTP on one already-accepted, already-authenticated stream as `user` (the fuzz
/// harness drives the router through an in-memory pipe this way).
pub async fn serve_stream<S>(io: S, user: Option<authn::UserInfo>, state: Arc<State>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let peer = SocketAddr::from(([127, 0, 0, 1], 0));
    serve_connection(io, user, state, peer).await;
}

async fn serve_connection<S>(
    io: S,
    user: Option<authn::UserInfo>,
    state: Arc<State>,
    peer: SocketAddr,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let state = state.clone();
        let user = user.clone();
        async move { Ok::<_, Infallible>(router::route(state, user, req).await) }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // k8s.io/apiserver's recommended limit (hyper's default is 200): each of a client's
    // watches holds a stream for its lifetime, and the controller manager watches every kind.
    builder.http2().max_concurrent_streams(1000);
    if let Err(e) = builder
        .serve_connection_with_upgrades(TokioIo::new(io), svc)
        .await
    {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}
