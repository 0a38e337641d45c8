//! The kubelet: registers the node, heartbeats, and runs one worker per pod bound to it,
//! driving a container runtime (Docker, `docker.rs`) behind the `ContainerRuntime` trait.

pub mod backoff;
pub mod container_spec;
pub mod dns_config;
pub mod docker;
pub mod env;
pub mod host_mounts;
pub mod node_status;
pub mod object_cache;
pub mod pod_port;
pub mod pod_worker;
pub mod probes;
pub mod runtime;
pub mod server;
pub mod stats;
pub mod status;
pub mod streaming;
pub mod volumes;

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::{watcher, WatchStreamExt};
use tokio::sync::mpsc;

use crate::controllers::events::Recorder;
use pod_worker::Update;
use runtime::ContainerRuntime;

/// How often every container of the node is listed behind the runtime's events.
const RELIST_EVERY: Duration = Duration::from_secs(30);

/// Settings of the kubelet.
#[derive(Clone, Debug)]
pub struct Config {
    /// Node name.
    pub node_name: String,
    /// The node's address.
    pub node_ip: Ipv4Addr,
    /// CPU capacity.
    pub cpus: u32,
    /// Memory capacity, MiB.
    pub memory_mb: u64,
    /// The cluster DNS service address, when cluster DNS serves.
    pub cluster_dns: Option<Ipv4Addr>,
    /// The node's own resolvers (for `dnsPolicy: Default`).
    pub upstream_dns: Vec<String>,
    /// `cluster.local`.
    pub cluster_domain: String,
    /// Where pod files live (on the state volume).
    pub state_dir: PathBuf,
    /// Whether this node hosts the control plane (its role label).
    pub control_plane: bool,
}

impl Config {
    /// Memory capacity in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_mb * 1024 * 1024
    }

    /// A configuration for unit tests.
    #[cfg(test)]
    pub fn for_tests() -> Config {
        Config {
            node_name: "node".into(),
            node_ip: Ipv4Addr::new(10, 0, 0, 2),
            cpus: 2,
            memory_mb: 2048,
            cluster_dns: None,
            upstream_dns: Vec::new(),
            cluster_domain: "cluster.local".into(),
            state_dir: PathBuf::from("/tmp"),
            control_plane: true,
        }
    }
}

/// The kubelet's shared parts, used by its pod workers and its server.
pub struct Kubelet<R: ContainerRuntime> {
    /// API client with the node's identity.
    pub client: kube::Client,
    /// The container runtime.
    pub runtime: Arc<R>,
    /// Settings.
    pub cfg: Config,
    /// Event recorder (component `kubelet`).
    pub recorder: Recorder,
    /// Resource usage samples for the metrics endpoints.
    pub stats: stats::Collector,
    /// The watched ConfigMaps and Secrets that pod volumes project.
    pub objects: object_cache::ObjectCache,
}

impl<R: ContainerRuntime> Kubelet<R> {
    /// A kubelet over `runtime`.
    pub fn new(client: kube::Client, runtime: Arc<R>, cfg: Config) -> Arc<Self> {
        let recorder = Recorder::new(client.clone(), "kubelet", &cfg.node_name);
        Arc::new(Kubelet {
            objects: object_cache::ObjectCache::new(client.clone()),
            client,
            runtime,
            cfg,
            recorder,
            stats: stats::Collector::default(),
        })
    }

    /// What volume set-up needs.
    pub fn volume_context(&self) -> volumes::VolumeContext<'_> {
        volumes::VolumeContext {
            client: &self.client,
            objects: &self.objects,
            state_dir: &self.cfg.state_dir,
            node_cpus: self.cfg.cpus,
            node_memory: self.cfg.memory_bytes(),
        }
    }
}

/// Register the node and run pods bound to it until the future is dropped.
pub async fn run<R: ContainerRuntime>(kubelet: Arc<Kubelet<R>>) {
    let runtime_version = kubelet
        .runtime
        .version()
        .await
        .unwrap_or_else(|_| "docker://unknown".into());
    let info = node_status::NodeInfo {
        name: kubelet.cfg.node_name.clone(),
        ip: kubelet.cfg.node_ip.to_string(),
        cpus: kubelet.cfg.cpus,
        memory_mb: kubelet.cfg.memory_mb,
        runtime_version,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        os_image: format!("rkube node {}", env!("CARGO_PKG_VERSION")),
        control_plane: kubelet.cfg.control_plane,
    };
    while let Err(e) = node_status::register(&kubelet.client, &info).await {
        tracing::warn!(error = %e, "registering the node; retrying");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let heartbeat = tokio::spawn(node_status::heartbeat(
        kubelet.client.clone(),
        info,
        "kubelet",
    ));

    let pods: Api<Pod> = Api::all(kubelet.client.clone());
    let selector = format!("spec.nodeName={}", kubelet.cfg.node_name);
    let mut stream = watcher::watcher(pods, watcher::Config::default().fields(&selector))
        .default_backoff()
        .boxed();
    let mut workers: HashMap<String, mpsc::UnboundedSender<Update>> = HashMap::new();
    let mut finished = tokio::task::JoinSet::new();
    let mut listed: HashSet<String> = HashSet::new();
    let mut sweep = tokio::time::interval(RELIST_EVERY);
    let mut relisted = None;
    let (changed_tx, mut changed) = mpsc::unbounded_channel();
    let mut volume_objects_changed = kubelet.objects.subscribe();
    let events = tokio::spawn(follow_runtime_events(kubelet.runtime.clone(), changed_tx));
    loop {
        tokio::select! {
            Some(uid) = changed.recv() => {
                // A container changed behind the worker's back (it died, was killed, its
                // health flipped): its worker syncs now rather than at its next poll.
                let targets: Vec<_> = match &uid {
                    Some(uid) => workers.get(uid).into_iter().collect(),
                    None => workers.values().collect(),
                };
                for tx in targets {
                    let _ = tx.send(Update::Runtime);
                }
            }
            Some(uid) = volume_objects_changed.recv() => {
                // A ConfigMap or Secret that the pod's volumes project changed: its
                // worker syncs the volume now, not at its next resync.
                if let Some(tx) = workers.get(&uid) {
                    let _ = tx.send(Update::Runtime);
                }
            }
            ev = stream.next() => {
                let Some(ev) = ev else { break };
                match ev {
                    Ok(watcher::Event::Init) => listed.clear(),
                    Ok(watcher::Event::InitApply(pod)) => {
                        listed.insert(pod.metadata.uid.clone().unwrap_or_default());
                        dispatch(&kubelet, &mut workers, &mut finished, pod);
                    }
                    Ok(watcher::Event::Apply(pod)) => dispatch(&kubelet, &mut workers, &mut finished, pod),
                    Ok(watcher::Event::Delete(pod)) => {
                        if let Some(tx) = workers.get(pod.metadata.uid.as_deref().unwrap_or_default()) {
                            let _ = tx.send(Update::Gone);
                        }
                    }
                    Ok(watcher::Event::InitDone) => {
                        // Pods deleted while we were not watching.
                        for (uid, tx) in &workers {
                            if !listed.contains(uid) {
                                let _ = tx.send(Update::Gone);
                            }
                        }
                        relist(&kubelet, &workers, &mut relisted).await;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "kubelet pod watch");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
            Some(done) = finished.join_next() => {
                if let Ok(uid) = done {
                    workers.remove(&uid);
                    kubelet.objects.forget_pod(&uid);
                }
            }
            _ = sweep.tick() => relist(&kubelet, &workers, &mut relisted).await,
        }
    }
    heartbeat.abort();
    events.abort();
}

/// Forward the uid of every pod whose container changed state; `None` after the runtime's
/// event stream broke and was opened again, since events may have been lost in between.
async fn follow_runtime_events<R: ContainerRuntime>(
    runtime: Arc<R>,
    changed: mpsc::UnboundedSender<Option<String>>,
) {
    let mut first = true;
    let mut retry = Duration::from_secs(1);
    loop {
        let opened = std::time::Instant::now();
        let mut events = runtime.events();
        if !first && changed.send(None).is_err() {
            return;
        }
        first = false;
        while let Some(ev) = events.next().await {
            match ev {
                Ok(ev) => {
                    tracing::debug!(pod_uid = %ev.pod_uid, container = %ev.container_id, action = %ev.action, "container event");
                    if changed.send(Some(ev.pod_uid)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "container runtime events");
                    break;
                }
            }
        }
        // A runtime without a working event stream degrades to a resync per retry.
        if opened.elapsed() > Duration::from_secs(60) {
            retry = Duration::from_secs(1);
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(Duration::from_secs(30));
    }
}

fn dispatch<R: ContainerRuntime>(
    kubelet: &Arc<Kubelet<R>>,
    workers: &mut HashMap<String, mpsc::UnboundedSender<Update>>,
    finished: &mut tokio::task::JoinSet<String>,
    pod: Pod,
) {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    kubelet.objects.set_pod(&pod);
    if let Some(tx) = workers.get(&uid) {
        if tx.send(Update::Pod(Box::new(pod.clone()))).is_ok() {
            return;
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    workers.insert(uid.clone(), tx);
    let k = kubelet.clone();
    finished.spawn(async move {
        pod_worker::run(k, pod, rx).await;
        uid
    });
}

/// What a relist saw: each pod's containers, by pod uid, with their states.
type Seen = HashMap<String, Vec<(String, runtime::State)>>;

/// The safety net behind runtime events, as upstream's PLEG relist: one list of every
/// container of this node; the workers of pods whose containers changed since the last
/// relist sync now (an event was lost), and containers of pods this kubelet no longer
/// runs (deleted while it was down) are removed. `last` is `None` before the first.
async fn relist<R: ContainerRuntime>(
    kubelet: &Kubelet<R>,
    workers: &HashMap<String, mpsc::UnboundedSender<Update>>,
    last: &mut Option<Seen>,
) {
    let Ok(all) = kubelet.runtime.list(None).await else {
        return;
    };
    let mut seen = Seen::new();
    for c in &all {
        seen.entry(c.pod_uid.clone())
            .or_default()
            .push((c.id.clone(), c.state.clone()));
    }
    for containers in seen.values_mut() {
        containers.sort_by(|a, b| a.0.cmp(&b.0));
    }
    if let Some(last) = last.as_ref() {
        for (uid, tx) in workers {
            if seen.get(uid) != last.get(uid) {
                let _ = tx.send(Update::Runtime);
            }
        }
    }
    *last = Some(seen);
    let mut gone: HashSet<String> = HashSet::new();
    for c in all.iter().filter(|c| !workers.contains_key(&c.pod_uid)) {
        tracing::info!(pod = %format!("{}/{}", c.pod_namespace, c.pod_name), container = %c.name, "removing a container of a pod that no longer exists");
        let _ = kubelet.runtime.remove(&c.id).await;
        gone.insert(c.pod_uid.clone());
    }
    for uid in gone {
        volumes::cleanup(&kubelet.cfg.state_dir, &uid);
    }
}
