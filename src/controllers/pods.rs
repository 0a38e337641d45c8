//! What the workload controllers share about pods: ownership, activity, readiness and
//! availability, the order in which surplus pods are deleted, and creating pods from a
//! template (kube-controller-manager's controller_utils).

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, PostParams};
use kube::ResourceExt;

/// The owner reference a controller puts on what it creates.
pub fn controller_ref(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The uid of the object's controller, if any.
pub fn controller_uid<K: ResourceExt>(obj: &K) -> Option<String> {
    obj.owner_references()
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.clone())
}

/// Not finished and not being deleted.
pub fn is_active(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && !matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
}

/// When the Ready condition last became True, if it is True.
pub fn ready_since(p: &Pod) -> Option<jiff::Timestamp> {
    let c = p
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?;
    Some(
        c.last_transition_time
            .as_ref()
            .map(|t| t.0)
            .unwrap_or_else(jiff::Timestamp::now),
    )
}

/// Ready for at least `min_ready` seconds.
pub fn is_available(p: &Pod, min_ready: i64, now: jiff::Timestamp) -> bool {
    ready_since(p)
        .is_some_and(|t| min_ready <= 0 || (now - jiff::SignedDuration::from_secs(min_ready)) >= t)
}

/// Deletion preference (lower goes first): unscheduled, pending, not ready, then the
/// most recently ready/created, like ActivePods' ordering.
pub fn deletion_rank(p: &Pod) -> (u8, u8, u8, std::cmp::Reverse<String>) {
    let scheduled = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let phase = match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") | None => 0,
        Some("Running") => 2,
        _ => 1,
    };
    let ready = u8::from(ready_since(p).is_some());
    let created = p
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    (
        u8::from(scheduled),
        phase,
        ready,
        std::cmp::Reverse(created),
    )
}

/// Create a pod from `template` in `ns`, owned by `owner`, named `<prefix>-<random>`.
pub async fn create_from_template(
    client: &kube::Client,
    ns: &str,
    template: &PodTemplateSpec,
    prefix: &str,
    owner: OwnerReference,
) -> Result<Pod, kube::Error> {
    let mut meta = template.metadata.clone().unwrap_or_default();
    meta.name = None;
    meta.generate_name = Some(format!("{prefix}-"));
    meta.namespace = Some(ns.to_string());
    meta.owner_references = Some(vec![owner]);
    let pod = Pod {
        metadata: meta,
        spec: template.spec.clone(),
        status: None,
    };
    Api::<Pod>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
}

/// Create a pod like [`create_from_template`] and record SuccessfulCreate or FailedCreate
/// on `about`, as the workload controllers do; whether it was created.
pub async fn create_recorded(
    client: &kube::Client,
    recorder: &super::events::Recorder,
    about: &k8s_openapi::api::core::v1::ObjectReference,
    ns: &str,
    template: &PodTemplateSpec,
    prefix: &str,
    owner: OwnerReference,
) -> Option<String> {
    use super::events::EventType;
    match create_from_template(client, ns, template, prefix, owner).await {
        Ok(p) => {
            let name = p.name_any();
            let msg = format!("Created pod: {name}");
            recorder.publish(about, EventType::Normal, "SuccessfulCreate", &msg);
            Some(name)
        }
        Err(e) => {
            let msg = format!("Error creating: {e}");
            recorder.publish(about, EventType::Warning, "FailedCreate", &msg);
            None
        }
    }
}
