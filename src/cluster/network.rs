//! The profile's Docker network: a free private subnet whose lower half Docker's IPAM hands
//! to the node and the pod sandboxes, and whose upper half is the service IP range.

use std::net::Ipv4Addr;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptions;
use bollard::Docker;

use super::docker::{is_not_found, PROFILE_LABEL};

/// Errors preparing the network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The subnet given is not usable.
    #[error("subnet {subnet}: {reason}")]
    BadSubnet {
        /// What was asked.
        subnet: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// No candidate subnet is free.
    #[error("no free private /24 subnet in 192.168.49.0–192.168.247.0; pass one with --subnet")]
    NoneFree,
    /// The Docker API failed.
    #[error("Docker: {0}")]
    Docker(#[from] bollard::errors::Error),
}

/// How a subnet is split.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// `a.b.c.d/n`.
    pub subnet: String,
    /// The bridge's address.
    pub gateway: Ipv4Addr,
    /// The node's fixed address.
    pub node_ip: Ipv4Addr,
    /// The range IPAM gives to containers (lower half).
    pub ip_range: String,
    /// Service virtual IPs (upper half).
    pub service_cidr: String,
}

fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    (len <= 32).then_some((ip, len))
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len)
    }
}

/// Split a subnet: gateway `.1`, node `.2`, lower half for IPAM, upper half for services.
pub fn layout(subnet: &str) -> Result<Layout, NetworkError> {
    let bad = |reason: &str| NetworkError::BadSubnet {
        subnet: subnet.to_string(),
        reason: reason.to_string(),
    };
    let (ip, len) =
        parse_cidr(subnet).ok_or_else(|| bad("want an IPv4 CIDR like 192.168.49.0/24"))?;
    if !ip.is_private() {
        return Err(bad("not a private range (10/8, 172.16/12 or 192.168/16)"));
    }
    if !(16..=26).contains(&len) {
        return Err(bad("the prefix must be between /16 and /26"));
    }
    let base = u32::from(ip) & mask(len);
    if base != u32::from(ip) {
        return Err(bad(&format!(
            "host bits are set; did you mean {}/{len}?",
            Ipv4Addr::from(base)
        )));
    }
    let half = 1u32 << (32 - len - 1);
    Ok(Layout {
        subnet: subnet.to_string(),
        gateway: Ipv4Addr::from(base + 1),
        node_ip: Ipv4Addr::from(base + 2),
        ip_range: format!("{}/{}", Ipv4Addr::from(base), len + 1),
        service_cidr: format!("{}/{}", Ipv4Addr::from(base + half), len + 1),
    })
}

fn overlaps(a: &str, b: &str) -> bool {
    match (parse_cidr(a), parse_cidr(b)) {
        (Some((ia, la)), Some((ib, lb))) => {
            let l = la.min(lb);
            u32::from(ia) & mask(l) == u32::from(ib) & mask(l)
        }
        _ => false,
    }
}

/// Subnets the host routes already (from `/proc/net/route`), so pods never shadow a LAN.
fn host_routes() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let m = u32::from_str_radix(f.get(7)?, 16).ok()?;
            (dest != 0).then(|| {
                format!(
                    "{}/{}",
                    Ipv4Addr::from(u32::from_be(dest)),
                    u32::from_be(m).count_ones()
                )
            })
        })
        .collect()
}

async fn used_subnets(docker: &Docker) -> Result<Vec<String>, NetworkError> {
    let nets = docker.list_networks(None::<ListNetworksOptions>).await?;
    let mut used: Vec<String> = nets
        .iter()
        .filter_map(|n| n.ipam.as_ref()?.config.as_ref())
        .flatten()
        .filter_map(|c| c.subnet.clone())
        .collect();
    used.extend(host_routes());
    Ok(used)
}

/// The profile network if it exists: its subnet.
pub async fn existing(docker: &Docker, name: &str) -> Result<Option<String>, NetworkError> {
    match docker.inspect_network(name, None).await {
        Ok(n) => Ok(n
            .ipam
            .and_then(|i| i.config)
            .and_then(|c| c.into_iter().find_map(|c| c.subnet))),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Pick a subnet: the one asked for if free, else minikube's sequence 192.168.49.0/24,
/// 192.168.58.0/24, … skipping any a Docker network or a host route uses.
pub async fn choose(docker: &Docker, asked: Option<&str>) -> Result<Layout, NetworkError> {
    let used = used_subnets(docker).await?;
    if let Some(subnet) = asked {
        let l = layout(subnet)?;
        if let Some(u) = used.iter().find(|u| overlaps(u, subnet)) {
            return Err(NetworkError::BadSubnet {
                subnet: subnet.to_string(),
                reason: format!("it overlaps {u}, already in use; choose another with --subnet"),
            });
        }
        return Ok(l);
    }
    (49u32..=247)
        .step_by(9)
        .map(|third| format!("192.168.{third}.0/24"))
        .find(|c| !used.iter().any(|u| overlaps(u, c)))
        .map(|c| layout(&c))
        .unwrap_or(Err(NetworkError::NoneFree))
}

/// Create the profile network with this layout.
pub async fn create(
    docker: &Docker,
    name: &str,
    profile: &str,
    l: &Layout,
) -> Result<(), NetworkError> {
    let request = NetworkCreateRequest {
        name: name.to_string(),
        driver: Some("bridge".into()),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(vec![IpamConfig {
                subnet: Some(l.subnet.clone()),
                ip_range: Some(l.ip_range.clone()),
                gateway: Some(l.gateway.to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        labels: Some(std::collections::HashMap::from([(
            PROFILE_LABEL.to_string(),
            profile.to_string(),
        )])),
        ..Default::default()
    };
    docker.create_network(request).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_24() {
        let l = layout("192.168.49.0/24").unwrap();
        assert_eq!(l.gateway, Ipv4Addr::new(192, 168, 49, 1));
        assert_eq!(l.node_ip, Ipv4Addr::new(192, 168, 49, 2));
        assert_eq!(l.ip_range, "192.168.49.0/25");
        assert_eq!(l.service_cidr, "192.168.49.128/25");
    }

    #[test]
    fn refuses_bad_subnets() {
        for bad in [
            "8.8.8.0/24",
            "192.168.49.5/24",
            "10.0.0.0/8",
            "x",
            "192.168.0.0/30",
        ] {
            assert!(layout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlap() {
        assert!(overlaps("192.168.0.0/16", "192.168.49.0/24"));
        assert!(!overlaps("192.168.58.0/24", "192.168.49.0/24"));
        assert!(overlaps("172.17.0.0/16", "172.17.3.0/24"));
    }
}
