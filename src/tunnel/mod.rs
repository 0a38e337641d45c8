//! Reaching workloads from the host: service URLs (`rkube service`) and the LoadBalancer
//! tunnel (`rkube tunnel`), which forwards localhost ports to services and reports
//! `127.0.0.1` as their ingress address.

pub mod forward;
pub mod loadbalancer;
pub mod lock;
pub mod urls;
pub mod via_api;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Whether the host reaches the node's address directly (native Linux Docker), tried on
/// the API port, which the node always serves there. Docker Desktop's VM hides it.
pub async fn host_reaches_node(node_ip: IpAddr) -> bool {
    let addr = SocketAddr::new(node_ip, crate::cluster::node_container::API_PORT);
    matches!(
        tokio::time::timeout(
            Duration::from_millis(1500),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}
