//! The CronJob controller: creates a Job `<cronjob>-<minutes since epoch>` at each
//! scheduled time (in `timeZone`, UTC by default), honouring suspend,
//! startingDeadlineSeconds and concurrencyPolicy, records lastScheduleTime,
//! lastSuccessfulTime and active Jobs, and prunes finished Jobs beyond the history limits.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::json;

use super::events::{reference, EventType};
use super::pods::{controller_ref, controller_uid};
use super::workload::{self, Ctx, Error};
use crate::informer::SharedCaches;
use crate::resources::validation::Schedule;

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    workload::run::<CronJob, Job, _, _>(client, caches, "cronjob-controller", reconcile).await;
}

fn finished(job: &Job) -> Option<&str> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn reconcile(cj: Arc<CronJob>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if cj.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = cj.name_any();
    let ns = cj.namespace().unwrap_or_default();
    let uid = cj.uid().unwrap_or_default();
    let err = |source| Error {
        name: name.clone(),
        source,
    };
    let spec = cj.spec.clone();
    let status = cj.status.clone().unwrap_or_default();
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let cronjobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
    let reference = reference(cj.as_ref());
    let mut jobs: Vec<Job> = jobs_api
        .list(&ListParams::default())
        .await
        .map_err(err)?
        .items
        .into_iter()
        .filter(|j| controller_uid(j).as_deref() == Some(uid.as_str()))
        .collect();
    jobs.sort_by_key(|j| j.metadata.creation_timestamp.as_ref().map(|t| t.0));

    // History limits over finished Jobs, oldest first.
    for (kind, limit) in [
        ("Complete", spec.successful_jobs_history_limit.unwrap_or(3)),
        ("Failed", spec.failed_jobs_history_limit.unwrap_or(1)),
    ] {
        let done: Vec<&Job> = jobs.iter().filter(|j| finished(j) == Some(kind)).collect();
        let surplus = done.len().saturating_sub(limit.max(0) as usize);
        for j in done.into_iter().take(surplus) {
            workload::delete_recorded(
                &jobs_api,
                &j.name_any(),
                &DeleteParams::background(),
                &ctx,
                &reference,
                &format!("Deleted job {}", j.name_any()),
            )
            .await;
        }
    }
    let active: Vec<&Job> = jobs
        .iter()
        .filter(|j| finished(j).is_none() && j.metadata.deletion_timestamp.is_none())
        .collect();

    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            ctx.recorder.publish(
                &reference,
                EventType::Warning,
                "UnparseableSchedule",
                &format!("unparseable schedule: {:?} : {e}", spec.schedule),
            );
            return Ok(Action::await_change());
        }
    };
    let zone_name = spec
        .time_zone
        .clone()
        .or(schedule.zone.clone())
        .unwrap_or_else(|| "UTC".into());
    let Ok(zone) = jiff::tz::TimeZone::get(&zone_name) else {
        ctx.recorder.publish(
            &reference,
            EventType::Warning,
            "UnknownTimeZone",
            &format!("invalid timeZone: {zone_name:?}"),
        );
        return Ok(Action::await_change());
    };
    let now = jiff::Timestamp::now();
    let since = status
        .last_schedule_time
        .as_ref()
        .map(|t| t.0)
        .or_else(|| cj.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(now);
    // The most recent scheduled time in (since, now], if any.
    let mut due = None;
    let mut cursor = since.to_zoned(zone.clone()).datetime();
    for _ in 0..1000 {
        let Some(next) = schedule.next_after(cursor) else {
            break;
        };
        let Ok(at) = next.to_zoned(zone.clone()) else {
            break;
        };
        if at.timestamp() > now {
            break;
        }
        due = Some(at.timestamp());
        cursor = next;
    }
    let mut last_schedule = status.last_schedule_time.as_ref().map(|t| rfc3339(t.0));
    if let (Some(at), false) = (due, spec.suspend.unwrap_or(false)) {
        let too_late = spec
            .starting_deadline_seconds
            .is_some_and(|d| now.duration_since(at).as_secs() > d);
        let policy = spec
            .concurrency_policy
            .clone()
            .unwrap_or_else(|| "Allow".into());
        if too_late {
            ctx.recorder.publish(
                &reference,
                EventType::Warning,
                "MissSchedule",
                &format!("Missed scheduled time to start a job: {}", rfc3339(at)),
            );
            last_schedule = Some(rfc3339(at));
        } else if policy == "Forbid" && !active.is_empty() {
            ctx.recorder
                .publish(&reference, EventType::Normal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid");
        } else {
            if policy == "Replace" {
                for j in &active {
                    workload::delete_recorded(
                        &jobs_api,
                        &j.name_any(),
                        &DeleteParams::background(),
                        &ctx,
                        &reference,
                        &format!("Deleted job {}", j.name_any()),
                    )
                    .await;
                }
            }
            let job_name = format!("{name}-{}", at.as_second() / 60);
            let template = spec.job_template.clone();
            let mut meta = template.metadata.clone().unwrap_or_default();
            meta.name = Some(job_name.clone());
            meta.namespace = Some(ns.clone());
            meta.owner_references = Some(vec![controller_ref("batch/v1", "CronJob", &name, &uid)]);
            meta.annotations
                .get_or_insert_with(Default::default)
                .insert(
                    "batch.kubernetes.io/cronjob-scheduled-timestamp".into(),
                    rfc3339(at),
                );
            let job = Job {
                metadata: meta,
                spec: template.spec.clone(),
                status: None,
            };
            match jobs_api.create(&PostParams::default(), &job).await {
                Ok(_) => ctx.recorder.publish(
                    &reference,
                    EventType::Normal,
                    "SuccessfulCreate",
                    &format!("Created job {job_name}"),
                ),
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(err(e)),
            }
            last_schedule = Some(rfc3339(at));
        }
    }

    let last_success = jobs
        .iter()
        .filter(|j| finished(j) == Some("Complete"))
        .filter_map(|j| j.status.as_ref()?.completion_time.as_ref().map(|t| t.0))
        .max()
        .map(rfc3339)
        .or_else(|| status.last_successful_time.as_ref().map(|t| rfc3339(t.0)));
    let fresh: Vec<Job> = jobs_api
        .list(&ListParams::default())
        .await
        .map_err(err)?
        .items
        .into_iter()
        .filter(|j| controller_uid(j).as_deref() == Some(uid.as_str()) && finished(j).is_none())
        .collect();
    let active_refs: Vec<serde_json::Value> = fresh
        .iter()
        .map(|j| json!({"apiVersion": "batch/v1", "kind": "Job", "name": j.name_any(), "namespace": ns, "uid": j.uid(), "resourceVersion": j.resource_version()}))
        .collect();
    let new_status = json!({"status": {
        "active": if active_refs.is_empty() { serde_json::Value::Null } else { json!(active_refs) },
        "lastScheduleTime": last_schedule, "lastSuccessfulTime": last_success,
    }});
    let current = serde_json::to_value(&status).unwrap_or_default();
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.get("active")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let changed = names(&current) != names(&new_status["status"])
        || current.get("lastScheduleTime")
            != new_status["status"]
                .get("lastScheduleTime")
                .filter(|v| !v.is_null())
        || current.get("lastSuccessfulTime")
            != new_status["status"]
                .get("lastSuccessfulTime")
                .filter(|v| !v.is_null());
    if changed {
        cronjobs
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&new_status))
            .await
            .map_err(err)?;
    }
    // Wake up at the next scheduled time.
    let next = schedule
        .next_after(now.to_zoned(zone.clone()).datetime())
        .and_then(|n| n.to_zoned(zone).ok())
        .map(|z| z.timestamp().duration_since(now).as_secs().max(1) as u64 + 1)
        .unwrap_or(60);
    Ok(Action::requeue(Duration::from_secs(next.min(300))))
}
