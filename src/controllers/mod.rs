//! Controllers: ordinary API clients (kube-rs over loopback HTTPS, with their own
//! identity), in the kube-runtime shape — watch, reconcile, requeue.

pub mod clusterrole_aggregation;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub use rkube_client::events;
pub mod expectations;
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
pub mod retry;
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
use crate::supervisor::Supervisor;

/// Errors building a controller's client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig for the client could not be used.
    #[error("controller client: {0}")]
    Config(String),
}

/// A client for an in-node component (controllers, scheduler, kubelet, proxy) of `server`,
/// authenticated with `cert` and trusting `ca_pem`. As client-go does, all of its requests
/// and watches share one HTTP/2 connection: kube-rs's own HTTP/1.1 client holds a TLS
/// connection per watch, 80 of them at idle at about 50 KiB each on the server's end alone.
pub fn client(server: &str, ca_pem: &str, cert: &CertPair) -> Result<kube::Client, ClientError> {
    let uri: http::Uri = server
        .parse()
        .map_err(|e| ClientError::Config(format!("server URL: {e}")))?;
    let tls = client_tls(ca_pem, cert)?;
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http2()
        .wrap_connector(tcp);
    // Pings when nothing was read for 30 s, dropping the connection after 15 s more without
    // an answer (client-go's HTTP/2 health check): a worker's watches of a control plane that
    // vanished from the network end and are re-established instead of hanging.
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .http2_keep_alive_interval(std::time::Duration::from_secs(30))
        .http2_keep_alive_timeout(std::time::Duration::from_secs(15))
        .build(https);
    Ok(kube::client::ClientBuilder::new(http, "default")
        .with_layer(&kube::client::middleware::BaseUriLayer::new(uri))
        .build())
}

/// The TLS side of [`client`]: the cluster CA as the only root, `cert` as the identity.
fn client_tls(ca_pem: &str, cert: &CertPair) -> Result<rustls::ClientConfig, ClientError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, e: &dyn std::fmt::Display| ClientError::Config(format!("{what}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let ca = ca.map_err(|e| bad("CA certificate", &e))?;
        roots.add(ca).map_err(|e| bad("CA certificate", &e))?;
    }
    let chain = CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("client certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes())
        .map_err(|e| bad("client key", &e))?;
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS", &e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| bad("client certificate", &e))
}

/// A kube-rs client for `server` authenticated with `cert`, trusting `ca_pem`, over
/// HTTP/1.1: the CLI's, whose port-forwards upgrade their connection to a WebSocket.
pub async fn upgradable_client(
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

/// Log a failed reconcile with the object's key, as kube-controller-manager does: at warn,
/// except the routine outcomes of optimistic concurrency (409, a write based on a stale
/// read) and of deletion (404, the object went while its pass ran), which are retried.
pub fn log_reconcile_error<K: kube::Resource>(
    component: &str,
    obj: &K,
    err: &(dyn std::error::Error + 'static),
) {
    let key = object_key(obj);
    if is_routine(err) {
        tracing::debug!(component, object = %key, error = %err, "reconcile failed");
    } else {
        tracing::warn!(component, object = %key, error = %err, "reconcile failed");
    }
}

/// Whether a Conflict or NotFound from the API server caused `err`.
fn is_routine(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(kube::Error::Api(status)) = e.downcast_ref::<kube::Error>() {
            return matches!(status.code, 404 | 409);
        }
        cause = e.source();
    }
    false
}

/// `namespace/name`, or `name` for a cluster-scoped object: how controllers name objects.
pub fn object_key<K: kube::Resource>(obj: &K) -> String {
    let meta = obj.meta();
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// Log what a controller's run yields besides reconcile errors (which its error policy
/// logged with their object): queue and watch failures at warn.
pub fn log_run_error<T, E, Q>(
    component: &str,
    res: Result<T, kube::runtime::controller::Error<E, Q>>,
) where
    E: std::error::Error + 'static,
    Q: std::error::Error + 'static,
{
    use kube::runtime::controller::Error;
    match res {
        Ok(_) | Err(Error::ReconcilerFailed(..)) => {}
        // An object deleted before its queued reconcile ran: routine, as kube-rs says.
        Err(e @ Error::ObjectNotFound(_)) => tracing::debug!(component, error = %e, "controller"),
        Err(e) => tracing::warn!(component, error = %e, "controller"),
    }
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
        .map(|r| api_resource(&r))
        .collect()
}

/// A served resource as kube-rs names it for dynamic clients.
pub fn api_resource(
    info: &crate::resources::registry::ResourceInfo,
) -> kube::discovery::ApiResource {
    kube::discovery::ApiResource {
        api_version: info.api_version(),
        group: info.group.clone(),
        version: info.version.clone(),
        kind: info.kind.clone(),
        plural: info.plural.clone(),
    }
}

/// Start every controller under `supervisor`; they run until their tasks are aborted.
/// `node_grace` is how long a kubelet may stay silent before its node is Unknown; `caches`
/// are the process's shared caches, watched through `client`'s identity.
pub fn spawn_all(
    client: kube::Client,
    caches: crate::informer::SharedCaches,
    registry: Registry,
    ca_pem: String,
    node_grace: std::time::Duration,
    supervisor: &Arc<Supervisor>,
) -> Vec<JoinHandle<()>> {
    let registry = Arc::new(registry);
    // Each start gets its own clones of the client and the arguments named after it.
    macro_rules! supervise {
        ($name:literal, $run:path $(, $arg:ident)*) => {{
            let client = client.clone();
            $(let $arg = $arg.clone();)*
            supervisor.spawn(concat!("controller/", $name), move || {
                $run(client.clone() $(, $arg.clone())*)
            })
        }};
    }
    vec![
        supervise!("node-lifecycle", node_lifecycle::run, node_grace),
        supervise!("persistentvolume-binder", persistent_volume::run, caches),
        supervise!(
            "horizontal-pod-autoscaler",
            horizontal_pod_autoscaler::run,
            caches
        ),
        supervise!("namespace", namespace::run, caches, registry),
        supervise!("serviceaccount", serviceaccounts::run, caches, ca_pem),
        supervise!(
            "clusterrole-aggregation",
            clusterrole_aggregation::run,
            caches
        ),
        supervise!("replicaset", replicaset::run, caches),
        supervise!("replicationcontroller", replicaset::run_rc, caches),
        supervise!("deployment", deployment::run, caches),
        supervise!("disruption", disruption::run, caches),
        supervise!("endpoints", endpoints::run, caches),
        supervise!("job", job::run, caches),
        supervise!("cronjob", cronjob::run, caches),
        supervise!("daemonset", daemonset::run, caches),
        supervise!("statefulset", statefulset::run, caches),
        supervise!("garbage-collector", garbage_collector::run, registry),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_and_missing_objects_are_routine_failures() {
        let api = |code, reason| {
            let status = kube::core::Status::failure("m", reason).with_code(code);
            workload::Error {
                name: "web".into(),
                source: kube::Error::Api(Box::new(status)),
            }
        };
        assert!(is_routine(&api(409, "Conflict")));
        assert!(is_routine(&api(404, "NotFound")));
        assert!(!is_routine(&api(422, "Invalid")));
        assert!(!is_routine(&api(500, "InternalError")));
        let io = std::io::Error::other("connection refused");
        assert!(!is_routine(&io));
    }
}
