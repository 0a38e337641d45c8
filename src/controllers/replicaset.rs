//! The ReplicaSet and ReplicationController controllers: keep `spec.replicas` pods
//! matching the selector, adopting orphans and releasing pods that stopped matching,
//! deleting surplus pods in ActivePods order, and reporting replica counts in status.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, PodTemplateSpec, ReplicationController};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::json;

use super::events::{reference, EventType};
use super::pods::{self, controller_ref, controller_uid, deletion_rank, is_active, is_available};
use super::workload::{self, Ctx, Error};
use crate::apiserver::selectors::LabelSelector;
use crate::informer::SharedCaches;

/// Most pods created or deleted in one pass (kube's burstReplicas).
const BURST: usize = 500;

/// Run the ReplicaSet controller until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    workload::run::<ReplicaSet, Pod, _, _>(client, caches, "replicaset-controller", reconcile)
        .await;
}

/// Run the ReplicationController controller until aborted.
pub async fn run_rc(client: kube::Client, caches: SharedCaches) {
    workload::run::<ReplicationController, Pod, _, _>(
        client,
        caches,
        "replication-controller",
        reconcile_rc,
    )
    .await;
}

/// What both controllers keep replicated, read from a ReplicaSet or a
/// ReplicationController.
struct Replicated {
    name: String,
    ns: String,
    uid: String,
    api_version: &'static str,
    kind: &'static str,
    selector: LabelSelector,
    replicas: usize,
    template: PodTemplateSpec,
    min_ready: i64,
    generation: Option<i64>,
    /// The current status, as JSON.
    status: serde_json::Value,
    reference: ObjectReference,
}

async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if rs.metadata.deletion_timestamp.is_some() {
        ctx.expectations.forget(&rs.uid().unwrap_or_default());
        return Ok(Action::await_change());
    }
    let r = Replicated {
        name: rs.name_any(),
        ns: rs.namespace().unwrap_or_default(),
        uid: rs.uid().unwrap_or_default(),
        api_version: "apps/v1",
        kind: "ReplicaSet",
        selector: selector(&rs),
        replicas: rs.spec.replicas.unwrap_or(1).max(0) as usize,
        template: rs.spec.template.clone().unwrap_or_default(),
        min_ready: i64::from(rs.spec.min_ready_seconds.unwrap_or(0)),
        generation: rs.metadata.generation,
        status: serde_json::to_value(&rs.status).unwrap_or_default(),
        reference: reference(rs.as_ref()),
    };
    let (status, action) = sync(&ctx, &r).await?;
    if let Some(status) = status {
        Api::<ReplicaSet>::namespaced(ctx.client.clone(), &r.ns)
            .patch_status(&r.name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map_err(|source| Error {
                name: r.name.clone(),
                source,
            })?;
    }
    Ok(action)
}

async fn reconcile_rc(rc: Arc<ReplicationController>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if rc.metadata.deletion_timestamp.is_some() {
        ctx.expectations.forget(&rc.uid().unwrap_or_default());
        return Ok(Action::await_change());
    }
    let spec = rc.spec.clone().unwrap_or_default();
    // An RC's selector is a plain map; it defaults to the template's labels.
    let labels = spec
        .selector
        .clone()
        .or_else(|| spec.template.as_ref()?.metadata.as_ref()?.labels.clone())
        .unwrap_or_default();
    let selector = LabelSelector::from_label_selector_json(&json!({"matchLabels": labels}))
        .unwrap_or_else(|_| LabelSelector::nothing());
    let r = Replicated {
        name: rc.name_any(),
        ns: rc.namespace().unwrap_or_default(),
        uid: rc.uid().unwrap_or_default(),
        api_version: "v1",
        kind: "ReplicationController",
        selector,
        replicas: spec.replicas.unwrap_or(1).max(0) as usize,
        template: spec.template.clone().unwrap_or_default(),
        min_ready: i64::from(spec.min_ready_seconds.unwrap_or(0)),
        generation: rc.metadata.generation,
        status: serde_json::to_value(&rc.status).unwrap_or_default(),
        reference: reference(rc.as_ref()),
    };
    let (status, action) = sync(&ctx, &r).await?;
    if let Some(status) = status {
        Api::<ReplicationController>::namespaced(ctx.client.clone(), &r.ns)
            .patch_status(&r.name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map_err(|source| Error {
                name: r.name.clone(),
                source,
            })?;
    }
    Ok(action)
}

/// The selector of a ReplicaSet as a label selector.
pub fn selector(rs: &ReplicaSet) -> LabelSelector {
    let sel = serde_json::to_value(&rs.spec.selector).unwrap_or_default();
    LabelSelector::from_label_selector_json(&sel).unwrap_or_else(|_| LabelSelector::nothing())
}

fn labels_json(p: &Pod) -> serde_json::Map<String, serde_json::Value> {
    p.labels()
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect()
}

/// Create or delete pods toward the wanted count; the status to write, if it changed.
async fn sync(ctx: &Ctx, r: &Replicated) -> Result<(Option<serde_json::Value>, Action), Error> {
    let (name, ns, uid) = (&r.name, &r.ns, &r.uid);
    let err = |source| Error {
        name: name.clone(),
        source,
    };
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let sel = &r.selector;
    let all = ctx.caches.in_namespace::<Pod>(ns).await;
    let owner = controller_ref(r.api_version, r.kind, name, uid);
    let mut owned: Vec<Arc<Pod>> = Vec::new();
    for p in all.iter().cloned() {
        let matches = sel.matches(&labels_json(&p));
        match controller_uid(p.as_ref()) {
            Some(u) if u == *uid && matches => owned.push(p),
            Some(u) if u == *uid => {
                // No longer matching: release it.
                let refs: Vec<_> = p
                    .owner_references()
                    .iter()
                    .filter(|o| o.uid != *uid)
                    .cloned()
                    .collect();
                let patch = json!({"metadata": {"ownerReferences": refs, "uid": p.uid()}});
                let _ = pods_api
                    .patch(
                        &p.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await;
            }
            None if matches && is_active(&p) => {
                let mut refs = p.owner_references().to_vec();
                refs.push(owner.clone());
                let patch = json!({"metadata": {"ownerReferences": refs, "uid": p.uid()}});
                if pods_api
                    .patch(
                        &p.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                    .is_ok()
                {
                    owned.push(p);
                }
            }
            _ => {}
        }
    }
    let active: Vec<&Pod> = owned
        .iter()
        .map(AsRef::as_ref)
        .filter(|p| is_active(p))
        .collect();
    let want = r.replicas;
    let reference = &r.reference;
    // Counting from a cache that has not seen the last pass's writes would act twice.
    let cached: Vec<&Pod> = all.iter().map(AsRef::as_ref).collect();
    let settled = ctx.expectations.satisfied(uid, &cached, &pods_api).await;
    if !settled {
        tracing::debug!(object = %format!("{ns}/{name}"), "waiting for the cache to show earlier writes");
    } else if active.len() < want {
        let template = &r.template;
        // Slow start: batches of 1, 2, 4, ... created side by side, so a broken template
        // fails fast and a good one scales up quickly.
        let mut remaining = (want - active.len()).min(BURST);
        let mut batch = 1;
        while remaining > 0 {
            let n = batch.min(remaining);
            let creates = (0..n).map(|_| {
                pods::create_recorded(
                    &ctx.client,
                    &ctx.recorder,
                    reference,
                    ns,
                    template,
                    name,
                    owner.clone(),
                )
            });
            let created = futures::future::join_all(creates).await;
            let failed = created.iter().any(Option::is_none);
            for pod in created.into_iter().flatten() {
                ctx.expectations.created(uid, pod);
            }
            if failed {
                break;
            }
            remaining -= n;
            batch *= 2;
        }
    } else if active.len() > want {
        let mut victims = active.clone();
        victims.sort_by_key(|p| deletion_rank(p));
        for p in victims.into_iter().take((active.len() - want).min(BURST)) {
            let pn = p.name_any();
            match pods_api.delete(&pn, &DeleteParams::default()).await {
                Ok(_) => {
                    ctx.expectations.deleted(uid, pn.clone());
                    ctx.recorder.publish(
                        reference,
                        EventType::Normal,
                        "SuccessfulDelete",
                        &format!("Deleted pod: {pn}"),
                    )
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(err(e)),
            }
        }
    }
    // Status from the pods as they are now (creations show up on the next pass).
    let now = jiff::Timestamp::now();
    let min_ready = r.min_ready;
    let template_labels = r
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let replicas = active.len();
    let fully_labeled = active
        .iter()
        .filter(|p| {
            template_labels
                .iter()
                .all(|(k, v)| p.labels().get(k) == Some(v))
        })
        .count();
    let ready = active
        .iter()
        .filter(|p| pods::ready_since(p).is_some())
        .count();
    let available = active
        .iter()
        .filter(|p| is_available(p, min_ready, now))
        .count();
    let current = &r.status;
    let count = |k: &str| {
        current
            .get(k)
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0)
    };
    let changed = count("replicas") != replicas as i64
        || count("fullyLabeledReplicas") != fully_labeled as i64
        || count("readyReplicas") != ready as i64
        || count("availableReplicas") != available as i64
        || current
            .get("observedGeneration")
            .and_then(serde_json::Value::as_i64)
            != r.generation;
    let status = changed.then(|| {
        json!({"status": {
            "replicas": replicas, "fullyLabeledReplicas": fully_labeled, "readyReplicas": ready,
            "availableReplicas": available, "observedGeneration": r.generation,
        }})
    });
    let action = if !settled {
        Action::requeue(Duration::from_millis(200))
    } else if ready > available && min_ready > 0 {
        Action::requeue(Duration::from_secs(min_ready as u64))
    } else {
        Action::requeue(Duration::from_secs(30))
    };
    Ok((status, action))
}
