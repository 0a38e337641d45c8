//! The node container and everything else labelled with a profile on Docker.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerSummary, EndpointIpamConfig,
    EndpointSettings, HostConfig, NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, StopContainerOptions,
    UploadToContainerOptions,
};
use bollard::Docker;

use super::docker::{
    is_not_found, is_not_modified, is_removal_in_progress, label_filter, HOME_LABEL, NODE_LABEL,
    PROFILE_LABEL, ROLE_LABEL,
};
use super::profile::{self, Settings, Worker};

/// Port the API server listens on inside the node.
pub const API_PORT: u16 = 8443;
/// Where the state volume is mounted in the node.
pub const STATE_DIR: &str = "/var/lib/rkube";

/// What Docker says about a profile's node container.
#[derive(Clone, Debug)]
pub struct NodeState {
    /// Container id.
    pub id: String,
    /// Whether it runs (a paused container runs too).
    pub running: bool,
    /// Whether `rkube pause` froze it.
    pub paused: bool,
    /// The image it was created from.
    pub image: String,
}

/// The node container of `profile`, if it exists.
pub async fn inspect(
    docker: &Docker,
    profile: &str,
) -> Result<Option<NodeState>, bollard::errors::Error> {
    inspect_node(docker, profile, profile).await
}

/// The container of node `name` of `profile`, if it exists.
pub async fn inspect_node(
    docker: &Docker,
    profile: &str,
    name: &str,
) -> Result<Option<NodeState>, bollard::errors::Error> {
    match docker.inspect_container(name, None).await {
        Ok(c) => {
            let labels = c
                .config
                .as_ref()
                .and_then(|c| c.labels.clone())
                .unwrap_or_default();
            if labels.get(PROFILE_LABEL).map(String::as_str) != Some(profile) {
                // A container of the same name that rkube did not create is not ours to touch.
                return Ok(None);
            }
            Ok(Some(NodeState {
                running: running(&c),
                id: c.id.unwrap_or_default(),
                paused: c.state.as_ref().and_then(|s| s.paused).unwrap_or(false),
                image: c.config.and_then(|c| c.image).unwrap_or_default(),
            }))
        }
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The Docker socket path as the engine sees it, for the kubelet inside the node.
pub fn docker_socket() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
        .unwrap_or_else(|| "/var/run/docker.sock".to_string())
}

/// Create (not start) the control-plane node container for these settings.
pub async fn create(docker: &Docker, s: &Settings) -> Result<String, bollard::errors::Error> {
    let mut publish = vec![(s.api_port, API_PORT)];
    publish.extend(s.ports.iter().filter_map(|p| {
        let (h, c) = p.split_once(':')?;
        Some((h.parse().ok()?, c.parse().ok()?))
    }));
    let cmd = daemon_args(s, &s.name, &s.node_ip, None);
    create_node(docker, s, &s.name, &s.node_ip, cmd, &publish).await
}

/// Create (not start) a worker's container, which joins the control-plane node's API server.
pub async fn create_worker(
    docker: &Docker,
    s: &Settings,
    w: &Worker,
) -> Result<String, bollard::errors::Error> {
    let join = format!("https://{}:{API_PORT}", s.node_ip);
    let cmd = daemon_args(s, &w.name, &w.ip, Some(&join));
    create_node(docker, s, &w.name, &w.ip, cmd, &[]).await
}

fn daemon_args(s: &Settings, node: &str, ip: &str, join: Option<&str>) -> Vec<String> {
    let mut cmd = vec![
        "node-daemon".to_string(),
        format!("--profile={}", s.name),
        format!("--node-name={node}"),
        format!("--node-ip={ip}"),
        format!("--service-cidr={}", s.service_cidr),
        format!("--cpus={}", s.cpus),
        format!("--memory-mb={}", s.memory_mb),
        format!("--node-image={}", s.image),
        format!("--network={}", profile::network_name(&s.name)),
    ];
    cmd.extend(join.map(|url| format!("--join={url}")));
    cmd.extend(s.extra_config.iter().map(|e| format!("--extra-config={e}")));
    cmd.extend(s.pod_security.iter().map(|l| format!("--pod-security={l}")));
    cmd
}

async fn create_node(
    docker: &Docker,
    s: &Settings,
    name: &str,
    ip: &str,
    cmd: Vec<String>,
    publish: &[(u16, u16)],
) -> Result<String, bollard::errors::Error> {
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut exposed: Vec<String> = Vec::new();
    for (host, container) in publish {
        let key = format!("{container}/tcp");
        exposed.push(key.clone());
        port_bindings.insert(
            key,
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(host.to_string()),
            }]),
        );
    }
    let socket = docker_socket();
    let body = ContainerCreateBody {
        image: Some(s.image.clone()),
        hostname: Some(name.to_string()),
        cmd: Some(cmd),
        // The node logs as the CLI that created it was asked to (`rkube logs` shows them).
        env: std::env::var("RKUBE_LOG")
            .ok()
            .map(|filter| vec![format!("RKUBE_LOG={filter}")]),
        labels: Some(HashMap::from([
            (PROFILE_LABEL.to_string(), s.name.clone()),
            (NODE_LABEL.to_string(), name.to_string()),
            (ROLE_LABEL.to_string(), "node".to_string()),
            (HOME_LABEL.to_string(), super::profile::home_label()),
        ])),
        exposed_ports: Some(exposed),
        stop_timeout: Some(20),
        host_config: Some(HostConfig {
            port_bindings: Some(port_bindings),
            binds: Some(vec![
                format!("{socket}:/var/run/docker.sock"),
                format!("{}:{STATE_DIR}", profile::volume_name(name)),
            ]),
            // Service addresses are claimed on the node's interface (ARCHITECTURE §4).
            cap_add: Some(vec!["NET_ADMIN".into()]),
            // The kernel service path forwards DNATed connections out of the node again.
            sysctls: Some(HashMap::from([(
                "net.ipv4.ip_forward".to_string(),
                "1".to_string(),
            )])),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                profile::network_name(&s.name),
                EndpointSettings {
                    ipam_config: Some(EndpointIpamConfig {
                        ipv4_address: Some(ip.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.to_string()),
                ..Default::default()
            }),
            body,
        )
        .await?;
    Ok(created.id)
}

/// Copy files (path relative to `dir`, contents, mode) into a created or running container.
pub async fn upload(
    docker: &Docker,
    container: &str,
    dir: &str,
    files: &[(&str, &[u8], u32)],
) -> Result<(), bollard::errors::Error> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(*mode);
        h.set_size(data.len() as u64);
        builder
            .append_data(&mut h, path, *data)
            .map_err(|e| bollard::errors::Error::IOError { err: e })?;
    }
    let tar = builder
        .into_inner()
        .map_err(|e| bollard::errors::Error::IOError { err: e })?;
    docker
        .upload_to_container(
            container,
            Some(UploadToContainerOptions {
                path: dir.to_string(),
                ..Default::default()
            }),
            bollard::body_full(tar.into()),
        )
        .await
}

/// Every container labelled with `profile` (the node, pod sandboxes and pod containers).
pub async fn labelled(
    docker: &Docker,
    profile: &str,
) -> Result<Vec<ContainerSummary>, bollard::errors::Error> {
    docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(label_filter(&[(PROFILE_LABEL, profile)])),
            ..Default::default()
        }))
        .await
}

/// Stop a container, treating "already stopped" and "gone" as done.
pub async fn stop(
    docker: &Docker,
    id: &str,
    timeout_secs: i32,
) -> Result<(), bollard::errors::Error> {
    match docker
        .stop_container(
            id,
            Some(StopContainerOptions {
                t: Some(timeout_secs),
                ..Default::default()
            }),
        )
        .await
    {
        // A busy engine (many containers being removed at once) can answer later than the
        // client waits, though it has signalled the container: wait for it to exit.
        Err(e @ bollard::errors::Error::RequestTimeoutError) => {
            let exited = |c: Option<&_>| !c.is_some_and(running);
            settled(docker, id, Duration::from_secs(300), exited)
                .await
                .then_some(())
                .ok_or(e)
        }
        Err(e) if !is_not_found(&e) && !is_not_modified(&e) => Err(e),
        _ => Ok(()),
    }
}

/// Whether an inspected container runs.
fn running(c: &ContainerInspectResponse) -> bool {
    c.state.as_ref().and_then(|s| s.running).unwrap_or(false)
}

/// Poll a container's inspection (`None` once it is gone) until `done` holds, for at
/// most `within`; whether it came to hold.
async fn settled(
    docker: &Docker,
    id: &str,
    within: Duration,
    done: impl Fn(Option<&ContainerInspectResponse>) -> bool,
) -> bool {
    let deadline = Instant::now() + within;
    loop {
        match docker.inspect_container(id, None).await {
            Err(gone) if is_not_found(&gone) && done(None) => return true,
            Ok(c) if done(Some(&c)) => return true,
            _ if Instant::now() >= deadline => return false,
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Remove a container and its anonymous volumes, even if it runs. When another removal
/// of it is under way (a node's kubelet removing a pod container as it is deleted), wait
/// for that one to finish, up to 30 s.
pub async fn remove(docker: &Docker, id: &str) -> Result<(), bollard::errors::Error> {
    let removed = docker
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await;
    match removed {
        Err(e) if is_removal_in_progress(&e) => {
            settled(docker, id, Duration::from_secs(30), |c| c.is_none())
                .await
                .then_some(())
                .ok_or(e)
        }
        Err(e) if !is_not_found(&e) => Err(e),
        _ => Ok(()),
    }
}

/// The pod containers (sandboxes and containers) that node `name`'s kubelet made.
pub async fn pods_of(
    docker: &Docker,
    profile: &str,
    name: &str,
) -> Result<Vec<String>, bollard::errors::Error> {
    Ok(labelled(docker, profile)
        .await?
        .into_iter()
        .filter(|c| !is_node(c))
        .filter(|c| {
            let node = c.labels.as_ref().and_then(|l| l.get(NODE_LABEL));
            // Pods made before nodes were labelled are the control plane's.
            node.map_or(name == profile, |n| n == name)
        })
        .filter_map(|c| c.id)
        .collect())
}

/// Whether a container summary is a node (not a pod's).
pub fn is_node(c: &ContainerSummary) -> bool {
    c.labels
        .as_ref()
        .and_then(|l| l.get(ROLE_LABEL))
        .is_some_and(|r| r == "node")
}
