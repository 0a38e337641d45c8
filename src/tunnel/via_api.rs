//! Forwarding a localhost port to a service through the API server's pod port-forward, for
//! hosts that cannot reach the node's network (Docker Desktop keeps it inside its VM): only
//! the published API port is needed. Each connection goes to a ready endpoint of the
//! service, chosen afresh, as kube-proxy would.

use std::net::SocketAddr;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Why a connection could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No ready pod serves the port.
    #[error("service {0} has no ready endpoint for port {1}")]
    NoEndpoint(String, String),
    /// The API server refused or failed.
    #[error(transparent)]
    Api(#[from] kube::Error),
}

/// A ready pod and its port for `port` of `svc`, rotating over the ready ones by `turn`.
async fn pick_endpoint(
    client: &kube::Client,
    svc: &Service,
    port: &ServicePort,
    turn: usize,
) -> Result<(String, u16), ForwardError> {
    let ns = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), &ns);
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={name}")))
        .await?;
    let mut ready: Vec<(String, u16)> = Vec::new();
    for slice in &list.items {
        let number = slice
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref().unwrap_or("") == port.name.as_deref().unwrap_or(""))
            .and_then(|p| p.port)
            .and_then(|p| u16::try_from(p).ok());
        let Some(number) = number else { continue };
        for ep in slice.endpoints.iter().flatten() {
            let is_ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            let pod = ep
                .target_ref
                .as_ref()
                .filter(|r| r.kind.as_deref() == Some("Pod"))
                .and_then(|r| r.name.clone());
            if let (true, Some(pod)) = (is_ready, pod) {
                ready.push((pod, number));
            }
        }
    }
    ready.sort();
    if ready.is_empty() {
        return Err(ForwardError::NoEndpoint(
            format!("{ns}/{name}"),
            port.port.to_string(),
        ));
    }
    Ok(ready.swap_remove(turn % ready.len()))
}

/// Listen on `127.0.0.1:<free port>` and forward each connection to `port` of `svc`
/// through the API server; the address and the serving task.
pub async fn listen(
    client: kube::Client,
    svc: Service,
    port: ServicePort,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((addr, serve(listener, client, svc, port)))
}

/// Forward each connection accepted on `listener` to `port` of `svc` through the API
/// server, until the task is aborted.
pub fn serve(
    listener: TcpListener,
    client: kube::Client,
    svc: Service,
    port: ServicePort,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut turn = 0usize;
        while let Ok((mut conn, _)) = listener.accept().await {
            turn = turn.wrapping_add(1);
            let (client, svc, port) = (client.clone(), svc.clone(), port.clone());
            tokio::spawn(async move {
                if let Err(e) = forward_one(&client, &svc, &port, turn, &mut conn).await {
                    tracing::warn!(error = %e, "forwarding a connection through the API server");
                }
            });
        }
    })
}

async fn forward_one(
    client: &kube::Client,
    svc: &Service,
    port: &ServicePort,
    turn: usize,
    conn: &mut tokio::net::TcpStream,
) -> Result<(), ForwardError> {
    let (pod, number) = pick_endpoint(client, svc, port, turn).await?;
    let ns = svc.metadata.namespace.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut pf = pods.portforward(&pod, &[number]).await?;
    let Some(mut upstream) = pf.take_stream(number) else {
        return Ok(());
    };
    let _ = tokio::io::copy_bidirectional(conn, &mut upstream).await;
    drop(upstream);
    let _ = pf.join().await;
    Ok(())
}
