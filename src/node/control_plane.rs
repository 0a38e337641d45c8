//! The control plane: datastore, PKI, API server with its bootstrap objects, compaction.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::apiserver::{self, authn, Allocators, State};
use crate::cluster::kubeconfig;
use crate::controllers;
use crate::pki::{Ca, CertPair};
use crate::resources::registry::Registry;
use crate::store::{self, SqliteStore, Store};

/// Errors starting the control plane.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be prepared.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Certificates could not be created or loaded.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// The datastore could not be opened.
    #[error("datastore: {0}")]
    Store(#[from] store::StoreError),
    /// TLS configuration failed.
    #[error(transparent)]
    Tls(#[from] authn::TlsError),
    /// The port could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The bootstrap objects could not be created.
    #[error("creating bootstrap objects: {0}")]
    Bootstrap(String),
    /// The kubeconfig could not be written.
    #[error(transparent)]
    Kubeconfig(#[from] kubeconfig::KubeconfigError),
    /// A bad setting.
    #[error("{0}")]
    Config(String),
}

/// Settings of a control plane.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where state lives (datastore, PKI).
    pub data_dir: PathBuf,
    /// Address to listen on; in-process clients dial it.
    pub listen: SocketAddr,
    /// More addresses served the same way (a node's own address beside loopback), so the
    /// API server never needs the wildcard address, whose port would also be taken on
    /// every service address claimed on the node's interface.
    pub also_listen: Vec<SocketAddr>,
    /// Extra DNS names and IPs for the serving certificate.
    pub extra_sans: Vec<String>,
    /// Service cluster IP range.
    pub service_cidr: String,
    /// Where to write (merge) the admin kubeconfig, if anywhere.
    pub kubeconfig: Option<PathBuf>,
    /// Context name in that kubeconfig.
    pub context: String,
    /// Run the kubelet test double as a node of this name (API tests only).
    pub simulated_node: Option<String>,
    /// How long a kubelet may stay silent before its node is Unknown.
    pub node_monitor_grace_period: std::time::Duration,
    /// Where pods reach the API server; set when a node hosts the control plane, which
    /// then serves the `kubernetes` endpoints there and the `kube-dns` Service.
    pub advertise: Option<SocketAddr>,
    /// How long an Event lives after its last write (`--event-ttl`).
    pub event_ttl: std::time::Duration,
    /// The Pod Security level of namespaces without labels.
    pub pod_security: apiserver::pod_security::Level,
    /// How often the datastore's history is compacted (`--etcd-compaction-interval`);
    /// zero never compacts.
    pub compaction_interval: Duration,
    /// How many of the newest revisions each compaction keeps for watches to resume from.
    pub compaction_retain: i64,
}

/// kube-apiserver's default `--etcd-compaction-interval`.
pub const DEFAULT_COMPACTION_INTERVAL: Duration = Duration::from_secs(300);
/// The revisions a compaction keeps by default.
pub const DEFAULT_COMPACTION_RETAIN: i64 = 10_000;

impl Config {
    /// Defaults for a data directory: loopback, a random port, kube's service range.
    pub fn new(data_dir: PathBuf) -> Self {
        Config {
            data_dir,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            also_listen: Vec::new(),
            extra_sans: Vec::new(),
            service_cidr: "10.96.0.0/12".into(),
            kubeconfig: None,
            context: "rkube".into(),
            simulated_node: None,
            node_monitor_grace_period: controllers::node_lifecycle::DEFAULT_GRACE_PERIOD,
            advertise: None,
            event_ttl: store::event_ttl::DEFAULT_TTL,
            pod_security: apiserver::pod_security::Level::Privileged,
            compaction_interval: DEFAULT_COMPACTION_INTERVAL,
            compaction_retain: DEFAULT_COMPACTION_RETAIN,
        }
    }
}

/// A running control plane.
pub struct ControlPlane {
    /// The cluster CA (in-process components get their certificates from it).
    pub ca: Arc<Ca>,
    /// The address the API server listens on.
    pub addr: SocketAddr,
    /// `https://addr`.
    pub server_url: String,
    /// The admin client certificate.
    pub admin: CertPair,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// Shared API state (for in-process components).
    pub state: Arc<State>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn serving_names(cfg: &Config, service_ip: Ipv4Addr) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns: Vec<String> = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "control-plane.rkube.internal",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut ips: Vec<IpAddr> = vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V4(service_ip)];
    for addr in std::iter::once(&cfg.listen).chain(&cfg.also_listen) {
        if !addr.ip().is_unspecified() && !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
    }
    for san in &cfg.extra_sans {
        match san.parse::<IpAddr>() {
            Ok(ip) if !ips.contains(&ip) => ips.push(ip),
            Ok(_) => {}
            Err(_) if !dns.contains(san) => dns.push(san.clone()),
            Err(_) => {}
        }
    }
    (dns, ips)
}

/// The data directory (datastore, PKI, pod files) is the owner's only, as etcd's.
fn prepare_dir(path: &Path) -> Result<(), StartError> {
    crate::pki::private_dir(path).map_err(|source| StartError::DataDir {
        path: path.to_path_buf(),
        source,
    })
}

impl ControlPlane {
    /// Start everything; returns once the API server accepts connections.
    pub async fn start(cfg: Config) -> Result<ControlPlane, StartError> {
        prepare_dir(&cfg.data_dir)?;
        let pki_dir = cfg.data_dir.join("pki");
        let allocators = Allocators::new(&cfg.service_cidr).ok_or_else(|| {
            StartError::Config(format!(
                "invalid service CIDR {:?}: want an IPv4 a.b.c.d/n with n in 8..=30",
                cfg.service_cidr
            ))
        })?;
        let ca = Ca::load_or_create(&pki_dir, "rkubeCA")?;
        let (dns, ips) = serving_names(&cfg, allocators.first_ip());
        let serving = ca.serving_cert("apiserver", "kube-apiserver", &dns, &ips)?;
        let admin = ca.client_cert("admin", "rkube-user", &["system:masters"])?;
        let tls = authn::server_config(&serving, ca.cert_pem())?;

        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&cfg.data_dir.join("state.db"))?);
        allocators.load(store.as_ref()).await?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })
        };
        let listener = bind(cfg.listen).await?;
        let mut more_listeners = Vec::new();
        for addr in &cfg.also_listen {
            more_listeners.push(bind(*addr).await?);
        }
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: cfg.listen,
            source,
        })?;
        // In-process clients dial loopback even when serving on every interface.
        let local = if addr.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        } else {
            addr
        };
        let server_url = format!("https://{local}");
        let tokens = Arc::new(
            apiserver::tokens::TokenIssuer::load_or_create(&pki_dir)
                .map_err(|e| StartError::Config(e.to_string()))?,
        );
        let mut state = State::new(
            store.clone(),
            Registry::builtin(),
            allocators,
            addr.to_string(),
            tokens,
        );
        state.pod_security_default = cfg.pod_security;
        let state = Arc::new(state);
        let kubelet_cert = ca.client_cert(
            "apiserver-kubelet-client",
            crate::kubelet::server::APISERVER_CLIENT,
            &[],
        )?;
        let _ = state
            .kubelet_client
            .set(apiserver::kubelet_client::Credentials {
                ca_pem: ca.cert_pem().to_string(),
                cert: kubelet_cert,
            });
        let _ = state.proxy_client.set(ca.client_cert(
            "front-proxy-client",
            apiserver::aggregator::PROXY_CLIENT,
            &[],
        )?);
        apiserver::bootstrap(&state)
            .await
            .map_err(|e| StartError::Bootstrap(e.message))?;
        if let Some(advertise) = cfg.advertise {
            apiserver::node_services(&state, advertise)
                .await
                .map_err(|e| StartError::Bootstrap(e.message))?;
        }
        let mut tasks = state
            .authorizer
            .start(store.clone(), &state.registry)
            .await?;
        tasks.extend(
            state
                .node_authorizer
                .start(store.clone(), &state.registry)
                .await?,
        );
        let supervisor = state.supervisor.clone();
        tasks.push(supervisor.spawn("controller/kubernetes-service", {
            let (state, advertise) = (state.clone(), cfg.advertise);
            move || apiserver::keep_system_objects(state.clone(), advertise)
        }));
        // CRDs are served before the first request, so clients never see them missing.
        tasks.push(apiserver::crd::controller::start(state.clone()).await?);
        tasks.push(apiserver::aggregator::start(state.clone()).await);

        let (shutdown, rx) = watch::channel(false);
        for listener in std::iter::once(listener).chain(more_listeners) {
            let mut stop = rx.clone();
            tasks.push(tokio::spawn(apiserver::serve(
                listener,
                tls.clone(),
                state.clone(),
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            )));
        }
        tasks.push(store::event_ttl::spawn(store.clone(), cfg.event_ttl));
        // Like kube-apiserver's etcd compaction, keeping recent history for watches.
        if !cfg.compaction_interval.is_zero() {
            tasks.push(store::spawn_compactor(
                store.clone(),
                cfg.compaction_interval,
                cfg.compaction_retain,
            ));
        }
        // Controllers are ordinary API clients with their own identity, authorized by the
        // bootstrap `system:kube-controller-manager` ClusterRole.
        let cm_cert =
            ca.client_cert("controller-manager", "system:kube-controller-manager", &[])?;
        let cm_client = controllers::client(&server_url, ca.cert_pem(), &cm_cert)
            .map_err(|e| StartError::Config(e.to_string()))?;
        tasks.push(
            supervisor.spawn("controller/legacy-service-account-token-tracking", {
                let (client, tokens, ca_pem) = (
                    cm_client.clone(),
                    state.tokens.clone(),
                    ca.cert_pem().to_string(),
                );
                move || {
                    controllers::legacy_tokens::run(client.clone(), tokens.clone(), ca_pem.clone())
                }
            }),
        );
        // One list and watch per kind for the controllers and the scheduler, as one shared
        // informer factory; the scheduler still writes as itself.
        let caches = crate::informer::SharedCaches::new(cm_client.clone());
        tasks.extend(controllers::spawn_all(
            cm_client,
            caches.clone(),
            state.registry.clone(),
            ca.cert_pem().to_string(),
            cfg.node_monitor_grace_period,
            &supervisor,
        ));

        let scheduler_cert = ca.client_cert("scheduler", "system:kube-scheduler", &[])?;
        let scheduler_client = controllers::client(&server_url, ca.cert_pem(), &scheduler_cert)
            .map_err(|e| StartError::Config(e.to_string()))?;
        tasks.push(supervisor.spawn("scheduler", move || {
            crate::scheduler::run(scheduler_client.clone(), caches.clone())
        }));
        if let Some(node) = &cfg.simulated_node {
            let cert = ca.client_cert(
                &format!("node-{node}"),
                &format!("system:node:{node}"),
                &["system:nodes"],
            )?;
            let client = controllers::client(&server_url, ca.cert_pem(), &cert)
                .map_err(|e| StartError::Config(e.to_string()))?;
            tasks.push(tokio::spawn(super::simulated::run(client, node.clone())));
        }

        if let Some(path) = &cfg.kubeconfig {
            kubeconfig::merge(
                path,
                &kubeconfig::Entry {
                    name: &cfg.context,
                    server: &server_url,
                    ca_pem: ca.cert_pem(),
                    cert_pem: &admin.cert_pem,
                    key_pem: &admin.key_pem,
                },
            )?;
        }
        let ca_pem = ca.cert_pem().to_string();
        Ok(ControlPlane {
            ca: Arc::new(ca),
            addr,
            server_url,
            admin,
            ca_pem,
            state,
            shutdown,
            tasks,
        })
    }

    /// Stop serving and background work.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listen_address_is_in_the_serving_certificate() {
        let mut cfg = Config::new(PathBuf::from("/nonexistent"));
        cfg.listen = SocketAddr::from(([127, 0, 0, 1], 8443));
        cfg.also_listen = vec![SocketAddr::from(([192, 168, 49, 2], 8443))];
        let (_, ips) = serving_names(&cfg, Ipv4Addr::new(10, 96, 0, 1));
        for ip in ["127.0.0.1", "192.168.49.2", "10.96.0.1"] {
            assert!(ips.contains(&ip.parse().unwrap()), "{ip} in {ips:?}");
        }
    }

    #[test]
    fn the_data_directory_is_the_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare_dir(&data).unwrap();
        let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
