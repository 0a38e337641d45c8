//! The user's start defaults (`rkube config set memory 4g`), kept in
//! `<home>/config/config.json` as minikube keeps `~/.minikube/config/config.json`. `start`
//! uses them where no flag is given.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The keys `config` takes, each with what it means.
pub const KEYS: &[(&str, &str)] = &[
    ("cpus", "CPUs the node offers to pods"),
    (
        "memory",
        "memory the node offers to pods, e.g. 4g or 4096 (MiB)",
    ),
    ("kubernetes-version", "the Kubernetes version to serve"),
    ("nodes", "how many nodes a new cluster gets"),
    ("addons", "addons to enable at start, comma-separated"),
    (
        "ports",
        "ports to publish from the node, HOST:CONTAINER, comma-separated",
    ),
];

/// Why a config change was refused or could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The key is not one `config` knows.
    #[error("unknown config key {0:?}: use one of {keys}", keys = KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", "))]
    UnknownKey(String),
    /// The value does not fit the key.
    #[error("invalid value {value:?} for {key}: {why}")]
    Invalid {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// What is wrong.
        why: String,
    },
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a JSON object of strings.
    #[error("{path} is not a JSON object of strings: {source}; fix or remove it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Where the settings live.
pub fn path() -> PathBuf {
    super::profile::home().join("config").join("config.json")
}

/// The saved settings (empty when none were set).
pub fn load() -> Result<BTreeMap<String, String>, ConfigError> {
    let p = path();
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|source| ConfigError::Corrupt { path: p, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(source) => Err(ConfigError::Io { path: p, source }),
    }
}

fn save(all: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    let p = path();
    let io = |source| ConfigError::Io {
        path: p.clone(),
        source,
    };
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let text = serde_json::to_string_pretty(all).unwrap_or_default();
    // Written beside and renamed, so a crash never leaves half a file.
    let tmp = p.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &p).map_err(io)
}

/// The key, checked.
pub fn known(key: &str) -> Result<&'static str, ConfigError> {
    KEYS.iter()
        .map(|(k, _)| *k)
        .find(|k| *k == key)
        .ok_or_else(|| ConfigError::UnknownKey(key.to_string()))
}

/// Check `value` for `key` the way `start` will read it.
fn check(key: &str, value: &str) -> Result<(), String> {
    match key {
        "cpus" => match value.parse::<u32>() {
            Ok(n) if n > 0 => Ok(()),
            _ => Err("a whole number of CPUs, 1 or more".into()),
        },
        "memory" => super::start::parse_memory(value).map(|_| ()),
        "nodes" => match value.parse::<u32>() {
            Ok(n) if (1..=super::start::MAX_NODES).contains(&n) => Ok(()),
            _ => Err(format!(
                "a whole number of nodes from 1 to {}",
                super::start::MAX_NODES
            )),
        },
        "kubernetes-version" => super::start::check_version(Some(value))
            .map(|_| ())
            .map_err(|e| e.to_string()),
        "addons" => value
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .try_for_each(|a| match crate::addons::catalog::find(a) {
                Some(_) => Ok(()),
                None => Err(crate::addons::catalog::unknown(a)),
            }),
        "ports" => value
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .try_for_each(|p| match p.split_once(':') {
                Some((h, c)) if h.parse::<u16>().is_ok() && c.parse::<u16>().is_ok() => Ok(()),
                _ => Err(format!("{p:?} is not HOST:CONTAINER")),
            }),
        _ => Ok(()),
    }
}

/// Set `key` to `value`, after checking both.
pub fn set(key: &str, value: &str) -> Result<(), ConfigError> {
    let key = known(key)?;
    check(key, value).map_err(|why| ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        why,
    })?;
    let mut all = load()?;
    all.insert(key.to_string(), value.to_string());
    save(&all)
}

/// Remove `key`; whether it was set.
pub fn unset(key: &str) -> Result<bool, ConfigError> {
    let key = known(key)?;
    let mut all = load()?;
    let had = all.remove(key).is_some();
    if had {
        save(&all)?;
    }
    Ok(had)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_as_start_reads_them() {
        assert!(check("cpus", "2").is_ok());
        assert!(check("cpus", "0").is_err());
        assert!(check("cpus", "two").is_err());
        assert!(check("memory", "4g").is_ok());
        assert!(check("memory", "lots").is_err());
        assert!(check("addons", "metrics-server, ingress").is_ok());
        assert!(check("addons", "metrics-server,nope").is_err());
        assert!(check("ports", "8080:80,8443:443").is_ok());
        assert!(check("ports", "8080").is_err());
        assert!(matches!(known("cpu"), Err(ConfigError::UnknownKey(_))));
    }
}
