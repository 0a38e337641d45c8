//! Worker nodes (`start --nodes`, `node add|delete|stop|start`): each is its own container
//! and volume on the profile's network, running the kubelet and NodePorts as a client of the
//! control-plane node's API server, with certificates the host issues from the profile's CA.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bollard::query_parameters::RemoveVolumeOptions;
use bollard::Docker;
use k8s_openapi::api::core::v1::Node;
use kube::Api;

use super::docker::{is_not_found, is_not_modified};
use super::network;
use super::node_container::{self, STATE_DIR};
use super::profile::{self, Settings, Worker};
use super::start::{credentials, StartError};
use super::wait::node_ready;
use crate::node::run::worker_pki;

/// How long a worker's pods get to stop when the node is powered off.
const POD_STOP_SECS: i32 = 5;

/// A new worker for `s`: the next free name and an address no container holds.
pub async fn plan(docker: &Docker, s: &Settings) -> Result<Worker, StartError> {
    let layout = network::layout(&s.subnet)?;
    let mut taken: HashSet<Ipv4Addr> = HashSet::from([layout.gateway, layout.node_ip]);
    taken.extend(
        s.workers
            .iter()
            .filter_map(|w| w.ip.parse::<Ipv4Addr>().ok()),
    );
    let net = docker
        .inspect_network(&profile::network_name(&s.name), None)
        .await?;
    taken.extend(net.containers.unwrap_or_default().values().filter_map(|c| {
        c.ipv4_address
            .as_deref()?
            .split('/')
            .next()?
            .parse::<Ipv4Addr>()
            .ok()
    }));
    // IPAM hands pod sandboxes the lowest free addresses, so workers take the highest.
    let (base, len) = layout
        .ip_range
        .split_once('/')
        .and_then(|(ip, len)| Some((ip.parse::<Ipv4Addr>().ok()?, len.parse::<u32>().ok()?)))
        .ok_or_else(|| StartError::Invalid(format!("bad IP range {}", layout.ip_range)))?;
    let size = 1u32 << (32 - len);
    let ip = (1..size - 1)
        .rev()
        .map(|i| Ipv4Addr::from(u32::from(base) + i))
        .find(|ip| !taken.contains(ip))
        .ok_or_else(|| {
            StartError::Invalid(format!(
                "no free address left on the network {} for another node",
                profile::network_name(&s.name)
            ))
        })?;
    Ok(Worker {
        name: s.next_worker_name(),
        ip: ip.to_string(),
    })
}

/// The files a worker reads from `<state>/pki`, issued from the profile's CA.
fn certificates(s: &Settings, w: &Worker) -> Result<Vec<(String, String, u32)>, StartError> {
    let (ca, _) = credentials(&s.name)?;
    let ip: IpAddr =
        w.ip.parse()
            .map_err(|_| StartError::Invalid(format!("bad node address {:?}", w.ip)))?;
    let kubelet = ca.client_cert(
        &format!("node-{}", w.name),
        &format!("system:node:{}", w.name),
        &["system:nodes"],
    )?;
    let serving = ca.serving_cert(
        &format!("kubelet-{}", w.name),
        &w.name,
        std::slice::from_ref(&w.name),
        &[ip],
    )?;
    let proxy = ca.client_cert("kube-proxy", "system:kube-proxy", &[])?;
    let mut files = vec![(
        format!("pki/{}", worker_pki::CA),
        ca.cert_pem().to_string(),
        0o644,
    )];
    for (name, pair) in [
        (worker_pki::KUBELET_CLIENT, kubelet),
        (worker_pki::KUBELET_SERVING, serving),
        (worker_pki::PROXY_CLIENT, proxy),
    ] {
        files.push((format!("pki/{name}.crt"), pair.cert_pem, 0o644));
        files.push((format!("pki/{name}.key"), pair.key_pem, 0o600));
    }
    Ok(files)
}

/// Create the worker's volume and container, give it its certificates, and start it.
/// Whatever was made is removed again if a step fails, so nothing is half-created.
pub async fn create(docker: &Docker, s: &Settings, w: &Worker) -> Result<(), StartError> {
    let made = async {
        super::start::ensure_volume(docker, &s.name, &w.name).await?;
        node_container::create_worker(docker, s, w).await?;
        let files = certificates(s, w)?;
        let refs: Vec<(&str, &[u8], u32)> = files
            .iter()
            .map(|(p, c, m)| (p.as_str(), c.as_bytes(), *m))
            .collect();
        node_container::upload(docker, &w.name, STATE_DIR, &refs).await?;
        start_container(docker, &w.name).await
    }
    .await;
    if made.is_err() {
        let _ = remove(docker, s, &w.name).await;
    }
    made
}

async fn start_container(docker: &Docker, name: &str) -> Result<(), StartError> {
    match docker.start_container(name, None).await {
        Err(e) if !is_not_modified(&e) => Err(e.into()),
        _ => Ok(()),
    }
}

/// Start a saved worker: recreated on its volume and address when the node image changed
/// or its container is gone, restarted otherwise.
pub async fn start(docker: &Docker, s: &Settings, w: &Worker) -> Result<(), StartError> {
    match node_container::inspect_node(docker, &s.name, &w.name).await? {
        Some(node) if node.image == s.image => start_container(docker, &w.name).await,
        existing => {
            if let Some(node) = existing {
                node_container::remove(docker, &node.id).await?;
            }
            create(docker, s, w).await
        }
    }
}

/// Power a node off: its container, then the pods it ran (they die with a real machine).
pub async fn stop(docker: &Docker, s: &Settings, name: &str) -> Result<(), StartError> {
    if let Some(node) = node_container::inspect_node(docker, &s.name, name).await? {
        if node.paused {
            docker.unpause_container(&node.id).await?;
        }
        node_container::stop(docker, &node.id, 20).await?;
    }
    let pods = node_container::pods_of(docker, &s.name, name).await?;
    let stops = pods
        .iter()
        .map(|id| node_container::stop(docker, id, POD_STOP_SECS));
    for r in futures::future::join_all(stops).await {
        r?;
    }
    Ok(())
}

/// Remove a worker's container, its pods' containers and its volume.
pub async fn remove(docker: &Docker, s: &Settings, name: &str) -> Result<(), StartError> {
    if let Some(node) = node_container::inspect_node(docker, &s.name, name).await? {
        node_container::remove(docker, &node.id).await?;
    }
    for id in node_container::pods_of(docker, &s.name, name).await? {
        node_container::remove(docker, &id).await?;
    }
    match docker
        .remove_volume(
            &profile::volume_name(name),
            Some(RemoveVolumeOptions { force: true }),
        )
        .await
    {
        Err(e) if !is_not_found(&e) => Err(e.into()),
        _ => Ok(()),
    }
}

/// Wait until the Node `name` reports Ready, or say what was last seen.
pub async fn wait_ready(
    client: &kube::Client,
    name: &str,
    timeout: Duration,
) -> Result<(), String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + timeout;
    loop {
        let last = match nodes.get_opt(name).await {
            Ok(Some(n)) if node_ready(&n) => return Ok(()),
            Ok(Some(_)) => format!("node {name} is not Ready yet"),
            Ok(None) => format!("node {name} has not registered yet"),
            Err(e) => format!("asking for node {name}: {e}"),
        };
        if Instant::now() >= deadline {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
