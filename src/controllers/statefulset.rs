//! The StatefulSet controller: pods `<sts>-<ordinal>` with stable identity (hostname,
//! the service's subdomain, pod-name and pod-index labels) and a PVC per claim template
//! (`<claim>-<sts>-<ordinal>`); OrderedReady creates one at a time in order and removes
//! from the highest ordinal, Parallel does both at once; template changes roll from the
//! highest ordinal down to the partition (or only on delete with OnDelete), with each
//! template kept as a ControllerRevision for `kubectl rollout history` and `undo`.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::json;

use super::deployment::template_hash;
use super::events::{reference, EventType};
use super::history;
use super::pods::{self, controller_ref, is_available};
use super::workload::{self, Ctx, Error};
use crate::informer::SharedCaches;

const REVISION_LABEL: &str = "controller-revision-hash";

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    workload::run::<StatefulSet, Pod, _, _>(client, caches, "statefulset-controller", reconcile)
        .await;
}

fn ordinal(sts: &str, pod: &Pod) -> Option<i32> {
    pod.name_any()
        .strip_prefix(&format!("{sts}-"))?
        .parse()
        .ok()
}

async fn reconcile(sts: Arc<StatefulSet>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if sts.metadata.deletion_timestamp.is_some() {
        ctx.expectations.forget(&sts.uid().unwrap_or_default());
        return Ok(Action::await_change());
    }
    let name = sts.name_any();
    let ns = sts.namespace().unwrap_or_default();
    let uid = sts.uid().unwrap_or_default();
    let err = |source| Error {
        name: name.clone(),
        source,
    };
    let spec = &sts.spec;
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
    let template = serde_json::to_value(&spec.template).unwrap_or_default();
    let revision = format!("{name}-{}", template_hash(&template, 0));
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(all) = workload::settled_pods(&ctx, &ns, &name, &uid, &pods_api).await else {
        return Ok(Action::requeue(workload::SETTLING));
    };
    let mut pods: Vec<&Pod> = all.iter().map(AsRef::as_ref).collect();
    let in_use = pods
        .iter()
        .filter_map(|p| p.labels().get(REVISION_LABEL).cloned())
        .collect();
    let owner = history::Owner {
        kind: "StatefulSet",
        name: &name,
        namespace: &ns,
        uid: &uid,
        annotations: sts.annotations(),
        history_limit: spec.revision_history_limit.unwrap_or(10),
    };
    history::record(&ctx.client, &owner, &revision, &template, &in_use)
        .await
        .map_err(err)?;
    pods.sort_by_key(|p| ordinal(&name, p).unwrap_or(i32::MAX));
    let reference = reference(sts.as_ref());
    let now = jiff::Timestamp::now();
    let min_ready = i64::from(spec.min_ready_seconds.unwrap_or(0));
    let ready = |p: &Pod| pods::ready_since(p).is_some() && p.metadata.deletion_timestamp.is_none();

    // Create missing ordinals (in order, one at a time unless Parallel).
    for i in 0..replicas {
        let existing = pods.iter().find(|p| ordinal(&name, p) == Some(i));
        match existing {
            Some(p) if ready(p) => continue,
            Some(_) if !parallel => return Ok(Action::requeue(Duration::from_secs(5))),
            Some(_) => continue,
            None => {}
        }
        let pod_name = format!("{name}-{i}");
        for claim in spec.volume_claim_templates.iter().flatten() {
            let claim_name = format!("{}-{pod_name}", claim.name_any());
            let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
            if pvcs.get_opt(&claim_name).await.map_err(err)?.is_none() {
                let mut pvc = claim.clone();
                pvc.metadata.name = Some(claim_name.clone());
                pvc.metadata.namespace = Some(ns.clone());
                let labels = pvc.metadata.labels.get_or_insert_with(Default::default);
                for (k, v) in spec.selector.match_labels.iter().flatten() {
                    labels.insert(k.clone(), v.clone());
                }
                pvc.status = None;
                match pvcs.create(&PostParams::default(), &pvc).await {
                    Ok(_) => ctx.recorder.publish(&reference, EventType::Normal, "SuccessfulCreate", &format!("create Claim {claim_name} Pod {pod_name} in StatefulSet {name} success")),
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(e) => return Err(err(e)),
                }
            }
        }
        let mut template = spec.template.clone();
        let meta = template.metadata.get_or_insert_with(Default::default);
        let labels = meta.labels.get_or_insert_with(Default::default);
        labels.insert(
            "statefulset.kubernetes.io/pod-name".into(),
            pod_name.clone(),
        );
        labels.insert("apps.kubernetes.io/pod-index".into(), i.to_string());
        labels.insert(REVISION_LABEL.into(), revision.clone());
        if let Some(ps) = template.spec.as_mut() {
            ps.hostname = Some(pod_name.clone());
            ps.subdomain = spec.service_name.clone();
            for claim in spec.volume_claim_templates.iter().flatten() {
                let volume = json!({"name": claim.name_any(), "persistentVolumeClaim": {"claimName": format!("{}-{pod_name}", claim.name_any())}});
                let volumes = ps.volumes.get_or_insert_with(Vec::new);
                volumes.retain(|v| v.name != claim.name_any());
                if let Ok(v) = serde_json::from_value(volume) {
                    volumes.push(v);
                }
            }
        }
        let mut pod = Pod {
            metadata: template.metadata.clone().unwrap_or_default(),
            spec: template.spec.clone(),
            status: None,
        };
        pod.metadata.name = Some(pod_name.clone());
        pod.metadata.namespace = Some(ns.clone());
        pod.metadata.owner_references =
            Some(vec![controller_ref("apps/v1", "StatefulSet", &name, &uid)]);
        match pods_api.create(&PostParams::default(), &pod).await {
            Ok(_) => {
                ctx.expectations.created(&uid, pod_name.clone());
                ctx.recorder.publish(
                    &reference,
                    EventType::Normal,
                    "SuccessfulCreate",
                    &format!("create Pod {pod_name} in StatefulSet {name} successful"),
                )
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(err(e)),
        }
        if !parallel {
            return Ok(Action::requeue(Duration::from_secs(5)));
        }
    }
    // Remove ordinals beyond replicas, highest first (one at a time unless Parallel).
    let mut surplus: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| ordinal(&name, p).is_none_or(|o| o >= replicas))
        .collect();
    surplus.reverse();
    for p in surplus {
        if p.metadata.deletion_timestamp.is_none()
            && workload::delete_recorded(
                &pods_api,
                &p.name_any(),
                &DeleteParams::default(),
                &ctx,
                &reference,
                &format!(
                    "delete Pod {} in StatefulSet {name} successful",
                    p.name_any()
                ),
            )
            .await
        {
            ctx.expectations.deleted(&uid, p.name_any());
        }
        if !parallel {
            return Ok(Action::requeue(Duration::from_secs(2)));
        }
    }
    // Rolling update: replace the highest stale ordinal at or above the partition once all
    // others are ready.
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    if strategy.type_.as_deref() != Some("OnDelete") {
        let partition = strategy
            .rolling_update
            .and_then(|r| r.partition)
            .unwrap_or(0);
        let all_ready = pods
            .iter()
            .filter(|p| ordinal(&name, p).is_some_and(|o| o < replicas))
            .all(|p| ready(p));
        if all_ready {
            if let Some(stale) = pods.iter().rev().find(|p| {
                ordinal(&name, p).is_some_and(|o| o >= partition && o < replicas)
                    && p.labels().get(REVISION_LABEL) != Some(&revision)
            }) {
                if pods_api
                    .delete(&stale.name_any(), &DeleteParams::default())
                    .await
                    .is_ok()
                {
                    ctx.expectations.deleted(&uid, stale.name_any());
                }
                return Ok(Action::requeue(Duration::from_secs(2)));
            }
        }
    }
    let current: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| {
            ordinal(&name, p).is_some_and(|o| o < replicas)
                && p.metadata.deletion_timestamp.is_none()
        })
        .collect();
    let at = |rev: &str| {
        current
            .iter()
            .filter(|p| p.labels().get(REVISION_LABEL).map(String::as_str) == Some(rev))
            .count()
    };
    let updated = at(&revision);
    // The revision the set is rolling from stays current until every pod is updated.
    let current_revision = match sts.status.as_ref().and_then(|s| s.current_revision.clone()) {
        Some(r) if !r.is_empty() && updated < replicas as usize => r,
        _ => revision.clone(),
    };
    let status = json!({"status": {
        "replicas": current.len(), "readyReplicas": current.iter().filter(|p| ready(p)).count(),
        "availableReplicas": current.iter().filter(|p| is_available(p, min_ready, now)).count(),
        "currentReplicas": at(&current_revision), "updatedReplicas": updated,
        "currentRevision": current_revision, "updateRevision": revision,
        "observedGeneration": sts.metadata.generation,
    }});
    let old = serde_json::to_value(&sts.status).unwrap_or_default();
    if status["status"]
        .as_object()
        .is_some_and(|m| m.iter().any(|(k, v)| old.get(k).unwrap_or(&json!(0)) != v))
    {
        Api::<StatefulSet>::namespaced(ctx.client.clone(), &ns)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map_err(err)?;
    }
    Ok(Action::requeue(Duration::from_secs(30)))
}
