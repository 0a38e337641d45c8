//! Cluster DNS on the kube-dns address: the `cluster.local` zone from Services and
//! EndpointSlices, everything else forwarded to the node's upstream resolvers.

pub mod server;
pub mod zone;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use rkube_client::informer::{Changes, SharedCaches};
use tokio::net::{TcpListener, UdpSocket};

use server::Resolver;
use zone::Zone;

/// The zone is rebuilt at least this often, even without a change.
const ZONE_REBUILD: Duration = Duration::from_secs(60);

/// Settings of the DNS server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to answer (UDP and TCP).
    pub listen: SocketAddr,
    /// The cluster domain.
    pub domain: String,
    /// Resolvers for names outside the cluster.
    pub upstreams: Vec<SocketAddr>,
}

/// The `nameserver` lines of a resolv.conf, as socket addresses on port 53.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Bind, then serve until the returned future is dropped.
pub async fn run(caches: SharedCaches, cfg: Config) -> std::io::Result<()> {
    let udp = UdpSocket::bind(cfg.listen).await?;
    let tcp = TcpListener::bind(cfg.listen).await?;
    let resolver = Arc::new(Resolver {
        zone: RwLock::new(Arc::new(Zone::build(&cfg.domain, &[], &[]))),
        upstreams: cfg.upstreams.clone(),
    });
    let mut changes = Changes::of::<Service>(&caches).and::<EndpointSlice>(&caches);
    let udp_task = tokio::spawn(server::serve_udp(udp, resolver.clone()));
    let tcp_task = tokio::spawn(server::serve_tcp(tcp, resolver.clone()));
    // Stop serving when this future is dropped.
    let _serving = (AbortOnDrop(udp_task), AbortOnDrop(tcp_task));
    loop {
        let svcs = caches.all::<Service>().await;
        let sls = caches.all::<EndpointSlice>().await;
        let s: Vec<&Service> = svcs.iter().map(AsRef::as_ref).collect();
        let e: Vec<&EndpointSlice> = sls.iter().map(AsRef::as_ref).collect();
        let zone = Arc::new(Zone::build(&cfg.domain, &s, &e));
        *resolver.zone.write().unwrap_or_else(|e| e.into_inner()) = zone;
        changes
            .next_pass(ZONE_REBUILD, Duration::from_millis(20))
            .await;
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
