//! `rkube stop`: stop every node and the pods, keeping all state for the next `start`.

use anyhow::Context;

use super::exit::Failure;
use crate::cluster::{docker, node_container, nodes, profile};

/// Run `stop`.
pub fn run(profile_name: &str) -> anyhow::Result<()> {
    let Some(settings) = profile::load(profile_name)? else {
        return Err(Failure::profile_not_found(profile_name).into());
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let docker = docker::connect().await.map_err(Failure::from)?;
        // Docker stops no paused container: a paused cluster is thawed first.
        crate::cluster::pause::unpause(&docker, profile_name).await?;
        // Workers first, then the control plane: each kubelet is stopped before its pods,
        // so it does not restart them.
        for w in &settings.workers {
            println!("✋  Stopping node \"{}\"  ...", w.name);
            nodes::stop(&docker, &settings, &w.name)
                .await
                .map_err(Failure::from)?;
        }
        println!("✋  Stopping node \"{profile_name}\"  ...");
        if let Some(node) = node_container::inspect(&docker, profile_name).await? {
            node_container::stop(&docker, &node.id, 20).await?;
        }
        let pods: Vec<String> = node_container::labelled(&docker, profile_name)
            .await?
            .into_iter()
            .filter(|c| !node_container::is_node(c))
            .filter_map(|c| c.id)
            .collect();
        let stops = pods.iter().map(|id| node_container::stop(&docker, id, 5));
        for r in futures::future::join_all(stops).await {
            r?;
        }
        let n = 1 + settings.workers.len();
        println!("🛑  {n} node{} stopped.", if n == 1 { "" } else { "s" });
        Ok(())
    })
}
