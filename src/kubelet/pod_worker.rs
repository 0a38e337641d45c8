//! One worker per pod: it drives the runtime toward the pod spec (sandbox, volumes, init
//! containers in order, app containers with their restart policy and back-off, probes),
//! reports the pod status, and on deletion stops everything within the grace period and
//! removes the pod.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container as ContainerSpecK8s, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::backoff::Backoff;
use super::probes::{self, Kind, Tally};
use super::runtime::{Container, ContainerRuntime, Mount, RuntimeError};
use super::status::{self, View};
use super::{container_spec, env, volumes, Kubelet};
use crate::controllers::events::{reference, EventType};

/// What the kubelet tells a worker.
#[derive(Debug)]
pub enum Update {
    /// The pod as last seen.
    Pod(Box<Pod>),
    /// The pod object is gone.
    Gone,
    /// One of the pod's containers changed state in the runtime.
    Runtime,
}

/// Per-container probe state, keyed by container id so a restart starts afresh.
#[derive(Default)]
struct ProbeState {
    container_id: String,
    started: Instant2,
    tallies: HashMap<Kind, Tally>,
}

#[derive(Clone, Copy)]
struct Instant2(Instant);

impl Default for Instant2 {
    fn default() -> Self {
        Instant2(Instant::now())
    }
}

struct Worker<R: ContainerRuntime> {
    kubelet: Arc<Kubelet<R>>,
    pod: Pod,
    backoff: Backoff,
    waiting: HashMap<String, (String, String)>,
    probes: HashMap<String, ProbeState>,
    last_status: Option<Value>,
    /// The last status could not be written: the next sync comes soon, not at the resync.
    status_unsent: bool,
    pulled: HashMap<String, bool>,
}

/// What a worker made while a new sandbox started.
#[derive(Default)]
struct Early {
    /// The pod's volumes, prepared.
    vols: Option<HashMap<String, volumes::Prepared>>,
    /// Containers created while the sandbox started, by name, with their ids; they are
    /// started as soon as it runs.
    created: HashMap<String, String>,
    /// Containers that could not be created; their waiting reason says why.
    failed: HashSet<String>,
}

/// How often a settled pod (nothing starting, no probes) is synced when no event comes:
/// upstream's sync frequency, which refreshes its ConfigMap, Secret and token volumes.
/// Lost container events are caught sooner, by the node-wide relist (`kubelet::run`).
const SETTLED_RESYNC: Duration = Duration::from_secs(60);

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Run a pod's worker until the pod is gone.
pub async fn run<R: ContainerRuntime>(
    kubelet: Arc<Kubelet<R>>,
    pod: Pod,
    mut rx: mpsc::UnboundedReceiver<Update>,
) {
    let mut w = Worker {
        kubelet,
        pod,
        backoff: Backoff::default(),
        waiting: HashMap::new(),
        probes: HashMap::new(),
        last_status: None,
        status_unsent: false,
        pulled: HashMap::new(),
    };
    let mut gone = false;
    loop {
        if gone {
            w.terminate(Duration::ZERO).await;
            return;
        }
        if w.pod.metadata.deletion_timestamp.is_some() {
            let grace = w.grace_period();
            w.terminate(grace).await;
            w.delete_pod().await;
            return;
        }
        let next = match w.sync().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(pod = %w.key(), error = %e, "pod sync");
                Duration::from_secs(2)
            }
        };
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Update::Pod(p)) => w.pod = *p,
                Some(Update::Runtime) => {}
                Some(Update::Gone) | None => gone = true,
            },
            _ = tokio::time::sleep(next) => {}
        }
        // Drain queued updates so a burst of events makes one sync.
        while let Ok(msg) = rx.try_recv() {
            match msg {
                Update::Pod(p) => w.pod = *p,
                Update::Runtime => {}
                Update::Gone => gone = true,
            }
        }
    }
}

impl<R: ContainerRuntime> Worker<R> {
    fn key(&self) -> String {
        format!(
            "{}/{}",
            self.pod.metadata.namespace.as_deref().unwrap_or_default(),
            self.pod.metadata.name.as_deref().unwrap_or_default()
        )
    }

    fn uid(&self) -> String {
        self.pod.metadata.uid.clone().unwrap_or_default()
    }

    fn restart_policy(&self) -> String {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.clone())
            .unwrap_or_else(|| "Always".into())
    }

    fn grace_period(&self) -> Duration {
        let secs = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .or_else(|| {
                self.pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
            })
            .unwrap_or(30);
        Duration::from_secs(secs.max(0) as u64)
    }

    fn event(&self, kind: EventType, reason: &str, message: &str) {
        self.kubelet
            .recorder
            .publish(&reference(&self.pod), kind, reason, message);
    }

    async fn terminate(&mut self, grace: Duration) {
        let uid = self.uid();
        let rt = &self.kubelet.runtime;
        let containers = rt.list(Some(&uid)).await.unwrap_or_default();
        let started = Instant::now();
        // preStop hooks run first, within the grace period.
        let specs: Vec<ContainerSpecK8s> = self
            .pod
            .spec
            .as_ref()
            .map(|s| s.containers.clone())
            .unwrap_or_default();
        let mut stops = Vec::new();
        for c in containers.iter().filter(|c| !c.sandbox && c.running()) {
            if !grace.is_zero() {
                self.event(
                    EventType::Normal,
                    "Killing",
                    &format!("Stopping container {}", c.name),
                );
            }
            let hook = specs
                .iter()
                .find(|s| s.name == c.name)
                .and_then(|s| s.lifecycle.as_ref())
                .and_then(|l| l.pre_stop.as_ref())
                .and_then(|h| h.exec.as_ref())
                .and_then(|e| e.command.clone());
            let id = c.id.clone();
            stops.push(async move {
                if let Some(cmd) = hook {
                    let _ = rt.exec(&id, &cmd, grace).await;
                }
                let left = grace.saturating_sub(started.elapsed());
                let _ = rt.stop(&id, left).await;
            });
        }
        futures::future::join_all(stops).await;
        for c in &containers {
            let _ = rt.remove(&c.id).await;
        }
        volumes::cleanup(&self.kubelet.cfg.state_dir, &uid);
    }

    async fn delete_pod(&self) {
        let ns = self
            .pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let api: Api<Pod> = Api::namespaced(self.kubelet.client.clone(), &ns);
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: self.pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        if let Err(e) = api
            .delete(self.pod.metadata.name.as_deref().unwrap_or_default(), &dp)
            .await
        {
            tracing::debug!(pod = %self.key(), error = %e, "deleting the pod after its containers stopped");
        }
    }

    /// Make sure `image` is usable by `container`; on failure the waiting reason and message.
    async fn ensure_image(&mut self, c: &ContainerSpecK8s) -> Result<(), (String, String)> {
        let image = c.image.clone().unwrap_or_default();
        let rt = &self.kubelet.runtime;
        let policy = c
            .image_pull_policy
            .clone()
            .unwrap_or_else(|| "IfNotPresent".into());
        let present = rt
            .image_status(&image)
            .await
            .map_err(|e| ("ErrImagePull".to_string(), e.to_string()))?;
        let first = !self.pulled.contains_key(&image);
        let must_pull = match (&present, policy.as_str()) {
            (Some(_), "Never" | "IfNotPresent") => false,
            // An image built on this engine has no registry to refresh it from.
            (Some(info), _) if info.repo_digests.is_empty() => false,
            (Some(_), _) => first,
            (None, "Never") => {
                let msg =
                    format!("Container image \"{image}\" is not present with pull policy of Never");
                self.event(EventType::Warning, "ErrImageNeverPull", &msg);
                return Err(("ErrImageNeverPull".into(), msg));
            }
            (None, _) => true,
        };
        if !must_pull {
            if first {
                self.pulled.insert(image.clone(), true);
                self.event(
                    EventType::Normal,
                    "Pulled",
                    &format!("Container image \"{image}\" already present on machine"),
                );
            }
            return Ok(());
        }
        let key = format!("pull:{image}");
        if self.backoff.remaining(&key).is_some() {
            let msg = format!("Back-off pulling image \"{image}\"");
            if self.waiting.get(&c.name).map(|w| w.0.as_str()) != Some("ImagePullBackOff") {
                self.event(EventType::Normal, "BackOff", &msg);
            }
            return Err(("ImagePullBackOff".into(), msg));
        }
        self.event(
            EventType::Normal,
            "Pulling",
            &format!("Pulling image \"{image}\""),
        );
        let started = Instant::now();
        match rt.pull(&image).await {
            Ok(()) => {
                self.backoff.reset(&key);
                self.pulled.insert(image.clone(), true);
                self.event(
                    EventType::Normal,
                    "Pulled",
                    &format!(
                        "Successfully pulled image \"{image}\" in {:.3}s",
                        started.elapsed().as_secs_f64()
                    ),
                );
                Ok(())
            }
            Err(e) => {
                self.backoff.fail(&key);
                let msg = format!("Failed to pull image \"{image}\": {e}");
                self.event(EventType::Warning, "Failed", &msg);
                self.event(EventType::Warning, "Failed", "Error: ErrImagePull");
                Err(("ErrImagePull".into(), msg))
            }
        }
    }

    async fn services(&self) -> Vec<Service> {
        let ns = self
            .pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let mut out: Vec<Service> = Api::<Service>::namespaced(self.kubelet.client.clone(), &ns)
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        if ns != "default" {
            if let Ok(Some(k)) = Api::<Service>::namespaced(self.kubelet.client.clone(), "default")
                .get_opt("kubernetes")
                .await
            {
                out.push(k);
            }
        }
        out
    }

    /// Create and start one container; on failure the waiting reason and message.
    async fn start_container(
        &mut self,
        c: &ContainerSpecK8s,
        sandbox_id: &str,
        attempt: u32,
        init: bool,
        vols: &HashMap<String, volumes::Prepared>,
    ) -> Result<(), (String, String)> {
        let id = self
            .create_container(c, sandbox_id, attempt, init, vols)
            .await?;
        self.start_created(&c.name, &id).await
    }

    /// Create one container, not yet started; its id, or the waiting reason and message.
    async fn create_container(
        &mut self,
        c: &ContainerSpecK8s,
        sandbox_id: &str,
        attempt: u32,
        init: bool,
        vols: &HashMap<String, volumes::Prepared>,
    ) -> Result<String, (String, String)> {
        self.ensure_image(c).await?;
        let cfg = &self.kubelet.cfg;
        let services = self.services().await;
        let env = env::build(
            &self.kubelet.client,
            &self.pod,
            c,
            &services,
            cfg.cpus,
            cfg.memory_bytes(),
        )
        .await
        .map_err(|e| ("CreateContainerConfigError".to_string(), e.0))?;
        let mut mounts = volumes::mounts(c, vols)
            .map_err(|e| ("CreateContainerConfigError".to_string(), e.0))?;
        // The pod's resolv.conf is bound into each container: the sandbox's own file is
        // Docker's, pointing at its embedded resolver, which knows nothing of the cluster.
        let resolv = super::dns_config::resolv_conf(&self.pod, cfg);
        if !resolv.is_empty()
            && !mounts
                .iter()
                .any(|m| m.container_path == "/etc/resolv.conf")
        {
            let dir = volumes::pod_dir(&cfg.state_dir, &self.uid());
            let file = dir.join("resolv.conf");
            let written =
                std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, resolv));
            written.map_err(|e| {
                let why = format!("writing {}: {e}", file.display());
                ("CreateContainerConfigError".to_string(), why)
            })?;
            mounts.push(Mount {
                node_path: file.to_string_lossy().to_string(),
                container_path: "/etc/resolv.conf".into(),
                read_only: false,
            });
        }
        let term_file = volumes::pod_dir(&cfg.state_dir, &self.uid())
            .join("containers")
            .join(&c.name)
            .join(format!("{attempt}.log"));
        if let Some(parent) = term_file.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(&term_file, b"");
        let spec = container_spec::container(&self.pod, c, attempt, init, env, mounts, &term_file);
        match self
            .kubelet
            .runtime
            .create_container(sandbox_id, &spec)
            .await
        {
            Ok(id) => {
                let msg = format!("Created container: {}", c.name);
                self.event(EventType::Normal, "Created", &msg);
                Ok(id)
            }
            Err(e) => Err(self.failed_to_start(&c.name, e)),
        }
    }

    /// Start a container created by [`Self::create_container`].
    async fn start_created(&mut self, name: &str, id: &str) -> Result<(), (String, String)> {
        let started = self.kubelet.runtime.start(id).await;
        self.started(name, started)
    }

    /// The event of a container's start, or its waiting reason when it failed.
    fn started(
        &self,
        name: &str,
        result: Result<(), RuntimeError>,
    ) -> Result<(), (String, String)> {
        match result {
            Ok(()) => {
                let msg = format!("Started container {name}");
                self.event(EventType::Normal, "Started", &msg);
                Ok(())
            }
            Err(e) => Err(self.failed_to_start(name, e)),
        }
    }

    /// The event and waiting reason of a container that could not be created or started.
    fn failed_to_start(&self, name: &str, e: RuntimeError) -> (String, String) {
        let msg = format!("failed to start container \"{name}\": {e}");
        self.event(EventType::Warning, "Failed", &format!("Error: {msg}"));
        ("RunContainerError".into(), msg)
    }

    fn base_restart_count(&self, name: &str, init: bool) -> Option<u32> {
        let status = self.pod.status.as_ref()?;
        let list = if init {
            status.init_container_statuses.as_ref()
        } else {
            status.container_statuses.as_ref()
        }?;
        let s = list.iter().find(|s| s.name == name)?;
        // A container that ran before (it has an id) restarts with the next count.
        s.container_id.as_ref().map(|_| s.restart_count as u32 + 1)
    }

    /// Bring the pod one step closer to its spec; returns when to look again.
    async fn sync(&mut self) -> Result<Duration, String> {
        let uid = self.uid();
        let spec = self.pod.spec.clone().unwrap_or_default();
        let policy = self.restart_policy();
        let phase = self
            .pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let rt = self.kubelet.runtime.clone();
        let mut all = rt.list(Some(&uid)).await.map_err(|e| e.to_string())?;
        if phase == "Succeeded" || phase == "Failed" {
            // Finished pods keep their containers (for logs) but nothing runs.
            for c in all.iter().filter(|c| c.running()) {
                let _ = rt.stop(&c.id, Duration::from_secs(2)).await;
            }
            return Ok(Duration::from_secs(30));
        }

        let newest_sandbox = all
            .iter()
            .filter(|c| c.sandbox)
            .max_by_key(|c| c.attempt)
            .cloned();
        let mut early = Early::default();
        let sandbox = match newest_sandbox {
            Some(s) if s.running() => s,
            old => {
                // No live sandbox: the pod starts over in a new one (first start, or after
                // the node or its sandbox went away); dead containers of the old one go.
                for c in &all {
                    let _ = rt.remove(&c.id).await;
                }
                let attempt = old.map(|s| s.attempt + 1).unwrap_or(0);
                match self.start_sandbox(attempt).await {
                    Some(made) => early = made,
                    None => return Ok(Duration::from_secs(5)),
                }
                all = rt.list(Some(&uid)).await.map_err(|e| e.to_string())?;
                match all.iter().filter(|c| c.sandbox).max_by_key(|c| c.attempt) {
                    Some(s) => s.clone(),
                    None => return Ok(Duration::from_secs(2)),
                }
            }
        };
        let pod_ip = if spec.host_network == Some(true) {
            self.kubelet.cfg.node_ip.to_string()
        } else {
            sandbox.ip.clone().unwrap_or_default()
        };
        env::fill_known_addresses(
            &mut self.pod,
            &self.kubelet.cfg.node_ip.to_string(),
            &pod_ip,
        );

        let prepared = match early.vols.take() {
            Some(v) => Ok(v),
            None => volumes::prepare(&self.kubelet.volume_context(), &self.pod).await,
        };
        let vols = match prepared {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("MountVolume.SetUp failed: {e}");
                self.event(EventType::Warning, "FailedMount", &msg);
                self.report(&all, &sandbox, &pod_ip, true).await;
                return Ok(Duration::from_secs(5));
            }
        };

        let mut pending = false;
        let mut init_failed = false;
        let mut init_done = true;
        for c in spec.init_containers.iter().flatten() {
            let latest = newest(&all, &c.name, false);
            match latest {
                Some(l) if l.running() => {
                    init_done = false;
                    pending = true;
                    break;
                }
                Some(_) if early.created.contains_key(&c.name) => {
                    // Its start failed, or it ended already: the next sync looks again.
                    init_done = false;
                    pending = true;
                    break;
                }
                Some(l) if status::exit_code(&l) == Some(0) => continue,
                Some(l) => {
                    init_done = false;
                    if policy == "Never" {
                        init_failed = true;
                        break;
                    }
                    let attempt = l.attempt + 1;
                    self.restart_with_backoff(c, &sandbox.id, attempt, true, &vols)
                        .await;
                    pending = true;
                    break;
                }
                None => {
                    init_done = false;
                    if !early.failed.contains(&c.name) {
                        self.start_first(c, &sandbox.id, true, &vols).await;
                    }
                    pending = true;
                    break;
                }
            }
        }
        if init_done && !init_failed {
            for c in &spec.containers {
                let latest = newest(&all, &c.name, false);
                match latest {
                    Some(l) if l.running() => {
                        self.waiting.remove(&c.name);
                        if self.run_probes(c, &l, &pod_ip).await {
                            pending = true;
                        }
                    }
                    Some(_) if early.created.contains_key(&c.name) => pending = true,
                    Some(l) => {
                        let code = status::exit_code(&l).unwrap_or(0);
                        let restart = policy == "Always" || (policy == "OnFailure" && code != 0);
                        if restart {
                            self.restart_with_backoff(c, &sandbox.id, l.attempt + 1, false, &vols)
                                .await;
                            pending = true;
                        } else {
                            self.waiting.remove(&c.name);
                        }
                    }
                    None => {
                        if !early.failed.contains(&c.name) {
                            self.start_first(c, &sandbox.id, false, &vols).await;
                        }
                        pending = true;
                    }
                }
            }
        }
        if pending {
            // Something was started or may have changed: report what runs now.
            all = rt.list(Some(&uid)).await.map_err(|e| e.to_string())?;
        }
        for id in surplus_dead(&all) {
            if let Err(e) = rt.remove(id).await {
                tracing::debug!(pod = %self.key(), error = %e, "removing a dead container");
            }
        }
        let status = self.report(&all, &sandbox, &pod_ip, false).await;
        let done = matches!(status.as_deref(), Some("Succeeded") | Some("Failed"));
        if done {
            for c in all.iter().filter(|c| c.running()) {
                let _ = rt.stop(&c.id, Duration::from_secs(2)).await;
            }
        }
        let has_probes = spec.containers.iter().any(|c| {
            c.readiness_probe.is_some() || c.liveness_probe.is_some() || c.startup_probe.is_some()
        });
        // Container state changes arrive as runtime events, with the node-wide relist
        // behind them (see `kubelet::run`); the poll of a settled pod refreshes its
        // ConfigMap, Secret and token volumes.
        Ok(if pending || has_probes {
            Duration::from_secs(1)
        } else if self.status_unsent {
            Duration::from_secs(2)
        } else {
            SETTLED_RESYNC
        })
    }

    /// Start a container that has no container yet (after a node restart its attempt
    /// continues from the restart count reported before); a failure becomes its waiting
    /// reason.
    async fn start_first(
        &mut self,
        c: &ContainerSpecK8s,
        sandbox_id: &str,
        init: bool,
        vols: &HashMap<String, volumes::Prepared>,
    ) {
        let attempt = self.base_restart_count(&c.name, init).unwrap_or(0);
        let started = self
            .start_container(c, sandbox_id, attempt, init, vols)
            .await;
        self.set_waiting(&c.name, started);
    }

    /// Start, together, the containers created while their sandbox started.
    async fn start_early(&mut self, created: &HashMap<String, String>) {
        let rt = self.kubelet.runtime.clone();
        let results = futures::future::join_all(created.values().map(|id| rt.start(id))).await;
        for (name, result) in created.keys().zip(results) {
            let outcome = self.started(name, result);
            self.set_waiting(name, outcome);
        }
    }

    /// Record why a container waits, or that it no longer does.
    fn set_waiting(&mut self, name: &str, outcome: Result<(), (String, String)>) {
        match outcome {
            Ok(()) => self.waiting.remove(name),
            Err(w) => self.waiting.insert(name.to_string(), w),
        };
    }

    /// Create and start a new sandbox; `None` when that failed (the event says why). While
    /// it starts (attaching its network is the slow part of a pod's start), the volumes
    /// are prepared and the containers that run first are created.
    async fn start_sandbox(&mut self, attempt: u32) -> Option<Early> {
        let rt = self.kubelet.runtime.clone();
        let spec = container_spec::sandbox(&self.pod, attempt);
        let started = match rt.create_sandbox(&spec).await {
            Ok(id) => {
                let (started, early) = tokio::join!(rt.start(&id), self.create_early(&id));
                started.map(|()| early)
            }
            Err(e) => Err(e),
        };
        match started {
            Ok(early) => {
                // Started as soon as the sandbox runs, without waiting for a relist: the
                // sandbox id is all they need.
                self.start_early(&early.created).await;
                Some(early)
            }
            Err(e) => {
                let msg = format!("Failed to create pod sandbox: {e}");
                self.event(EventType::Warning, "FailedCreatePodSandBox", &msg);
                None
            }
        }
    }

    /// Prepare the volumes and create the containers that run first (the first init
    /// container, or else every app container), except those whose environment needs the
    /// pod's IP, which the sandbox has only once it runs.
    async fn create_early(&mut self, sandbox_id: &str) -> Early {
        let mut early = Early::default();
        let Ok(vols) = volumes::prepare(&self.kubelet.volume_context(), &self.pod).await else {
            // The failure is reported by the sync that prepares them again.
            return early;
        };
        let node_ip = self.kubelet.cfg.node_ip.to_string();
        env::fill_known_addresses(&mut self.pod, &node_ip, "");
        let spec = self.pod.spec.clone().unwrap_or_default();
        let first: Vec<(&ContainerSpecK8s, bool)> = match spec.init_containers.as_deref() {
            Some([first, ..]) => vec![(first, true)],
            _ => spec.containers.iter().map(|c| (c, false)).collect(),
        };
        for (c, init) in first.into_iter().filter(|(c, _)| !env::reads_pod_ip(c)) {
            let attempt = self.base_restart_count(&c.name, init).unwrap_or(0);
            match self
                .create_container(c, sandbox_id, attempt, init, &vols)
                .await
            {
                Ok(id) => {
                    early.created.insert(c.name.clone(), id);
                }
                Err(w) => {
                    self.set_waiting(&c.name, Err(w));
                    early.failed.insert(c.name.clone());
                }
            }
        }
        early.vols = Some(vols);
        early
    }

    /// Restart a finished container, unless it is backing off (CrashLoopBackOff).
    async fn restart_with_backoff(
        &mut self,
        c: &ContainerSpecK8s,
        sandbox_id: &str,
        attempt: u32,
        init: bool,
        vols: &HashMap<String, volumes::Prepared>,
    ) {
        let key = format!("crash:{}", c.name);
        if let Some(left) = self.backoff.remaining(&key) {
            let delay = self.backoff.delay(&key).unwrap_or(left);
            let msg = format!(
                "back-off {}s restarting failed container={} pod={}_{}({})",
                delay.as_secs(),
                c.name,
                self.pod.metadata.name.as_deref().unwrap_or_default(),
                self.pod.metadata.namespace.as_deref().unwrap_or_default(),
                self.uid()
            );
            if self.waiting.get(&c.name).map(|w| w.0.as_str()) != Some("CrashLoopBackOff") {
                self.event(
                    EventType::Warning,
                    "BackOff",
                    &format!(
                        "Back-off restarting failed container {} in pod {}",
                        c.name,
                        self.key()
                    ),
                );
            }
            self.waiting
                .insert(c.name.clone(), ("CrashLoopBackOff".into(), msg));
            return;
        }
        self.backoff.fail(&key);
        match self
            .start_container(c, sandbox_id, attempt, init, vols)
            .await
        {
            Ok(()) => {
                self.waiting.remove(&c.name);
            }
            Err(w) => {
                self.waiting.insert(c.name.clone(), w);
            }
        }
    }

    /// Run the probes that are due; returns true while startup or readiness is undecided.
    async fn run_probes(&mut self, c: &ContainerSpecK8s, inst: &Container, pod_ip: &str) -> bool {
        let state = self.probes.entry(c.name.clone()).or_default();
        if state.container_id != inst.id {
            *state = ProbeState {
                container_id: inst.id.clone(),
                ..Default::default()
            };
        }
        let now = Instant::now();
        let started_at = state.started.0;
        let kinds = [
            (Kind::Startup, c.startup_probe.clone()),
            (Kind::Liveness, c.liveness_probe.clone()),
            (Kind::Readiness, c.readiness_probe.clone()),
        ];
        let mut undecided = false;
        for (kind, probe) in kinds {
            let Some(probe) = probe else { continue };
            let startup_ok = c.startup_probe.is_none()
                || self.probes[&c.name]
                    .tallies
                    .get(&Kind::Startup)
                    .and_then(|t| t.passing)
                    == Some(true);
            if kind != Kind::Startup && !startup_ok {
                undecided = true;
                continue;
            }
            if kind == Kind::Startup && startup_ok {
                continue;
            }
            let due = self.probes[&c.name]
                .tallies
                .get(&kind)
                .cloned()
                .unwrap_or_default()
                .due(&probe, started_at, now);
            if !due {
                if self.probes[&c.name]
                    .tallies
                    .get(&kind)
                    .and_then(|t| t.passing)
                    .is_none()
                {
                    undecided = true;
                }
                continue;
            }
            let outcome =
                probes::run(self.kubelet.runtime.as_ref(), &probe, c, &inst.id, pod_ip).await;
            if let probes::Outcome::Failure(why) = &outcome {
                self.event(
                    EventType::Warning,
                    "Unhealthy",
                    &format!("{} probe failed: {why}", kind.title()),
                );
            }
            let tally = self
                .probes
                .get_mut(&c.name)
                .map(|s| s.tallies.entry(kind).or_default());
            let Some(tally) = tally else { continue };
            tally.record(&probe, &outcome, now);
            let verdict = tally.passing;
            if verdict.is_none() {
                undecided = true;
            }
            if verdict == Some(false) && kind != Kind::Readiness {
                let what = if kind == Kind::Liveness {
                    "liveness"
                } else {
                    "startup"
                };
                self.event(
                    EventType::Normal,
                    "Killing",
                    &format!(
                        "Container {} failed {what} probe, will be restarted",
                        c.name
                    ),
                );
                let grace = Duration::from_secs(
                    probe.termination_grace_period_seconds.unwrap_or(30).max(0) as u64,
                );
                let _ = self
                    .kubelet
                    .runtime
                    .stop(&inst.id, grace.min(self.grace_period()))
                    .await;
                self.probes.remove(&c.name);
                return true;
            }
        }
        undecided
    }

    fn ready(&self, c: &ContainerSpecK8s, inst: Option<&Container>) -> (bool, bool) {
        let Some(inst) = inst.filter(|i| i.running()) else {
            return (false, false);
        };
        let state = self
            .probes
            .get(&c.name)
            .filter(|s| s.container_id == inst.id);
        let verdict = |k: Kind| {
            state
                .and_then(|s| s.tallies.get(&k))
                .and_then(|t| t.passing)
        };
        let started = c.startup_probe.is_none() || verdict(Kind::Startup) == Some(true);
        let ready =
            started && (c.readiness_probe.is_none() || verdict(Kind::Readiness) == Some(true));
        (ready, started)
    }

    /// Patch the pod status if it changed; returns the phase reported.
    async fn report(
        &mut self,
        all: &[Container],
        sandbox: &Container,
        pod_ip: &str,
        volumes_failed: bool,
    ) -> Option<String> {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let policy = self.restart_policy();
        let views = |list: &[ContainerSpecK8s], init: bool, this: &Self| -> Vec<View> {
            list.iter()
                .map(|c| {
                    let mut instances: Vec<&Container> = all
                        .iter()
                        .filter(|x| !x.sandbox && x.name == c.name)
                        .collect();
                    instances.sort_by_key(|x| std::cmp::Reverse(x.attempt));
                    let latest = instances.first().map(|x| (*x).clone());
                    let (ready, started) = this.ready(c, latest.as_ref());
                    let ready = if init {
                        latest.as_ref().and_then(status::exit_code) == Some(0)
                    } else {
                        ready
                    };
                    let mut waiting = this.waiting.get(&c.name).cloned();
                    if volumes_failed && latest.is_none() {
                        waiting = Some(("ContainerCreating".into(), String::new()));
                    }
                    View {
                        name: c.name.clone(),
                        image: c.image.clone().unwrap_or_default(),
                        restart_count: latest.as_ref().map(|l| l.attempt).unwrap_or_else(|| {
                            this.base_restart_count(&c.name, init)
                                .map(|n| n - 1)
                                .unwrap_or(0)
                        }),
                        previous: instances.get(1).map(|x| (*x).clone()),
                        latest,
                        waiting,
                        ready,
                        started,
                    }
                })
                .collect()
        };
        let init_specs = spec.init_containers.clone().unwrap_or_default();
        let init_views = views(&init_specs, true, self);
        let mut app_views = views(&spec.containers, false, self);
        let pending_init: Vec<String> = init_views
            .iter()
            .filter(|v| !v.ready)
            .map(|v| v.name.clone())
            .collect();
        let init_done = pending_init.is_empty();
        let init_failed = policy == "Never"
            && init_views.iter().any(|v| {
                v.latest
                    .as_ref()
                    .and_then(status::exit_code)
                    .is_some_and(|c| c != 0)
            });
        if !init_done {
            for v in &mut app_views {
                if v.latest.is_none() {
                    v.waiting = Some(("PodInitializing".into(), String::new()));
                }
            }
        }
        let phase = status::phase(&policy, init_failed, init_done, &app_views);
        let existing: Vec<Value> = self
            .pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| serde_json::to_value(c).ok())
                    .collect()
            })
            .unwrap_or_default();
        let now = now();
        let conditions = status::conditions(
            &existing,
            sandbox.running(),
            init_done,
            &pending_init,
            &app_views,
            &now,
        );
        let node_ip = self.kubelet.cfg.node_ip.to_string();
        let start_time = self
            .pod
            .status
            .as_ref()
            .and_then(|s| s.start_time.clone())
            .map(|t| json!(t))
            .unwrap_or_else(|| json!(now));
        let mut st = json!({
            "phase": phase,
            "conditions": conditions,
            "hostIP": node_ip,
            "hostIPs": [{"ip": node_ip}],
            "startTime": start_time,
            "containerStatuses": app_views.iter().map(status::container_status).collect::<Vec<_>>(),
        });
        if !pod_ip.is_empty() {
            st["podIP"] = json!(pod_ip);
            st["podIPs"] = json!([{"ip": pod_ip}]);
        }
        if !init_views.is_empty() {
            st["initContainerStatuses"] = json!(init_views
                .iter()
                .map(status::container_status)
                .collect::<Vec<_>>());
        }
        if let Some(q) = self.pod.status.as_ref().and_then(|s| s.qos_class.clone()) {
            st["qosClass"] = json!(q);
        }
        // Compare without timestamps that change every second.
        let comparable = {
            let mut c = st.clone();
            if let Some(conds) = c["conditions"].as_array_mut() {
                for x in conds {
                    x.as_object_mut().map(|o| o.remove("lastProbeTime"));
                }
            }
            c
        };
        if self.last_status.as_ref() == Some(&comparable) {
            return Some(phase.to_string());
        }
        let ns = self
            .pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let api: Api<Pod> = Api::namespaced(self.kubelet.client.clone(), &ns);
        let name = self.pod.metadata.name.clone().unwrap_or_default();
        match api
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": st})),
            )
            .await
        {
            Ok(p) => {
                self.last_status = Some(comparable);
                self.pod.status = p.status;
                self.status_unsent = false;
            }
            Err(e) => {
                tracing::debug!(pod = %self.key(), error = %e, "patching pod status");
                self.status_unsent = true;
            }
        }
        Some(phase.to_string())
    }
}

fn newest(all: &[Container], name: &str, sandbox: bool) -> Option<Container> {
    all.iter()
        .filter(|c| c.sandbox == sandbox && c.name == name)
        .max_by_key(|c| c.attempt)
        .cloned()
}

/// Instances kept of each container: the current one and the one before it, which
/// `kubectl logs --previous` and the status's `lastState` read.
const KEPT_INSTANCES: usize = 2;

/// The dead containers the kubelet's container GC removes: every instance of a container
/// older than the newest [`KEPT_INSTANCES`], so a crash loop leaves no trail.
fn surplus_dead(all: &[Container]) -> Vec<&str> {
    let mut by_name: HashMap<&str, Vec<&Container>> = HashMap::new();
    for c in all.iter().filter(|c| !c.sandbox) {
        by_name.entry(c.name.as_str()).or_default().push(c);
    }
    let mut out = Vec::new();
    for mut instances in by_name.into_values() {
        instances.sort_by_key(|c| std::cmp::Reverse(c.attempt));
        out.extend(
            instances
                .into_iter()
                .skip(KEPT_INSTANCES)
                .filter(|c| !c.running())
                .map(|c| c.id.as_str()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubelet::runtime::State;

    fn instance(name: &str, attempt: u32, running: bool) -> Container {
        Container {
            id: format!("{name}-{attempt}"),
            pod_uid: "u".into(),
            pod_namespace: "default".into(),
            pod_name: "p".into(),
            name: name.into(),
            sandbox: name == "POD",
            attempt,
            image: "busybox".into(),
            image_id: String::new(),
            state: if running {
                State::Running {
                    started_at: String::new(),
                }
            } else {
                State::Exited {
                    exit_code: 1,
                    started_at: String::new(),
                    finished_at: String::new(),
                    oom_killed: false,
                    error: String::new(),
                }
            },
            ip: None,
        }
    }

    #[test]
    fn a_crash_loop_keeps_the_current_and_the_previous_instance() {
        let all = vec![
            instance("POD", 0, true),
            instance("crash", 0, false),
            instance("crash", 1, false),
            instance("crash", 2, false),
            instance("crash", 3, true),
            instance("steady", 0, true),
        ];
        let mut gone = surplus_dead(&all);
        gone.sort();
        assert_eq!(gone, ["crash-0", "crash-1"]);
    }
}
