//! Controllers: ordinary API clients (kube-rs over loopback HTTPS, with their own
//! identity), in the kube-runtime shape — watch, reconcile, requeue.

pub mod clusterrole_aggregation;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod events;
pub mod garbage_collector;
pub mod history;
pub mod horizontal_pod_autoscaler;
pub mod job;
pub mod legacy_tokens;
pub mod namespace;
pub mod node_lifecycle;
pub mod persistent_volume;
pub mod pods;
pub mod replicaset;
pub mod serviceaccounts;
pub mod statefulset;
pub mod workload;

use std::sync::Arc;

use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};
use tokio::task::JoinHandle;

use crate::pki::CertPair;
use crate::resources::registry::Registry;

/// Errors building a controller's client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig for the client could not be used.
    #[error("controller client: {0}")]
    Config(String),
}

/// A kube-rs client for `server` authenticated with `cert`, trusting `ca_pem`.
pub async fn client(
    server: &str,
    ca_pem: &str,
    cert: &CertPair,
) -> Result<kube::Client, ClientError> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let kc = Kubeconfig {
        clusters: vec![NamedCluster {
            name: "rkube".into(),
            cluster: Some(Cluster {
                server: Some(server.to_string()),
                certificate_authority_data: Some(b64(ca_pem)),
                ..Default::default()
            }),
            other: Default::default(),
        }],
        auth_infos: vec![NamedAuthInfo {
            name: "rkube".into(),
            auth_info: Some(AuthInfo {
                client_certificate_data: Some(b64(&cert.cert_pem)),
                client_key_data: Some(b64(&cert.key_pem).into()),
                ..Default::default()
            }),
            other: Default::default(),
        }],
        contexts: vec![NamedContext {
            name: "rkube".into(),
            context: Some(Context {
                cluster: "rkube".into(),
                user: Some("rkube".into()),
                ..Default::default()
            }),
            other: Default::default(),
        }],
        current_context: Some("rkube".into()),
        ..Default::default()
    };
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| ClientError::Config(e.to_string()))?;
    kube::Client::try_from(cfg).map_err(|e| ClientError::Config(e.to_string()))
}

/// The stored kinds matching `pred`, one per storage (a kind served at two versions is
/// listed once), as kube-rs resources for dynamic clients.
pub fn stored_kinds(
    registry: &Registry,
    pred: impl Fn(&crate::resources::registry::ResourceInfo) -> bool,
) -> Vec<kube::discovery::ApiResource> {
    let mut seen = std::collections::HashSet::new();
    registry
        .all()
        .into_iter()
        .filter(|r| r.stored && pred(r))
        .filter(|r| seen.insert(r.storage.clone()))
        .map(|r| kube::discovery::ApiResource {
            api_version: r.api_version(),
            group: r.group,
            version: r.version,
            kind: r.kind,
            plural: r.plural,
        })
        .collect()
}

/// Start every controller; they run until their tasks are aborted. `node_grace` is how
/// long a kubelet may stay silent before its node is Unknown.
pub fn spawn_all(
    client: kube::Client,
    registry: Registry,
    ca_pem: String,
    node_grace: std::time::Duration,
) -> Vec<JoinHandle<()>> {
    let registry = Arc::new(registry);
    vec![
        tokio::spawn(node_lifecycle::run(client.clone(), node_grace)),
        tokio::spawn(persistent_volume::run(client.clone())),
        tokio::spawn(horizontal_pod_autoscaler::run(client.clone())),
        tokio::spawn(namespace::run(client.clone(), registry.clone())),
        tokio::spawn(serviceaccounts::run(client.clone(), ca_pem)),
        tokio::spawn(clusterrole_aggregation::run(client.clone())),
        tokio::spawn(replicaset::run(client.clone())),
        tokio::spawn(replicaset::run_rc(client.clone())),
        tokio::spawn(deployment::run(client.clone())),
        tokio::spawn(disruption::run(client.clone())),
        tokio::spawn(endpoints::run(client.clone())),
        tokio::spawn(job::run(client.clone())),
        tokio::spawn(cronjob::run(client.clone())),
        tokio::spawn(daemonset::run(client.clone())),
        tokio::spawn(statefulset::run(client.clone())),
        tokio::spawn(garbage_collector::run(client, registry)),
    ]
}
