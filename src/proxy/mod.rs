//! The service proxy: user-space TCP and UDP forwarding from each Service's ClusterIPs
//! and NodePorts to its ready endpoints, following Services and EndpointSlices.
//!
//! A frontend listens only while its service has ready endpoints, so a connection to a
//! service without endpoints is refused at once by the kernel, like kube-proxy's REJECT
//! rule. Established connections are tasks of their own and outlive endpoint changes.

pub mod addresses;
pub mod pool;
pub mod table;
mod tcp;
pub mod udp;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use tokio::task::JoinHandle;

use crate::informer::{Changes, SharedCaches};

use pool::Pool;
use table::{Frontend, Protocol};

/// Settings of the proxy.
#[derive(Clone, Debug)]
pub struct Config {
    /// Node addresses NodePorts listen on.
    pub node_ips: Vec<IpAddr>,
    /// Whether to listen on ClusterIPs (the node must hold them as local addresses).
    pub cluster_ips: bool,
}

struct Running {
    pool: Arc<Pool>,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Follow Services and EndpointSlices in `caches` and forward until the future is dropped.
pub async fn run(caches: SharedCaches, cfg: Config) {
    run_claiming(caches, cfg, None).await
}

/// Like [`run`], and also keep every ClusterIP claimed on the node's interface through
/// `addresses`, so the proxy can listen there and a ClusterIP without ready endpoints
/// refuses connections (the address answers, nothing listens) instead of timing out.
pub async fn run_claiming(
    caches: SharedCaches,
    cfg: Config,
    addresses: Option<Arc<tokio::sync::Mutex<addresses::Claimed>>>,
) {
    let mut changes = Changes::of::<Service>(&caches).and::<EndpointSlice>(&caches);
    let mut running: HashMap<(SocketAddr, Protocol), Running> = HashMap::new();
    loop {
        let svcs = caches.all::<Service>().await;
        let sls = caches.all::<EndpointSlice>().await;
        let svc_refs: Vec<&Service> = svcs.iter().map(AsRef::as_ref).collect();
        let slice_refs: Vec<&EndpointSlice> = sls.iter().map(AsRef::as_ref).collect();
        if let Some(claimed) = &addresses {
            claimed
                .lock()
                .await
                .sync(&table::cluster_ipv4s(&svc_refs))
                .await;
        }
        let mut wanted = table::frontends(&svc_refs, &slice_refs, &cfg.node_ips);
        if !cfg.cluster_ips {
            wanted.retain(|f| cfg.node_ips.contains(&f.listen.ip()));
        }
        sync(&mut running, wanted).await;
        // A periodic pass also retries listeners that could not bind last time; a burst
        // of changes (a rollout, a namespace deletion) settles into one sync.
        changes
            .next_pass(Duration::from_secs(10), Duration::from_millis(20))
            .await;
    }
}

async fn sync(running: &mut HashMap<(SocketAddr, Protocol), Running>, wanted: Vec<Frontend>) {
    let mut keep = std::collections::HashSet::new();
    for f in wanted {
        if f.backends.is_empty() {
            continue;
        }
        let key = (f.listen, f.protocol);
        keep.insert(key);
        if let Some(r) = running.get(&key) {
            r.pool.update(f.backends, f.affinity_seconds);
            continue;
        }
        let pool = Arc::new(Pool::new(f.backends, f.affinity_seconds));
        let started = match f.protocol {
            Protocol::Tcp => tcp::listen(f.listen, pool.clone()).await,
            Protocol::Udp => udp::listen(f.listen, pool.clone()).await,
        };
        match started {
            Ok(task) => {
                tracing::debug!(service = %f.service, listen = %f.listen, "proxy listening");
                running.insert(key, Running { pool, task });
            }
            Err(e) => {
                tracing::warn!(service = %f.service, listen = %f.listen, error = %e, "proxy cannot listen");
            }
        }
    }
    running.retain(|key, _| keep.contains(key));
}
