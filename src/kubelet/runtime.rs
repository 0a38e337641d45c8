//! The container runtime the kubelet drives, behind a trait so another runtime (nested
//! containerd or youki) can replace Docker later.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use tokio::io::AsyncWrite;

/// Labels on every container the kubelet makes, as dockershim named them.
pub mod labels {
    /// The pod's uid.
    pub const POD_UID: &str = "io.kubernetes.pod.uid";
    /// The pod's name.
    pub const POD_NAME: &str = "io.kubernetes.pod.name";
    /// The pod's namespace.
    pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
    /// The container's name in the pod (`POD` for the sandbox).
    pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
    /// `podsandbox` or `container`.
    pub const TYPE: &str = "io.kubernetes.docker.type";
    /// Restart attempt of this container name in the pod.
    pub const ATTEMPT: &str = "io.rkube.attempt";
    /// Whether it is an init container.
    pub const INIT: &str = "io.rkube.init";
}

/// Errors of the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The image could not be pulled.
    #[error("{0}")]
    Pull(String),
    /// The container could not be created or started (bad command, mount, …).
    #[error("{0}")]
    Start(String),
    /// Anything else the runtime reported.
    #[error("container runtime: {0}")]
    Other(String),
}

/// What a container is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    /// Created, never started.
    Created,
    /// Running since this RFC 3339 time.
    Running {
        /// Start time.
        started_at: String,
    },
    /// Finished.
    Exited {
        /// Exit code.
        exit_code: i32,
        /// Start time (RFC 3339), empty if it never started.
        started_at: String,
        /// End time (RFC 3339).
        finished_at: String,
        /// Killed for exceeding its memory limit.
        oom_killed: bool,
        /// The runtime's error text (e.g. "executable file not found").
        error: String,
    },
}

/// A container the runtime knows about.
#[derive(Clone, Debug)]
pub struct Container {
    /// Runtime id.
    pub id: String,
    /// Pod uid.
    pub pod_uid: String,
    /// Pod namespace and name.
    pub pod_namespace: String,
    /// Pod name.
    pub pod_name: String,
    /// Container name (`POD` for the sandbox).
    pub name: String,
    /// Whether this is the pod sandbox.
    pub sandbox: bool,
    /// Restart attempt.
    pub attempt: u32,
    /// Image as requested.
    pub image: String,
    /// Image id (`sha256:…`).
    pub image_id: String,
    /// State.
    pub state: State,
    /// The sandbox's IP address (sandboxes only).
    pub ip: Option<String>,
}

impl Container {
    /// Whether it is running.
    pub fn running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }
}

/// A bind mount into a container.
#[derive(Clone, Debug, PartialEq)]
pub struct Mount {
    /// Path in the node's filesystem (under the state directory).
    pub node_path: String,
    /// Path in the container.
    pub container_path: String,
    /// Read-only.
    pub read_only: bool,
}

/// A pod sandbox to create.
#[derive(Clone, Debug, Default)]
pub struct SandboxSpec {
    /// Pod uid, name, namespace.
    pub pod_uid: String,
    /// Pod name.
    pub pod_name: String,
    /// Pod namespace.
    pub pod_namespace: String,
    /// Attempt number.
    pub attempt: u32,
    /// Hostname.
    pub hostname: String,
    /// Extra `/etc/hosts` lines (hostAliases).
    pub extra_hosts: Vec<String>,
    /// Share the node's network namespace.
    pub host_network: bool,
}

/// A container to create in a sandbox.
#[derive(Clone, Debug, Default)]
pub struct ContainerSpec {
    /// Pod uid.
    pub pod_uid: String,
    /// Pod name.
    pub pod_name: String,
    /// Pod namespace.
    pub pod_namespace: String,
    /// Container name.
    pub name: String,
    /// Attempt number.
    pub attempt: u32,
    /// Init container.
    pub init: bool,
    /// Image.
    pub image: String,
    /// Overrides the image's entrypoint (`command`).
    pub entrypoint: Option<Vec<String>>,
    /// Overrides the image's cmd (`args`).
    pub cmd: Option<Vec<String>>,
    /// `NAME=value` environment.
    pub env: Vec<String>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// Allocate a TTY.
    pub tty: bool,
    /// Keep stdin open.
    pub stdin: bool,
    /// Close stdin after the first attach ends.
    pub stdin_once: bool,
    /// Bind mounts.
    pub mounts: Vec<Mount>,
    /// `uid[:gid]`.
    pub user: Option<String>,
    /// Memory limit in bytes.
    pub memory_limit: Option<i64>,
    /// CPU limit in nano-CPUs.
    pub nano_cpus: Option<i64>,
    /// CPU shares from the CPU request.
    pub cpu_shares: Option<i64>,
    /// Privileged.
    pub privileged: bool,
    /// Capabilities to add.
    pub cap_add: Vec<String>,
    /// Capabilities to drop.
    pub cap_drop: Vec<String>,
    /// Read-only root filesystem.
    pub read_only_rootfs: bool,
    /// Where the container's termination message is written (node path, mounted at
    /// `terminationMessagePath`).
    pub termination_log: Option<Mount>,
}

/// Options for reading logs.
#[derive(Clone, Debug, Default)]
pub struct LogOptions {
    /// Keep streaming until the container stops.
    pub follow: bool,
    /// Only the last N lines.
    pub tail: Option<i64>,
    /// Only lines since this Unix time.
    pub since: Option<i64>,
    /// Prefix RFC 3339 timestamps.
    pub timestamps: bool,
}

/// Result of running a command in a container.
#[derive(Clone, Debug)]
pub struct ExecResult {
    /// Exit code.
    pub exit_code: i64,
    /// Combined output.
    pub output: String,
}

/// A process started for an interactive stream (`exec`).
#[derive(Clone, Debug, Default)]
pub struct ExecSpec {
    /// The command and its arguments.
    pub cmd: Vec<String>,
    /// Attach the process's stdin.
    pub stdin: bool,
    /// Attach its stdout.
    pub stdout: bool,
    /// Attach its stderr.
    pub stderr: bool,
    /// Run it on a terminal.
    pub tty: bool,
}

/// What a streamed process wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// On stdout (or the terminal).
    Stdout(Bytes),
    /// On stderr.
    Stderr(Bytes),
}

/// The two directions of an interactive stream into a container.
pub struct StreamIo {
    /// The process's stdin, when attached; shutting it down closes the process's stdin.
    pub stdin: Option<Pin<Box<dyn AsyncWrite + Send>>>,
    /// What the process writes, until it exits (or detaches).
    pub output: BoxStream<'static, Result<Output, RuntimeError>>,
}

/// A container's resource usage now, as cAdvisor reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time used since it started, in nanoseconds.
    pub cpu_ns: u64,
    /// Working set: memory in use minus the inactive file cache (what the OOM killer
    /// weighs), floored at zero.
    pub working_set: u64,
    /// Memory in use, file cache included.
    pub memory: u64,
    /// Anonymous memory.
    pub rss: u64,
}

/// A container of a pod changed state (started, died, was OOM-killed, or its health
/// changed), as the runtime reports it the moment it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerEvent {
    /// The pod's uid.
    pub pod_uid: String,
    /// The runtime's id of the container.
    pub container_id: String,
    /// What happened: `start`, `die`, `oom` or `health_status`.
    pub action: String,
}

/// Runs pods' containers.
pub trait ContainerRuntime: Send + Sync + 'static {
    /// Resource usage of a running container (by id or name); `None` when it does not run.
    fn stats(&self, id: &str) -> impl Future<Output = Result<Option<Usage>, RuntimeError>> + Send;
    /// `docker://28.2.2` style name and version.
    fn version(&self) -> impl Future<Output = Result<String, RuntimeError>> + Send;
    /// The containers the kubelet made (sandboxes and containers), running or not: all of
    /// them, or one pod's.
    fn list(
        &self,
        pod_uid: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Container>, RuntimeError>> + Send;
    /// Whether an image is present, and whether it came from a registry (has repo digests).
    fn image_status(
        &self,
        image: &str,
    ) -> impl Future<Output = Result<Option<ImageInfo>, RuntimeError>> + Send;
    /// Pull an image.
    fn pull(&self, image: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Create a sandbox, not yet started; returns its id.
    fn create_sandbox(
        &self,
        spec: &SandboxSpec,
    ) -> impl Future<Output = Result<String, RuntimeError>> + Send;
    /// Create a container in a sandbox, not yet started; returns its id. The sandbox need
    /// not run yet, only exist.
    fn create_container(
        &self,
        sandbox_id: &str,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<String, RuntimeError>> + Send;
    /// Start a created sandbox or container (a container's sandbox must run).
    fn start(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Stop with SIGTERM, then SIGKILL after `grace`.
    fn stop(
        &self,
        id: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Remove a stopped (or running: forced) container.
    fn remove(&self, id: &str) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Run a command in a running container and collect its output.
    fn exec(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> impl Future<Output = Result<ExecResult, RuntimeError>> + Send;
    /// Start a command in a running container with its stdio streamed; returns the exec
    /// id (for resizing and the exit code) and the streams.
    fn exec_stream(
        &self,
        id: &str,
        spec: &ExecSpec,
    ) -> impl Future<Output = Result<(String, StreamIo), RuntimeError>> + Send;
    /// Resize the terminal of an exec.
    fn resize_exec(
        &self,
        exec_id: &str,
        width: u16,
        height: u16,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// The exit code of a finished exec (None while it runs).
    fn exec_exit_code(
        &self,
        exec_id: &str,
    ) -> impl Future<Output = Result<Option<i64>, RuntimeError>> + Send;
    /// Attach to the stdio of a running container's main process.
    fn attach(
        &self,
        id: &str,
        stdin: bool,
        stdout: bool,
        stderr: bool,
    ) -> impl Future<Output = Result<StreamIo, RuntimeError>> + Send;
    /// Resize a container's terminal.
    fn resize_tty(
        &self,
        id: &str,
        width: u16,
        height: u16,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// State changes of this node's pod containers from now on, until the runtime's event
    /// stream breaks (the caller subscribes again and resyncs: events may have been missed).
    fn events(&self) -> BoxStream<'static, Result<ContainerEvent, RuntimeError>>;
    /// A container's log as a byte stream.
    fn logs(
        &self,
        id: &str,
        opts: &LogOptions,
    ) -> impl Future<Output = Result<BoxStream<'static, Result<Bytes, RuntimeError>>, RuntimeError>> + Send;
}

/// What the runtime knows about an image.
#[derive(Clone, Debug)]
pub struct ImageInfo {
    /// `sha256:…`.
    pub id: String,
    /// `repo@sha256:…` digests, empty for images built locally.
    pub repo_digests: Vec<String>,
}
