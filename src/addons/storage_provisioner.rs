//! `rkube storage-provisioner`: the storage-provisioner addon's pod, minikube's hostpath
//! provisioner. Claims the volume binder hands to `k8s.io/minikube-hostpath` get a
//! PersistentVolume `pvc-<claim uid>` backed by a directory under
//! `/tmp/hostpath-provisioner/<namespace>/<claim>` on the node (a hostPath, which the
//! kubelet keeps in the node's state volume); released `Delete` volumes lose their directory
//! and then their object, `Retain` ones keep both.
//!
//! The provisioner's identity is the node's name, not a fresh id per start: minikube's
//! changed on every restart, so volumes made before a restart were never deleted
//! (kubernetes/minikube#4546).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeSpec,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use kube::ResourceExt;
use tokio::sync::Notify;

use crate::controllers::events::{reference, EventType, Recorder};
use crate::informer::Informer;

/// The provisioner name StorageClass `standard` names.
pub const PROVISIONER: &str = "k8s.io/minikube-hostpath";
/// Where volumes live, on the node and in the pod alike.
pub const ROOT: &str = "/tmp/hostpath-provisioner";

const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
const IDENTITY: &str = "hostPathProvisionerIdentity";
const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";

/// Why the provisioner cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionerError {
    /// No in-cluster client (not running in a pod with a service account).
    #[error("cannot reach the API server from this pod: {0}")]
    Client(#[from] kube::Error),
    /// The runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Run the provisioner until the process is killed.
pub fn run() -> Result<(), ProvisionerError> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let client = kube::Client::try_default().await?;
        let identity = std::env::var("NODE_NAME")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(crate::echo_server::identity);
        tracing::info!(%identity, root = ROOT, "storage provisioner started");
        serve(client, PathBuf::from(ROOT), identity).await;
        Ok(())
    })
}

/// Provision and delete volumes until aborted; volumes' directories go under `root`.
pub async fn serve(client: kube::Client, root: PathBuf, identity: String) {
    let changed = Arc::new(Notify::new());
    let claims =
        Informer::<PersistentVolumeClaim>::start(Api::all(client.clone()), changed.clone());
    let volumes = Informer::<PersistentVolume>::start(Api::all(client.clone()), changed.clone());
    let classes = Informer::<StorageClass>::start(Api::all(client.clone()), changed.clone());
    let host = std::env::var("NODE_NAME").unwrap_or_default();
    let recorder = Recorder::new(
        client.clone(),
        &format!("{PROVISIONER}_{host}_{identity}"),
        &host,
    );
    let p = Provisioner {
        client,
        root,
        identity,
        recorder,
    };
    loop {
        let vols = volumes.list();
        let cls = classes.list();
        for c in claims.list() {
            if let Some(class) = p.wants(&c, &cls, &vols) {
                p.provision(&c, &class).await;
            }
        }
        for v in &vols {
            if p.should_delete(v) {
                p.delete(v).await;
            }
        }
        // Changes wake us at once; the period retries what failed.
        let _ = tokio::time::timeout(Duration::from_secs(10), changed.notified()).await;
    }
}

struct Provisioner {
    client: kube::Client,
    root: PathBuf,
    identity: String,
    recorder: Recorder,
}

/// The volume name of a claim, as every external provisioner names it.
fn volume_name(c: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", c.uid().unwrap_or_default())
}

/// `ROOT/<namespace>/<claim>`: the hostPath of a claim's volume.
fn claim_path(c: &PersistentVolumeClaim) -> String {
    format!(
        "{ROOT}/{}/{}",
        c.namespace().unwrap_or_default(),
        c.name_any()
    )
}

/// The directory in this pod behind the node path `path`, if it is one of ours.
fn local_dir(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = Path::new(path).strip_prefix(ROOT).ok()?;
    let safe =
        rel.components().count() > 0 && rel.components().all(|c| matches!(c, Component::Normal(_)));
    safe.then(|| root.join(rel))
}

impl Provisioner {
    /// The class to provision `c` with, if it is ours to provision now.
    fn wants(
        &self,
        c: &PersistentVolumeClaim,
        classes: &[Arc<StorageClass>],
        volumes: &[Arc<PersistentVolume>],
    ) -> Option<Arc<StorageClass>> {
        if c.metadata.deletion_timestamp.is_some() {
            return None;
        }
        let spec = c.spec.as_ref()?;
        if spec.volume_name.as_deref().is_some_and(|n| !n.is_empty()) {
            return None;
        }
        let asked = c
            .annotations()
            .get(STORAGE_PROVISIONER)
            .or_else(|| c.annotations().get(BETA_STORAGE_PROVISIONER));
        if asked.map(String::as_str) != Some(PROVISIONER) {
            return None;
        }
        let class_name = spec.storage_class_name.as_deref()?;
        let class = classes
            .iter()
            .find(|s| s.name_any() == class_name && s.provisioner == PROVISIONER)?;
        let name = volume_name(c);
        if volumes.iter().any(|v| v.name_any() == name) {
            return None;
        }
        Some(class.clone())
    }

    fn volume(&self, c: &PersistentVolumeClaim, class: &StorageClass) -> PersistentVolume {
        let spec = c.spec.clone().unwrap_or_default();
        let capacity: BTreeMap<_, _> = spec
            .resources
            .and_then(|r| r.requests)
            .and_then(|r| r.get("storage").cloned())
            .map(|q| BTreeMap::from([("storage".to_string(), q)]))
            .unwrap_or_default();
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some(volume_name(c)),
                annotations: Some(BTreeMap::from([
                    (PROVISIONED_BY.to_string(), PROVISIONER.to_string()),
                    (IDENTITY.to_string(), self.identity.clone()),
                ])),
                ..Default::default()
            },
            spec: Some(PersistentVolumeSpec {
                access_modes: spec.access_modes,
                capacity: Some(capacity),
                claim_ref: Some(ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("PersistentVolumeClaim".into()),
                    namespace: c.namespace(),
                    name: Some(c.name_any()),
                    uid: c.uid(),
                    resource_version: c.resource_version(),
                    field_path: None,
                }),
                host_path: Some(HostPathVolumeSource {
                    path: claim_path(c),
                    type_: Some(String::new()),
                }),
                mount_options: class.mount_options.clone(),
                persistent_volume_reclaim_policy: Some(
                    class
                        .reclaim_policy
                        .clone()
                        .unwrap_or_else(|| "Delete".into()),
                ),
                storage_class_name: Some(class.name_any()),
                volume_mode: spec.volume_mode,
                ..Default::default()
            }),
            status: None,
        }
    }

    async fn provision(&self, c: &PersistentVolumeClaim, class: &StorageClass) {
        let key = format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any());
        let claim = reference(c);
        self.recorder.publish(
            &claim,
            EventType::Normal,
            "Provisioning",
            &format!("External provisioner is provisioning volume for claim \"{key}\""),
        );
        let pv = self.volume(c, class);
        let result = async {
            let dir = local_dir(&self.root, &claim_path(c))
                .ok_or_else(|| format!("claim path {} is not under {ROOT}", claim_path(c)))?;
            create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            let api: Api<PersistentVolume> = Api::all(self.client.clone());
            match api.create(&PostParams::default(), &pv).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
        .await;
        match result {
            Ok(()) => {
                tracing::info!(claim = %key, volume = %volume_name(c), "provisioned");
                self.recorder.publish(
                    &claim,
                    EventType::Normal,
                    "ProvisioningSucceeded",
                    &format!("Successfully provisioned volume {}", volume_name(c)),
                );
            }
            Err(e) => {
                tracing::warn!(claim = %key, error = %e, "provisioning failed");
                self.recorder.publish(
                    &claim,
                    EventType::Warning,
                    "ProvisioningFailed",
                    &format!(
                        "failed to provision volume with StorageClass \"{}\": {e}",
                        class.name_any()
                    ),
                );
            }
        }
    }

    /// A released `Delete` volume this provisioner made.
    fn should_delete(&self, v: &PersistentVolume) -> bool {
        let a = v.annotations();
        let ours = a.get(PROVISIONED_BY).map(String::as_str) == Some(PROVISIONER)
            && a.get(IDENTITY) == Some(&self.identity);
        let released = v.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
        let delete = v
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
            == Some("Delete");
        ours && released && delete && v.metadata.deletion_timestamp.is_none()
    }

    async fn delete(&self, v: &PersistentVolume) {
        let path = v
            .spec
            .as_ref()
            .and_then(|s| s.host_path.as_ref())
            .map(|h| h.path.clone())
            .unwrap_or_default();
        if let Some(dir) = local_dir(&self.root, &path) {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(volume = %v.name_any(), error = %e, "removing the volume's directory");
                    self.recorder.publish(
                        &reference(v),
                        EventType::Warning,
                        "VolumeFailedDelete",
                        &format!("removing {path}: {e}"),
                    );
                    return;
                }
            }
        }
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        match api.delete(&v.name_any(), &DeleteParams::default()).await {
            Ok(_) => tracing::info!(volume = %v.name_any(), "deleted"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => tracing::warn!(volume = %v.name_any(), error = %e, "deleting the volume"),
        }
    }
}

/// Create `dir` writable by any user, as minikube does, so pods running as non-root can
/// use their volume.
fn create_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(annotations: serde_json::Value, class: &str) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": "data", "namespace": "shop", "uid": "u-1", "annotations": annotations},
            "spec": {"storageClassName": class, "accessModes": ["ReadWriteMany"],
                     "resources": {"requests": {"storage": "2Gi"}}},
        }))
        .unwrap()
    }

    fn class(provisioner: &str, reclaim: Option<&str>) -> Arc<StorageClass> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "standard"}, "provisioner": provisioner,
                "reclaimPolicy": reclaim,
            }))
            .unwrap(),
        )
    }

    fn provisioner() -> Provisioner {
        // A client that is never used by the pure functions under test.
        let cfg = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
        let client = kube::Client::try_from(cfg).unwrap();
        Provisioner {
            recorder: Recorder::new(client.clone(), "test", ""),
            client,
            root: PathBuf::from("/nonexistent"),
            identity: "rkube".into(),
        }
    }

    #[tokio::test]
    async fn only_claims_handed_to_us_are_provisioned() {
        let p = provisioner();
        let ours = json!({STORAGE_PROVISIONER: PROVISIONER});
        let classes = [class(PROVISIONER, None)];
        assert!(p
            .wants(&claim(ours.clone(), "standard"), &classes, &[])
            .is_some());
        assert!(p
            .wants(
                &claim(json!({STORAGE_PROVISIONER: "other.io/x"}), "standard"),
                &classes,
                &[]
            )
            .is_none());
        assert!(p
            .wants(&claim(ours.clone(), "fast"), &classes, &[])
            .is_none());
        let other = [class("other.io/x", None)];
        assert!(p
            .wants(&claim(ours.clone(), "standard"), &other, &[])
            .is_none());
        let made = Arc::new(PersistentVolume {
            metadata: ObjectMeta {
                name: Some("pvc-u-1".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        assert!(p
            .wants(&claim(ours, "standard"), &classes, &[made])
            .is_none());
    }

    #[tokio::test]
    async fn volumes_follow_claim_and_class() {
        let p = provisioner();
        let c = claim(json!({}), "standard");
        let v = p.volume(&c, &class(PROVISIONER, Some("Retain")));
        let s = v.spec.unwrap();
        assert_eq!(v.metadata.name.as_deref(), Some("pvc-u-1"));
        assert_eq!(
            s.host_path.unwrap().path,
            "/tmp/hostpath-provisioner/shop/data"
        );
        assert_eq!(s.capacity.unwrap()["storage"].0, "2Gi");
        assert_eq!(s.access_modes.unwrap(), ["ReadWriteMany"]);
        assert_eq!(
            s.persistent_volume_reclaim_policy.as_deref(),
            Some("Retain")
        );
        assert_eq!(s.claim_ref.unwrap().uid.as_deref(), Some("u-1"));
        let v = p.volume(&c, &class(PROVISIONER, None));
        assert_eq!(
            v.spec.unwrap().persistent_volume_reclaim_policy.as_deref(),
            Some("Delete")
        );
        assert_eq!(v.metadata.annotations.unwrap()[IDENTITY], "rkube");
    }

    #[tokio::test]
    async fn only_our_released_delete_volumes_are_deleted() {
        let p = provisioner();
        let pv = |identity: &str, phase: &str, policy: &str| -> PersistentVolume {
            serde_json::from_value(json!({
                "metadata": {"name": "pvc-1", "annotations": {PROVISIONED_BY: PROVISIONER, IDENTITY: identity}},
                "spec": {"persistentVolumeReclaimPolicy": policy},
                "status": {"phase": phase},
            }))
            .unwrap()
        };
        assert!(p.should_delete(&pv("rkube", "Released", "Delete")));
        assert!(!p.should_delete(&pv("other", "Released", "Delete")));
        assert!(!p.should_delete(&pv("rkube", "Bound", "Delete")));
        assert!(!p.should_delete(&pv("rkube", "Released", "Retain")));
    }

    #[test]
    fn only_paths_under_the_root_are_touched() {
        let root = Path::new("/pod/root");
        assert_eq!(
            local_dir(root, "/tmp/hostpath-provisioner/ns/c"),
            Some(PathBuf::from("/pod/root/ns/c"))
        );
        assert_eq!(local_dir(root, "/tmp/hostpath-provisioner/../etc"), None);
        assert_eq!(local_dir(root, "/etc/passwd"), None);
        assert_eq!(local_dir(root, "/tmp/hostpath-provisioner"), None);
    }
}
