//! The DaemonSet controller: one pod per eligible node (nodeSelector, required node
//! affinity, taints against the pod's tolerations plus the DaemonSet defaults), each
//! pinned to its node by affinity on `metadata.name` and bound by the scheduler; pods
//! of an older template are replaced node by node within maxUnavailable. Each template is
//! kept as a ControllerRevision for `kubectl rollout history` and `undo`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::json;

use super::deployment::template_hash;
use super::events::reference;
use super::history;
use super::pods::{self, controller_ref, is_active, is_available};
use super::workload::{self, Ctx, Error};
use crate::informer::SharedCaches;
use crate::scheduler::filter;

const HASH_LABEL: &str = "controller-revision-hash";

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    workload::run::<DaemonSet, Pod, _, _>(client, caches, "daemonset-controller", reconcile).await;
}

/// The tolerations every daemon pod gets, so it runs on not-ready or pressured nodes.
fn with_default_tolerations(template: &mut PodTemplateSpec) {
    let Some(spec) = template.spec.as_mut() else {
        return;
    };
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for (key, effect) in [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ] {
        if !tolerations.iter().any(|t| t.key.as_deref() == Some(key)) {
            if let Ok(t) =
                serde_json::from_value(json!({"key": key, "operator": "Exists", "effect": effect}))
            {
                tolerations.push(t);
            }
        }
    }
}

/// The template for `node`: defaults, the revision hash, and affinity to that node only.
fn pod_template(ds: &DaemonSet, hash: &str, node: &str) -> PodTemplateSpec {
    let mut t = ds.spec.template.clone();
    with_default_tolerations(&mut t);
    t.metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default)
        .insert(HASH_LABEL.into(), hash.to_string());
    if let Some(spec) = t.spec.as_mut() {
        let affinity = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
        ]}}});
        spec.affinity = serde_json::from_value(affinity).ok();
    }
    t
}

async fn reconcile(ds: Arc<DaemonSet>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if ds.metadata.deletion_timestamp.is_some() {
        ctx.expectations.forget(&ds.uid().unwrap_or_default());
        return Ok(Action::await_change());
    }
    let name = ds.name_any();
    let ns = ds.namespace().unwrap_or_default();
    let uid = ds.uid().unwrap_or_default();
    let err = |source| Error {
        name: name.clone(),
        source,
    };
    let template = serde_json::to_value(&ds.spec.template).unwrap_or_default();
    let hash = template_hash(&template, 0);
    let nodes = ctx.caches.all::<Node>().await;
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(all) = workload::settled_pods(&ctx, &ns, &name, &uid, &pods_api).await else {
        return Ok(Action::requeue(workload::SETTLING));
    };
    let owned: Vec<&Pod> = all.iter().map(AsRef::as_ref).collect();
    // Pods carry the hash; the revision is `<ds>-<hash>`.
    let in_use = owned
        .iter()
        .filter_map(|p| Some(format!("{name}-{}", p.labels().get(HASH_LABEL)?)))
        .collect();
    let owner = history::Owner {
        kind: "DaemonSet",
        name: &name,
        namespace: &ns,
        uid: &uid,
        annotations: ds.annotations(),
        history_limit: ds.spec.revision_history_limit.unwrap_or(10),
    };
    history::record(
        &ctx.client,
        &owner,
        &format!("{name}-{hash}"),
        &template,
        &in_use,
    )
    .await
    .map_err(err)?;
    let node_of = |p: &Pod| -> String {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .or_else(|| {
                let a = serde_json::to_value(p.spec.as_ref()?.affinity.as_ref()?).ok()?;
                a.pointer("/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")?
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default()
    };
    let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for p in owned.iter().copied().filter(|p| is_active(p)) {
        by_node.entry(node_of(p)).or_default().push(p);
    }
    let reference = reference(ds.as_ref());
    let owner = controller_ref("apps/v1", "DaemonSet", &name, &uid);
    let min_ready = i64::from(ds.spec.min_ready_seconds.unwrap_or(0));
    let now = jiff::Timestamp::now();
    let mut desired = 0;
    let mut eligible_names = Vec::new();
    for node in &nodes {
        let node_name = node.name_any();
        let probe = Pod {
            metadata: Default::default(),
            spec: pod_template(&ds, &hash, &node_name).spec,
            status: None,
        };
        // Fit by selector, affinity and taints; resources are the scheduler's business.
        let fits = filter::rejects(&probe, node, &[])
            .iter()
            .all(|r| matches!(r, filter::Reject::Insufficient(_)));
        if !fits {
            continue;
        }
        desired += 1;
        eligible_names.push(node_name.clone());
        if by_node.get(&node_name).is_none_or(|v| v.is_empty()) {
            let template = pod_template(&ds, &hash, &node_name);
            if let Some(pod) = pods::create_recorded(
                &ctx.client,
                &ctx.recorder,
                &reference,
                &ns,
                &template,
                &name,
                owner.clone(),
            )
            .await
            {
                ctx.expectations.created(&uid, pod);
            }
        }
    }
    // Pods on nodes that are no longer eligible go; old-template pods roll within budget.
    let max_unavailable = match ds
        .spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.clone())
    {
        Some(IntOrString::Int(n)) => n.max(1),
        Some(IntOrString::String(p)) => ((p.trim_end_matches('%').parse::<f64>().unwrap_or(0.0)
            * f64::from(desired)
            / 100.0) as i32)
            .max(1),
        None => 1,
    };
    let on_delete = ds
        .spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.type_.as_deref())
        == Some("OnDelete");
    let unavailable = by_node
        .values()
        .flatten()
        .filter(|p| !is_available(p, min_ready, now))
        .count() as i32;
    let mut budget = (max_unavailable - unavailable).max(0);
    let mut misscheduled = 0;
    for (node, pods_here) in &by_node {
        for p in pods_here {
            let stale = p.labels().get(HASH_LABEL) != Some(&hash);
            let wrong_node = !eligible_names.contains(node);
            if wrong_node {
                misscheduled += 1;
            }
            let extra = pods_here.len() > 1 && !std::ptr::eq(*p, pods_here[0]);
            if wrong_node || extra || (stale && !on_delete && budget > 0) {
                if stale && !wrong_node && !extra {
                    budget -= 1;
                }
                if workload::delete_recorded(
                    &pods_api,
                    &p.name_any(),
                    &DeleteParams::default(),
                    &ctx,
                    &reference,
                    &format!("Deleted pod: {}", p.name_any()),
                )
                .await
                {
                    ctx.expectations.deleted(&uid, p.name_any());
                }
            }
        }
    }
    let current: Vec<&Pod> = by_node
        .iter()
        .filter(|(n, _)| eligible_names.contains(n))
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let ready = current
        .iter()
        .filter(|p| pods::ready_since(p).is_some())
        .count() as i32;
    let available = current
        .iter()
        .filter(|p| is_available(p, min_ready, now))
        .count() as i32;
    let updated = current
        .iter()
        .filter(|p| p.labels().get(HASH_LABEL) == Some(&hash))
        .count() as i32;
    let status = json!({"status": {
        "desiredNumberScheduled": desired, "currentNumberScheduled": current.len() as i32,
        "numberReady": ready, "numberAvailable": available, "numberUnavailable": (desired - available).max(0),
        "updatedNumberScheduled": updated, "numberMisscheduled": misscheduled,
        "observedGeneration": ds.metadata.generation,
    }});
    let old = serde_json::to_value(&ds.status).unwrap_or_default();
    let differs = status["status"]
        .as_object()
        .is_some_and(|m| m.iter().any(|(k, v)| old.get(k).unwrap_or(&json!(0)) != v));
    if differs {
        Api::<DaemonSet>::namespaced(ctx.client.clone(), &ns)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map_err(err)?;
    }
    Ok(Action::requeue(Duration::from_secs(10)))
}
