//! The Node object: registration with capacity, addresses and nodeInfo, the status
//! conditions, and the Lease heartbeat in `kube-node-lease`.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};

/// What the node says about itself.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// InternalIP.
    pub ip: String,
    /// CPU capacity.
    pub cpus: u32,
    /// Memory capacity in MiB.
    pub memory_mb: u64,
    /// `docker://…`.
    pub runtime_version: String,
    /// Kernel version.
    pub kernel: String,
    /// OS image text.
    pub os_image: String,
    /// Extra labels (roles).
    pub control_plane: bool,
}

fn now_secs() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Create the Node (or adopt an existing one of that name) and post its status.
pub async fn register(client: &kube::Client, info: &NodeInfo) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut labels = json!({
        "kubernetes.io/hostname": info.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch(),
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch(),
    });
    if info.control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    }
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": info.name, "labels": labels},
        "spec": {},
    }))
    .map_err(kube::Error::SerdeError)?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(e),
    }
    update_status(client, info).await
}

/// Post the node's status, keeping condition transition times that did not change.
pub async fn update_status(client: &kube::Client, info: &NodeInfo) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let existing: Vec<Value> = nodes
        .get_opt(&info.name)
        .await?
        .and_then(|n| n.status)
        .and_then(|s| s.conditions)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .collect()
        })
        .unwrap_or_default();
    let t = now_secs();
    let cond = |kind: &str, status: &str, reason: &str, message: &str| {
        let since = existing
            .iter()
            .find(|c| c["type"] == kind && c["status"] == status)
            .map(|c| c["lastTransitionTime"].clone())
            .unwrap_or_else(|| json!(t));
        json!({"type": kind, "status": status, "lastHeartbeatTime": t, "lastTransitionTime": since, "reason": reason, "message": message})
    };
    let capacity = json!({
        "cpu": info.cpus.to_string(),
        "memory": format!("{}Ki", info.memory_mb * 1024),
        "pods": "110",
        "ephemeral-storage": "100Gi",
        "hugepages-2Mi": "0",
    });
    let status = json!({"status": {
        "capacity": capacity, "allocatable": capacity,
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [{"type": "InternalIP", "address": info.ip}, {"type": "Hostname", "address": info.name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": super::server::PORT}},
        "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": info.kernel,
            "osImage": info.os_image, "containerRuntimeVersion": info.runtime_version,
            "kubeletVersion": crate::cluster::start::kubernetes_version(), "kubeProxyVersion": "",
            "operatingSystem": "linux", "architecture": arch()},
    }});
    nodes
        .patch_status(&info.name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

/// Renew the node's Lease every 10 s and its status every minute, until dropped.
pub async fn heartbeat(client: kube::Client, info: NodeInfo, manager: &'static str) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let mut ticks: u32 = 0;
    loop {
        let t = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": info.name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": info.name, "leaseDurationSeconds": 40, "renewTime": t}});
        let params = PatchParams::apply(manager).force();
        if let Err(e) = leases
            .patch(&info.name, &params, &Patch::Apply(&lease))
            .await
        {
            tracing::debug!(error = %e, "node lease");
        }
        if ticks.is_multiple_of(6) {
            if let Err(e) = update_status(&client, &info).await {
                tracing::debug!(error = %e, "node status");
            }
        }
        ticks = ticks.wrapping_add(1);
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}
