//! `rkube delete`: remove a cluster and everything labelled with its profile.

use anyhow::Context;
use bollard::query_parameters::RemoveVolumeOptions;

use super::exit::Failure;
use crate::cluster::docker::{self, is_not_found, label_filter, HOME_LABEL, PROFILE_LABEL};
use crate::cluster::{kubeconfig, node_container, profile};

/// Arguments of `rkube delete`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Delete every profile.
    #[arg(long)]
    pub all: bool,
    /// Also remove rkube's images and its directory (`~/.rkube`).
    #[arg(long)]
    pub purge: bool,
}

async fn delete_one(d: &bollard::Docker, name: &str) -> anyhow::Result<()> {
    println!("🔥  Deleting \"{name}\" in docker ...");
    // The node first, so its kubelet cannot recreate the pods being removed.
    if let Some(node) = node_container::inspect(d, name).await? {
        // Thawed first: a paused container may refuse to be killed.
        let _ = crate::cluster::pause::unpause(d, name).await;
        node_container::remove(d, &node.id).await?;
    }
    // Then the workers, for the same reason, and then the pods.
    let mut rest = node_container::labelled(d, name).await?;
    rest.sort_by_key(|c| !node_container::is_node(c));
    for c in rest {
        if let Some(id) = c.id {
            node_container::remove(d, &id).await?;
        }
    }
    match d.remove_network(&profile::network_name(name)).await {
        Err(e) if !is_not_found(&e) => return Err(e.into()),
        _ => {}
    }
    // Networks and volumes created by hand but labelled with the profile go too.
    let nets = d
        .list_networks(Some(bollard::query_parameters::ListNetworksOptions {
            filters: Some(label_filter(&[(PROFILE_LABEL, name)])),
        }))
        .await?;
    for n in nets {
        if let Some(id) = n.id {
            let _ = d.remove_network(&id).await;
        }
    }
    let mut volumes = vec![profile::volume_name(name)];
    let labelled = d
        .list_volumes(Some(bollard::query_parameters::ListVolumesOptions {
            filters: Some(label_filter(&[(PROFILE_LABEL, name)])),
        }))
        .await?;
    volumes.extend(labelled.volumes.into_iter().flatten().map(|v| v.name));
    volumes.dedup();
    for v in volumes {
        match d
            .remove_volume(&v, Some(RemoveVolumeOptions { force: true }))
            .await
        {
            Err(e) if !is_not_found(&e) => return Err(e.into()),
            _ => {}
        }
    }
    let path = kubeconfig::default_path();
    kubeconfig::remove(&path, name)?;
    println!("🔥  Removing {} ...", profile::dir(name).display());
    profile::remove(name)?;
    println!("💀  Removed all traces of the \"{name}\" cluster.");
    Ok(())
}

/// Run `delete`.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let d = docker::connect().await.map_err(Failure::from)?;
        let mut names = if args.all {
            let mut n = profile::list();
            // Profiles of this home whose files are gone but whose node containers remain.
            let home = profile::home_label();
            for c in d
                .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                    all: true,
                    filters: Some(label_filter(&[(HOME_LABEL, &home)])),
                    ..Default::default()
                }))
                .await?
            {
                if let Some(p) = c.labels.and_then(|l| l.get(PROFILE_LABEL).cloned()) {
                    n.push(p);
                }
            }
            n
        } else {
            vec![profile_name.to_string()]
        };
        names.sort();
        names.dedup();
        for name in &names {
            delete_one(&d, name).await?;
        }
        if args.all && names.is_empty() {
            println!("🔥  No profiles to delete.");
        }
        if args.purge {
            let (purged, kept) = crate::cluster::image_gc::purge(&d).await?;
            println!(
                "🔥  Removed {} rkube image tag(s) ({} MB)",
                purged.tags.len(),
                purged.bytes >> 20
            );
            if kept > 0 {
                println!(
                    "❗  Kept {kept} rkube image(s) that containers of other clusters still use"
                );
            }
            let home = profile::home();
            println!("💀  Removing {} ...", home.display());
            match std::fs::remove_dir_all(&home) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(anyhow::anyhow!("removing {}: {e}", home.display()))
                }
                _ => {}
            }
        }
        Ok(())
    })
}
