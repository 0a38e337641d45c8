//! `rkube server`: the control plane in the foreground, for development and API tests.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;

use crate::node::control_plane::{Config, ControlPlane};

/// Arguments of `rkube server`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the datastore and certificates (created if missing; reused later).
    #[arg(long, default_value = "./rkube-data")]
    pub data_dir: PathBuf,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8443)]
    pub port: u16,
    /// Write an admin kubeconfig here (merged if the file exists).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Service cluster IP range.
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cidr: String,
    /// Extra names or IPs for the serving certificate.
    #[arg(long = "apiserver-name")]
    pub apiserver_names: Vec<String>,
    /// Exit when standard input closes (test harnesses use this so no server outlives them).
    #[arg(long, hide = true)]
    pub exit_with_stdin: bool,
    /// Run a simulated node of this name: a TEST DOUBLE of the kubelet for API tests; pods
    /// bound to it are reported Running without running anything.
    #[arg(long, hide = true)]
    pub simulated_node: Option<String>,
    /// How long a kubelet may stay silent before its node is marked Unknown, e.g. 50s.
    #[arg(long, default_value = "50s", value_parser = super::start::parse_duration)]
    pub node_monitor_grace_period: std::time::Duration,
    /// How long an Event lives after its last write, e.g. 1h.
    #[arg(long, default_value = "1h", value_parser = super::start::parse_duration)]
    pub event_ttl: std::time::Duration,
    /// The Pod Security level of namespaces without labels: privileged, baseline or
    /// restricted.
    #[arg(long, default_value = "privileged", value_parser = parse_pod_security)]
    pub pod_security: crate::apiserver::pod_security::Level,
    /// How often the datastore's history is compacted, e.g. 5m; 0 never compacts.
    #[arg(long, default_value = "5m", value_parser = super::start::parse_duration)]
    pub etcd_compaction_interval: std::time::Duration,
    /// How many of the newest revisions a compaction keeps (tests use 0 to make watches
    /// fall behind at once).
    #[arg(long, hide = true, default_value_t = crate::node::control_plane::DEFAULT_COMPACTION_RETAIN)]
    pub compaction_retain_revisions: i64,
}

/// A Pod Security level flag.
pub fn parse_pod_security(s: &str) -> Result<crate::apiserver::pod_security::Level, String> {
    crate::apiserver::pod_security::Level::parse(s).ok_or_else(|| {
        format!("invalid Pod Security level {s:?}: use privileged, baseline or restricted")
    })
}

/// Run until SIGINT or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<()> {
    super::run_daemon(async move {
        let mut cfg = Config::new(args.data_dir.clone());
        cfg.listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port);
        cfg.kubeconfig = args.kubeconfig.clone();
        cfg.service_cidr = args.service_cidr.clone();
        cfg.extra_sans = args.apiserver_names.clone();
        cfg.simulated_node = args.simulated_node.clone();
        cfg.node_monitor_grace_period = args.node_monitor_grace_period;
        cfg.event_ttl = args.event_ttl;
        cfg.pod_security = args.pod_security;
        cfg.compaction_interval = args.etcd_compaction_interval;
        cfg.compaction_retain = args.compaction_retain_revisions;
        let cp = ControlPlane::start(cfg).await.with_context(|| {
            format!("starting the control plane in {}", args.data_dir.display())
        })?;
        let kc = args
            .kubeconfig
            .as_ref()
            .map(|p| format!(" (kubeconfig: {})", p.display()))
            .unwrap_or_default();
        println!("rkube control plane ready at {}{kc}", cp.server_url);
        wait_for_signal(args.exit_with_stdin).await?;
        cp.stop().await;
        Ok(())
    })?
}

async fn wait_for_signal(exit_with_stdin: bool) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let stdin_closed = async {
        if !exit_with_stdin {
            return std::future::pending::<()>().await;
        }
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
        _ = stdin_closed => {}
    }
    Ok(())
}
