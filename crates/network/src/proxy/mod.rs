//! The service proxy: each Service's ClusterIPs and NodePorts forwarded to its ready
//! endpoints, following Services and EndpointSlices. TCP goes through nftables DNAT in the
//! kernel ([`kernel`]) where the node allows it; UDP, `sessionAffinity: ClientIP`, and
//! everything on a node without the kernel path are forwarded in user space.
//!
//! A frontend is served only while its service has ready endpoints, so a connection to a
//! service without endpoints is refused at once by the kernel, like kube-proxy's REJECT
//! rule. Established connections outlive endpoint changes: user-space ones are tasks of
//! their own, kernel ones keep their translation in conntrack.

pub mod addresses;
pub mod kernel;
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

use rkube_client::informer::{Changes, SharedCaches};

use pool::Pool;
use table::{Frontend, Protocol};

/// Settings of the proxy.
#[derive(Clone, Debug)]
pub struct Config {
    /// Node addresses NodePorts listen on.
    pub node_ips: Vec<IpAddr>,
    /// Whether to listen on ClusterIPs (the node must hold them as local addresses).
    pub cluster_ips: bool,
    /// Whether TCP may take the kernel path (`kube-proxy.mode=nftables`, the default).
    pub kernel: bool,
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
    let kernel = match cfg.kernel {
        true => open_kernel(&cfg.node_ips).await,
        false => {
            println!("service proxy: user space (--extra-config kube-proxy.mode=userspace)");
            None
        }
    };
    // What the kernel table holds now; None until a program succeeds, so a failed one is
    // sent again on the next pass.
    let mut programmed: Option<Vec<kernel::Forward>> = None;
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
        let (in_kernel, in_user): (Vec<Frontend>, Vec<Frontend>) = wanted
            .into_iter()
            .partition(|f| kernel.is_some() && kernel::handles(f));
        // A frontend moving between the paths is served by both for a moment rather than
        // by neither: listeners start first, the table changes, then listeners stop (while
        // both exist, the DNAT rule takes new connections before they reach a listener).
        let mut keep = start(&mut running, in_user).await;
        if let Some(k) = &kernel {
            let forwards = kernel::forwards(&in_kernel);
            if programmed.as_ref() != Some(&forwards) {
                let (k, f) = (k.clone(), forwards.clone());
                programmed = match blocking(move || k.program(&f)).await {
                    Ok(()) => Some(forwards),
                    Err(error) => {
                        tracing::warn!(%error, "kernel service rules not updated; serving them in user space until they are");
                        None
                    }
                };
            }
            // The table may still hold older rules; listeners serve what they do not.
            if programmed.is_none() {
                keep.extend(start(&mut running, in_kernel).await);
            }
        }
        running.retain(|key, _| keep.contains(key));
        // A periodic pass also retries listeners that could not bind last time; a burst
        // of changes (a rollout, a namespace deletion) settles into one sync.
        changes
            .next_pass(Duration::from_secs(10), Duration::from_millis(20))
            .await;
    }
}

/// The kernel path if this node can take it, said once in the node's log either way.
async fn open_kernel(node_ips: &[IpAddr]) -> Option<Arc<kernel::Nftables>> {
    let Some(node_ip) = kernel::snat_address(node_ips) else {
        println!("service proxy: user space (the node has no IPv4 address)");
        return None;
    };
    match blocking(move || kernel::Nftables::open(node_ip)).await {
        Ok(k) => {
            println!("service proxy: kernel (nftables DNAT) for TCP, user space for UDP and ClientIP affinity");
            Some(Arc::new(k))
        }
        Err(reason) => {
            println!("service proxy: user space ({reason})");
            None
        }
    }
}

/// Run a netlink exchange (blocking I/O) off the async workers; a failure, or the task's
/// own, as text for the node's log.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, kernel::KernelError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(done) => done.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Start or update a listener for every frontend of `wanted` with endpoints; returns the
/// keys that should keep running.
async fn start(
    running: &mut HashMap<(SocketAddr, Protocol), Running>,
    wanted: Vec<Frontend>,
) -> std::collections::HashSet<(SocketAddr, Protocol)> {
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
    keep
}
