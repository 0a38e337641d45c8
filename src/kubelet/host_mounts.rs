//! Host directories that `rkube mount HOST:NODE` makes visible at a node path. Pods are
//! sibling containers on the user's Docker, so a `hostPath` under a mounted node path is
//! bound straight from the host directory. `rkube mount` keeps the table in each node's
//! state directory and renews it while it runs; an entry it stops renewing expires, as a
//! mount goes when its process dies.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The table's file, relative to the node's state directory.
pub const FILE: &str = "mounts.json";

/// One mount.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HostMount {
    /// The directory on the host (as the Docker engine sees it).
    pub host_path: String,
    /// Where pods find it through `hostPath`.
    pub node_path: String,
    /// Unix time after which the mount no longer applies unless renewed.
    pub expires: u64,
    /// The `rkube mount` process holding it (on the host).
    pub pid: u32,
}

/// The mount table.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Table {
    /// Mounts, in no order.
    pub mounts: Vec<HostMount>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Table {
    /// The table on a node; empty when there is none or it cannot be read.
    pub fn load(state_dir: &Path) -> Table {
        std::fs::read(state_dir.join(FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The host path behind node path `path`, if a live mount covers it (the deepest wins).
    pub fn resolve(&self, path: &str) -> Option<PathBuf> {
        let path = Path::new(path);
        let now = now();
        self.mounts
            .iter()
            .filter(|m| m.expires >= now)
            .filter_map(|m| {
                let rest = path.strip_prefix(&m.node_path).ok()?;
                if rest
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_)))
                {
                    return None;
                }
                Some((m.node_path.len(), Path::new(&m.host_path).join(rest)))
            })
            .max_by_key(|(depth, _)| *depth)
            .map(|(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(host: &str, node: &str, expires: u64) -> HostMount {
        HostMount {
            host_path: host.into(),
            node_path: node.into(),
            expires,
            pid: 1,
        }
    }

    #[test]
    fn live_mounts_resolve_and_the_deepest_wins() {
        let t = Table {
            mounts: vec![
                mount("/home/u/data", "/mnt/data", u64::MAX),
                mount("/home/u/other", "/mnt/data/inner", u64::MAX),
                mount("/home/u/old", "/mnt/old", 1),
            ],
        };
        assert_eq!(t.resolve("/mnt/data"), Some("/home/u/data".into()));
        assert_eq!(t.resolve("/mnt/data/a/b"), Some("/home/u/data/a/b".into()));
        assert_eq!(
            t.resolve("/mnt/data/inner/x"),
            Some("/home/u/other/x".into())
        );
        assert_eq!(
            t.resolve("/mnt/database"),
            None,
            "a prefix of a name is no mount"
        );
        assert_eq!(t.resolve("/mnt/old"), None, "an expired mount is gone");
        assert_eq!(t.resolve("/mnt/data/../etc"), None);
    }
}
