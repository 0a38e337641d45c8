//! What the proxy should serve: for every Service port, the addresses it listens on
//! (ClusterIPs and, for NodePort and LoadBalancer services, each node address on the
//! node port) and the ready endpoints behind it, from the Service's EndpointSlices —
//! kube-proxy's service and endpoints change trackers, as one pure function.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// A transport protocol the proxy forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// One address the proxy listens on and where its connections go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frontend {
    /// `namespace/name:port-name`, for logs.
    pub service: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The protocol.
    pub protocol: Protocol,
    /// Ready endpoints; empty means connections are refused.
    pub backends: Vec<SocketAddr>,
    /// `sessionAffinity: ClientIP` timeout, if set.
    pub affinity_seconds: Option<u64>,
}

/// A service port's protocol (TCP when unset), if the proxy forwards it.
pub fn protocol(p: Option<&str>) -> Option<Protocol> {
    match p.unwrap_or("TCP") {
        "TCP" => Some(Protocol::Tcp),
        "UDP" => Some(Protocol::Udp),
        // SCTP is not forwarded in user space.
        _ => None,
    }
}

/// The ready endpoints of one service port: slice ports match by name (the service port's
/// name, "" for an unnamed port) and protocol; an endpoint counts when `ready` is not false
/// (absent means ready, as in the EndpointSlice API).
fn backends_for(slices: &[&EndpointSlice], port_name: &str, proto: Protocol) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for slice in slices {
        let Some(port) = slice.ports.iter().flatten().find(|p| {
            p.name.as_deref().unwrap_or("") == port_name
                && protocol(p.protocol.as_deref()) == Some(proto)
        }) else {
            continue;
        };
        let Some(number) = port.port.and_then(|p| u16::try_from(p).ok()) else {
            continue;
        };
        for ep in slice.endpoints.iter().flatten() {
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if !ready {
                continue;
            }
            for addr in &ep.addresses {
                if let Ok(ip) = addr.parse::<IpAddr>() {
                    let sa = SocketAddr::new(ip, number);
                    if !out.contains(&sa) {
                        out.push(sa);
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// Every IPv4 ClusterIP of `services` (headless and ExternalName services have none).
pub fn cluster_ipv4s(services: &[&Service]) -> std::collections::BTreeSet<std::net::Ipv4Addr> {
    services
        .iter()
        .filter_map(|s| s.spec.as_ref())
        .filter(|spec| spec.type_.as_deref() != Some("ExternalName"))
        .flat_map(|spec| {
            spec.cluster_ips
                .iter()
                .flatten()
                .chain(spec.cluster_ip.iter())
        })
        .filter_map(|ip| ip.parse().ok())
        .collect()
}

/// Every frontend for `services` and their `slices` (matched by the
/// `kubernetes.io/service-name` label), listening on `node_ips` for node ports.
pub fn frontends(
    services: &[&Service],
    slices: &[&EndpointSlice],
    node_ips: &[IpAddr],
) -> Vec<Frontend> {
    let mut by_service: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
    for s in slices {
        let ns = s.metadata.namespace.clone().unwrap_or_default();
        let Some(svc) = s
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name"))
        else {
            continue;
        };
        by_service.entry((ns, svc.clone())).or_default().push(s);
    }
    let mut out = Vec::new();
    for svc in services {
        let Some(spec) = &svc.spec else { continue };
        let ns = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let cluster_ips: Vec<IpAddr> = spec
            .cluster_ips
            .iter()
            .flatten()
            .chain(spec.cluster_ip.iter())
            .filter_map(|ip| ip.parse().ok())
            .fold(Vec::new(), |mut acc, ip| {
                if !acc.contains(&ip) {
                    acc.push(ip);
                }
                acc
            });
        let affinity_seconds = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
            spec.session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .and_then(|t| u64::try_from(t).ok())
                .unwrap_or(10_800)
        });
        let svc_slices = by_service
            .get(&(ns.clone(), name.clone()))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for port in spec.ports.iter().flatten() {
            let Some(proto) = protocol(port.protocol.as_deref()) else {
                continue;
            };
            let Ok(number) = u16::try_from(port.port) else {
                continue;
            };
            let port_name = port.name.clone().unwrap_or_default();
            let backends = backends_for(svc_slices, &port_name, proto);
            let label = if port_name.is_empty() {
                format!("{ns}/{name}:{number}")
            } else {
                format!("{ns}/{name}:{port_name}")
            };
            let mut listens: Vec<SocketAddr> = cluster_ips
                .iter()
                .map(|ip| SocketAddr::new(*ip, number))
                .collect();
            if let Some(np) = port.node_port.and_then(|p| u16::try_from(p).ok()) {
                listens.extend(node_ips.iter().map(|ip| SocketAddr::new(*ip, np)));
            }
            for listen in listens {
                out.push(Frontend {
                    service: label.clone(),
                    listen,
                    protocol: proto,
                    backends: backends.clone(),
                    affinity_seconds,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(v: serde_json::Value) -> Service {
        serde_json::from_value(v).unwrap()
    }
    fn slice(v: serde_json::Value) -> EndpointSlice {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn cluster_ip_and_node_ports_with_ready_endpoints() {
        let s = svc(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                     "ports": [{"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080, "protocol": "TCP"},
                               {"name": "dns", "port": 53, "protocol": "UDP"}]}
        }));
        let sl = slice(json!({
            "metadata": {"name": "web-abcde", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "dns", "port": 5353, "protocol": "UDP"}],
            "endpoints": [
                {"addresses": ["172.18.0.5"], "conditions": {"ready": true}},
                {"addresses": ["172.18.0.6"], "conditions": {"ready": false}},
                {"addresses": ["172.18.0.7"]}
            ]
        }));
        let other = slice(json!({
            "metadata": {"name": "db-x", "namespace": "default", "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 1, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["172.18.0.9"]}]
        }));
        let node: IpAddr = "172.18.0.2".parse().unwrap();
        let fe = frontends(&[&s], &[&sl, &other], &[node]);
        let addrs: Vec<String> = fe
            .iter()
            .map(|f| format!("{:?} {}", f.protocol, f.listen))
            .collect();
        assert_eq!(
            addrs,
            vec![
                "Tcp 10.96.0.20:80",
                "Tcp 172.18.0.2:30080",
                "Udp 10.96.0.20:53"
            ]
        );
        assert_eq!(
            fe[0].backends,
            vec![
                "172.18.0.5:8080".parse().unwrap(),
                "172.18.0.7:8080".parse().unwrap()
            ]
        );
        assert_eq!(
            fe[2].backends,
            vec![
                "172.18.0.5:5353".parse().unwrap(),
                "172.18.0.7:5353".parse().unwrap()
            ]
        );
        assert_eq!(fe[0].service, "default/web:http");
        assert_eq!(fe[0].affinity_seconds, None);
    }

    #[test]
    fn headless_external_name_and_affinity() {
        let headless = svc(json!({"metadata": {"name": "h", "namespace": "d"},
            "spec": {"clusterIP": "None", "ports": [{"port": 80}]}}));
        let ext = svc(json!({"metadata": {"name": "e", "namespace": "d"},
            "spec": {"type": "ExternalName", "externalName": "example.com"}}));
        assert!(frontends(&[&headless, &ext], &[], &[]).is_empty());
        let sticky = svc(json!({"metadata": {"name": "s", "namespace": "d"},
            "spec": {"clusterIP": "10.96.0.30", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}}));
        let fe = frontends(&[&sticky], &[], &[]);
        assert_eq!(fe.len(), 1);
        assert_eq!(fe[0].affinity_seconds, Some(10_800));
        assert!(fe[0].backends.is_empty());
    }
}
