//! The LoadBalancer emulator behind `rkube tunnel`: every port of every `type:
//! LoadBalancer` service gets a listener on the bind address (127.0.0.1) forwarding to the
//! service, and the service's `status.loadBalancer.ingress` says so while the tunnel runs.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::informer::Informer;
use crate::proxy::pool::Pool;
use crate::proxy::table::{self, Protocol};
use crate::proxy::udp;

/// Settings of a tunnel.
#[derive(Clone, Debug)]
pub struct Config {
    /// Profile (for the status block).
    pub profile: String,
    /// Where listeners bind (127.0.0.1 unless `--bind-address`).
    pub bind: IpAddr,
    /// The address put in `status.loadBalancer.ingress`.
    pub ingress_ip: IpAddr,
    /// The node's address (NodePorts answer there).
    pub node_ip: IpAddr,
    /// Forward through the API server's port-forward: the host cannot reach the node.
    pub via_api: bool,
}

/// One forwarded service port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PortKey {
    namespace: String,
    name: String,
    port: u16,
    protocol: Protocol,
}

/// What a listener forwards to.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Wanted {
    key: PortKey,
    targets: Vec<SocketAddr>,
}

/// What the status block shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Services with at least one port forwarded.
    pub services: Vec<String>,
    /// Ports that could not be forwarded, with what to do.
    pub errors: Vec<String>,
    /// The API server's last complaint, if any.
    pub api_error: Option<String>,
}

impl Status {
    /// minikube's status block.
    pub fn render(&self, cfg: &Config) -> String {
        let mut out = format!(
            "Status:\n\tmachine: {}\n\tpid: {}\n\troute: none (services are forwarded from {}:<port>)\n\trkube: {}\n\tservices: [{}]\n    errors:\n",
            cfg.profile,
            std::process::id(),
            cfg.bind,
            if self.api_error.is_some() { "Unreachable" } else { "Running" },
            self.services.join(", "),
        );
        match &self.api_error {
            Some(e) => out.push_str(&format!("\t\trkube: {e}\n")),
            None => out.push_str("\t\trkube: no errors\n"),
        }
        if self.errors.is_empty() {
            out.push_str("\t\tloadbalancer emulator: no errors\n");
        } else {
            for e in &self.errors {
                out.push_str(&format!("\t\tloadbalancer emulator: {e}\n"));
            }
        }
        out
    }
}

/// The ingress addon's controller Service: while an Ingress exists, its ports 80 and 443
/// are forwarded too, as `minikube tunnel` does for Ingresses.
const INGRESS_CONTROLLER: (&str, &str) = ("ingress-nginx", "ingress-nginx-controller");

fn is_load_balancer(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

/// The TCP and UDP ports of LoadBalancer services (and of the ingress controller while
/// `ingresses` is true) and where each goes: the ClusterIP (the host reaches the service
/// range on the profile network), then the NodePort on the node.
fn wanted(services: &[Arc<Service>], node_ip: IpAddr, ingresses: bool) -> Vec<Wanted> {
    let mut out = Vec::new();
    for svc in services {
        let Some(spec) = &svc.spec else { continue };
        let controller = ingresses
            && svc.metadata.namespace.as_deref() == Some(INGRESS_CONTROLLER.0)
            && svc.metadata.name.as_deref() == Some(INGRESS_CONTROLLER.1);
        if !(is_load_balancer(svc) || controller) || svc.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let cluster_ip: Option<IpAddr> = spec.cluster_ip.as_deref().and_then(|ip| ip.parse().ok());
        for p in spec.ports.iter().flatten() {
            let Some(protocol) = table::protocol(p.protocol.as_deref()) else {
                continue;
            };
            let Ok(port) = u16::try_from(p.port) else {
                continue;
            };
            let mut targets = Vec::new();
            if let Some(ip) = cluster_ip {
                targets.push(SocketAddr::new(ip, port));
            }
            if let Some(np) = p.node_port.and_then(|n| u16::try_from(n).ok()) {
                targets.push(SocketAddr::new(node_ip, np));
            }
            out.push(Wanted {
                key: PortKey {
                    namespace: svc.metadata.namespace.clone().unwrap_or_default(),
                    name: svc.metadata.name.clone().unwrap_or_default(),
                    port,
                    protocol,
                },
                targets,
            });
        }
    }
    out
}

/// Why a port could not be bound, with what to do about it.
fn bind_advice(key: &PortKey, bind: IpAddr, e: &std::io::Error) -> String {
    let svc = format!("{}/{}", key.namespace, key.name);
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => format!(
            "service {svc} requires privileged port {}: run `sudo -E rkube tunnel`, or allow it with `sudo sysctl net.ipv4.ip_unprivileged_port_start={}`",
            key.port, key.port
        ),
        std::io::ErrorKind::AddrInUse => format!(
            "port {} on {bind} for service {svc} is in use by another program: stop that program, or change the service's port",
            key.port
        ),
        _ => format!("cannot listen on {bind}:{} for service {svc}: {e}", key.port),
    }
}

struct Forward {
    targets: Vec<SocketAddr>,
    task: JoinHandle<()>,
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Run the tunnel until `stop` completes, calling `report` whenever the status changes;
/// then close the ports and clear the ingress addresses it set.
pub async fn run(
    client: kube::Client,
    cfg: Config,
    stop: impl Future<Output = ()>,
    mut report: impl FnMut(&Status),
) {
    let changed = Arc::new(Notify::new());
    let services = Informer::<Service>::start(Api::all(client.clone()), changed.clone());
    let ingresses = Informer::<k8s_openapi::api::networking::v1::Ingress>::start(
        Api::all(client.clone()),
        changed.clone(),
    );
    let mut forwards: BTreeMap<PortKey, Forward> = BTreeMap::new();
    let mut patched: BTreeSet<(String, String)> = BTreeSet::new();
    let mut last: Option<Status> = None;
    futures::pin_mut!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = changed.notified() => {}
            // Ports that were busy may have been freed; an ingress someone reset is set again.
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        let list = services.list();
        let want = wanted(&list, cfg.node_ip, !ingresses.list().is_empty());
        let keys: BTreeSet<PortKey> = want.iter().map(|w| w.key.clone()).collect();
        forwards.retain(|k, _| keys.contains(k));
        let mut status = Status::default();
        for w in &want {
            if forwards.get(&w.key).is_some_and(|f| f.targets == w.targets) {
                continue;
            }
            forwards.remove(&w.key);
            if w.key.protocol == Protocol::Udp {
                match udp_forward(&cfg, w).await {
                    Ok(task) => {
                        forwards.insert(
                            w.key.clone(),
                            Forward {
                                targets: w.targets.clone(),
                                task,
                            },
                        );
                    }
                    Err(e) => status.errors.push(e),
                }
                continue;
            }
            match TcpListener::bind(SocketAddr::new(cfg.bind, w.key.port)).await {
                Ok(l) => {
                    let task = if cfg.via_api {
                        let svc = list.iter().find(|s| {
                            s.metadata.namespace.as_deref() == Some(w.key.namespace.as_str())
                                && s.metadata.name.as_deref() == Some(w.key.name.as_str())
                        });
                        let port = svc.and_then(|s| {
                            s.spec
                                .iter()
                                .flat_map(|sp| sp.ports.iter().flatten())
                                .find(|p| p.port == i32::from(w.key.port))
                                .cloned()
                        });
                        let (Some(svc), Some(port)) = (svc, port) else {
                            continue;
                        };
                        super::via_api::serve(l, client.clone(), Service::clone(svc), port)
                    } else {
                        super::forward::spawn(l, w.targets.clone())
                    };
                    forwards.insert(
                        w.key.clone(),
                        Forward {
                            targets: w.targets.clone(),
                            task,
                        },
                    );
                }
                Err(e) => status.errors.push(bind_advice(&w.key, cfg.bind, &e)),
            }
        }
        let served: BTreeSet<(String, String)> = forwards
            .keys()
            .map(|k| (k.namespace.clone(), k.name.clone()))
            .collect();
        for svc in list.iter() {
            let id = (
                svc.metadata.namespace.clone().unwrap_or_default(),
                svc.metadata.name.clone().unwrap_or_default(),
            );
            // Only LoadBalancer services take an address; the ingress controller's is
            // its Ingresses' business.
            if !served.contains(&id) || !is_load_balancer(svc) {
                continue;
            }
            if has_ingress(svc, cfg.ingress_ip) {
                patched.insert(id);
                continue;
            }
            match set_ingress(&client, &id.0, &id.1, Some(cfg.ingress_ip)).await {
                Ok(()) => {
                    patched.insert(id);
                }
                Err(e) => status.api_error = Some(e.to_string()),
            }
        }
        // Services no longer forwarded (a port taken, the type changed) lose the address.
        let stale: Vec<(String, String)> = patched.difference(&served).cloned().collect();
        for (ns, name) in stale {
            let _ = set_ingress(&client, &ns, &name, None).await;
            patched.remove(&(ns, name));
        }
        status.services = served.iter().map(|(_, n)| n.clone()).collect();
        status.services.dedup();
        if last.as_ref() != Some(&status) {
            report(&status);
            last = Some(status);
        }
    }
    forwards.clear();
    for (ns, name) in &patched {
        if let Err(e) = set_ingress(&client, ns, name, None).await {
            tracing::warn!(service = %format!("{ns}/{name}"), error = %e, "could not clear the ingress address");
        }
    }
}

/// A UDP port's relay to its first target; the API server's port-forward carries TCP only.
async fn udp_forward(cfg: &Config, w: &Wanted) -> Result<JoinHandle<()>, String> {
    let svc = format!("{}/{}", w.key.namespace, w.key.name);
    if cfg.via_api {
        return Err(format!(
            "UDP port {} of service {svc} cannot be forwarded: the host cannot reach the node, and the API server's port-forward carries TCP only",
            w.key.port
        ));
    }
    let Some(target) = w.targets.first() else {
        return Err(format!(
            "UDP port {} of service {svc} has no cluster IP or node port to forward to",
            w.key.port
        ));
    };
    // The service proxy's relay, with the one target as its pool.
    let pool = Arc::new(Pool::new(vec![*target], None));
    udp::listen(SocketAddr::new(cfg.bind, w.key.port), pool)
        .await
        .map_err(|e| bind_advice(&w.key, cfg.bind, &e))
}

fn has_ingress(svc: &Service, ip: IpAddr) -> bool {
    let ingress = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    matches!(ingress, Some(list) if list.len() == 1 && list[0].ip.as_deref() == Some(ip.to_string().as_str()))
}

/// Set (or with None clear) a service's ingress address.
async fn set_ingress(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    ip: Option<IpAddr>,
) -> Result<(), kube::Error> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let ingress = match ip {
        Some(ip) => json!([{"ip": ip.to_string()}]),
        None => serde_json::Value::Null,
    };
    let patch = json!({"status": {"loadBalancer": {"ingress": ingress}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_balancer_ports_only_with_their_targets() {
        let lb: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "clusterIP": "192.168.49.140",
                     "ports": [{"port": 8080, "nodePort": 30080}, {"port": 53, "protocol": "UDP", "nodePort": 30053}]}
        }))
        .unwrap();
        let np: Service = serde_json::from_value(json!({
            "metadata": {"name": "np", "namespace": "default"},
            "spec": {"type": "NodePort", "clusterIP": "192.168.49.141", "ports": [{"port": 80, "nodePort": 30081}]}
        }))
        .unwrap();
        let node: IpAddr = "192.168.49.2".parse().unwrap();
        let controller: Service = serde_json::from_value(json!({
            "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
            "spec": {"type": "NodePort", "clusterIP": "192.168.49.142",
                     "ports": [{"port": 80, "nodePort": 30082}, {"port": 443, "nodePort": 30443}]}
        }))
        .unwrap();
        let all = [Arc::new(lb), Arc::new(np), Arc::new(controller)];
        // The ingress controller's ports join only while an Ingress exists.
        let with_ingress = wanted(&all, node, true);
        let ports: Vec<u16> = with_ingress.iter().map(|w| w.key.port).collect();
        assert_eq!(ports, [8080, 53, 80, 443]);
        let w = wanted(&all, node, false);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].key.port, w[0].key.protocol), (8080, Protocol::Tcp));
        assert_eq!(
            w[0].targets,
            vec![
                "192.168.49.140:8080".parse().unwrap(),
                "192.168.49.2:30080".parse().unwrap()
            ]
        );
        assert_eq!((w[1].key.port, w[1].key.protocol), (53, Protocol::Udp));
        assert_eq!(w[1].targets[0], "192.168.49.140:53".parse().unwrap());
    }

    #[test]
    fn advice_for_privileged_and_busy_ports() {
        let key = PortKey {
            namespace: "default".into(),
            name: "welcome".into(),
            port: 80,
            protocol: Protocol::Tcp,
        };
        let bind: IpAddr = "127.0.0.1".parse().unwrap();
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(bind_advice(&key, bind, &denied).contains("privileged port 80"));
        let busy = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        assert!(bind_advice(&key, bind, &busy).contains("in use by another program"));
    }
}
