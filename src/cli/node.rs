//! `rkube node add|list|delete|stop|start`: minikube's node commands. The control-plane node
//! is the profile's own; workers are `<profile>-m02`, `<profile>-m03`, … and may be named
//! in full or by minikube's short `m02`.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams};

use super::exit::{self, Failure};
use crate::cluster::profile::{self, Settings, Worker};
use crate::cluster::start::{admin_client, credentials};
use crate::cluster::{docker, node_container, nodes};

/// How long `node add` and `node start` wait for the node to be Ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// `rkube node` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add a worker node to the cluster.
    Add {
        /// Make it a control-plane node (rkube runs one control plane, so only false).
        #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false")]
        control_plane: bool,
        /// Make it a worker (the default).
        #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "true")]
        worker: bool,
    },
    /// List the nodes: name and address.
    List,
    /// Delete a worker node: its container, its pods' containers and its state.
    Delete {
        /// The node, e.g. m02 or rkube-m02.
        name: String,
    },
    /// Stop a worker node (its pods stop with it).
    Stop {
        /// The node, e.g. m02.
        name: String,
    },
    /// Start a stopped worker node.
    Start {
        /// The node, e.g. m02.
        name: String,
    },
}

/// minikube's short name of a worker: `m02` for `rkube-m02`.
fn short<'a>(s: &Settings, name: &'a str) -> &'a str {
    name.strip_prefix(&format!("{}-", s.name)).unwrap_or(name)
}

/// The worker named on the command line, or why it cannot be acted on.
fn worker(s: &Settings, name: &str, doing: &str) -> Result<Worker, Failure> {
    if name == s.name {
        return Err(Failure::new(
            exit::CONTROL_PLANE_NODE,
            format!(
                "\"{name}\" is the control-plane node and cannot be {doing} on its own: use `rkube {} -p {}` for the whole cluster",
                if doing == "deleted" { "delete" } else if doing == "started" { "start" } else { "stop" },
                s.name
            ),
        ));
    }
    s.worker(name).cloned().ok_or_else(|| {
        let known: Vec<String> = s.nodes().into_iter().map(|(n, _)| n).collect();
        Failure::new(
            exit::NOT_FOUND,
            format!(
                "cluster \"{}\" has no node {name:?} (it has {}): see `rkube node list -p {}`",
                s.name,
                known.join(", "),
                s.name
            ),
        )
    })
}

/// Run a `node` subcommand; returns the exit code.
pub fn run(profile_name: &str, cmd: Command) -> anyhow::Result<i32> {
    let Some(settings) = profile::load(profile_name)? else {
        return Err(Failure::profile_not_found(profile_name).into());
    };
    if let Command::List = cmd {
        for (name, ip) in settings.nodes() {
            println!("{name}\t{ip}");
        }
        return Ok(0);
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let d = docker::connect().await.map_err(Failure::from)?;
        match cmd {
            Command::List => Ok(0),
            Command::Add {
                control_plane,
                worker: _,
            } => add(&d, settings, control_plane).await,
            Command::Delete { name } => delete(&d, settings, &name).await,
            Command::Stop { name } => {
                let w = worker(&settings, &name, "stopped")?;
                println!("✋  Stopping node \"{}\"  ...", w.name);
                nodes::stop(&d, &settings, &w.name)
                    .await
                    .map_err(Failure::from)?;
                println!(
                    "🛑  Successfully stopped node {}",
                    short(&settings, &w.name)
                );
                Ok(0)
            }
            Command::Start { name } => {
                let w = worker(&settings, &name, "started")?;
                running_control_plane(&d, &settings, "start a node").await?;
                println!(
                    "👍  Starting \"{}\" worker node in \"{}\" cluster",
                    w.name, settings.name
                );
                nodes::start(&d, &settings, &w)
                    .await
                    .map_err(Failure::from)?;
                wait_ready(&d, &settings, &w.name).await?;
                println!(
                    "😄  Successfully started node {}!",
                    short(&settings, &w.name)
                );
                Ok(0)
            }
        }
    })
}

async fn running_control_plane(
    d: &bollard::Docker,
    s: &Settings,
    doing: &str,
) -> Result<(), Failure> {
    let node = node_container::inspect(d, &s.name)
        .await
        .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
    match node {
        Some(n) if n.running && !n.paused => Ok(()),
        _ => Err(Failure::new(
            exit::NOT_RUNNING,
            format!(
                "The cluster \"{0}\" is not running, so rkube cannot {doing}: run `rkube start -p {0}` first",
                s.name
            ),
        )),
    }
}

async fn wait_ready(d: &bollard::Docker, s: &Settings, name: &str) -> Result<(), Failure> {
    let (_, creds) =
        credentials(&s.name).map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
    let client = admin_client(s, &creds)
        .await
        .map_err(|e| Failure::new(exit::NODE_FAILED, e))?;
    if let Err(reason) = nodes::wait_ready(&client, name, READY_TIMEOUT).await {
        let logs = crate::cluster::start::node_logs(d, name, 20).await;
        return Err(Failure::new(
            exit::NODE_FAILED,
            format!("the node {name} did not become Ready: {reason}\n{logs}\nSee `rkube logs -p {}`, or `rkube node delete -p {} {name}`", s.name, s.name),
        ));
    }
    Ok(())
}

async fn add(d: &bollard::Docker, mut s: Settings, control_plane: bool) -> anyhow::Result<i32> {
    if control_plane {
        return Err(Failure::new(
            exit::USAGE,
            "rkube runs one control plane, in the first node: add a worker with `rkube node add`",
        )
        .into());
    }
    running_control_plane(d, &s, "add a node").await?;
    if 1 + s.workers.len() as u32 >= crate::cluster::start::MAX_NODES {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "cluster \"{}\" has {} nodes, the most rkube runs: delete one first",
                s.name,
                crate::cluster::start::MAX_NODES
            ),
        )
        .into());
    }
    let w = nodes::plan(d, &s).await.map_err(Failure::from)?;
    let short_name = short(&s, &w.name).to_string();
    println!(
        "😄  Adding node {short_name} to cluster {} as [worker]",
        s.name
    );
    println!(
        "👍  Starting \"{}\" worker node in \"{}\" cluster",
        w.name, s.name
    );
    println!(
        "🔥  Creating docker container (CPUs={}, Memory={}MB) ...",
        s.cpus, s.memory_mb
    );
    nodes::create(d, &s, &w).await.map_err(Failure::from)?;
    s.workers.push(w.clone());
    profile::save(&s)?;
    println!("🔎  Verifying Kubernetes components...");
    wait_ready(d, &s, &w.name).await?;
    println!("🏄  Successfully added {short_name} to {}!", s.name);
    Ok(0)
}

async fn delete(d: &bollard::Docker, mut s: Settings, name: &str) -> anyhow::Result<i32> {
    let w = worker(&s, name, "deleted")?;
    // The Node object goes with the container, so the control plane must be there.
    running_control_plane(d, &s, "delete a node").await?;
    let short_name = short(&s, &w.name).to_string();
    println!("🔥  Deleting node {short_name} from cluster {}", s.name);
    // The kubelet goes first, so it cannot register the Node again once it is deleted.
    nodes::remove(d, &s, &w.name).await.map_err(Failure::from)?;
    // Its pods are then removed by the pod garbage collector and replaced elsewhere by
    // their controllers, as when a machine leaves a real cluster.
    let (_, creds) = credentials(&s.name)?;
    let client = admin_client(&s, &creds)
        .await
        .map_err(|e| Failure::new(exit::FAILURE, e))?;
    let nodes_api: Api<Node> = Api::all(client);
    match nodes_api.delete(&w.name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => return Err(e).context(format!("deleting the Node object {}", w.name)),
    }
    s.workers.retain(|x| x.name != w.name);
    profile::save(&s)?;
    println!("💀  Node {short_name} was successfully deleted.");
    Ok(0)
}
