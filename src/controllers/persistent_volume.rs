//! PersistentVolume binding (kube-controller-manager's persistentvolume-binder): claims
//! bind to the smallest matching available volume; a claim nothing matches waits for its
//! StorageClass's provisioner, or stays Pending saying why; volumes follow their claims
//! (Available, Bound, Released, deleted), and a claim whose volume vanished is Lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use super::events::{reference, EventType, Recorder};
use crate::apiserver::selectors::LabelSelector;
use crate::informer::{Changes, SharedCaches};
use crate::resources::validation::quantity_nanos;

const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The provisioner name of classes that only bind pre-created volumes.
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    let mut changes = Changes::of::<PersistentVolumeClaim>(&caches)
        .and::<PersistentVolume>(&caches)
        .and::<StorageClass>(&caches);
    let recorder = Recorder::new(client.clone(), "persistentvolume-controller", "");
    loop {
        let binder = Binder {
            client: &client,
            recorder: &recorder,
            volumes: caches.all().await,
            classes: caches.all().await,
        };
        if let Err(e) = binder.sync_all(&caches.all().await).await {
            tracing::warn!(component = "persistentvolume-binder", error = %e, "sync failed");
        }
        // Changes wake us at once; the period catches anything a failed write left behind.
        changes
            .next_pass(Duration::from_secs(15), Duration::ZERO)
            .await;
    }
}

struct Binder<'a> {
    client: &'a kube::Client,
    recorder: &'a Recorder,
    volumes: Vec<Arc<PersistentVolume>>,
    classes: Vec<Arc<StorageClass>>,
}

/// A storage quantity in nano-units (0 when absent or malformed).
fn size(q: Option<&Quantity>) -> i128 {
    q.and_then(|q| quantity_nanos(&q.0)).unwrap_or(0)
}

fn claim_class(c: &PersistentVolumeClaim) -> &str {
    c.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

fn volume_class(v: &PersistentVolume) -> &str {
    v.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or("")
}

fn claim_ref_is(v: &PersistentVolume, c: &PersistentVolumeClaim) -> bool {
    v.spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_some_and(|r| {
            r.name.as_deref() == Some(&c.name_any())
                && r.namespace.as_deref() == c.namespace().as_deref()
                && r.uid
                    .as_deref()
                    .is_none_or(|u| Some(u) == c.uid().as_deref())
        })
}

/// Whether volume `v` can serve claim `c`: class, access modes, size, mode, selector.
fn matches(v: &PersistentVolume, c: &PersistentVolumeClaim) -> bool {
    let (Some(vs), Some(cs)) = (v.spec.as_ref(), c.spec.as_ref()) else {
        return false;
    };
    if volume_class(v) != claim_class(c) || v.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let have = vs.access_modes.clone().unwrap_or_default();
    if !cs.access_modes.iter().flatten().all(|m| have.contains(m)) {
        return false;
    }
    let mode = |m: Option<&String>| m.map_or("Filesystem".to_string(), String::clone);
    if mode(vs.volume_mode.as_ref()) != mode(cs.volume_mode.as_ref()) {
        return false;
    }
    let want = size(
        cs.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage")),
    );
    let have_size = size(vs.capacity.as_ref().and_then(|c| c.get("storage")));
    if have_size < want {
        return false;
    }
    let Some(selector) = &cs.selector else {
        return true;
    };
    let labels: serde_json::Map<String, serde_json::Value> = v
        .labels()
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    serde_json::to_value(selector)
        .ok()
        .and_then(|s| LabelSelector::from_label_selector_json(&s).ok())
        .is_some_and(|s| s.matches(&labels))
}

impl Binder<'_> {
    async fn sync_all(&self, claims: &[Arc<PersistentVolumeClaim>]) -> Result<(), kube::Error> {
        for c in claims {
            if c.metadata.deletion_timestamp.is_none() {
                self.sync_claim(c).await?;
            }
        }
        for v in &self.volumes {
            self.sync_volume(v, claims).await?;
        }
        Ok(())
    }

    async fn sync_claim(&self, c: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let phase = c.status.as_ref().and_then(|s| s.phase.as_deref());
        let bound_to = c.spec.as_ref().and_then(|s| s.volume_name.clone());
        if let Some(name) = bound_to.filter(|n| !n.is_empty()) {
            let volume = self.volumes.iter().find(|v| v.name_any() == name);
            return match volume {
                Some(v)
                    if claim_ref_is(v, c)
                        || v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_none() =>
                {
                    if phase != Some("Bound") || !claim_ref_is(v, c) {
                        self.bind(v, c).await?;
                    }
                    Ok(())
                }
                Some(_) => Ok(()), // Another claim holds it: wait, as the real binder does.
                None if phase == Some("Bound") => {
                    self.claim_phase(c, "Lost").await?;
                    self.recorder.publish(
                        &reference(c),
                        EventType::Warning,
                        "ClaimLost",
                        "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                    );
                    Ok(())
                }
                None => Ok(()),
            };
        }
        // A volume pre-bound to this claim (claimRef set by the admin) wins.
        let prebound = self.volumes.iter().find(|v| claim_ref_is(v, c));
        let candidate = prebound.or_else(|| {
            self.volumes
                .iter()
                .filter(|v| v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_none())
                .filter(|v| matches(v, c))
                .min_by_key(|v| {
                    size(
                        v.spec
                            .as_ref()
                            .and_then(|s| s.capacity.as_ref())
                            .and_then(|c| c.get("storage")),
                    )
                })
        });
        if let Some(v) = candidate {
            return self.bind(v, c).await;
        }
        if phase.is_none() {
            self.claim_phase(c, "Pending").await?;
        }
        self.wait_for_provisioner(c).await
    }

    /// No volume fits: the class's provisioner is asked (through the annotation it
    /// watches), or the claim stays Pending with the reason.
    async fn wait_for_provisioner(&self, c: &PersistentVolumeClaim) -> Result<(), kube::Error> {
        let class_name = claim_class(c);
        let class = self.classes.iter().find(|s| s.name_any() == class_name);
        let Some(class) = class.filter(|s| s.provisioner != NO_PROVISIONER) else {
            let (kind, reason, message) = if class_name.is_empty() || class.is_some() {
                (
                    EventType::Normal,
                    "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set"
                        .to_string(),
                )
            } else {
                (
                    EventType::Warning,
                    "ProvisioningFailed",
                    format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
                )
            };
            self.recorder.publish(&reference(c), kind, reason, &message);
            return Ok(());
        };
        let waits_for_consumer =
            class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer");
        if waits_for_consumer && !c.annotations().contains_key(SELECTED_NODE) {
            self.recorder.publish(
                &reference(c),
                EventType::Normal,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            );
            return Ok(());
        }
        if c.annotations().get(STORAGE_PROVISIONER) != Some(&class.provisioner) {
            let patch = json!({"metadata": {"annotations": {
                STORAGE_PROVISIONER: class.provisioner,
                BETA_STORAGE_PROVISIONER: class.provisioner,
            }}});
            self.claims(c)
                .patch(
                    &c.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await?;
        }
        self.recorder
            .publish(
                &reference(c),
                EventType::Normal,
                "ExternalProvisioning",
                &format!("Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.", class.provisioner),
            );
        Ok(())
    }

    fn claims(&self, c: &PersistentVolumeClaim) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), &c.namespace().unwrap_or_default())
    }

    async fn claim_phase(&self, c: &PersistentVolumeClaim, phase: &str) -> Result<(), kube::Error> {
        let patch = json!({"status": {"phase": phase}});
        self.claims(c)
            .patch_status(
                &c.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map(|_| ())
    }

    /// Bind both ways: the volume's claimRef first (so no other claim takes it), then the
    /// claim's volumeName, then both statuses.
    async fn bind(
        &self,
        v: &PersistentVolume,
        c: &PersistentVolumeClaim,
    ) -> Result<(), kube::Error> {
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        let name = v.name_any();
        if !claim_ref_is(v, c)
            || v.spec
                .as_ref()
                .and_then(|s| s.claim_ref.as_ref())
                .and_then(|r| r.uid.as_ref())
                .is_none()
        {
            let patch = json!({
                "metadata": {"resourceVersion": v.resource_version(), "annotations": {BOUND_BY_CONTROLLER: "yes"}},
                "spec": {"claimRef": {
                    "kind": "PersistentVolumeClaim", "apiVersion": "v1",
                    "namespace": c.namespace(), "name": c.name_any(), "uid": c.uid(),
                    "resourceVersion": c.resource_version(),
                }},
            });
            volumes
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        volumes
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": {"phase": "Bound"}})),
            )
            .await?;
        let claims = self.claims(c);
        let patch = json!({
            "metadata": {"annotations": {BIND_COMPLETED: "yes", BOUND_BY_CONTROLLER: "yes"}},
            "spec": {"volumeName": name},
        });
        claims
            .patch(
                &c.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        let vs = v.spec.as_ref();
        let capacity: BTreeMap<String, Quantity> =
            vs.and_then(|s| s.capacity.clone()).unwrap_or_default();
        let status = json!({"status": {
            "phase": "Bound",
            "accessModes": vs.and_then(|s| s.access_modes.clone()).unwrap_or_default(),
            "capacity": capacity,
        }});
        claims
            .patch_status(
                &c.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&status),
            )
            .await?;
        Ok(())
    }

    /// A volume's phase follows its claim: Available without one, Bound with a live one,
    /// Released (Retain) or deleted (Delete) once the claim is gone.
    async fn sync_volume(
        &self,
        v: &PersistentVolume,
        claims: &[Arc<PersistentVolumeClaim>],
    ) -> Result<(), kube::Error> {
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        let phase = v.status.as_ref().and_then(|s| s.phase.as_deref());
        let claim_ref = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        let want = match claim_ref {
            None => "Available",
            Some(r) => {
                let live = claims
                    .iter()
                    .find(|c| Some(c.name_any()) == r.name && c.namespace() == r.namespace);
                match live {
                    Some(c) if r.uid.is_none() || r.uid == c.uid() => {
                        // Bound once the claim points back; pre-bound volumes wait for it.
                        let points_back = c.spec.as_ref().and_then(|s| s.volume_name.as_deref())
                            == Some(v.name_any().as_str());
                        if points_back {
                            "Bound"
                        } else {
                            phase.unwrap_or("Available")
                        }
                    }
                    _ if r.uid.is_none() => phase.unwrap_or("Available"),
                    _ => {
                        let policy = v
                            .spec
                            .as_ref()
                            .and_then(|s| s.persistent_volume_reclaim_policy.as_deref());
                        // A dynamically provisioned volume is deleted by its provisioner,
                        // which also frees the storage behind it; the binder only marks it.
                        let external = v.annotations().contains_key(PROVISIONED_BY);
                        if policy == Some("Delete") && phase != Some("Failed") && !external {
                            match volumes
                                .delete(&v.name_any(), &DeleteParams::default())
                                .await
                            {
                                Ok(_) => {}
                                Err(kube::Error::Api(e)) if e.code == 404 => {}
                                Err(e) => return Err(e),
                            }
                            return Ok(());
                        }
                        "Released"
                    }
                }
            }
        };
        if phase != Some(want) {
            volumes
                .patch_status(
                    &v.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"status": {"phase": want}})),
                )
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(class: &str, size: &str, modes: &[&str]) -> PersistentVolume {
        serde_json::from_value(json!({"metadata": {"name": format!("pv-{size}"), "labels": {"tier": "fast"}},
            "spec": {"storageClassName": class, "capacity": {"storage": size}, "accessModes": modes}}))
        .unwrap()
    }

    fn pvc(
        class: &str,
        size: &str,
        modes: &[&str],
        selector: serde_json::Value,
    ) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": "c", "namespace": "ns"},
            "spec": {"storageClassName": class, "resources": {"requests": {"storage": size}},
                     "accessModes": modes, "selector": selector}}))
        .unwrap()
    }

    #[test]
    fn matching_checks_class_size_modes_and_selector() {
        let c = pvc("manual", "1Gi", &["ReadWriteOnce"], json!(null));
        assert!(matches(
            &pv("manual", "2Gi", &["ReadWriteOnce", "ReadOnlyMany"]),
            &c
        ));
        assert!(!matches(&pv("manual", "500Mi", &["ReadWriteOnce"]), &c));
        assert!(!matches(&pv("other", "2Gi", &["ReadWriteOnce"]), &c));
        assert!(!matches(&pv("manual", "2Gi", &["ReadOnlyMany"]), &c));
        let sel = pvc(
            "manual",
            "1Gi",
            &["ReadWriteOnce"],
            json!({"matchLabels": {"tier": "slow"}}),
        );
        assert!(!matches(&pv("manual", "2Gi", &["ReadWriteOnce"]), &sel));
    }
}
