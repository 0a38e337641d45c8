//! A pod's `/etc/resolv.conf` from its `dnsPolicy` and `dnsConfig`, as the kubelet writes it.

use k8s_openapi::api::core::v1::Pod;

use super::Config;

/// The resolv.conf contents for `pod`; empty for host-network pods under `ClusterFirst`
/// and `Default` (they keep the node's).
pub fn resolv_conf(pod: &Pod, cfg: &Config) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let policy = spec
        .dns_policy
        .clone()
        .unwrap_or_else(|| "ClusterFirst".into());
    let host_network = spec.host_network == Some(true);
    let domain = &cfg.cluster_domain;
    let mut servers: Vec<String> = Vec::new();
    let mut searches: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    match policy.as_str() {
        "ClusterFirst" if host_network => return String::new(),
        "ClusterFirst" | "ClusterFirstWithHostNet" => {
            match cfg.cluster_dns {
                Some(ip) => servers.push(ip.to_string()),
                // Until cluster DNS serves, names resolve through the node's resolver.
                None => servers.extend(cfg.upstream_dns.iter().cloned()),
            }
            searches = vec![
                format!("{ns}.svc.{domain}"),
                format!("svc.{domain}"),
                domain.clone(),
            ];
            options.push("ndots:5".into());
        }
        "None" => {}
        // Default: the node's resolver configuration.
        _ => {
            if host_network {
                return String::new();
            }
            servers.extend(cfg.upstream_dns.iter().cloned());
        }
    }
    if let Some(dc) = &spec.dns_config {
        for s in dc.nameservers.iter().flatten() {
            if !servers.contains(s) {
                servers.push(s.clone());
            }
        }
        for s in dc.searches.iter().flatten() {
            if !searches.contains(s) {
                searches.push(s.clone());
            }
        }
        for o in dc.options.iter().flatten() {
            let text = match &o.value {
                Some(v) => format!("{}:{v}", o.name.clone().unwrap_or_default()),
                None => o.name.clone().unwrap_or_default(),
            };
            let key = text.split(':').next().unwrap_or_default().to_string();
            options.retain(|x| x.split(':').next() != Some(key.as_str()));
            options.push(text);
        }
    }
    let mut out = String::new();
    for s in servers.iter().take(3) {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !searches.is_empty() {
        out.push_str(&format!("search {}\n", searches.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> Config {
        let mut c = Config::for_tests();
        c.cluster_dns = Some("10.96.0.10".parse().unwrap());
        c.upstream_dns = vec!["192.168.1.1".into()];
        c
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "team"}, "spec": spec}),
        )
        .unwrap()
    }

    #[test]
    fn cluster_first() {
        let r = resolv_conf(&pod(json!({"containers": []})), &cfg());
        assert_eq!(
            r,
            "nameserver 10.96.0.10\nsearch team.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
        );
    }

    #[test]
    fn none_with_config_and_default() {
        let r = resolv_conf(
            &pod(json!({"containers": [], "dnsPolicy": "None", "dnsConfig": {
                "nameservers": ["1.1.1.1"], "searches": ["x.local"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}})),
            &cfg(),
        );
        assert_eq!(
            r,
            "nameserver 1.1.1.1\nsearch x.local\noptions ndots:2 edns0\n"
        );
        let r = resolv_conf(
            &pod(json!({"containers": [], "dnsPolicy": "Default"})),
            &cfg(),
        );
        assert_eq!(r, "nameserver 192.168.1.1\n");
    }
}
