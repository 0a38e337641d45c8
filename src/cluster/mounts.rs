//! The host side of `rkube mount`: the profile's table of host directories mounted at node
//! paths, kept in the profile directory and pushed to every running node, where the kubelet
//! binds them into pods (`kubelet::host_mounts`). Entries of `rkube mount` processes that
//! are gone are dropped, and every push renews the live ones' lease.

use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;

use super::node_container::{self, STATE_DIR};
use super::profile::{self, Settings};
use crate::kubelet::host_mounts::{self, HostMount, Table};

/// How often a running `rkube mount` renews the table.
pub const RENEW_EVERY: Duration = Duration::from_secs(10);
/// How long an entry lasts unless renewed.
const LEASE_SECS: u64 = 30;

/// Errors keeping the table.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The table file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A node could not be given the table.
    #[error("giving node {node} the mount table: {source}")]
    Docker {
        /// The node.
        node: String,
        /// The cause.
        source: bollard::errors::Error,
    },
}

fn path(profile_name: &str) -> PathBuf {
    profile::dir(profile_name).join(host_mounts::FILE)
}

/// Whether process `pid` on this host still runs.
pub fn alive(pid: u32) -> bool {
    use nix::errno::Errno;
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// The profile's table with only live holders' entries.
pub fn current(profile_name: &str) -> Table {
    let mut t: Table = std::fs::read(path(profile_name))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    t.mounts.retain(|m| alive(m.pid));
    t
}

/// Change the table, renew every live entry, save it, and push it to the running nodes.
pub async fn publish(
    docker: &Docker,
    s: &Settings,
    change: impl FnOnce(&mut Vec<HostMount>),
) -> Result<Table, MountError> {
    let mut t = current(&s.name);
    change(&mut t.mounts);
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + LEASE_SECS;
    for m in &mut t.mounts {
        m.expires = expires;
    }
    let file = path(&s.name);
    let text = serde_json::to_vec_pretty(&t).unwrap_or_default();
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, &text)
        .and_then(|_| std::fs::rename(&tmp, &file))
        .map_err(|source| MountError::Io { path: file, source })?;
    for (node, _) in s.nodes() {
        let running = node_container::inspect_node(docker, &s.name, &node)
            .await
            .ok()
            .flatten()
            .is_some_and(|n| n.running);
        if !running {
            continue;
        }
        node_container::upload(
            docker,
            &node,
            STATE_DIR,
            &[(host_mounts::FILE, &text, 0o644)],
        )
        .await
        .map_err(|source| MountError::Docker { node, source })?;
    }
    Ok(t)
}
