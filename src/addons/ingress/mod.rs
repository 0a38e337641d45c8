//! `rkube ingress-controller`: the ingress addon's pod, serving Ingresses of class `nginx`
//! (controller `k8s.io/ingress-nginx`) and those with no class, on the node's ports 80 and
//! 443 (the pod uses the node's network, as ingress-nginx's hostPorts do on minikube).
//! Watches keep the routing table, the certificates and every served Ingress's address
//! current; a change is routable as soon as its watch event arrives, and open
//! connections are left alone.

pub mod certs;
pub mod proxy;
pub mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;
use tokio::sync::{watch, Notify};

use crate::controllers::events::{EventType, Recorder};
use crate::informer::Informer;

/// The controller name IngressClasses name, as ingress-nginx's.
pub const CONTROLLER: &str = "k8s.io/ingress-nginx";

/// Why the controller cannot run.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    /// No in-cluster client.
    #[error("cannot reach the API server from this pod: {0}")]
    Client(#[from] kube::Error),
    /// A port could not be bound, or the runtime not started.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// TLS set-up.
    #[error("TLS: {0}")]
    Tls(String),
}

/// Ports, as ingress-nginx's flags name them.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--http-port`.
    pub http_port: u16,
    /// `--https-port`.
    pub https_port: u16,
    /// `--healthz-port`.
    pub healthz_port: u16,
}

/// Whether this controller serves `ing`: its class names our controller, or it names none.
fn ours(ing: &Ingress, classes: &[Arc<IngressClass>]) -> bool {
    let name = ing
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.clone())
        .or_else(|| {
            ing.annotations()
                .get("kubernetes.io/ingress.class")
                .cloned()
        });
    match name {
        None => true,
        Some(n) => classes.iter().any(|c| {
            c.name_any() == n
                && c.spec.as_ref().and_then(|s| s.controller.as_deref()) == Some(CONTROLLER)
        }),
    }
}

/// Run until killed.
pub fn run(opts: Options) -> Result<(), IngressError> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let client = kube::Client::try_default().await?;
        let certs = Arc::new(certs::Certs::new().map_err(IngressError::Tls)?);
        let tls = certs::server_config(certs.clone()).map_err(IngressError::Tls)?;
        // The node's own address, not the wildcard: service addresses on the same
        // interface may use ports 80 and 443 too (this controller's own Service does).
        let ip: std::net::IpAddr = std::env::var("NODE_IP")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        let at = |p: u16| SocketAddr::new(ip, p);
        let http = tokio::net::TcpListener::bind(at(opts.http_port)).await?;
        let https = tokio::net::TcpListener::bind(at(opts.https_port)).await?;
        let health = tokio::net::TcpListener::bind(at(opts.healthz_port)).await?;
        let (tx, rx) = watch::channel(Arc::new(routes::Table::default()));
        tokio::spawn(proxy::serve(http, rx.clone(), None));
        tokio::spawn(proxy::serve(
            https,
            rx,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls))),
        ));
        tokio::spawn(healthz(health));
        tracing::info!(
            http = opts.http_port,
            https = opts.https_port,
            "ingress controller serving"
        );
        control(client, tx, certs).await;
        Ok(())
    })
}

/// `/healthz` for the pod's probes.
async fn healthz(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await;
        });
    }
}

async fn control(
    client: kube::Client,
    tx: watch::Sender<Arc<routes::Table>>,
    certs: Arc<certs::Certs>,
) {
    let changed = Arc::new(Notify::new());
    let ingresses = Informer::<Ingress>::start(Api::all(client.clone()), changed.clone());
    let classes = Informer::<IngressClass>::start(Api::all(client.clone()), changed.clone());
    let services = Informer::<Service>::start(Api::all(client.clone()), changed.clone());
    let slices = Informer::<EndpointSlice>::start(Api::all(client.clone()), changed.clone());
    let secrets = Informer::<Secret>::start(Api::all(client.clone()), changed.clone());
    let node_ip = std::env::var("NODE_IP").unwrap_or_default();
    let host = std::env::var("NODE_NAME").unwrap_or_default();
    let recorder = Recorder::new(client.clone(), "nginx-ingress-controller", &host);
    loop {
        let cls = classes.list();
        let served: Vec<Arc<Ingress>> = ingresses
            .list()
            .into_iter()
            .filter(|i| ours(i, &cls))
            .collect();
        let table = routes::build(&routes::Inputs {
            ingresses: &served,
            services: &services.list(),
            slices: &slices.list(),
        });
        let problems = table.problems.clone();
        let _ = tx.send(Arc::new(table));
        let cert_problems = load_certs(&certs, &served, &secrets.list());
        for p in problems.into_iter().chain(cert_problems) {
            if let Some(ing) = served.iter().find(|i| {
                i.namespace().as_deref() == Some(p.namespace.as_str()) && i.name_any() == p.name
            }) {
                recorder.publish(
                    &crate::controllers::events::reference(ing.as_ref()),
                    EventType::Warning,
                    p.reason,
                    &p.message,
                );
            }
        }
        if !node_ip.is_empty() {
            for ing in &served {
                publish_address(&client, ing, &node_ip).await;
            }
        }
        // Each change wakes the loop; bursts of events coalesce into one rebuild.
        let _ = tokio::time::timeout(Duration::from_secs(30), changed.notified()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Certificates for every TLS host; a missing or broken Secret is reported and its hosts
/// get the default certificate.
fn load_certs(
    certs: &certs::Certs,
    served: &[Arc<Ingress>],
    secrets: &[Arc<Secret>],
) -> Vec<routes::Problem> {
    let mut map = HashMap::new();
    let mut problems = Vec::new();
    for ing in served {
        let ns = ing.namespace().unwrap_or_default();
        for t in ing.spec.iter().flat_map(|s| s.tls.iter().flatten()) {
            let Some(name) = &t.secret_name else { continue };
            let secret = secrets
                .iter()
                .find(|s| s.namespace().as_deref() == Some(ns.as_str()) && &s.name_any() == name);
            let loaded = match secret {
                Some(s) => certs::from_secret(s),
                None => Err(format!("secret \"{ns}/{name}\" not found")),
            };
            match loaded {
                Ok(ck) => {
                    for h in t.hosts.iter().flatten() {
                        map.insert(h.to_ascii_lowercase(), ck.clone());
                    }
                }
                Err(e) => problems.push(routes::Problem {
                    namespace: ns.clone(),
                    name: ing.name_any(),
                    reason: "InvalidTLSSecret",
                    message: format!("TLS secret {name}: {e}; serving the default certificate"),
                }),
            }
        }
    }
    certs.set(map);
    problems
}

/// Set the Ingress's address to the node's, as ingress-nginx without `--publish-service`.
async fn publish_address(client: &kube::Client, ing: &Ingress, ip: &str) {
    let current = ing
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|l| l.iter().filter_map(|i| i.ip.clone()).collect::<Vec<_>>())
        .unwrap_or_default();
    if current == [ip] {
        return;
    }
    let api: Api<Ingress> = Api::namespaced(client.clone(), &ing.namespace().unwrap_or_default());
    let patch = json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}});
    if let Err(e) = api
        .patch_status(
            &ing.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        tracing::debug!(ingress = %ing.name_any(), error = %e, "publishing the address");
    }
}
