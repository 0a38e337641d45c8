//! Profiles: one cluster each, remembered under `~/.rkube/profiles/<name>/` (`RKUBE_HOME`
//! overrides `~/.rkube`) with the settings `start` chose and the cluster CA.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors reading or writing profiles.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The saved settings are unreadable.
    #[error("{path} is damaged ({message}); `rkube delete -p {name}` removes the profile")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// The profile.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The name cannot be a profile.
    #[error("invalid profile name {0:?}: use lowercase letters, digits and '-', starting with a letter, 2 to 40 characters")]
    InvalidName(String),
}

/// The settings of one cluster, as `start` chose them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Profile name (also the node's name and the node container's name).
    pub name: String,
    /// CPUs given to the node.
    pub cpus: u32,
    /// Memory given to the node, in MiB.
    pub memory_mb: u64,
    /// The network's subnet.
    pub subnet: String,
    /// The node's address on it.
    pub node_ip: String,
    /// Service virtual IP range (the upper part of the subnet).
    pub service_cidr: String,
    /// Host port on 127.0.0.1 publishing the API server.
    pub api_port: u16,
    /// Extra published ports, `HOST:CONTAINER`.
    #[serde(default)]
    pub ports: Vec<String>,
    /// Kubernetes version served.
    pub kubernetes_version: String,
    /// The node image the container runs.
    pub image: String,
    /// Addons switched on or off (minikube's `Addons` map); absent for a profile made
    /// before addons existed, which then gets the default ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addons: Option<std::collections::BTreeMap<String, bool>>,
    /// Worker nodes, in the order they were added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<Worker>,
    /// minikube's `--extra-config` entries the cluster was created with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_config: Vec<String>,
    /// The cluster-wide Pod Security level (`--pod-security`); absent means privileged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security: Option<String>,
}

/// A worker node: its own container and volume on the profile's network.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    /// Node, container and hostname: `<profile>-m02`, `<profile>-m03`, …
    pub name: String,
    /// Its fixed address on the profile network.
    pub ip: String,
}

impl Settings {
    /// The name the next worker gets: minikube's `<profile>-mNN`, the lowest number free.
    pub fn next_worker_name(&self) -> String {
        (2..)
            .map(|n| format!("{}-m{n:02}", self.name))
            .find(|name| self.workers.iter().all(|w| w.name != *name))
            .unwrap_or_default()
    }

    /// The worker called `name`, given in full (`rkube-m02`) or as minikube's short `m02`.
    pub fn worker(&self, name: &str) -> Option<&Worker> {
        let full = format!("{}-{name}", self.name);
        self.workers
            .iter()
            .find(|w| w.name == name || w.name == full)
    }

    /// Every node's name and address, the control plane first.
    pub fn nodes(&self) -> Vec<(String, String)> {
        std::iter::once((self.name.clone(), self.node_ip.clone()))
            .chain(self.workers.iter().map(|w| (w.name.clone(), w.ip.clone())))
            .collect()
    }

    /// The names of the enabled addons, sorted.
    pub fn enabled_addons(&self) -> Vec<String> {
        match &self.addons {
            Some(map) => map
                .iter()
                .filter(|(_, on)| **on)
                .map(|(n, _)| n.clone())
                .collect(),
            None => crate::addons::catalog::defaults(),
        }
    }

    /// Record `name` as on or off.
    pub fn set_addon(&mut self, name: &str, on: bool) {
        let mut map = self.addons.take().unwrap_or_else(|| {
            crate::addons::catalog::defaults()
                .into_iter()
                .map(|n| (n, true))
                .collect()
        });
        map.insert(name.to_string(), on);
        self.addons = Some(map);
    }
}

/// The default profile, like minikube's `minikube`.
pub const DEFAULT: &str = "rkube";

/// rkube's own directory on the host.
pub fn home() -> PathBuf {
    if let Some(dir) = std::env::var_os("RKUBE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".rkube")
}

/// The home as an absolute path, for labels that must match from any working directory.
pub fn home_label() -> String {
    let home = home();
    std::fs::canonicalize(&home)
        .unwrap_or(home)
        .display()
        .to_string()
}

/// Check a profile name: it names a container, a network, a volume and a Node.
pub fn validate_name(name: &str) -> Result<(), ProfileError> {
    // Docker refuses one-character container names, and the node container takes the
    // profile's name.
    let ok = (2..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ProfileError::InvalidName(name.to_string()))
    }
}

/// Where a profile's files live.
pub fn dir(name: &str) -> PathBuf {
    home().join("profiles").join(name)
}

/// The profile's PKI directory (its CA signs the node's certificates and the admin's).
pub fn pki_dir(name: &str) -> PathBuf {
    dir(name).join("pki")
}

fn settings_path(name: &str) -> PathBuf {
    dir(name).join("config.json")
}

/// The saved settings of `name`, if it exists.
pub fn load(name: &str) -> Result<Option<Settings>, ProfileError> {
    let path = settings_path(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ProfileError::Damaged {
                path,
                name: name.to_string(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ProfileError::Io { path, source }),
    }
}

/// Save the settings of a profile.
pub fn save(settings: &Settings) -> Result<(), ProfileError> {
    let path = settings_path(&settings.name);
    let io = |source| ProfileError::Io {
        path: path.clone(),
        source,
    };
    // The profile's directory holds its CA key: the owner's only.
    if let Some(parent) = path.parent() {
        crate::pki::private_dir(parent).map_err(io)?;
    }
    let text = serde_json::to_string_pretty(settings).unwrap_or_default();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// Forget a profile (its settings and CA).
pub fn remove(name: &str) -> Result<(), ProfileError> {
    let path = dir(name);
    match std::fs::remove_dir_all(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(ProfileError::Io { path, source: e })
        }
        _ => Ok(()),
    }
}

/// Every saved profile's name, sorted.
pub fn list() -> Vec<String> {
    list_in(&home().join("profiles"))
}

fn list_in(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("config.json").exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// The Docker network of a profile.
pub fn network_name(profile: &str) -> String {
    format!("rkube-{profile}")
}

/// The state volume of a profile.
pub fn volume_name(profile: &str) -> String {
    format!("{profile}-var")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("rkube").is_ok());
        assert!(validate_name("ab").is_ok());
        assert!(validate_name("dev-2").is_ok());
        for bad in ["", "w", "Dev", "2x", "a_b", "x-", &"a".repeat(41)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_only_profiles_with_settings() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("b")).unwrap();
        std::fs::write(root.path().join("b/config.json"), "{}").unwrap();
        std::fs::create_dir_all(root.path().join("a")).unwrap();
        std::fs::write(root.path().join("a/config.json"), "{}").unwrap();
        std::fs::create_dir_all(root.path().join("half")).unwrap();
        assert_eq!(list_in(root.path()), vec!["a", "b"]);
    }
}
