//! `rkube pause [-A | -n NS,...]`: minikube's pause. It freezes the control plane and the
//! pods of the namespaces named (minikube's defaults, or every one with `-A`).

use anyhow::Context;

use super::exit::{self, Failure};
use crate::cluster::pause::{self, Scope};
use crate::cluster::{docker, node_container, profile};
use crate::ui;

/// Arguments of `rkube pause`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pause the pods of every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Namespaces whose pods to pause (comma-separated).
    #[arg(short = 'n', long = "namespaces", value_delimiter = ',')]
    pub namespaces: Vec<String>,
}

/// The node container, which must be running; a failure naming `doing` otherwise.
pub(super) async fn running_node(
    d: &bollard::Docker,
    profile_name: &str,
    doing: &str,
) -> anyhow::Result<node_container::NodeState> {
    if profile::load(profile_name)?.is_none() {
        return Err(Failure::profile_not_found(profile_name).into());
    }
    match node_container::inspect(d, profile_name).await? {
        Some(n) if n.running => Ok(n),
        _ => Err(Failure::new(
            exit::NOT_RUNNING,
            format!("The cluster \"{profile_name}\" is not running, so it cannot be {doing}. To start it, run: rkube start -p {profile_name}"),
        )
        .into()),
    }
}

/// Run `pause`.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<i32> {
    let scope = if args.all_namespaces {
        Scope::All
    } else if args.namespaces.is_empty() {
        Scope::Namespaces(
            pause::DEFAULT_NAMESPACES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        )
    } else {
        Scope::Namespaces(args.namespaces)
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let d = docker::connect().await.map_err(Failure::from)?;
        let node = running_node(&d, profile_name, "paused").await?;
        if node.paused {
            println!(
                "{}",
                ui::line(
                    "⏸️",
                    &format!("\"{profile_name}\" is already paused; `rkube unpause` thaws it")
                )
            );
            return Ok(0);
        }
        println!(
            "{}",
            ui::line("⏸️", &format!("Pausing node {profile_name} ... "))
        );
        let n = pause::pause(&d, profile_name, &scope).await?;
        let what = match &scope {
            Scope::All => "all namespaces".to_string(),
            Scope::Namespaces(ns) => ns.join(", "),
        };
        println!(
            "{}",
            ui::line("⏯️", &format!("Paused {n} containers in: {what}"))
        );
        Ok(0)
    })
}
