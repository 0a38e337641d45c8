//! `rkube node-daemon` (hidden): PID 1 of a node container, started by `rkube start` and
//! `rkube node add`.

use std::net::Ipv4Addr;

use crate::node::run::{run as run_node, NodeSettings};

/// Arguments of `rkube node-daemon`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The profile.
    #[arg(long)]
    pub profile: String,
    /// This node's name; the profile's name when absent (the control-plane node).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Join the API server at this URL as a worker, instead of running the control plane.
    #[arg(long)]
    pub join: Option<String>,
    /// The node's address on the profile network.
    #[arg(long)]
    pub node_ip: Ipv4Addr,
    /// Service virtual IP range.
    #[arg(long)]
    pub service_cidr: String,
    /// CPU capacity.
    #[arg(long)]
    pub cpus: u32,
    /// Memory capacity in MiB.
    #[arg(long)]
    pub memory_mb: u64,
    /// The node image (pod sandboxes run it too).
    #[arg(long)]
    pub node_image: String,
    /// The profile's Docker network.
    #[arg(long)]
    pub network: String,
    /// minikube's `--extra-config` entries of the cluster.
    #[arg(long = "extra-config")]
    pub extra_config: Vec<String>,
    /// The Pod Security level of namespaces without labels.
    #[arg(long, default_value = "privileged", value_parser = super::server::parse_pod_security)]
    pub pod_security: crate::apiserver::pod_security::Level,
}

/// Run the node until stopped.
pub fn run(args: Args) -> anyhow::Result<()> {
    super::run_daemon(run_node(NodeSettings {
        node_name: args.node_name.unwrap_or_else(|| args.profile.clone()),
        profile: args.profile,
        join: args.join,
        node_ip: args.node_ip,
        service_cidr: args.service_cidr,
        cpus: args.cpus,
        memory_mb: args.memory_mb,
        node_image: args.node_image,
        network: args.network,
        extra_config: crate::cluster::extra_config::parse(&args.extra_config)
            .map_err(anyhow::Error::msg)?,
        pod_security: args.pod_security,
    }))?
}
