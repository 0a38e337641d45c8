//! `rkube start`: create or resume a cluster and point kubectl at it.

use std::time::Duration;

use anyhow::Context;

use super::exit::Failure;
use crate::cluster::start::{self, Outcome, Request};
use crate::cluster::wait::WaitFor;

/// Arguments of `rkube start`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// CPUs the node offers to pods (default: all of Docker's).
    #[arg(long)]
    pub cpus: Option<u32>,
    /// Memory the node offers to pods, e.g. 4g or 4096 (MiB) (default: all of Docker's).
    #[arg(long)]
    pub memory: Option<String>,
    /// Extra ports to publish from the node on 127.0.0.1, HOST:CONTAINER.
    #[arg(long = "ports", value_delimiter = ',')]
    pub ports: Vec<String>,
    /// The Pod Security level of namespaces without labels, for a new cluster:
    /// privileged (the default, as upstream), baseline or restricted.
    #[arg(long)]
    pub pod_security: Option<String>,
    /// A setting of a component for a new cluster, as minikube takes it:
    /// component.key=value (apiserver.event-ttl, controller-manager.node-monitor-grace-period,
    /// kube-proxy.mode).
    #[arg(long = "extra-config")]
    pub extra_config: Vec<String>,
    /// How many nodes a new cluster gets: the control plane and N-1 workers.
    #[arg(short = 'n', long)]
    pub nodes: Option<u32>,
    /// Subnet of the profile network (default: a free 192.168.x.0/24).
    #[arg(long)]
    pub subnet: Option<String>,
    /// Kubernetes version to serve (rkube serves one).
    #[arg(long)]
    pub kubernetes_version: Option<String>,
    /// Components to wait for: all, none, or a list of apiserver, system_pods, default_sa,
    /// apps_running, node_ready, kubelet, extra (default: apiserver,node_ready).
    #[arg(long, num_args = 0..=1, default_missing_value = "all")]
    pub wait: Option<String>,
    /// How long to wait for them.
    #[arg(long, default_value = "6m", value_parser = parse_duration)]
    pub wait_timeout: Duration,
    /// Addons to enable besides the default ones, e.g. --addons=metrics-server (repeatable).
    #[arg(long = "addons", value_delimiter = ',')]
    pub addons: Vec<String>,
    /// Driver (only docker).
    #[arg(long, default_value = "docker")]
    pub driver: String,
    /// Also print each step's timing to stderr (minikube's flag).
    #[arg(long)]
    pub alsologtostderr: bool,
    /// Log verbosity; 1 or more prints each step's timing to stderr, as --alsologtostderr.
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
}

pub use crate::cluster::extra_config::parse_duration;

/// Run `start`.
pub fn run(profile: &str, args: Args) -> anyhow::Result<()> {
    if args.driver != "docker" {
        return Err(Failure::new(
            super::exit::USAGE,
            format!(
                "driver {:?} is not supported: rkube runs on Docker only; drop --driver",
                args.driver
            ),
        )
        .into());
    }
    let wait = match &args.wait {
        Some(w) => WaitFor::parse(w).map_err(|m| Failure::new(super::exit::USAGE, m))?,
        None => WaitFor::standard(),
    };
    // `rkube config set` defaults, where no flag is given.
    let defaults = crate::cluster::config::load()
        .map_err(|e| Failure::new(super::exit::FAILURE, e.to_string()))?;
    let list = |key: &str| -> Vec<String> {
        defaults
            .get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    // The flag, else the config default, which must be a number.
    let number = |flag: Option<u32>, key: &str| match (flag, defaults.get(key)) {
        (Some(n), _) => Ok(Some(n)),
        (None, Some(v)) => v.parse().map(Some).map_err(|_| {
            Failure::new(
                super::exit::USAGE,
                format!("config {key}={v:?} is not a number: `rkube config set {key} N`"),
            )
        }),
        (None, None) => Ok(None),
    };
    let cpus = number(args.cpus, "cpus")?;
    let nodes = number(args.nodes, "nodes")?;
    crate::cluster::extra_config::parse(&args.extra_config)
        .map_err(|e| Failure::new(super::exit::USAGE, e))?;
    if let Some(level) = &args.pod_security {
        if crate::apiserver::pod_security::Level::parse(level).is_none() {
            return Err(Failure::new(
                super::exit::USAGE,
                format!("invalid --pod-security value {level:?}: use privileged, baseline or restricted"),
            )
            .into());
        }
    }
    let req = Request {
        wait,
        nodes,
        extra_config: args.extra_config,
        pod_security: args.pod_security,
        profile: profile.to_string(),
        cpus,
        memory: args.memory.or_else(|| defaults.get("memory").cloned()),
        ports: if args.ports.is_empty() {
            list("ports")
        } else {
            args.ports
        },
        subnet: args.subnet,
        kubernetes_version: args
            .kubernetes_version
            .or_else(|| defaults.get("kubernetes-version").cloned()),
        wait_timeout: args.wait_timeout,
        addons: if args.addons.is_empty() {
            list("addons")
        } else {
            args.addons
        },
    };
    let timings = args.alsologtostderr || args.verbosity > 0;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let started = std::time::Instant::now();
    let mut last = started;
    let outcome = rt
        .block_on(start::start(&req, |emoji, line| {
            if timings {
                // Where the time goes: since the last step, and since the command began.
                let now = std::time::Instant::now();
                eprintln!(
                    "I {:>7.3}s (+{:.3}s) {line}",
                    now.duration_since(started).as_secs_f64(),
                    now.duration_since(last).as_secs_f64()
                );
                last = now;
            }
            println!("{emoji}  {line}")
        }))
        .map_err(Failure::from)?;
    if timings {
        eprintln!("I {:>7.3}s start finished", started.elapsed().as_secs_f64());
    }
    tracing::info!(
        ?outcome,
        seconds = started.elapsed().as_secs_f64(),
        "start finished"
    );
    if outcome == Outcome::AlreadyRunning {
        println!("🏄  kubectl is configured to use \"{profile}\"");
    }
    Ok(())
}
