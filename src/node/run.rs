//! `rkube node-daemon`: PID 1 of a node container. The control-plane node runs the control
//! plane, cluster DNS, the service proxy and the kubelet; a worker node joins its API server
//! and runs the kubelet and NodePorts. Both drive the Docker engine whose socket is mounted
//! in, keep state on their own volume, reap zombies, and stop cleanly on SIGTERM.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use super::control_plane::{Config, ControlPlane};
use crate::cluster::extra_config::ProxyMode;
use crate::cluster::node_container::{API_PORT, STATE_DIR};
use crate::cluster::profile;
use crate::informer::SharedCaches;
use crate::kubelet::{self, docker::DockerRuntime};
use crate::pki::CertPair;
use crate::supervisor::Supervisor;
use crate::{dns, proxy};

/// The node's interface on the profile network, where service addresses are claimed.
const SERVICE_INTERFACE: &str = "eth0";
/// The cluster domain.
const CLUSTER_DOMAIN: &str = "cluster.local";

/// Certificates a worker reads from `<state>/pki`: the CLI issues them from the profile's
/// CA, so no CA key ever reaches a worker. Each is `<name>.crt` with `<name>.key`.
pub mod worker_pki {
    /// The cluster CA certificate.
    pub const CA: &str = "ca.crt";
    /// The kubelet's client certificate (`system:node:<name>`).
    pub const KUBELET_CLIENT: &str = "kubelet-client";
    /// The kubelet's serving certificate.
    pub const KUBELET_SERVING: &str = "kubelet";
    /// The service proxy's client certificate (`system:kube-proxy`).
    pub const PROXY_CLIENT: &str = "kube-proxy";
}

/// Settings of the node process, passed by `rkube start` and `rkube node add`.
#[derive(Clone, Debug)]
pub struct NodeSettings {
    /// Profile name.
    pub profile: String,
    /// This node's name (the profile's for the control-plane node).
    pub node_name: String,
    /// The API server a worker joins; `None` on the control-plane node.
    pub join: Option<String>,
    /// The node's address.
    pub node_ip: Ipv4Addr,
    /// Service virtual IP range.
    pub service_cidr: String,
    /// CPU capacity.
    pub cpus: u32,
    /// Memory capacity, MiB.
    pub memory_mb: u64,
    /// The node image (also the pod sandbox image).
    pub node_image: String,
    /// The profile's Docker network.
    pub network: String,
    /// Component settings from `--extra-config`.
    pub extra_config: crate::cluster::extra_config::ExtraConfig,
    /// The Pod Security level of namespaces without labels.
    pub pod_security: crate::apiserver::pod_security::Level,
}

/// Collect exited children: as PID 1 every orphan in the container becomes ours.
pub fn reap_zombies() {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    use nix::unistd::Pid;
    while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

fn upstream_resolvers() -> Vec<String> {
    std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Run the node until SIGTERM or SIGINT.
pub async fn run(s: NodeSettings) -> anyhow::Result<()> {
    reap_as_init();
    super::reclaim::spawn();
    match s.join.clone() {
        Some(url) => run_worker(s, &url).await,
        None => run_control_plane(s).await,
    }
}

fn reap_as_init() {
    if std::process::id() == 1 {
        tokio::spawn(async {
            use tokio::signal::unix::{signal, SignalKind};
            if let Ok(mut child) = signal(SignalKind::child()) {
                while child.recv().await.is_some() {
                    reap_zombies();
                }
            }
        });
    }
}

async fn run_control_plane(s: NodeSettings) -> anyhow::Result<()> {
    let state_dir = PathBuf::from(STATE_DIR);
    let mut cfg = Config::new(state_dir.clone());
    // Inside the container: the node's own components dial loopback; the host reaches the
    // node's address through the port Docker publishes on the host's 127.0.0.1 only; pods
    // and workers reach the node's address too. Both need certificates or tokens. Not the
    // wildcard: the service addresses claimed on eth0 would serve the API server on 8443 as
    // well, and a Service with port 8443 could not take its ClusterIP.
    cfg.listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), API_PORT);
    cfg.also_listen = vec![SocketAddr::new(IpAddr::V4(s.node_ip), API_PORT)];
    cfg.service_cidr = s.service_cidr.clone();
    cfg.extra_sans = vec![
        s.node_ip.to_string(),
        s.profile.clone(),
        "control-plane.rkube.internal".into(),
    ];
    cfg.advertise = Some(SocketAddr::new(IpAddr::V4(s.node_ip), API_PORT));
    cfg.pod_security = s.pod_security;
    if let Some(ttl) = s.extra_config.event_ttl {
        cfg.event_ttl = ttl;
    }
    if let Some(grace) = s.extra_config.node_monitor_grace_period {
        cfg.node_monitor_grace_period = grace;
    }
    let cp = ControlPlane::start(cfg)
        .await
        .context("starting the control plane")?;
    let local_url = format!("https://127.0.0.1:{API_PORT}");
    let dns_ip = cp.state.allocators.dns_ip();
    let supervisor = cp.state.supervisor.clone();
    let kernel = s.extra_config.proxy_mode == ProxyMode::Nftables;
    let services = start_services(&cp, &local_url, s.node_ip, dns_ip, kernel, &supervisor).await?;

    let node_cert = cp.ca.client_cert(
        &format!("node-{}", s.profile),
        &format!("system:node:{}", s.profile),
        &["system:nodes"],
    )?;
    let client = crate::controllers::client(&local_url, &cp.ca_pem, &node_cert)?;
    let serving = cp.ca.serving_cert(
        "kubelet",
        &s.profile,
        std::slice::from_ref(&s.profile),
        &[IpAddr::V4(s.node_ip)],
    )?;
    let kubelet_tasks =
        start_kubelet(&s, client, &serving, &cp.ca_pem, dns_ip, true, &supervisor).await?;
    println!("rkube node {} ready at {}", s.profile, cp.server_url);

    wait_for_stop().await?;
    for t in kubelet_tasks.into_iter().chain(services) {
        t.abort();
    }
    cp.stop().await;
    Ok(())
}

fn read_pair(dir: &Path, name: &str) -> anyhow::Result<CertPair> {
    let read = |ext: &str| {
        let path = dir.join(format!("{name}.{ext}"));
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    Ok(CertPair {
        cert_pem: read("crt")?,
        key_pem: read("key")?,
    })
}

/// A worker: the kubelet and the NodePorts of this node, as clients of the control plane
/// at `url`. ClusterIPs and cluster DNS need nothing here: they are addresses of the
/// control-plane node on the same bridge.
async fn run_worker(s: NodeSettings, url: &str) -> anyhow::Result<()> {
    // The state directory (keys, pod files) is root's only, as on the control plane.
    crate::pki::private_dir(Path::new(STATE_DIR))
        .with_context(|| format!("restricting {STATE_DIR}"))?;
    let pki = PathBuf::from(STATE_DIR).join("pki");
    let ca_path = pki.join(worker_pki::CA);
    let ca_pem = std::fs::read_to_string(&ca_path)
        .with_context(|| format!("reading {}", ca_path.display()))?;
    let node_cert = read_pair(&pki, worker_pki::KUBELET_CLIENT)?;
    let serving = read_pair(&pki, worker_pki::KUBELET_SERVING)?;
    let proxy_cert = read_pair(&pki, worker_pki::PROXY_CLIENT)?;
    let dns_ip = crate::apiserver::Allocators::new(&s.service_cidr)
        .with_context(|| format!("invalid service CIDR {:?}", s.service_cidr))?
        .dns_ip();
    let client = crate::controllers::client(url, &ca_pem, &node_cert)?;
    // A worker's components restart as the control plane's do; its health shows as the
    // node's Ready condition.
    let supervisor = Supervisor::new();
    let mut tasks =
        start_kubelet(&s, client, &serving, &ca_pem, dns_ip, false, &supervisor).await?;
    let proxy_client = crate::controllers::client(url, &ca_pem, &proxy_cert)?;
    let proxy_cfg = proxy::Config {
        node_ips: vec![IpAddr::V4(s.node_ip)],
        cluster_ips: false,
        kernel: s.extra_config.proxy_mode == ProxyMode::Nftables,
    };
    let caches = SharedCaches::new(proxy_client);
    tasks.push(supervisor.spawn("proxy", move || {
        proxy::run(caches.clone(), proxy_cfg.clone())
    }));
    println!("rkube node {} joined {url}", s.node_name);
    wait_for_stop().await?;
    for t in tasks {
        t.abort();
    }
    Ok(())
}

/// The kubelet and its HTTPS server on the node's address.
async fn start_kubelet(
    s: &NodeSettings,
    client: kube::Client,
    serving: &CertPair,
    ca_pem: &str,
    dns_ip: Ipv4Addr,
    control_plane: bool,
    supervisor: &Arc<Supervisor>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let runtime = DockerRuntime::connect(
        &s.profile,
        &s.network,
        &s.node_image,
        &s.node_name,
        &profile::volume_name(&s.node_name),
        STATE_DIR,
    )
    .await
    .context("connecting the kubelet to Docker")?;
    let kcfg = kubelet::Config {
        node_name: s.node_name.clone(),
        node_ip: s.node_ip,
        cpus: s.cpus,
        memory_mb: s.memory_mb,
        cluster_dns: Some(dns_ip),
        upstream_dns: upstream_resolvers(),
        cluster_domain: CLUSTER_DOMAIN.into(),
        state_dir: PathBuf::from(STATE_DIR),
        control_plane,
    };
    let k = kubelet::Kubelet::new(client, Arc::new(runtime), kcfg);
    let tls = Arc::new(crate::apiserver::authn::server_config(serving, ca_pem)?);
    let listener = kubelet::server::bind(SocketAddr::new(
        IpAddr::V4(s.node_ip),
        kubelet::server::PORT as u16,
    ))
    .await
    .context("binding the kubelet port")?;
    let listener = Arc::new(listener);
    let server = {
        let k = k.clone();
        supervisor.spawn("kubelet-server", move || {
            kubelet::server::serve(listener.clone(), tls.clone(), k.clone())
        })
    };
    Ok(vec![
        server,
        supervisor.spawn("kubelet", move || kubelet::run(k.clone())),
    ])
}

/// The service proxy (claiming service addresses on eth0) and cluster DNS on the kube-dns
/// address, both reading Services and EndpointSlices as `system:kube-proxy`.
async fn start_services(
    cp: &ControlPlane,
    local_url: &str,
    node_ip: Ipv4Addr,
    dns_ip: Ipv4Addr,
    kernel: bool,
    supervisor: &Arc<Supervisor>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let cert = cp.ca.client_cert("kube-proxy", "system:kube-proxy", &[])?;
    let client = crate::controllers::client(local_url, &cp.ca_pem, &cert)?;
    // The proxy and the DNS read Services and EndpointSlices from one cache.
    let caches = SharedCaches::new(client);
    let iface = proxy::addresses::Netlink::open(SERVICE_INTERFACE)
        .await
        .context("opening the node's interface for service addresses (the node container needs CAP_NET_ADMIN)")?;
    let claimed = proxy::addresses::Claimed::new(Box::new(iface), &[dns_ip])
        .await
        .with_context(|| format!("claiming the cluster DNS address {dns_ip}"))?;
    let proxy_cfg = proxy::Config {
        node_ips: vec![IpAddr::V4(node_ip)],
        cluster_ips: true,
        kernel,
    };
    let claimed = Arc::new(tokio::sync::Mutex::new(claimed));
    let proxy_task = {
        let caches = caches.clone();
        supervisor.spawn("proxy", move || {
            proxy::run_claiming(caches.clone(), proxy_cfg.clone(), Some(claimed.clone()))
        })
    };
    // Docker's embedded resolver (127.0.0.11) answers only inside this container's network
    // namespace, so pods ask the cluster DNS here and it forwards other names there.
    let upstreams = dns::upstreams_from_resolv_conf(
        &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
    );
    let dns_cfg = dns::Config {
        listen: SocketAddr::new(IpAddr::V4(dns_ip), 53),
        domain: CLUSTER_DOMAIN.into(),
        upstreams,
    };
    let dns_task = supervisor.spawn("dns", move || dns::run(caches.clone(), dns_cfg.clone()));
    Ok(vec![proxy_task, dns_task])
}

async fn wait_for_stop() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
