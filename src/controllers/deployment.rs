//! The Deployment controller: one ReplicaSet per pod template (`<name>-<pod-template-hash>`),
//! rolled by RollingUpdate within maxSurge/maxUnavailable or by Recreate, with revision
//! history for `kubectl rollout`, and the status and conditions `rollout status` reads.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::{json, Value};

use super::events::{reference, EventType};
use super::pods::{controller_ref, controller_uid};
use super::workload::{self, Ctx, Error};
use crate::informer::SharedCaches;

const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";
const HASH_LABEL: &str = "pod-template-hash";

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    workload::run::<Deployment, ReplicaSet, _, _>(
        client,
        caches,
        "deployment-controller",
        reconcile,
    )
    .await;
}

/// Keys sorted at every level (as Go marshals maps), so equal templates hash equally.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The pod-template-hash: FNV-32a of the template (and the collision count), rendered with
/// Kubernetes' SafeEncodeString alphabet.
pub fn template_hash(template: &Value, collision_count: i32) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    feed(canonical(template).to_string().as_bytes());
    if collision_count > 0 {
        feed(collision_count.to_string().as_bytes());
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string()
        .bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

fn template_of(d: &Deployment) -> Value {
    serde_json::to_value(&d.spec.template).unwrap_or(Value::Null)
}

/// An RS template without its pod-template-hash label, to compare with the deployment's.
fn rs_template_without_hash(rs: &ReplicaSet) -> Value {
    let mut t = serde_json::to_value(&rs.spec.template).unwrap_or(Value::Null);
    if let Some(l) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        l.remove(HASH_LABEL);
    }
    canonical(&t)
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get(REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(0)
}

fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

/// maxSurge/maxUnavailable against `replicas` (surge rounds up, unavailable down).
fn resolve(v: Option<&IntOrString>, replicas: i32, round_up: bool, default: &str) -> i32 {
    let s = match v {
        Some(IntOrString::Int(n)) => return *n,
        Some(IntOrString::String(s)) => s.clone(),
        None => default.to_string(),
    };
    let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(25.0);
    let x = pct * f64::from(replicas) / 100.0;
    if round_up {
        x.ceil() as i32
    } else {
        x.floor() as i32
    }
}

async fn scale(
    ctx: &Ctx,
    d: &Deployment,
    rs: &ReplicaSet,
    to: i32,
    max_surge: i32,
) -> Result<(), kube::Error> {
    let from = spec_replicas(rs);
    let want = d.spec.replicas.unwrap_or(1);
    let annotations_ok = rs.annotations().get(DESIRED) == Some(&want.to_string());
    if from == to && annotations_ok {
        return Ok(());
    }
    let ns = rs.namespace().unwrap_or_default();
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    // The resourceVersion makes a scale computed from a stale cache a conflict, retried.
    let patch = json!({
        "metadata": {
            "annotations": {DESIRED: want.to_string(), MAX_REPLICAS: (want + max_surge).to_string()},
            "resourceVersion": rs.resource_version(),
        },
        "spec": {"replicas": to},
    });
    api.patch(
        &rs.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    if from != to {
        let verb = if to > from { "up" } else { "down" };
        ctx.recorder.publish(
            &reference(d),
            EventType::Normal,
            "ScalingReplicaSet",
            &format!(
                "Scaled {verb} replica set {} from {from} to {to}",
                rs.name_any()
            ),
        );
    }
    Ok(())
}

async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if d.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = d.name_any();
    let ns = d.namespace().unwrap_or_default();
    let uid = d.uid().unwrap_or_default();
    let err = |source| Error {
        name: name.clone(),
        source,
    };
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    // From the shared cache: a stale entry makes a scale conflict (the patch carries its
    // resourceVersion) and a create meet the ReplicaSet it did not show yet.
    let mut sets: Vec<ReplicaSet> = ctx
        .caches
        .in_namespace::<ReplicaSet>(&ns)
        .await
        .into_iter()
        .filter(|rs| controller_uid(rs.as_ref()).as_deref() == Some(uid.as_str()))
        .map(Arc::unwrap_or_clone)
        .collect();
    sets.sort_by_key(|rs| {
        rs.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default()
    });
    let template = template_of(&d);
    let want_template = canonical(&template);
    let replicas = d.spec.replicas.unwrap_or(1);
    let max_revision = sets.iter().map(revision).max().unwrap_or(0);
    let paused = d.spec.paused.unwrap_or(false);
    let change_cause = d.annotations().get(CHANGE_CAUSE).cloned();

    let mut new_rs = sets
        .iter()
        .find(|rs| rs_template_without_hash(rs) == want_template)
        .cloned();
    let strategy = d.spec.strategy.clone().unwrap_or_default();
    let recreate = strategy.type_.as_deref() == Some("Recreate");
    let ru = strategy.rolling_update.clone().unwrap_or_default();
    let mut max_surge = resolve(ru.max_surge.as_ref(), replicas, true, "25%");
    let mut max_unavailable = resolve(ru.max_unavailable.as_ref(), replicas, false, "25%");
    if recreate {
        max_surge = 0;
        max_unavailable = replicas;
    } else if max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }

    if new_rs.is_none() && !paused {
        let collision = d
            .status
            .as_ref()
            .and_then(|s| s.collision_count)
            .unwrap_or(0);
        let hash = template_hash(&template, collision);
        let mut rs_template = d.spec.template.clone();
        rs_template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut selector = d.spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut annotations = std::collections::BTreeMap::new();
        annotations.insert(REVISION.to_string(), (max_revision + 1).to_string());
        annotations.insert(DESIRED.to_string(), replicas.to_string());
        annotations.insert(MAX_REPLICAS.to_string(), (replicas + max_surge).to_string());
        if let Some(c) = &change_cause {
            annotations.insert(CHANGE_CAUSE.to_string(), c.clone());
        }
        let rs = ReplicaSet {
            metadata: kube::api::ObjectMeta {
                name: Some(format!("{name}-{hash}")),
                namespace: Some(ns.clone()),
                labels: rs_template.metadata.as_ref().and_then(|m| m.labels.clone()),
                annotations: Some(annotations),
                owner_references: Some(vec![controller_ref("apps/v1", "Deployment", &name, &uid)]),
                ..Default::default()
            },
            spec: k8s_openapi::api::apps::v1::ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: d.spec.min_ready_seconds,
                selector,
                template: Some(rs_template),
            },
            status: None,
        };
        match api.create(&PostParams::default(), &rs).await {
            Ok(created) => {
                new_rs = Some(created.clone());
                sets.push(created);
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // Ours already, created by an earlier pass that the cache does not show yet.
                let existing = api.get_opt(&format!("{name}-{hash}")).await.map_err(err)?;
                if let Some(rs) = existing.filter(|rs| {
                    controller_uid(rs).as_deref() == Some(uid.as_str())
                        && rs_template_without_hash(rs) == want_template
                }) {
                    tracing::debug!(replicaset = %rs.name_any(), "the cache does not show it yet");
                    return Ok(Action::requeue(Duration::from_millis(100)));
                }
                // Same name, other template: a hash collision; try again with a new count.
                let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
                let patch = json!({"status": {"collisionCount": collision + 1}});
                deployments
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(err)?;
                return Ok(Action::requeue(Duration::from_millis(100)));
            }
            Err(e) => return Err(err(e)),
        }
    } else if let Some(rs) = &new_rs {
        // A rollback to an older template makes that ReplicaSet the newest revision.
        let mut annotations = serde_json::Map::new();
        if revision(rs) < max_revision {
            annotations.insert(REVISION.into(), json!((max_revision + 1).to_string()));
        }
        if let Some(c) = &change_cause {
            if rs.annotations().get(CHANGE_CAUSE) != Some(c) {
                annotations.insert(CHANGE_CAUSE.into(), json!(c));
            }
        }
        if !annotations.is_empty() && !paused {
            let patch = json!({"metadata": {"annotations": annotations}});
            let updated = api
                .patch(
                    &rs.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .map_err(err)?;
            new_rs = Some(updated);
        }
    }

    let mut next = Duration::from_secs(10);
    let new_name = new_rs.as_ref().map(|r| r.name_any());
    let olds: Vec<ReplicaSet> = sets
        .iter()
        .filter(|rs| Some(rs.name_any()) != new_name)
        .cloned()
        .collect();
    if let Some(new) = &new_rs {
        if recreate {
            let old_running: i32 = olds
                .iter()
                .map(|rs| spec_replicas(rs) + rs.status.as_ref().map(|s| s.replicas).unwrap_or(0))
                .sum::<i32>()
                + old_pods_running(&ctx, &ns, &olds).await as i32;
            for rs in &olds {
                scale(&ctx, &d, rs, 0, max_surge).await.map_err(err)?;
            }
            if old_running == 0 {
                scale(&ctx, &d, new, replicas, max_surge)
                    .await
                    .map_err(err)?;
            } else {
                // A pod going away triggers no pass of its deployment: look again soon.
                next = OLD_PODS_POLL;
            }
        } else if paused {
            // A paused rollout only follows scaling of the current template.
            if olds.iter().all(|rs| spec_replicas(rs) == 0) {
                scale(&ctx, &d, new, replicas, max_surge)
                    .await
                    .map_err(err)?;
            }
        } else {
            // Scale up the new ReplicaSet within maxSurge.
            let total: i32 = sets.iter().map(spec_replicas).sum();
            let new_spec = spec_replicas(new);
            let mut new_target = new_spec;
            if new_spec > replicas {
                new_target = replicas;
            } else if new_spec < replicas {
                let room = replicas + max_surge - total;
                new_target = new_spec + room.clamp(0, replicas - new_spec);
            }
            scale(&ctx, &d, new, new_target, max_surge)
                .await
                .map_err(err)?;
            // Scale down old ReplicaSets while keeping minAvailable.
            let min_available = replicas - max_unavailable;
            let all_available: i32 = sets.iter().map(available).sum();
            let mut can_remove = (all_available - min_available).max(0);
            let new_unavailable = (new_target - available(new)).max(0);
            let all_spec: i32 = olds.iter().map(spec_replicas).sum::<i32>() + new_target;
            // Unhealthy old replicas can always go first, up to what the budget allows.
            let mut cleanup = (all_spec - min_available - new_unavailable).max(0);
            for rs in &olds {
                let current = spec_replicas(rs);
                if current == 0 {
                    continue;
                }
                let unhealthy = (current - available(rs)).max(0);
                let drop_unhealthy = unhealthy.min(cleanup);
                cleanup -= drop_unhealthy;
                let after_cleanup = current - drop_unhealthy;
                let drop_healthy = after_cleanup.min(can_remove);
                can_remove -= drop_healthy;
                let target = after_cleanup - drop_healthy;
                if target != current {
                    scale(&ctx, &d, rs, target, max_surge).await.map_err(err)?;
                }
            }
        }
        // History: drop fully scaled-down old ReplicaSets beyond revisionHistoryLimit.
        let limit = d.spec.revision_history_limit.unwrap_or(10).max(0) as usize;
        let mut idle: Vec<&ReplicaSet> = olds
            .iter()
            .filter(|rs| {
                spec_replicas(rs) == 0 && rs.status.as_ref().map(|s| s.replicas).unwrap_or(0) == 0
            })
            .collect();
        idle.sort_by_key(|rs| revision(rs));
        if idle.len() > limit {
            for rs in idle.iter().take(idle.len() - limit) {
                let _ = api
                    .delete(&rs.name_any(), &DeleteParams::background())
                    .await;
            }
        }
    }

    update_status(&ctx, &d, &sets, new_rs.as_ref(), max_unavailable)
        .await
        .map_err(err)?;
    Ok(Action::requeue(next))
}

/// How soon a Recreate rollout looks again while old pods are still there.
const OLD_PODS_POLL: Duration = Duration::from_millis(500);

/// Pods of the old ReplicaSets that are not finished, terminating ones included, as
/// upstream's `oldPodsRunning` counts them: Recreate starts new pods only once these are
/// gone, so the two never run side by side (on the same host port, say).
async fn old_pods_running(ctx: &Ctx, ns: &str, olds: &[ReplicaSet]) -> usize {
    let old: std::collections::HashSet<String> = olds.iter().filter_map(|rs| rs.uid()).collect();
    ctx.caches
        .in_namespace::<Pod>(ns)
        .await
        .iter()
        .filter(|p| controller_uid(p.as_ref()).is_some_and(|u| old.contains(&u)))
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed" | "Unknown"))
        })
        .count()
}

fn cond_of(d: &Deployment, kind: &str) -> Option<Value> {
    serde_json::to_value(
        d.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_.as_deref() == Some(kind))?,
    )
    .ok()
}

fn condition(
    old: Option<Value>,
    kind: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &str,
    progressed: bool,
) -> Value {
    let same = old
        .as_ref()
        .is_some_and(|c| c["status"] == status && c["reason"] == reason);
    let transition = match &old {
        Some(c) if c["status"] == status => c["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let update = match &old {
        Some(c) if same && !progressed => c["lastUpdateTime"].clone(),
        _ => json!(now),
    };
    json!({"type": kind, "status": status, "reason": reason, "message": message,
           "lastUpdateTime": update, "lastTransitionTime": transition})
}

async fn update_status(
    ctx: &Ctx,
    d: &Deployment,
    sets: &[ReplicaSet],
    new_rs: Option<&ReplicaSet>,
    max_unavailable: i32,
) -> Result<(), kube::Error> {
    // Only the ReplicaSets' status counts here, which scaling them in this pass leaves
    // alone: the cached sets serve, as the listers do upstream.
    let fresh = sets;
    let ns = d.namespace().unwrap_or_default();
    let st = |rs: &ReplicaSet, f: fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> i32| {
        rs.status.as_ref().map(f).unwrap_or(0)
    };
    let total: i32 = fresh.iter().map(|rs| st(rs, |s| s.replicas)).sum();
    let ready: i32 = fresh
        .iter()
        .map(|rs| st(rs, |s| s.ready_replicas.unwrap_or(0)))
        .sum();
    let avail: i32 = fresh
        .iter()
        .map(|rs| st(rs, |s| s.available_replicas.unwrap_or(0)))
        .sum();
    let new_fresh = new_rs.and_then(|n| fresh.iter().find(|r| r.name_any() == n.name_any()));
    let updated = new_fresh.map(|rs| st(rs, |s| s.replicas)).unwrap_or(0);
    let replicas = d.spec.replicas.unwrap_or(1);
    let unavailable = (replicas - avail).max(0);
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let old_status = d.status.clone().unwrap_or_default();
    let progressed = old_status.updated_replicas.unwrap_or(0) != updated
        || old_status.available_replicas.unwrap_or(0) != avail
        || old_status.ready_replicas.unwrap_or(0) != ready;
    let available_cond = if avail >= replicas - max_unavailable {
        condition(
            cond_of(d, "Available"),
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            &now,
            false,
        )
    } else {
        condition(
            cond_of(d, "Available"),
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            &now,
            false,
        )
    };
    let rs_name = new_rs.map(|r| r.name_any()).unwrap_or_default();
    let complete =
        updated == replicas && avail == replicas && total == replicas && new_rs.is_some();
    let old_progress = cond_of(d, "Progressing");
    let deadline = d.spec.progress_deadline_seconds.unwrap_or(600) as i64;
    let progressing = if d.spec.paused.unwrap_or(false) {
        condition(
            old_progress,
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            &now,
            false,
        )
    } else if complete {
        condition(
            old_progress,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            &now,
            progressed,
        )
    } else {
        let last_update = old_progress
            .as_ref()
            .and_then(|c| c["lastUpdateTime"].as_str())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let timed_out = !progressed
            && last_update
                .is_some_and(|t| jiff::Timestamp::now().duration_since(t).as_secs() > deadline)
            && old_progress
                .as_ref()
                .is_some_and(|c| c["reason"] != "NewReplicaSetAvailable");
        if timed_out {
            condition(
                old_progress,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                &format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
                &now,
                false,
            )
        } else {
            condition(
                old_progress,
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                &format!("ReplicaSet \"{rs_name}\" is progressing."),
                &now,
                progressed,
            )
        }
    };
    let status = json!({
        "observedGeneration": d.metadata.generation,
        "replicas": total, "updatedReplicas": updated, "readyReplicas": ready,
        "availableReplicas": avail, "unavailableReplicas": unavailable,
        "conditions": [available_cond, progressing],
        "collisionCount": old_status.collision_count,
    });
    let current = serde_json::to_value(&old_status).unwrap_or(Value::Null);
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let revision = new_fresh.map(revision).unwrap_or(0);
    if revision > 0 && d.annotations().get(REVISION) != Some(&revision.to_string()) {
        let patch = json!({"metadata": {"annotations": {REVISION: revision.to_string()}}});
        deployments
            .patch(
                &d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
    }
    let unchanged = [
        "observedGeneration",
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
    ]
    .iter()
    .all(|k| current.get(*k).unwrap_or(&json!(0)) == status.get(*k).unwrap_or(&json!(0)))
        && current
            .get("conditions")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .map(|x| {
                        (
                            x["type"].clone(),
                            x["status"].clone(),
                            x["reason"].clone(),
                            x["message"].clone(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            == status["conditions"].as_array().map(|c| {
                c.iter()
                    .map(|x| {
                        (
                            x["type"].clone(),
                            x["status"].clone(),
                            x["reason"].clone(),
                            x["message"].clone(),
                        )
                    })
                    .collect::<Vec<_>>()
            });
    if !unchanged {
        deployments
            .patch_status(
                &d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await?;
    }
    Ok(())
}
