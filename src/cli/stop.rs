//! `rkube stop`: stop the node and the pods, keeping all state for the next `start`.

use anyhow::Context;

use super::exit::Failure;
use crate::cluster::{docker, node_container, profile};

/// Run `stop`.
pub fn run(profile_name: &str) -> anyhow::Result<()> {
    if profile::load(profile_name)?.is_none() {
        return Err(Failure::profile_not_found(profile_name).into());
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let docker = docker::connect().await.map_err(Failure::from)?;
        println!("✋  Stopping node \"{profile_name}\"  ...");
        // The node first, so its kubelet does not restart the pods being stopped.
        if let Some(node) = node_container::inspect(&docker, profile_name).await? {
            // Docker stops no paused container: a paused cluster is thawed first.
            crate::cluster::pause::unpause(&docker, profile_name, node.paused).await?;
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
        println!("🛑  1 node stopped.");
        Ok(())
    })
}
