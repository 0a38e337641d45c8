//! minikube's `--extra-config=component.key=value`: settings of the cluster's components
//! that a new cluster is created with. rkube accepts the keys its components have.

use std::time::Duration;

/// The keys rkube's components take, as minikube spells them.
pub const KEYS: [&str; 3] = [
    "apiserver.event-ttl",
    "controller-manager.node-monitor-grace-period",
    "kube-proxy.mode",
];

/// How a node's service proxy forwards (`kube-proxy.mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProxyMode {
    /// TCP as nftables DNAT in the node's kernel where it can, the rest in user space.
    #[default]
    Nftables,
    /// Everything in user space.
    Userspace,
}

/// The component settings the extra config gives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtraConfig {
    /// `apiserver.event-ttl`.
    pub event_ttl: Option<Duration>,
    /// `controller-manager.node-monitor-grace-period`.
    pub node_monitor_grace_period: Option<Duration>,
    /// `kube-proxy.mode`.
    pub proxy_mode: ProxyMode,
}

/// Parse a duration like `90s`, `6m` or `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 90s or 6m"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("invalid duration {s:?}: use e.g. 90s or 6m")),
    };
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("invalid duration {s:?}: too long"))
}

/// Parse `component.key=value` entries; an unknown key or a bad value is an error that
/// says what rkube takes.
pub fn parse(entries: &[String]) -> Result<ExtraConfig, String> {
    let mut out = ExtraConfig::default();
    for entry in entries {
        let Some((key, value)) = entry.split_once('=') else {
            return Err(format!(
                "--extra-config {entry:?} is not component.key=value, e.g. apiserver.event-ttl=5m"
            ));
        };
        let duration = || parse_duration(value).map_err(|e| format!("--extra-config {key}: {e}"));
        match key {
            "apiserver.event-ttl" => out.event_ttl = Some(duration()?),
            "controller-manager.node-monitor-grace-period" => {
                out.node_monitor_grace_period = Some(duration()?)
            }
            "kube-proxy.mode" => {
                out.proxy_mode = match value {
                    "nftables" => ProxyMode::Nftables,
                    "userspace" => ProxyMode::Userspace,
                    _ => {
                        return Err(format!(
                            "--extra-config kube-proxy.mode={value:?} is not supported: rkube takes nftables (the default) or userspace"
                        ))
                    }
                }
            }
            _ => {
                return Err(format!(
                    "--extra-config {key:?} is not supported: rkube takes {}",
                    KEYS.join(", ")
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_parse_and_others_are_refused() {
        let got = parse(&["apiserver.event-ttl=5m".into()]).unwrap();
        assert_eq!(got.event_ttl, Some(Duration::from_secs(300)));
        assert_eq!(
            parse(&["kubelet.max-pods=10".into()]).unwrap_err(),
            "--extra-config \"kubelet.max-pods\" is not supported: rkube takes apiserver.event-ttl, controller-manager.node-monitor-grace-period, kube-proxy.mode"
        );
        let user = parse(&["kube-proxy.mode=userspace".into()]).unwrap();
        assert_eq!(user.proxy_mode, ProxyMode::Userspace);
        assert_eq!(parse(&[]).unwrap().proxy_mode, ProxyMode::Nftables);
        assert!(parse(&["kube-proxy.mode=ipvs".into()])
            .unwrap_err()
            .contains("rkube takes nftables (the default) or userspace"));
        assert!(parse(&["apiserver.event-ttl".into()]).is_err());
        assert!(parse(&["apiserver.event-ttl=soon".into()]).is_err());
    }

    #[test]
    fn durations_parse_and_overflow_is_an_error() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("6m"), Ok(Duration::from_secs(360)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5d").is_err());
        assert_eq!(
            parse_duration("18446744073709551615h"),
            Err("invalid duration \"18446744073709551615h\": too long".into())
        );
    }
}
