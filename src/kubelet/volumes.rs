//! Pod volumes as directories under the node's state directory, bind-mounted into the
//! pod's containers: emptyDir, configMap, secret, downwardAPI, projected (with
//! service-account tokens), hostPath and hostPath-backed persistentVolumeClaims.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{
    Container, DownwardAPIVolumeFile, KeyToPath, PersistentVolume, PersistentVolumeClaim, Pod,
};
use kube::api::Api;
use serde_json::json;

use super::env;
use super::object_cache::{Key, Kind, ObjectCache};
use super::runtime::Mount;

/// Why a pod's volumes could not be set up (the pod waits in ContainerCreating).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VolumeError(pub String);

/// A prepared volume: the node directory (or file) that backs it.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Node path.
    pub node_path: PathBuf,
    /// Whether every mount of it is read-only (configMap, secret, projected, downwardAPI).
    pub read_only: bool,
    /// Whether `node_path` is a host directory from `rkube mount`, which the kubelet cannot
    /// see and so leaves alone.
    pub on_host: bool,
}

/// Node directory of a pod.
pub fn pod_dir(state_dir: &Path, uid: &str) -> PathBuf {
    state_dir.join("pods").join(uid)
}

/// Node directory holding `hostPath` paths: the node's filesystem as pods see it.
pub fn host_path_root(state_dir: &Path) -> PathBuf {
    state_dir.join("hostpath")
}

type Files = BTreeMap<String, (Vec<u8>, u32)>;

fn io(path: &Path, e: std::io::Error) -> VolumeError {
    VolumeError(format!("{}: {e}", path.display()))
}

/// Make `dir` hold exactly `files`, rewriting only what changed.
fn sync_dir(dir: &Path, files: &Files) -> Result<(), VolumeError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    for (rel, (data, mode)) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        if std::fs::read(&path).ok().as_deref() != Some(data.as_slice()) {
            let tmp = path.with_extension("rkube-tmp");
            std::fs::write(&tmp, data).map_err(|e| io(&tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        }
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode & 0o777));
    }
    // Keys removed from the source disappear from the volume.
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                if !files.contains_key(&rel.to_string_lossy().to_string()) {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
    }
    Ok(())
}

fn safe_rel(path: &str) -> Result<String, VolumeError> {
    let p = Path::new(path);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(VolumeError(format!("invalid volume path {path:?}")));
    }
    Ok(path.to_string())
}

fn project(
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    what: &str,
    files: &mut Files,
) -> Result<(), VolumeError> {
    match items {
        Some(items) if !items.is_empty() => {
            for item in items {
                let value = data
                    .get(&item.key)
                    .ok_or_else(|| VolumeError(format!("{what}: no key {:?}", item.key)))?;
                let mode = item.mode.map(|m| m as u32).unwrap_or(default_mode);
                files.insert(safe_rel(&item.path)?, (value.clone(), mode));
            }
        }
        _ => {
            for (k, v) in data {
                files.insert(safe_rel(k)?, (v.clone(), default_mode));
            }
        }
    }
    Ok(())
}

fn downward(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    default_mode: u32,
    cpus: u32,
    mem: u64,
    files: &mut Files,
) -> Result<(), VolumeError> {
    for item in items {
        let value = if let Some(f) = &item.field_ref {
            match f.field_path.as_str() {
                "metadata.labels" | "metadata.annotations" => {
                    let map = if f.field_path == "metadata.labels" {
                        pod.metadata.labels.clone()
                    } else {
                        pod.metadata.annotations.clone()
                    };
                    map.unwrap_or_default()
                        .iter()
                        .map(|(k, v)| format!("{k}={v:?}\n"))
                        .collect::<String>()
                }
                path => env::field_value(pod, path).map_err(|e| VolumeError(e.0))?,
            }
        } else if let Some(r) = &item.resource_field_ref {
            let containers = pod.spec.iter().flat_map(|s| s.containers.iter());
            let c: Option<&Container> = match &r.container_name {
                Some(n) => containers.clone().find(|c| &c.name == n),
                None => containers.clone().next(),
            };
            match c {
                Some(c) => env::resource_value(
                    c,
                    &r.resource,
                    r.divisor.as_ref().map(|d| d.0.as_str()),
                    cpus,
                    mem,
                )
                .map_err(|e| VolumeError(e.0))?,
                None => String::new(),
            }
        } else {
            String::new()
        };
        let mode = item.mode.map(|m| m as u32).unwrap_or(default_mode);
        files.insert(safe_rel(&item.path)?, (value.into_bytes(), mode));
    }
    Ok(())
}

/// Context for preparing a pod's volumes.
pub struct VolumeContext<'a> {
    /// API client (the node's identity).
    pub client: &'a kube::Client,
    /// The watched ConfigMaps and Secrets that volumes project.
    pub objects: &'a ObjectCache,
    /// The node's state directory.
    pub state_dir: &'a Path,
    /// Node CPUs, for downward API resource fields.
    pub node_cpus: u32,
    /// Node memory in bytes.
    pub node_memory: u64,
}

async fn token(
    client: &kube::Client,
    pod: &Pod,
    sa: &str,
    audience: Option<&str>,
    expiry: i64,
) -> Result<String, VolumeError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let body = json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {
            "audiences": audience.map(|a| vec![a.to_string()]),
            "expirationSeconds": expiry,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                "name": pod.metadata.name, "uid": pod.metadata.uid}
        }
    });
    let req = http::Request::post(format!(
        "/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"
    ))
    .header("content-type", "application/json")
    .body(serde_json::to_vec(&body).unwrap_or_default())
    .map_err(|e| VolumeError(e.to_string()))?;
    let resp: serde_json::Value = client.request(req).await.map_err(|e| {
        VolumeError(format!(
            "requesting a token for service account {ns}/{sa}: {e}"
        ))
    })?;
    resp["status"]["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| VolumeError("TokenRequest returned no token".into()))
}

fn fresh(path: &Path, max_age: Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < max_age)
}

/// Set up every volume of `pod`; returns them by name.
pub async fn prepare(
    ctx: &VolumeContext<'_>,
    pod: &Pod,
) -> Result<HashMap<String, Prepared>, VolumeError> {
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let base = pod_dir(ctx.state_dir, &uid).join("volumes");
    // ConfigMaps and Secrets come from their watches (GET until those have listed).
    let read = |kind, name: &str| {
        let key = Key {
            kind,
            namespace: ns.clone(),
            name: name.to_string(),
        };
        let uid = uid.clone();
        async move { ctx.objects.get(&key, &uid).await }
    };
    let mut out = HashMap::new();
    let spec = pod.spec.clone().unwrap_or_default();
    let sa = spec
        .service_account_name
        .clone()
        .unwrap_or_else(|| "default".into());
    for v in spec.volumes.iter().flatten() {
        let dir = base.join(&v.name);
        let api_err = |e: kube::Error| VolumeError(e.to_string());
        let prepared = if v.empty_dir.is_some() {
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
            use std::os::unix::fs::PermissionsExt;
            // Any container user may write, as on a real node.
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777));
            Prepared {
                node_path: dir,
                read_only: false,
                on_host: false,
            }
        } else if let Some(src) = &v.config_map {
            let mut files = Files::new();
            match read(Kind::ConfigMap, &src.name).await.map_err(api_err)? {
                Some(cm) => project(
                    &cm,
                    src.items.as_ref(),
                    src.default_mode.unwrap_or(0o644) as u32,
                    &format!("configmap {}", src.name),
                    &mut files,
                )?,
                None if src.optional == Some(true) => {}
                None => return Err(VolumeError(format!("configmap \"{}\" not found", src.name))),
            }
            sync_dir(&dir, &files)?;
            Prepared {
                node_path: dir,
                read_only: true,
                on_host: false,
            }
        } else if let Some(src) = &v.secret {
            let name = src.secret_name.clone().unwrap_or_default();
            let mut files = Files::new();
            match read(Kind::Secret, &name).await.map_err(api_err)? {
                Some(s) => project(
                    &s,
                    src.items.as_ref(),
                    src.default_mode.unwrap_or(0o644) as u32,
                    &format!("secret {name}"),
                    &mut files,
                )?,
                None if src.optional == Some(true) => {}
                None => return Err(VolumeError(format!("secret \"{name}\" not found"))),
            }
            sync_dir(&dir, &files)?;
            Prepared {
                node_path: dir,
                read_only: true,
                on_host: false,
            }
        } else if let Some(src) = &v.downward_api {
            let mut files = Files::new();
            downward(
                pod,
                src.items.as_deref().unwrap_or_default(),
                src.default_mode.unwrap_or(0o644) as u32,
                ctx.node_cpus,
                ctx.node_memory,
                &mut files,
            )?;
            sync_dir(&dir, &files)?;
            Prepared {
                node_path: dir,
                read_only: true,
                on_host: false,
            }
        } else if let Some(src) = &v.projected {
            let mode = src.default_mode.unwrap_or(0o644) as u32;
            let mut files = Files::new();
            for s in src.sources.iter().flatten() {
                if let Some(c) = &s.config_map {
                    match read(Kind::ConfigMap, &c.name).await.map_err(api_err)? {
                        Some(cm) => project(
                            &cm,
                            c.items.as_ref(),
                            mode,
                            &format!("configmap {}", c.name),
                            &mut files,
                        )?,
                        None if c.optional == Some(true) => {}
                        None => {
                            return Err(VolumeError(format!("configmap \"{}\" not found", c.name)))
                        }
                    }
                }
                if let Some(c) = &s.secret {
                    match read(Kind::Secret, &c.name).await.map_err(api_err)? {
                        Some(sec) => project(
                            &sec,
                            c.items.as_ref(),
                            mode,
                            &format!("secret {}", c.name),
                            &mut files,
                        )?,
                        None if c.optional == Some(true) => {}
                        None => {
                            return Err(VolumeError(format!("secret \"{}\" not found", c.name)))
                        }
                    }
                }
                if let Some(d) = &s.downward_api {
                    downward(
                        pod,
                        d.items.as_deref().unwrap_or_default(),
                        mode,
                        ctx.node_cpus,
                        ctx.node_memory,
                        &mut files,
                    )?;
                }
                if let Some(t) = &s.service_account_token {
                    let path = safe_rel(&t.path)?;
                    let expiry = t.expiration_seconds.unwrap_or(3607);
                    let existing = dir.join(&path);
                    // Renewed at 80% of its life, as the kubelet's token manager does.
                    let max_age = Duration::from_secs((expiry as u64) * 4 / 5);
                    let data = match std::fs::read(&existing) {
                        Ok(d) if fresh(&existing, max_age) => d,
                        _ => token(ctx.client, pod, &sa, t.audience.as_deref(), expiry)
                            .await?
                            .into_bytes(),
                    };
                    files.insert(path, (data, mode));
                }
            }
            sync_dir(&dir, &files)?;
            Prepared {
                node_path: dir,
                read_only: true,
                on_host: false,
            }
        } else if let Some(src) = &v.host_path {
            host_path(ctx.state_dir, &src.path, src.type_.as_deref())?
        } else if let Some(src) = &v.persistent_volume_claim {
            let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
            let pvc = pvcs
                .get_opt(&src.claim_name)
                .await
                .map_err(api_err)?
                .ok_or_else(|| {
                    VolumeError(format!(
                        "persistentvolumeclaim \"{}\" not found",
                        src.claim_name
                    ))
                })?;
            let pv_name = pvc
                .spec
                .and_then(|s| s.volume_name)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    VolumeError(format!(
                        "persistentvolumeclaim \"{}\" is not bound",
                        src.claim_name
                    ))
                })?;
            let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
            let pv = pvs.get(&pv_name).await.map_err(api_err)?;
            let hp = pv
                .spec
                .and_then(|s| s.host_path)
                .ok_or_else(|| VolumeError(format!("persistentvolume \"{pv_name}\" is not a hostPath volume; only hostPath volumes can be mounted on this node")))?;
            let mut p = host_path(ctx.state_dir, &hp.path, Some("DirectoryOrCreate"))?;
            p.read_only = src.read_only == Some(true);
            p
        } else {
            return Err(VolumeError(format!(
                "volume {:?}: this node supports emptyDir, configMap, secret, downwardAPI, projected, hostPath and persistentVolumeClaim volumes",
                v.name
            )));
        };
        out.insert(v.name.clone(), prepared);
    }
    Ok(out)
}

fn host_path(state_dir: &Path, path: &str, kind: Option<&str>) -> Result<Prepared, VolumeError> {
    let rel = path.trim_start_matches('/');
    if Path::new(rel)
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(VolumeError(format!(
            "hostPath {path:?} may not contain '..'"
        )));
    }
    if let Some(on_host) = super::host_mounts::Table::load(state_dir).resolve(path) {
        // `rkube mount` checked the directory; its type cannot be checked from here.
        return Ok(Prepared {
            node_path: on_host,
            read_only: false,
            on_host: true,
        });
    }
    let node_path = host_path_root(state_dir).join(rel);
    match kind.unwrap_or("") {
        "FileOrCreate" | "File" => {
            if let Some(parent) = node_path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            if !node_path.exists() {
                if kind == Some("File") {
                    return Err(VolumeError(format!(
                        "hostPath type check failed: {path} is not a file"
                    )));
                }
                std::fs::write(&node_path, b"").map_err(|e| io(&node_path, e))?;
            }
        }
        "Directory" if !node_path.is_dir() => {
            return Err(VolumeError(format!(
                "hostPath type check failed: {path} is not a directory"
            )));
        }
        _ => std::fs::create_dir_all(&node_path).map_err(|e| io(&node_path, e))?,
    }
    Ok(Prepared {
        node_path,
        read_only: false,
        on_host: false,
    })
}

/// The bind mounts of one container, honouring subPath and readOnly.
pub fn mounts(
    container: &Container,
    volumes: &HashMap<String, Prepared>,
) -> Result<Vec<Mount>, VolumeError> {
    let mut out = Vec::new();
    for vm in container.volume_mounts.iter().flatten() {
        let v = volumes.get(&vm.name).ok_or_else(|| {
            VolumeError(format!(
                "volume mount {:?} names no volume of the pod",
                vm.name
            ))
        })?;
        let mut node_path = v.node_path.clone();
        if let Some(sub) = vm.sub_path.as_deref().filter(|s| !s.is_empty()) {
            node_path = node_path.join(safe_rel(sub)?);
            if !v.on_host && !node_path.exists() {
                std::fs::create_dir_all(&node_path).map_err(|e| io(&node_path, e))?;
            }
        }
        out.push(Mount {
            node_path: node_path.to_string_lossy().to_string(),
            container_path: vm.mount_path.clone(),
            read_only: v.read_only || vm.read_only == Some(true),
        });
    }
    Ok(out)
}

/// Remove a pod's files.
pub fn cleanup(state_dir: &Path, uid: &str) {
    let _ = std::fs::remove_dir_all(pod_dir(state_dir, uid));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_dir_writes_and_prunes() {
        let d = tempfile::tempdir().unwrap();
        let mut files = Files::new();
        files.insert("a".into(), (b"1".to_vec(), 0o644));
        files.insert("sub/b".into(), (b"2".to_vec(), 0o600));
        sync_dir(d.path(), &files).unwrap();
        assert_eq!(std::fs::read(d.path().join("sub/b")).unwrap(), b"2");
        files.remove("a");
        sync_dir(d.path(), &files).unwrap();
        assert!(!d.path().join("a").exists());
    }

    #[test]
    fn projects_items_and_refuses_escapes() {
        let data = BTreeMap::from([("k".to_string(), b"v".to_vec())]);
        let mut files = Files::new();
        let items = vec![KeyToPath {
            key: "k".into(),
            path: "dir/file".into(),
            mode: None,
            ..Default::default()
        }];
        project(&data, Some(&items), 0o644, "cm", &mut files).unwrap();
        assert!(files.contains_key("dir/file"));
        let bad = vec![KeyToPath {
            key: "k".into(),
            path: "../x".into(),
            mode: None,
            ..Default::default()
        }];
        assert!(project(&data, Some(&bad), 0o644, "cm", &mut files).is_err());
        let missing = vec![KeyToPath {
            key: "nope".into(),
            path: "x".into(),
            mode: None,
            ..Default::default()
        }];
        assert!(project(&data, Some(&missing), 0o644, "cm", &mut files).is_err());
    }

    #[test]
    fn host_paths_stay_under_the_root() {
        let d = tempfile::tempdir().unwrap();
        let p = host_path(d.path(), "/data/x", None).unwrap();
        assert!(p.node_path.starts_with(host_path_root(d.path())));
        assert!(p.node_path.is_dir());
        assert!(host_path(d.path(), "/../etc", None).is_err());
    }
}
