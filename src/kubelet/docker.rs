//! The Docker implementation of the container runtime: pods are sibling containers on the
//! user's engine, each pod's containers joined to its sandbox's network namespace, the way
//! dockershim ran them.

use std::collections::HashMap;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ExecConfig, HostConfig, HostConfigLogConfig,
};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, CreateImageOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, ResizeContainerTTYOptions, ResizeExecOptions,
    StopContainerOptions,
};
use bollard::Docker;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;

use super::runtime::{
    labels, Container, ContainerEvent, ContainerRuntime, ContainerSpec, ExecResult, ExecSpec,
    ImageInfo, LogOptions, Output, RuntimeError, SandboxSpec, State, StreamIo, Usage,
};
use crate::cluster::docker::{
    is_not_found, is_not_modified, label_filter, NODE_LABEL, PROFILE_LABEL, ROLE_LABEL,
};

/// Docker as the kubelet's runtime.
pub struct DockerRuntime {
    docker: Docker,
    profile: String,
    network: String,
    pause_image: String,
    /// The node container (hostNetwork pods join its network namespace).
    node_container: String,
    /// Where the engine keeps the state volume, so node paths can be bind-mounted.
    volume_mountpoint: String,
    /// Where the state volume is mounted in the node.
    state_dir: String,
    /// Containers as last inspected, by id, each with the list's state and status text at
    /// that time: while those read the same, so does the inspection, and a settled pod's
    /// resync costs the engine one list and no inspect.
    inspected: std::sync::Mutex<HashMap<String, (String, Container)>>,
}

/// Inspections a list sends to dockerd at once.
const INSPECT_AT_ONCE: usize = 8;

/// Inspections kept at most; past this the memo starts over (ids of removed containers
/// that went behind the kubelet's back are dropped this way).
const INSPECTED_MAX: usize = 4096;

fn err(e: bollard::errors::Error) -> RuntimeError {
    RuntimeError::Other(e.to_string())
}

fn docker_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        e => e.to_string(),
    }
}

impl DockerRuntime {
    /// Connect, and find where the engine keeps the state volume.
    pub async fn connect(
        profile: &str,
        network: &str,
        pause_image: &str,
        node_container: &str,
        state_volume: &str,
        state_dir: &str,
    ) -> Result<DockerRuntime, RuntimeError> {
        let docker = crate::cluster::docker::connect()
            .await
            .map_err(|e| RuntimeError::Other(e.to_string()))?;
        let volume = docker.inspect_volume(state_volume).await.map_err(err)?;
        Ok(DockerRuntime {
            docker,
            profile: profile.to_string(),
            network: network.to_string(),
            pause_image: pause_image.to_string(),
            node_container: node_container.to_string(),
            volume_mountpoint: volume.mountpoint,
            state_dir: state_dir.trim_end_matches('/').to_string(),
            inspected: Default::default(),
        })
    }

    fn inspected(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Container)>> {
        // Plain entries: one left by a panicking holder is still sound.
        self.inspected.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a container of the profile belongs to this node.
    fn is_ours(&self, c: &bollard::models::ContainerSummary) -> bool {
        on_node(c.labels.as_ref(), &self.node_container, &self.profile)
    }

    /// The engine-side path of a path under the node's state directory.
    fn engine_path(&self, node_path: &str) -> String {
        match node_path.strip_prefix(&self.state_dir) {
            Some(rest) => format!("{}{rest}", self.volume_mountpoint),
            None => node_path.to_string(),
        }
    }

    fn labels(
        &self,
        uid: &str,
        pod: &str,
        ns: &str,
        name: &str,
        attempt: u32,
        sandbox: bool,
    ) -> HashMap<String, String> {
        HashMap::from([
            (PROFILE_LABEL.to_string(), self.profile.clone()),
            (NODE_LABEL.to_string(), self.node_container.clone()),
            (
                ROLE_LABEL.to_string(),
                if sandbox { "sandbox" } else { "container" }.to_string(),
            ),
            (labels::POD_UID.to_string(), uid.to_string()),
            (labels::POD_NAME.to_string(), pod.to_string()),
            (labels::POD_NAMESPACE.to_string(), ns.to_string()),
            (labels::CONTAINER_NAME.to_string(), name.to_string()),
            (
                labels::TYPE.to_string(),
                if sandbox { "podsandbox" } else { "container" }.to_string(),
            ),
            (labels::ATTEMPT.to_string(), attempt.to_string()),
        ])
    }

    /// Create, replacing a leftover container of the same name.
    async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String, RuntimeError> {
        let options = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        let created = match self
            .docker
            .create_container(Some(options.clone()), body.clone())
            .await
        {
            Err(e) if crate::cluster::docker::is_conflict(&e) => {
                self.remove(name).await?;
                self.docker.create_container(Some(options), body).await
            }
            other => other,
        }
        .map_err(|e| RuntimeError::Start(docker_message(&e)))?;
        Ok(created.id)
    }

    fn container_of(&self, c: ContainerInspectResponse) -> Option<Container> {
        let config = c.config.as_ref()?;
        let l = config.labels.clone().unwrap_or_default();
        let sandbox = l.get(labels::TYPE).map(String::as_str) == Some("podsandbox");
        let st = c.state.clone().unwrap_or_default();
        let started = st
            .started_at
            .clone()
            .filter(|s| !s.starts_with("0001"))
            .unwrap_or_default();
        let state = if st.running.unwrap_or(false) {
            State::Running {
                started_at: started,
            }
        } else if st.status == Some(bollard::models::ContainerStateStatusEnum::CREATED) {
            State::Created
        } else {
            State::Exited {
                exit_code: st.exit_code.unwrap_or(0) as i32,
                started_at: started,
                finished_at: st.finished_at.clone().unwrap_or_default(),
                oom_killed: st.oom_killed.unwrap_or(false),
                error: st.error.clone().unwrap_or_default(),
            }
        };
        let ip = c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .and_then(|n| n.get(&self.network))
            .and_then(|e| e.ip_address.clone())
            .filter(|ip| !ip.is_empty());
        Some(Container {
            id: c.id.clone().unwrap_or_default(),
            pod_uid: l.get(labels::POD_UID).cloned().unwrap_or_default(),
            pod_namespace: l.get(labels::POD_NAMESPACE).cloned().unwrap_or_default(),
            pod_name: l.get(labels::POD_NAME).cloned().unwrap_or_default(),
            name: l.get(labels::CONTAINER_NAME).cloned().unwrap_or_default(),
            sandbox,
            attempt: l
                .get(labels::ATTEMPT)
                .and_then(|a| a.parse().ok())
                .unwrap_or(0),
            image: config.image.clone().unwrap_or_default(),
            image_id: c.image.clone().unwrap_or_default(),
            state,
            ip,
        })
    }

    async fn list_filtered(&self, filter: &[(&str, &str)]) -> Result<Vec<Container>, RuntimeError> {
        let summaries = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(label_filter(filter)),
                ..Default::default()
            }))
            .await
            .map_err(err)?;
        let mut out = Vec::new();
        let mut changed = Vec::new();
        for s in summaries.into_iter().filter(|s| self.is_ours(s)) {
            let Some(id) = s.id else { continue };
            // The status text ("Up 5 minutes (healthy)", "Exited (1) 3 seconds ago") moves
            // with every change an inspection would show, and at least once an hour.
            let seen = format!("{:?} {}", s.state, s.status.as_deref().unwrap_or_default());
            match self.inspected().get(&id) {
                Some((at, c)) if *at == seen => out.push(c.clone()),
                _ => changed.push((id, seen)),
            }
        }
        // A pod that just started has all its containers changed at once: inspecting them
        // together keeps one round trip on the path to Running, not one per container. A
        // node-wide relist after a restart changes them all, so dockerd sees a few at a time.
        let docker = &self.docker;
        let inspections: Vec<_> = futures::stream::iter(changed)
            .map(|(id, seen)| async move {
                let inspected = docker.inspect_container(&id, None).await;
                (id, seen, inspected)
            })
            .buffered(INSPECT_AT_ONCE)
            .collect()
            .await;
        for (id, seen, inspected) in inspections {
            match inspected {
                Ok(c) => {
                    if let Some(c) = self.container_of(c) {
                        let mut memo = self.inspected();
                        if memo.len() >= INSPECTED_MAX {
                            memo.clear();
                        }
                        memo.insert(id, (seen, c.clone()));
                        out.push(c);
                    }
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(err(e)),
            }
        }
        Ok(out)
    }
}

/// The kubelet's `containerLogMaxSize` and `containerLogMaxFiles` (10Mi, 5), as Docker's
/// json-file options: a container that logs without end keeps at most 50 MiB.
pub const LOG_MAX_SIZE: &str = "10m";
/// Files kept per container, the current one included.
pub const LOG_MAX_FILES: &str = "5";

fn rotated_logs() -> HostConfigLogConfig {
    HostConfigLogConfig {
        typ: Some("json-file".into()),
        config: Some(
            [("max-size", LOG_MAX_SIZE), ("max-file", LOG_MAX_FILES)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    }
}

fn container_name(name: &str, pod: &str, ns: &str, uid: &str, attempt: u32) -> String {
    format!("k8s_{name}_{pod}_{ns}_{uid}_{attempt}")
}

/// Usage from Docker's stats, with cAdvisor's working set: usage less inactive file
/// pages (`inactive_file` on cgroup v2, `total_inactive_file` on v1).
pub fn usage_of(s: &bollard::models::ContainerStatsResponse) -> Usage {
    let cpu_ns = s
        .cpu_stats
        .as_ref()
        .and_then(|c| c.cpu_usage.as_ref())
        .and_then(|u| u.total_usage)
        .unwrap_or(0);
    let mem = s.memory_stats.as_ref();
    let memory = mem.and_then(|m| m.usage).unwrap_or(0);
    let stat = |keys: &[&str]| {
        mem.and_then(|m| m.stats.as_ref())
            .and_then(|st| keys.iter().find_map(|k| st.get(*k).copied()))
            .unwrap_or(0)
    };
    let inactive = stat(&["total_inactive_file", "inactive_file"]);
    Usage {
        cpu_ns,
        working_set: memory.saturating_sub(inactive),
        memory,
        rss: stat(&["total_rss", "rss", "anon"]),
    }
}

/// Whether a container with `labels` belongs to `node`: other nodes' kubelets share the
/// engine. Containers made before nodes were labelled are the control plane's.
fn on_node(labels: Option<&HashMap<String, String>>, node: &str, profile: &str) -> bool {
    match labels.and_then(|l| l.get(NODE_LABEL)) {
        Some(n) => n == node,
        None => node == profile,
    }
}

/// The pod container event in a Docker event, if it is one of this node's.
fn container_event(
    m: bollard::models::EventMessage,
    node: &str,
    profile: &str,
) -> Option<ContainerEvent> {
    let actor = m.actor?;
    let attrs = actor.attributes.unwrap_or_default();
    if !on_node(Some(&attrs), node, profile) {
        return None;
    }
    let action = m.action?;
    Some(ContainerEvent {
        pod_uid: attrs.get(labels::POD_UID)?.clone(),
        container_id: actor.id?,
        // `health_status: healthy` → `health_status`.
        action: action.split(':').next().unwrap_or_default().to_string(),
    })
}

impl ContainerRuntime for DockerRuntime {
    async fn stats(&self, id: &str) -> Result<Option<Usage>, RuntimeError> {
        let opts = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stream = self.docker.stats(id, Some(opts));
        match stream.next().await {
            Some(Ok(s))
                if s.cpu_stats
                    .as_ref()
                    .and_then(|c| c.cpu_usage.as_ref())
                    .is_some() =>
            {
                Ok(Some(usage_of(&s)))
            }
            Some(Ok(_)) | None => Ok(None),
            Some(Err(e)) if is_not_found(&e) => Ok(None),
            Some(Err(e)) => Err(err(e)),
        }
    }

    async fn version(&self) -> Result<String, RuntimeError> {
        let v = self.docker.version().await.map_err(err)?;
        Ok(format!("docker://{}", v.version.unwrap_or_default()))
    }

    async fn list(&self, pod_uid: Option<&str>) -> Result<Vec<Container>, RuntimeError> {
        match pod_uid {
            Some(uid) => {
                self.list_filtered(&[(PROFILE_LABEL, &self.profile), (labels::POD_UID, uid)])
                    .await
            }
            None => {
                self.list_filtered(&[(PROFILE_LABEL, &self.profile), (labels::TYPE, "")])
                    .await
            }
        }
    }

    async fn image_status(&self, image: &str) -> Result<Option<ImageInfo>, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(Some(ImageInfo {
                id: i.id.unwrap_or_default(),
                repo_digests: i.repo_digests.unwrap_or_default(),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn pull(&self, image: &str) -> Result<(), RuntimeError> {
        let (repo, tag) = split_image(image);
        let mut stream = self.docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(repo),
                tag: Some(tag),
                ..Default::default()
            }),
            None,
            None,
        );
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(e) = info.error_detail.and_then(|d| d.message) {
                        return Err(RuntimeError::Pull(e));
                    }
                }
                Err(e) => return Err(RuntimeError::Pull(docker_message(&e))),
            }
        }
        Ok(())
    }

    async fn create_sandbox(&self, spec: &SandboxSpec) -> Result<String, RuntimeError> {
        let name = container_name(
            "POD",
            &spec.pod_name,
            &spec.pod_namespace,
            &spec.pod_uid,
            spec.attempt,
        );
        let host_config = if spec.host_network {
            HostConfig {
                network_mode: Some(format!("container:{}", self.node_container)),
                ipc_mode: Some("shareable".into()),
                ..Default::default()
            }
        } else {
            HostConfig {
                network_mode: Some(self.network.clone()),
                extra_hosts: Some(spec.extra_hosts.clone()),
                ipc_mode: Some("shareable".into()),
                ..Default::default()
            }
        };
        let body = ContainerCreateBody {
            image: Some(self.pause_image.clone()),
            cmd: Some(vec!["pod-sandbox".into()]),
            hostname: (!spec.host_network).then(|| spec.hostname.clone()),
            labels: Some(self.labels(
                &spec.pod_uid,
                &spec.pod_name,
                &spec.pod_namespace,
                "POD",
                spec.attempt,
                true,
            )),
            host_config: Some(host_config),
            ..Default::default()
        };
        self.create(&name, body).await
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        spec: &ContainerSpec,
    ) -> Result<String, RuntimeError> {
        let name = container_name(
            &spec.name,
            &spec.pod_name,
            &spec.pod_namespace,
            &spec.pod_uid,
            spec.attempt,
        );
        let mut labels = self.labels(
            &spec.pod_uid,
            &spec.pod_name,
            &spec.pod_namespace,
            &spec.name,
            spec.attempt,
            false,
        );
        if spec.init {
            labels.insert(labels::INIT.to_string(), "true".into());
        }
        let mut binds: Vec<String> = spec
            .mounts
            .iter()
            .chain(spec.termination_log.iter())
            .map(|m| {
                let mode = if m.read_only { ":ro" } else { "" };
                format!(
                    "{}:{}{mode}",
                    self.engine_path(&m.node_path),
                    m.container_path
                )
            })
            .collect();
        binds.dedup();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.cmd.clone(),
            env: Some(spec.env.clone()),
            working_dir: spec.working_dir.clone(),
            tty: Some(spec.tty),
            open_stdin: Some(spec.stdin),
            stdin_once: Some(spec.stdin_once),
            attach_stdin: Some(spec.stdin),
            user: spec.user.clone(),
            labels: Some(labels),
            host_config: Some(HostConfig {
                network_mode: Some(format!("container:{sandbox_id}")),
                ipc_mode: Some(format!("container:{sandbox_id}")),
                binds: Some(binds),
                memory: spec.memory_limit,
                nano_cpus: spec.nano_cpus,
                cpu_shares: spec.cpu_shares,
                privileged: Some(spec.privileged),
                cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
                cap_drop: (!spec.cap_drop.is_empty()).then(|| spec.cap_drop.clone()),
                readonly_rootfs: Some(spec.read_only_rootfs),
                log_config: Some(rotated_logs()),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.create(&name, body).await
    }

    async fn start(&self, id: &str) -> Result<(), RuntimeError> {
        match self.docker.start_container(id, None).await {
            Err(e) if !is_not_modified(&e) => Err(RuntimeError::Start(docker_message(&e))),
            _ => Ok(()),
        }
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<(), RuntimeError> {
        let t = grace.as_secs().min(i32::MAX as u64) as i32;
        match self
            .docker
            .stop_container(
                id,
                Some(StopContainerOptions {
                    t: Some(t),
                    ..Default::default()
                }),
            )
            .await
        {
            Err(e) if !is_not_found(&e) && !is_not_modified(&e) => Err(err(e)),
            _ => Ok(()),
        }
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        self.inspected().remove(id);
        match self
            .docker
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await
        {
            Err(e) if !is_not_found(&e) => Err(err(e)),
            _ => Ok(()),
        }
    }

    async fn exec(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<ExecResult, RuntimeError> {
        let created = self
            .docker
            .create_exec(
                id,
                ExecConfig {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.to_vec()),
                    ..Default::default()
                },
            )
            .await
            .map_err(err)?;
        let run = async {
            let mut output = String::new();
            if let StartExecResults::Attached {
                output: mut out, ..
            } = self
                .docker
                .start_exec(
                    &created.id,
                    Some(StartExecOptions {
                        detach: false,
                        tty: false,
                        output_capacity: None,
                    }),
                )
                .await
                .map_err(err)?
            {
                while let Some(Ok(chunk)) = out.next().await {
                    if output.len() < 10 * 1024 {
                        output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                    }
                }
            }
            let inspect = self.docker.inspect_exec(&created.id).await.map_err(err)?;
            Ok(ExecResult {
                exit_code: inspect.exit_code.unwrap_or(-1),
                output,
            })
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(RuntimeError::Other(format!(
                "command timed out after {}s",
                timeout.as_secs()
            ))),
        }
    }

    async fn exec_stream(
        &self,
        id: &str,
        spec: &ExecSpec,
    ) -> Result<(String, StreamIo), RuntimeError> {
        let created = self
            .docker
            .create_exec(
                id,
                ExecConfig {
                    attach_stdin: Some(spec.stdin),
                    attach_stdout: Some(spec.stdout),
                    attach_stderr: Some(spec.stderr),
                    tty: Some(spec.tty),
                    cmd: Some(spec.cmd.clone()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| RuntimeError::Start(docker_message(&e)))?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: spec.tty,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| RuntimeError::Start(docker_message(&e)))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(RuntimeError::Other("exec started detached".into()));
        };
        let io = StreamIo {
            stdin: spec.stdin.then_some(input),
            output: output_stream(output),
        };
        Ok((created.id, io))
    }

    async fn resize_exec(
        &self,
        exec_id: &str,
        width: u16,
        height: u16,
    ) -> Result<(), RuntimeError> {
        self.docker
            .resize_exec(
                exec_id,
                ResizeExecOptions {
                    h: height as i32,
                    w: width as i32,
                },
            )
            .await
            .map_err(err)
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, RuntimeError> {
        let inspect = self.docker.inspect_exec(exec_id).await.map_err(err)?;
        if inspect.running == Some(true) {
            return Ok(None);
        }
        Ok(inspect.exit_code)
    }

    async fn attach(
        &self,
        id: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> Result<StreamIo, RuntimeError> {
        let attached = self
            .docker
            .attach_container(
                id,
                Some(AttachContainerOptions {
                    stdin,
                    stdout,
                    stderr,
                    stream: true,
                    logs: false,
                    detach_keys: None,
                }),
            )
            .await
            .map_err(|e| RuntimeError::Start(docker_message(&e)))?;
        Ok(StreamIo {
            stdin: stdin.then_some(attached.input),
            output: output_stream(attached.output),
        })
    }

    async fn resize_tty(&self, id: &str, width: u16, height: u16) -> Result<(), RuntimeError> {
        self.docker
            .resize_container_tty(
                id,
                ResizeContainerTTYOptions {
                    h: height as i32,
                    w: width as i32,
                },
            )
            .await
            .map_err(err)
    }

    fn events(&self) -> BoxStream<'static, Result<ContainerEvent, RuntimeError>> {
        let mut filters = label_filter(&[(PROFILE_LABEL, &self.profile), (labels::POD_UID, "")]);
        filters.insert("type".into(), vec!["container".into()]);
        filters.insert(
            "event".into(),
            ["start", "die", "oom", "health_status"]
                .map(String::from)
                .to_vec(),
        );
        let options = bollard::query_parameters::EventsOptions {
            filters: Some(filters),
            ..Default::default()
        };
        let node = self.node_container.clone();
        let profile = self.profile.clone();
        self.docker
            .events(Some(options))
            .filter_map(move |ev| {
                let out = match ev {
                    Err(e) => Some(Err(err(e))),
                    Ok(m) => container_event(m, &node, &profile).map(Ok),
                };
                std::future::ready(out)
            })
            .boxed()
    }

    async fn logs(
        &self,
        id: &str,
        opts: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, RuntimeError>>, RuntimeError> {
        let options = LogsOptions {
            follow: opts.follow,
            stdout: true,
            stderr: true,
            since: opts.since.unwrap_or(0).clamp(0, i32::MAX as i64) as i32,
            timestamps: opts.timestamps,
            tail: opts
                .tail
                .map(|t| t.max(0).to_string())
                .unwrap_or_else(|| "all".into()),
            ..Default::default()
        };
        let stream = self
            .docker
            .logs(id, Some(options))
            .map(|r| r.map(|o| o.into_bytes()).map_err(err));
        Ok(stream.boxed())
    }
}

/// Docker's multiplexed (or, on a terminal, raw) output as stdout/stderr chunks.
fn output_stream(
    s: std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
    >,
) -> BoxStream<'static, Result<Output, RuntimeError>> {
    s.filter_map(|r| {
        futures::future::ready(match r {
            Ok(LogOutput::StdErr { message }) => Some(Ok(Output::Stderr(message))),
            Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                Some(Ok(Output::Stdout(message)))
            }
            Ok(LogOutput::StdIn { .. }) => None,
            Err(e) => Some(Err(err(e))),
        })
    })
    .boxed()
}

/// Split `repo[:tag]` (a digest stays in the repo part) for a pull.
fn split_image(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_string(), String::new());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => (
            image[..image.len() - tag.len() - 1].to_string(),
            tag.to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str, node: Option<&str>) -> bollard::models::EventMessage {
        let mut attrs = HashMap::from([(labels::POD_UID.to_string(), "uid-1".to_string())]);
        if let Some(n) = node {
            attrs.insert(NODE_LABEL.to_string(), n.to_string());
        }
        bollard::models::EventMessage {
            action: Some(action.into()),
            actor: Some(bollard::models::EventActor {
                id: Some("c1".into()),
                attributes: Some(attrs),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn container_events_of_this_node_only() {
        let ev = container_event(event("die", Some("p-m02")), "p-m02", "p").unwrap();
        assert_eq!(
            ev,
            ContainerEvent {
                pod_uid: "uid-1".into(),
                container_id: "c1".into(),
                action: "die".into()
            }
        );
        let health = container_event(event("health_status: healthy", Some("p")), "p", "p");
        assert_eq!(health.unwrap().action, "health_status");
        assert!(container_event(event("die", Some("p")), "p-m02", "p").is_none());
        // Unlabelled containers predate multi-node profiles: the control plane's.
        assert!(container_event(event("die", None), "p", "p").is_some());
        assert!(container_event(event("die", None), "p-m02", "p").is_none());
    }

    #[test]
    fn splits_images() {
        assert_eq!(split_image("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(split_image("a/b:1.2"), ("a/b".into(), "1.2".into()));
        assert_eq!(
            split_image("localhost:5000/b"),
            ("localhost:5000/b".into(), "latest".into())
        );
        assert_eq!(
            split_image("localhost:5000/b:3"),
            ("localhost:5000/b".into(), "3".into())
        );
    }

    #[test]
    fn names_like_dockershim() {
        assert_eq!(
            container_name("web", "p", "default", "u-1", 2),
            "k8s_web_p_default_u-1_2"
        );
    }
}
