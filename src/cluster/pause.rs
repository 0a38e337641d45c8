//! `rkube pause` and `unpause`: freeze the node containers (the control plane's holds the
//! API server, controllers, scheduler and kubelet; a worker's its kubelet) and the pods of some namespaces with
//! Docker's pause (the cgroup freezer), and thaw them. Nothing is stopped, so objects,
//! pods, their IPs and their memory come back exactly as they were.

use bollard::query_parameters::ListContainersOptions;
use bollard::Docker;

use super::docker::{label_filter, PROFILE_LABEL, ROLE_LABEL};
use crate::kubelet::runtime::labels;

/// The namespaces minikube's `pause` freezes by default.
pub const DEFAULT_NAMESPACES: &[&str] = &[
    "kube-system",
    "kubernetes-dashboard",
    "storage-gluster",
    "istio-operator",
];

/// Which pods to freeze besides the control plane.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every namespace.
    All,
    /// These namespaces.
    Namespaces(Vec<String>),
}

/// The containers with these labels that are `state` now.
async fn listed(
    docker: &Docker,
    labels: &[(&str, &str)],
    state: &str,
) -> Result<Vec<bollard::models::ContainerSummary>, bollard::errors::Error> {
    let mut filters = label_filter(labels);
    filters.insert("status".into(), vec![state.into()]);
    docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
}

/// The profile's node containers that are `state` now, the control plane first.
async fn node_containers(
    docker: &Docker,
    profile: &str,
    state: &str,
) -> Result<Vec<String>, bollard::errors::Error> {
    let listed = listed(
        docker,
        &[(PROFILE_LABEL, profile), (ROLE_LABEL, "node")],
        state,
    )
    .await?;
    let mut names: Vec<String> = listed
        .into_iter()
        .filter_map(|c| {
            c.names?
                .first()
                .map(|n| n.trim_start_matches('/').to_string())
        })
        .collect();
    names.sort_by_key(|n| (n != profile, n.clone()));
    Ok(names)
}

/// The profile's pod containers (sandboxes too) that are `state` now, in `scope`.
async fn pod_containers(
    docker: &Docker,
    profile: &str,
    scope: &Scope,
    state: &str,
) -> Result<Vec<String>, bollard::errors::Error> {
    let listed = listed(docker, &[(PROFILE_LABEL, profile)], state).await?;
    Ok(listed
        .into_iter()
        .filter(|c| {
            let ns = c
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::POD_NAMESPACE))
                .cloned();
            match (ns, scope) {
                (None, _) => false,
                (Some(_), Scope::All) => true,
                (Some(ns), Scope::Namespaces(list)) => list.contains(&ns),
            }
        })
        .filter_map(|c| c.id)
        .collect())
}

/// Freeze every running node, then the pods in `scope`; how many containers were frozen.
pub async fn pause(
    docker: &Docker,
    profile: &str,
    scope: &Scope,
) -> Result<usize, bollard::errors::Error> {
    // The kubelets first: a kubelet awake beside frozen pods would see failing probes.
    let nodes = node_containers(docker, profile, "running").await?;
    let pods = pod_containers(docker, profile, scope, "running").await?;
    for id in nodes.iter().chain(&pods) {
        docker.pause_container(id).await?;
    }
    Ok(nodes.len() + pods.len())
}

/// Thaw every frozen pod of the profile, then its nodes; how many containers were thawed.
pub async fn unpause(docker: &Docker, profile: &str) -> Result<usize, bollard::errors::Error> {
    let pods = pod_containers(docker, profile, &Scope::All, "paused").await?;
    let nodes = node_containers(docker, profile, "paused").await?;
    for id in pods.iter().chain(&nodes) {
        docker.unpause_container(id).await?;
    }
    Ok(pods.len() + nodes.len())
}
