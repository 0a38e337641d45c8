//! The `cluster.local` zone computed from Services and EndpointSlices, with the names the
//! Kubernetes DNS specification gives them (what CoreDNS's kubernetes plugin serves):
//! service A records, headless services to ready endpoints and their hostnames, SRV for
//! ports, ExternalName CNAMEs, pod A records from dashed IPs, and PTR records.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// One answer record, independent of the wire format.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rec {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An alias.
    Cname(String),
    /// A service location: port and target name.
    Srv(u16, String),
    /// A reverse name.
    Ptr(String),
}

/// What a question gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The name exists with these records of the asked type (may be empty: NODATA).
    Found(Vec<Rec>),
    /// An ExternalName alias: answer the CNAME, then resolve its target elsewhere.
    Alias(String),
    /// The name does not exist in a zone we own (authoritative NXDOMAIN).
    NxDomain,
    /// Not ours: forward upstream.
    NotOurs,
}

/// The record type asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// A.
    A,
    /// AAAA (we serve IPv4 only, so existing names get NODATA).
    Aaaa,
    /// SRV.
    Srv,
    /// PTR.
    Ptr,
    /// Anything else (existing names get NODATA).
    Other,
}

/// The cluster's names.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    domain: String,
    records: BTreeMap<String, BTreeSet<Rec>>,
    aliases: BTreeMap<String, String>,
    /// Every name and every parent of one (empty non-terminals answer NODATA).
    names: BTreeSet<String>,
}

fn dashed(ip: &IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

fn reverse_name(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
}

impl Zone {
    /// Build the zone for `domain` (e.g. `cluster.local`).
    pub fn build(domain: &str, services: &[&Service], slices: &[&EndpointSlice]) -> Zone {
        let mut z = Zone {
            domain: domain.trim_end_matches('.').to_lowercase(),
            ..Default::default()
        };
        z.names.insert(z.domain.clone());
        let mut slices_of: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
        for s in slices {
            if let Some(svc) = s
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"))
            {
                let ns = s.metadata.namespace.clone().unwrap_or_default();
                slices_of.entry((ns, svc.clone())).or_default().push(s);
            }
        }
        for svc in services {
            let (Some(name), Some(ns), Some(spec)) = (
                svc.metadata.name.as_deref(),
                svc.metadata.namespace.as_deref(),
                svc.spec.as_ref(),
            ) else {
                continue;
            };
            let base = format!("{name}.{ns}.svc.{}", z.domain);
            z.add_name(&base);
            if spec.type_.as_deref() == Some("ExternalName") {
                if let Some(target) = &spec.external_name {
                    z.aliases
                        .insert(base.clone(), target.trim_end_matches('.').to_lowercase());
                }
                continue;
            }
            let headless = spec.cluster_ip.as_deref() == Some("None");
            let svc_slices = slices_of
                .get(&(ns.to_string(), name.to_string()))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if !headless {
                for ip in spec
                    .cluster_ips
                    .iter()
                    .flatten()
                    .chain(spec.cluster_ip.iter())
                    .filter_map(|s| s.parse::<Ipv4Addr>().ok())
                {
                    z.add(&base, Rec::A(ip));
                    z.add(&reverse_name(ip), Rec::Ptr(base.clone()));
                }
                for p in spec.ports.iter().flatten() {
                    let Ok(port) = u16::try_from(p.port) else {
                        continue;
                    };
                    z.add_srv(&base, p.name.as_deref(), p.protocol.as_deref(), port, &base);
                }
                // Pod IPs behind the service answer reverse lookups with their endpoint
                // name, as CoreDNS does for every service's endpoints.
                for slice in svc_slices {
                    for ep in slice.endpoints.iter().flatten() {
                        for ip in ep
                            .addresses
                            .iter()
                            .filter_map(|a| a.parse::<Ipv4Addr>().ok())
                        {
                            let label = ep
                                .hostname
                                .clone()
                                .unwrap_or_else(|| dashed(&IpAddr::V4(ip)));
                            z.records
                                .entry(reverse_name(ip))
                                .or_default()
                                .insert(Rec::Ptr(format!("{label}.{base}")));
                        }
                    }
                }
                continue;
            }
            // Headless: one name per ready endpoint (its hostname, else its dashed IP).
            let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
            for slice in svc_slices {
                for ep in slice.endpoints.iter().flatten() {
                    let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
                    if !ready && !publish_not_ready {
                        continue;
                    }
                    for addr in &ep.addresses {
                        let Ok(ip) = addr.parse::<Ipv4Addr>() else {
                            continue;
                        };
                        let label = ep
                            .hostname
                            .clone()
                            .unwrap_or_else(|| dashed(&IpAddr::V4(ip)));
                        let ep_name = format!("{label}.{base}");
                        z.add(&base, Rec::A(ip));
                        z.add(&ep_name, Rec::A(ip));
                        z.add(&reverse_name(ip), Rec::Ptr(ep_name.clone()));
                        for p in slice.ports.iter().flatten() {
                            let Some(port) = p.port.and_then(|p| u16::try_from(p).ok()) else {
                                continue;
                            };
                            z.add_srv(
                                &base,
                                p.name.as_deref(),
                                p.protocol.as_deref(),
                                port,
                                &ep_name,
                            );
                        }
                    }
                }
            }
        }
        z
    }

    fn add_name(&mut self, name: &str) {
        let mut n = name;
        loop {
            self.names.insert(n.to_string());
            match n.split_once('.') {
                Some((_, parent)) if parent.len() >= self.domain.len() => n = parent,
                _ => break,
            }
        }
    }

    fn add(&mut self, name: &str, rec: Rec) {
        if !name.ends_with(".in-addr.arpa") {
            self.add_name(name);
        }
        self.records
            .entry(name.to_string())
            .or_default()
            .insert(rec);
    }

    /// `_port._proto.base` for named ports, and SRV at `base` itself for every port.
    fn add_srv(
        &mut self,
        base: &str,
        port_name: Option<&str>,
        proto: Option<&str>,
        port: u16,
        target: &str,
    ) {
        let proto = proto.unwrap_or("TCP").to_lowercase();
        if let Some(pn) = port_name.filter(|n| !n.is_empty()) {
            self.add(
                &format!("_{pn}._{proto}.{base}"),
                Rec::Srv(port, target.to_string()),
            );
        }
        self.add(base, Rec::Srv(port, target.to_string()));
    }

    /// Whether `name` is inside the cluster domain.
    pub fn owns(&self, name: &str) -> bool {
        name == self.domain || name.ends_with(&format!(".{}", self.domain))
    }

    /// Answer a question about `name` (lowercase, no trailing dot).
    pub fn lookup(&self, name: &str, want: Want) -> Lookup {
        let name = name.trim_end_matches('.').to_lowercase();
        if name.ends_with(".in-addr.arpa") {
            return match self.records.get(&name) {
                Some(recs) if want == Want::Ptr => Lookup::Found(
                    recs.iter()
                        .filter(|r| matches!(r, Rec::Ptr(_)))
                        .cloned()
                        .collect(),
                ),
                Some(_) => Lookup::Found(Vec::new()),
                None => Lookup::NotOurs,
            };
        }
        if !self.owns(&name) {
            return Lookup::NotOurs;
        }
        if let Some(target) = self.aliases.get(&name) {
            return Lookup::Alias(target.clone());
        }
        // Pods: a-b-c-d.<ns>.pod.<domain>.
        let pod_suffix = format!(".pod.{}", self.domain);
        if let Some(rest) = name.strip_suffix(&pod_suffix) {
            if let Some((ip, _ns)) = rest.split_once('.') {
                if let Ok(ip) = ip.replace('-', ".").parse::<Ipv4Addr>() {
                    return Lookup::Found(if want == Want::A {
                        vec![Rec::A(ip)]
                    } else {
                        Vec::new()
                    });
                }
            }
            return Lookup::NxDomain;
        }
        let recs = self.records.get(&name);
        if recs.is_none() && !self.names.contains(&name) {
            return Lookup::NxDomain;
        }
        let found = recs
            .into_iter()
            .flatten()
            .filter(|r| {
                matches!(
                    (want, r),
                    (Want::A, Rec::A(_)) | (Want::Srv, Rec::Srv(..)) | (Want::Ptr, Rec::Ptr(_))
                )
            })
            .cloned()
            .collect();
        Lookup::Found(found)
    }

    /// The zone's apex, for SOA records.
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn zone() -> Zone {
        let svcs: Vec<Service> = vec![
            json!({"metadata": {"name": "web", "namespace": "default"},
                   "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}}),
            json!({"metadata": {"name": "db", "namespace": "prod"},
                   "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}}),
            json!({"metadata": {"name": "ext", "namespace": "default"},
                   "spec": {"type": "ExternalName", "externalName": "Example.COM."}}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
        let slices: Vec<EndpointSlice> = vec![json!({
            "metadata": {"name": "db-1", "namespace": "prod", "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["172.18.0.5"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["172.18.0.6"], "conditions": {"ready": true}},
                {"addresses": ["172.18.0.7"], "conditions": {"ready": false}}
            ]
        })]
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
        let s: Vec<&Service> = svcs.iter().collect();
        let e: Vec<&EndpointSlice> = slices.iter().collect();
        Zone::build("cluster.local", &s, &e)
    }

    fn a(ip: &str) -> Rec {
        Rec::A(ip.parse().unwrap())
    }

    #[test]
    fn services_headless_and_aliases() {
        let z = zone();
        assert_eq!(
            z.lookup("web.default.svc.cluster.local.", Want::A),
            Lookup::Found(vec![a("10.96.0.20")])
        );
        assert_eq!(
            z.lookup("WEB.default.svc.cluster.local", Want::Aaaa),
            Lookup::Found(vec![])
        );
        assert_eq!(
            z.lookup("_http._tcp.web.default.svc.cluster.local", Want::Srv),
            Lookup::Found(vec![Rec::Srv(8080, "web.default.svc.cluster.local".into())])
        );
        assert_eq!(
            z.lookup("db.prod.svc.cluster.local", Want::A),
            Lookup::Found(vec![a("172.18.0.5"), a("172.18.0.6")])
        );
        assert_eq!(
            z.lookup("db-0.db.prod.svc.cluster.local", Want::A),
            Lookup::Found(vec![a("172.18.0.5")])
        );
        assert_eq!(
            z.lookup("_pg._tcp.db.prod.svc.cluster.local", Want::Srv),
            Lookup::Found(vec![
                Rec::Srv(5432, "172-18-0-6.db.prod.svc.cluster.local".into()),
                Rec::Srv(5432, "db-0.db.prod.svc.cluster.local".into()),
            ])
        );
        assert_eq!(
            z.lookup("ext.default.svc.cluster.local", Want::A),
            Lookup::Alias("example.com".into())
        );
        assert_eq!(
            z.lookup("5.0.18.172.in-addr.arpa", Want::Ptr),
            Lookup::Found(vec![Rec::Ptr("db-0.db.prod.svc.cluster.local".into())])
        );
        assert_eq!(
            z.lookup("20.0.96.10.in-addr.arpa", Want::Ptr),
            Lookup::Found(vec![Rec::Ptr("web.default.svc.cluster.local".into())])
        );
    }

    #[test]
    fn missing_names_pods_and_forwarding() {
        let z = zone();
        assert_eq!(
            z.lookup("nope.default.svc.cluster.local", Want::A),
            Lookup::NxDomain
        );
        // A search-list expansion of an outside name is ours to deny.
        assert_eq!(
            z.lookup("example.com.default.svc.cluster.local", Want::A),
            Lookup::NxDomain
        );
        // Namespaces and the zone itself exist (NODATA, not NXDOMAIN).
        assert_eq!(
            z.lookup("default.svc.cluster.local", Want::A),
            Lookup::Found(vec![])
        );
        assert_eq!(z.lookup("cluster.local", Want::A), Lookup::Found(vec![]));
        assert_eq!(
            z.lookup("10-244-0-5.default.pod.cluster.local", Want::A),
            Lookup::Found(vec![a("10.244.0.5")])
        );
        assert_eq!(z.lookup("example.com", Want::A), Lookup::NotOurs);
        assert_eq!(
            z.lookup("1.1.168.192.in-addr.arpa", Want::Ptr),
            Lookup::NotOurs
        );
    }
}
