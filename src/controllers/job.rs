//! The Job controller: runs pods from the template until `completions` succeed (at most
//! `parallelism` at once; Indexed mode gives each pod its completion index), retries
//! failures with exponential back-off up to `backoffLimit`, enforces
//! `activeDeadlineSeconds`, and deletes finished Jobs after `ttlSecondsAfterFinished`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::json;

use super::events::{reference, EventType};
use super::pods::{self, controller_ref};
use super::workload::{self, Ctx, Error};
use crate::informer::SharedCaches;

const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// First retry delay; it doubles per failure up to `MAX_BACKOFF` (the job controller's).
const BASE_BACKOFF: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(360);

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    workload::run::<Job, Pod, _, _>(client, caches, "job-controller", reconcile).await;
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn finished_at(p: &Pod) -> Option<jiff::Timestamp> {
    p.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .filter_map(|c| {
            c.state
                .as_ref()?
                .terminated
                .as_ref()?
                .finished_at
                .as_ref()
                .map(|t| t.0)
        })
        .max()
}

fn now_text() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn finished(job: &Job) -> Option<String> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.clone())
}

async fn reconcile(job: Arc<Job>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if job.metadata.deletion_timestamp.is_some() {
        ctx.expectations.forget(&job.uid().unwrap_or_default());
        return Ok(Action::await_change());
    }
    let name = job.name_any();
    let ns = job.namespace().unwrap_or_default();
    let uid = job.uid().unwrap_or_default();
    let err = |source| Error {
        name: name.clone(),
        source,
    };
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let spec = job.spec.clone().unwrap_or_default();
    let status = job.status.clone().unwrap_or_default();

    if finished(&job).is_some() {
        // TTL after finishing: delete the Job (and, by cascade, its pods).
        if let (Some(ttl), Some(done)) = (
            spec.ttl_seconds_after_finished,
            status.completion_time.clone().or_else(|| {
                status
                    .conditions
                    .as_ref()?
                    .iter()
                    .find(|c| c.type_ == "Failed")?
                    .last_transition_time
                    .clone()
            }),
        ) {
            let due = done.0 + jiff::SignedDuration::from_secs(i64::from(ttl));
            let now = jiff::Timestamp::now();
            if now >= due {
                let _ = jobs.delete(&name, &DeleteParams::background()).await;
                return Ok(Action::await_change());
            }
            return Ok(Action::requeue(Duration::from_secs(
                (due.as_second() - now.as_second()).max(1) as u64,
            )));
        }
        return Ok(Action::await_change());
    }

    let Some(all) = workload::settled_pods(&ctx, &ns, &name, &uid, &pods_api).await else {
        return Ok(Action::requeue(workload::SETTLING));
    };
    let owned: Vec<&Pod> = all.iter().map(AsRef::as_ref).collect();
    let active: Vec<&Pod> = owned
        .iter()
        .copied()
        .filter(|p| pods::is_active(p))
        .collect();
    let succeeded: Vec<&Pod> = owned
        .iter()
        .copied()
        .filter(|p| phase(p) == "Succeeded")
        .collect();
    let failed = owned.iter().filter(|p| phase(p) == "Failed").count() as i32;
    let ready = active
        .iter()
        .filter(|p| pods::ready_since(p).is_some())
        .count() as i32;
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let completions = spec.completions;
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let start_time = status
        .start_time
        .clone()
        .map(|t| t.0)
        .unwrap_or_else(jiff::Timestamp::now);
    let reference = reference(job.as_ref());

    let succeeded_indexes: BTreeSet<i32> = succeeded
        .iter()
        .filter_map(|p| p.annotations().get(INDEX_ANNOTATION)?.parse().ok())
        .collect();
    let succeeded_count = if indexed {
        succeeded_indexes.len() as i32
    } else {
        succeeded.len() as i32
    };
    let complete = match completions {
        Some(c) => succeeded_count >= c,
        // Work-queue jobs finish when any pod succeeded and none still runs.
        None => succeeded_count > 0 && active.is_empty(),
    };
    let mut failure: Option<(&str, String)> = None;
    if failed > backoff_limit {
        failure = Some((
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit".into(),
        ));
    } else if let Some(deadline) = spec.active_deadline_seconds {
        if jiff::Timestamp::now().duration_since(start_time).as_secs() >= deadline {
            failure = Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline".into(),
            ));
        }
    }

    let mut conditions = status
        .conditions
        .clone()
        .map(|c| serde_json::to_value(c).unwrap_or_default())
        .unwrap_or(json!([]));
    let now = now_text();
    let mut completion_time = status
        .completion_time
        .clone()
        .map(|t| json!(t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
    let mut requeue = Duration::from_secs(30);
    if let Some((reason, message)) = &failure {
        for p in &active {
            if pods_api
                .delete(&p.name_any(), &DeleteParams::background())
                .await
                .is_ok()
            {
                ctx.expectations.deleted(&uid, p.name_any());
            }
        }
        let cond = |t: &str| json!({"type": t, "status": "True", "reason": reason, "message": message, "lastProbeTime": now, "lastTransitionTime": now});
        conditions = json!([cond("FailureTarget"), cond("Failed")]);
        ctx.recorder
            .publish(&reference, EventType::Warning, reason, message);
    } else if complete {
        let cond = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "reason": reason, "message": message, "lastProbeTime": now, "lastTransitionTime": now});
        conditions = json!([
            cond(
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods"
            ),
            cond(
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods"
            ),
        ]);
        completion_time = Some(json!(now));
        ctx.recorder
            .publish(&reference, EventType::Normal, "Completed", "Job completed");
    } else if !spec.suspend.unwrap_or(false) {
        // Back off after failures before starting replacements.
        let last_failure = owned
            .iter()
            .copied()
            .filter(|p| phase(p) == "Failed")
            .filter_map(finished_at)
            .max();
        let delay = if failed > 0 {
            BASE_BACKOFF
                .saturating_mul(1 << (failed - 1).min(6))
                .min(MAX_BACKOFF)
        } else {
            Duration::ZERO
        };
        let wait = last_failure
            .map(|t| {
                delay.saturating_sub(Duration::from_secs(
                    jiff::Timestamp::now().duration_since(t).as_secs().max(0) as u64,
                ))
            })
            .unwrap_or(Duration::ZERO);
        if wait > Duration::ZERO {
            requeue = wait;
        } else {
            let remaining = match completions {
                Some(c) => (c - succeeded_count - active.len() as i32).max(0),
                None => {
                    if succeeded_count > 0 {
                        0
                    } else {
                        parallelism - active.len() as i32
                    }
                }
            };
            let to_start = remaining.min(parallelism - active.len() as i32).max(0);
            let busy: BTreeSet<i32> = active
                .iter()
                .filter_map(|p| p.annotations().get(INDEX_ANNOTATION)?.parse().ok())
                .chain(succeeded_indexes.iter().copied())
                .collect();
            let mut free_indexes = (0..completions.unwrap_or(0)).filter(|i| !busy.contains(i));
            for _ in 0..to_start {
                let mut template = spec.template.clone();
                if indexed {
                    let Some(index) = free_indexes.next() else {
                        break;
                    };
                    let meta = template.metadata.get_or_insert_with(Default::default);
                    meta.annotations
                        .get_or_insert_with(Default::default)
                        .insert(INDEX_ANNOTATION.into(), index.to_string());
                    meta.labels
                        .get_or_insert_with(Default::default)
                        .insert(INDEX_ANNOTATION.into(), index.to_string());
                    if let Some(ps) = template.spec.as_mut() {
                        ps.hostname = Some(format!("{name}-{index}"));
                        for c in ps
                            .containers
                            .iter_mut()
                            .chain(ps.init_containers.iter_mut().flatten())
                        {
                            c.env.get_or_insert_with(Vec::new).push(EnvVar {
                                name: "JOB_COMPLETION_INDEX".into(),
                                value_from: Some(serde_json::from_value(json!({"fieldRef": {"fieldPath": format!("metadata.annotations['{INDEX_ANNOTATION}']")}})).unwrap_or_default()),
                                value: None,
                            });
                        }
                    }
                }
                match pods::create_recorded(
                    &ctx.client,
                    &ctx.recorder,
                    &reference,
                    &ns,
                    &template,
                    &name,
                    controller_ref("batch/v1", "Job", &name, &uid),
                )
                .await
                {
                    Some(pod) => ctx.expectations.created(&uid, pod),
                    None => break,
                }
            }
        }
        if let Some(deadline) = spec.active_deadline_seconds {
            let left = deadline - jiff::Timestamp::now().duration_since(start_time).as_secs();
            requeue = requeue.min(Duration::from_secs(left.max(1) as u64));
        }
    }
    let mut new_status = json!({
        "active": if failure.is_some() || complete { 0 } else { active.len() as i32 },
        "succeeded": succeeded_count, "failed": failed, "ready": ready,
        "startTime": start_time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "conditions": conditions,
        "uncountedTerminatedPods": {},
    });
    if let Some(t) = completion_time {
        new_status["completionTime"] = t;
    }
    if indexed && !succeeded_indexes.is_empty() {
        new_status["completedIndexes"] = json!(compress_indexes(&succeeded_indexes));
    }
    let current = serde_json::to_value(&status).unwrap_or_default();
    let differs = ["active", "succeeded", "failed", "ready", "completedIndexes"]
        .iter()
        .any(|k| current.get(*k).unwrap_or(&json!(0)) != new_status.get(*k).unwrap_or(&json!(0)))
        || status.start_time.is_none()
        || current
            .get("conditions")
            .and_then(|c| c.as_array())
            .map(Vec::len)
            .unwrap_or(0)
            != new_status["conditions"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0);
    if differs {
        jobs.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": new_status})),
        )
        .await
        .map_err(err)?;
    }
    Ok(Action::requeue(requeue))
}

/// `1,3-5,7` from a set of indexes, as `status.completedIndexes` writes them.
fn compress_indexes(set: &BTreeSet<i32>) -> String {
    let mut parts = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes() {
        let s: BTreeSet<i32> = [0, 1, 2, 4, 6, 7].into_iter().collect();
        assert_eq!(compress_indexes(&s), "0-2,4,6-7");
    }
}
