//! Command-line interface: one file per subcommand, minikube's names and flags.

mod addons;
mod completion;
mod config;
mod dashboard;
mod delete;
mod docker_env;
pub mod exit;
mod image;
mod ip;
mod kubectl;
mod logs;
mod mount;
mod node;
mod node_daemon;
mod pause;
mod pod_sandbox;
mod port_relay;
mod profile;
mod server;
mod service;
mod ssh;
mod start;
mod status;
mod stop;
mod tunnel;
mod unpause;
mod update_context;
mod version;

use clap::{Parser, Subcommand};

/// rkube: a local Kubernetes in one binary.
#[derive(Debug, Parser)]
#[command(
    name = "rkube",
    version,
    about = "Local Kubernetes, minikube-style, in one Rust binary"
)]
pub struct Cli {
    /// The profile (cluster) to act on.
    #[arg(short = 'p', long = "profile", global = true, default_value = crate::cluster::profile::DEFAULT, env = "RKUBE_PROFILE")]
    pub profile: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a local cluster on Docker (or resume a stopped one).
    Start(start::Args),
    /// Stop the cluster, keeping its state.
    Stop,
    /// Delete the cluster and everything it made on Docker.
    Delete(delete::Args),
    /// Show the state of the cluster's components.
    Status(status::Args),
    /// Print a node's IP address (the control plane's by default).
    Ip(ip::Args),
    /// Show the node's log.
    Logs(logs::Args),
    /// Open a shell in the node, or run a command there: `rkube ssh -- ls /`.
    Ssh(ssh::Args),
    /// Run kubectl against the cluster: `rkube kubectl -- get pods`.
    Kubectl {
        /// Arguments for kubectl.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print the URL of a service on the node, or open it in the browser.
    Service(service::Args),
    /// Forward LoadBalancer services to 127.0.0.1 and set their external IP, until Ctrl+C.
    Tunnel(tunnel::Args),
    /// Open the cluster's web dashboard through a local proxy, until Ctrl+C.
    Dashboard(dashboard::Args),
    /// Manage the images pods run: ls, load, build, rm, pull, tag.
    #[command(subcommand)]
    Image(image::Command),
    /// Print the exports that point docker at the engine rkube's pods run on.
    DockerEnv(docker_env::Args),
    /// Enable, disable and list addons (storage-provisioner, default-storageclass, ...).
    #[command(subcommand)]
    Addons(addons::Command),
    /// Set, get, unset and view start defaults (cpus, memory, kubernetes-version, addons, ports).
    #[command(subcommand)]
    Config(config::Command),
    /// Manage profiles.
    #[command(subcommand)]
    Profile(profile::Command),
    /// Point the kubeconfig at the cluster again.
    UpdateContext,
    /// Print the version.
    Version,
    /// Print a shell completion script.
    Completion {
        /// The shell.
        shell: completion::Shell,
    },
    /// Run the control plane (API server, datastore) in the foreground on 127.0.0.1, no Docker needed.
    Server(server::Args),
    /// Add, remove, list, stop and start the cluster's nodes.
    #[command(subcommand)]
    Node(node::Command),
    /// PID 1 of a node container (started by `rkube start` and `rkube node add`).
    #[command(hide = true)]
    NodeDaemon(node_daemon::Args),
    /// Make a host directory visible to pods at a node path (hostPath), until Ctrl+C.
    Mount(mount::Args),
    /// Freeze the control plane and the pods of some namespaces (Docker pause).
    Pause(pause::Args),
    /// Thaw what `pause` froze.
    Unpause,
    /// The process holding a pod sandbox (run by the kubelet).
    #[command(hide = true)]
    PodSandbox,
    /// The HTTP echo server of the `kicbase/echo-server` image rkube builds.
    #[command(hide = true)]
    EchoServer,
    /// The ingress tutorial's hello-app (`gcr.io/google-samples/hello-app` as rkube builds it).
    #[command(hide = true)]
    HelloApp,
    /// The ingress addon's controller (run in its pod).
    #[command(hide = true)]
    IngressController {
        /// Plain HTTP port.
        #[arg(long, default_value_t = 80)]
        http_port: u16,
        /// HTTPS port.
        #[arg(long, default_value_t = 443)]
        https_port: u16,
        /// Port of /healthz.
        #[arg(long, default_value_t = 10254)]
        healthz_port: u16,
    },
    /// The dashboard addon's page server (run in its pod).
    #[command(hide = true)]
    DashboardUi {
        /// HTTP port.
        #[arg(long, default_value_t = 9090)]
        port: u16,
    },
    /// The metrics-server addon's program (run in its pod).
    #[command(hide = true)]
    MetricsServer {
        /// HTTPS port.
        #[arg(long, default_value_t = 4443)]
        secure_port: u16,
        /// How often kubelets are scraped.
        #[arg(long, default_value = "15s", value_parser = start::parse_duration)]
        metric_resolution: std::time::Duration,
        /// Do not verify kubelets' serving certificates (always the case here).
        #[arg(long)]
        kubelet_insecure_tls: bool,
    },
    /// The storage-provisioner addon's program (run in its pod).
    #[command(hide = true)]
    StorageProvisioner,
    /// Relay stdio to a port on the pod's localhost (run by the kubelet in a pod sandbox).
    #[command(hide = true)]
    PortRelay {
        /// The port.
        port: u16,
    },
}

impl Cli {
    /// Whether the command only prints and exits, so a closed stdout (`| head`) should
    /// end it quietly, as it ends `ls` or `kubectl`: Rust ignores SIGPIPE, which turns such
    /// a write into a panic. Commands that serve connections keep it ignored, so a peer
    /// that goes away never kills them.
    pub fn only_prints(&self) -> bool {
        matches!(
            self.command,
            Command::Status(_)
                | Command::Ip(_)
                | Command::Logs(_)
                | Command::Image(_)
                | Command::Config(_)
                | Command::DockerEnv(_)
                | Command::Addons(_)
                | Command::Profile(_)
                | Command::Version
                | Command::Completion { .. }
        )
    }
}

/// Run the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let p = cli.profile.as_str();
    match cli.command {
        Command::Start(args) => start::run(p, args).map(|_| 0),
        Command::Stop => stop::run(p).map(|_| 0),
        Command::Delete(args) => delete::run(p, args).map(|_| 0),
        Command::Status(args) => status::run(p, args),
        Command::Ip(args) => ip::run(p, args).map(|_| 0),
        Command::Logs(args) => logs::run(p, args).map(|_| 0),
        Command::Ssh(args) => ssh::run(p, args),
        Command::Kubectl { args } => kubectl::run(p, args),
        Command::Service(args) => service::run(p, args),
        Command::Tunnel(args) => tunnel::run(p, args).map(|_| 0),
        Command::Dashboard(args) => dashboard::run(p, args),
        Command::Image(cmd) => image::run(cmd),
        Command::Config(cmd) => config::run(cmd),
        Command::DockerEnv(args) => docker_env::run(p, args),
        Command::Addons(cmd) => addons::run(p, cmd),
        Command::Profile(cmd) => profile::run(cmd).map(|_| 0),
        Command::UpdateContext => update_context::run(p).map(|_| 0),
        Command::Version => {
            version::run();
            Ok(0)
        }
        Command::Completion { shell } => {
            completion::run(shell);
            Ok(0)
        }
        Command::Server(args) => server::run(args).map(|_| 0),
        Command::Node(cmd) => node::run(p, cmd),
        Command::NodeDaemon(args) => node_daemon::run(args).map(|_| 0),
        Command::Mount(args) => mount::run(p, args),
        Command::Pause(args) => pause::run(p, args),
        Command::Unpause => unpause::run(p),
        Command::PodSandbox => pod_sandbox::run().map(|_| 0),
        Command::EchoServer => crate::echo_server::run(crate::echo_server::Mode::Echo)
            .map(|_| 0)
            .map_err(Into::into),
        Command::HelloApp => {
            let version = std::env::var("VERSION").unwrap_or_else(|_| "1.0.0".into());
            crate::echo_server::run(crate::echo_server::Mode::HelloApp(version))
                .map(|_| 0)
                .map_err(Into::into)
        }
        Command::IngressController {
            http_port,
            https_port,
            healthz_port,
        } => crate::addons::ingress::run(crate::addons::ingress::Options {
            http_port,
            https_port,
            healthz_port,
        })
        .map(|_| 0)
        .map_err(Into::into),
        Command::DashboardUi { port } => crate::dashboard::server::run(port)
            .map(|_| 0)
            .map_err(Into::into),
        Command::MetricsServer {
            secure_port,
            metric_resolution,
            kubelet_insecure_tls: _,
        } => crate::addons::metrics_server::run(crate::addons::metrics_server::Options {
            secure_port,
            resolution: metric_resolution,
        })
        .map(|_| 0)
        .map_err(Into::into),
        Command::StorageProvisioner => crate::addons::storage_provisioner::run()
            .map(|_| 0)
            .map_err(Into::into),
        Command::PortRelay { port } => port_relay::run(port),
    }
}

/// How long tasks still running when a daemon's main future returns get to end.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs a daemon's main future on a multi-threaded runtime, then gives what is still
/// running `SHUTDOWN_GRACE` to end: a plain drop of the runtime waits for every task
/// forever, so one that never yields would keep a stopped daemon alive.
pub(crate) fn run_daemon<F: std::future::Future>(main: F) -> anyhow::Result<F::Output> {
    use anyhow::Context;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let out = rt.block_on(main);
    rt.shutdown_timeout(SHUTDOWN_GRACE);
    Ok(out)
}
