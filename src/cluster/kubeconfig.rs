//! Writing kubeconfig entries: one cluster, user and context per profile, merged into an
//! existing file without touching the other entries.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_yaml::{Mapping, Value};

/// Errors reading or writing a kubeconfig.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// I/O on the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The existing file is not a kubeconfig we can merge into.
    #[error("{path} is not a valid kubeconfig: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One context's worth of credentials.
pub struct Entry<'a> {
    /// Name used for the cluster, user and context.
    pub name: &'a str,
    /// `https://host:port`.
    pub server: &'a str,
    /// CA certificate, PEM.
    pub ca_pem: &'a str,
    /// Client certificate, PEM.
    pub cert_pem: &'a str,
    /// Client key, PEM.
    pub key_pem: &'a str,
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

fn named(name: &str, key: &str, body: Value) -> Value {
    let mut m = Mapping::new();
    m.insert("name".into(), name.into());
    m.insert(key.into(), body);
    Value::Mapping(m)
}

fn upsert(list: &mut Vec<Value>, item: Value) {
    let name = item.get("name").cloned();
    list.retain(|v| v.get("name") != name.as_ref());
    list.push(item);
}

/// The kubeconfig file kubectl uses: the first `$KUBECONFIG` entry, else `~/.kube/config`.
pub fn default_path() -> PathBuf {
    if let Some(first) = std::env::var_os("KUBECONFIG")
        .as_ref()
        .and_then(|v| std::env::split_paths(v).find(|p| !p.as_os_str().is_empty()))
    {
        return first;
    }
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".kube")
        .join("config")
}

fn load(path: &Path) -> Result<Value, KubeconfigError> {
    let doc: Value = match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => {
            serde_yaml::from_str(&s).map_err(|e| KubeconfigError::Invalid {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?
        }
        Ok(_) => Value::Null,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
        Err(e) => {
            return Err(KubeconfigError::Io {
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    Ok(if doc.is_mapping() {
        doc
    } else {
        Value::Mapping(Mapping::new())
    })
}

/// Load, change and save the kubeconfig at `path` under an exclusive lock, so that
/// rkube processes starting or deleting profiles at once never lose each other's entries.
fn update(path: &Path, change: impl FnOnce(&mut Mapping)) -> Result<(), KubeconfigError> {
    let io = |e| KubeconfigError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    // The lock is on the directory: the file itself is replaced by rename, and a lock file
    // of our own would be one more thing to leave behind in ~/.kube.
    let guard = std::fs::File::open(dir).map_err(io)?;
    guard.lock().map_err(io)?;
    let mut doc = load(path)?;
    let Some(m) = doc.as_mapping_mut() else {
        unreachable!("load returns a mapping")
    };
    change(m);
    let text = serde_yaml::to_string(&doc).map_err(|e| KubeconfigError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    // Write then rename, private: the file holds a client key.
    let tmp = path.with_extension(format!("rkube-tmp-{}", std::process::id()));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// Merge `entry` into the kubeconfig at `path` (created when missing) and make it current.
pub fn merge(path: &Path, entry: &Entry<'_>) -> Result<(), KubeconfigError> {
    update(path, |m| {
        m.insert("apiVersion".into(), "v1".into());
        m.insert("kind".into(), "Config".into());
        let mut list = |key: &str, item: Value| {
            let mut items: Vec<Value> = m
                .get(key)
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default();
            upsert(&mut items, item);
            m.insert(key.into(), Value::Sequence(items));
        };
        let mut cluster = Mapping::new();
        cluster.insert("server".into(), entry.server.into());
        cluster.insert(
            "certificate-authority-data".into(),
            b64(entry.ca_pem).into(),
        );
        list(
            "clusters",
            named(entry.name, "cluster", Value::Mapping(cluster)),
        );
        let mut user = Mapping::new();
        user.insert("client-certificate-data".into(), b64(entry.cert_pem).into());
        user.insert("client-key-data".into(), b64(entry.key_pem).into());
        list("users", named(entry.name, "user", Value::Mapping(user)));
        let mut ctx = Mapping::new();
        ctx.insert("cluster".into(), entry.name.into());
        ctx.insert("user".into(), entry.name.into());
        ctx.insert("namespace".into(), "default".into());
        list(
            "contexts",
            named(entry.name, "context", Value::Mapping(ctx)),
        );
        m.insert("current-context".into(), entry.name.into());
        if !m.contains_key("preferences") {
            m.insert("preferences".into(), Value::Mapping(Mapping::new()));
        }
    })
}

/// Remove the cluster, user and context `name` (and unset it as current); other entries stay.
pub fn remove(path: &Path, name: &str) -> Result<(), KubeconfigError> {
    if !path.exists() {
        return Ok(());
    }
    update(path, |m| {
        for key in ["clusters", "users", "contexts"] {
            if let Some(Value::Sequence(items)) = m.get_mut(key) {
                items.retain(|v| v.get("name").and_then(Value::as_str) != Some(name));
            }
        }
        if m.get("current-context").and_then(Value::as_str) == Some(name) {
            m.insert("current-context".into(), "".into());
        }
    })
}

/// The server URL of cluster `name` in the kubeconfig at `path`.
pub fn server_of(path: &Path, name: &str) -> Option<String> {
    let doc = load(path).ok()?;
    doc.get("clusters")?
        .as_sequence()?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))?
        .get("cluster")?
        .get("server")?
        .as_str()
        .map(str::to_string)
}

/// Whether the kubeconfig at `path` has a context `name`.
pub fn has_context(path: &Path, name: &str) -> bool {
    load(path).ok().is_some_and(|doc| {
        doc.get("contexts")
            .and_then(Value::as_sequence)
            .is_some_and(|c| {
                c.iter()
                    .any(|v| v.get("name").and_then(Value::as_str) == Some(name))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_without_clobbering() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: https://x}\ncontexts:\n- name: other\n  context: {cluster: other, user: other}\nusers:\n- name: other\n  user: {token: t}\ncurrent-context: other\n",
        )
        .unwrap();
        let e = Entry {
            name: "rkube",
            server: "https://127.0.0.1:1",
            ca_pem: "ca",
            cert_pem: "c",
            key_pem: "k",
        };
        merge(&path, &e).unwrap();
        merge(&path, &e).unwrap();
        let v: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["current-context"], Value::from("rkube"));
        assert_eq!(v["clusters"].as_sequence().unwrap().len(), 2);
        assert_eq!(v["contexts"].as_sequence().unwrap().len(), 2);
        assert!(has_context(&path, "rkube"));
        remove(&path, "rkube").unwrap();
        let v: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["clusters"].as_sequence().unwrap().len(), 1);
        assert_eq!(v["users"].as_sequence().unwrap().len(), 1);
        assert_eq!(v["contexts"][0]["name"], Value::from("other"));
        assert_eq!(v["current-context"], Value::from(""));
    }

    /// Profiles started at once (the e2e suite does this) must all end up in the file.
    #[test]
    fn concurrent_merges_keep_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let names: Vec<String> = (0..16).map(|i| format!("p{i}")).collect();
        std::thread::scope(|s| {
            for name in &names {
                let path = &path;
                s.spawn(move || {
                    let e = Entry {
                        name,
                        server: "https://127.0.0.1:1",
                        ca_pem: "ca",
                        cert_pem: "c",
                        key_pem: "k",
                    };
                    merge(path, &e).unwrap();
                });
            }
        });
        for name in &names {
            assert!(has_context(&path, name), "{name} lost");
        }
        std::thread::scope(|s| {
            for name in &names[..8] {
                let path = &path;
                s.spawn(move || remove(path, name).unwrap());
            }
        });
        for (i, name) in names.iter().enumerate() {
            assert_eq!(has_context(&path, name), i >= 8, "{name}");
        }
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("config")]);
    }
}
