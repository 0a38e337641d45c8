//! Printers of the batch group: Job (Status, Completions, Duration) and CronJob.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::duration::{age_cell, human_duration_signed, since, timestamp};
use super::fields::*;
use super::{cols, ColumnDefinition};

const TEMPLATE_NAMES: &str = "Names of each container in the template.";
const TEMPLATE_IMAGES: &str = "Images referenced by each container in the template.";

/// A batch kind with a specific printer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Job,
    CronJob,
}

impl Kind {
    /// Column definitions.
    pub(crate) fn columns(self) -> Vec<ColumnDefinition> {
        match self {
            Kind::Job => cols(&[
                ("Name", "string", 0, "name"),
                ("Status", "string", 0, "Status of the job."),
                ("Completions", "string", 0, "JobStatus.succeeded"),
                (
                    "Duration",
                    "string",
                    0,
                    "Time required to complete the job.",
                ),
                ("Age", "string", 0, "age"),
                ("Containers", "string", 1, TEMPLATE_NAMES),
                ("Images", "string", 1, TEMPLATE_IMAGES),
                ("Selector", "string", 1, "JobSpec.selector"),
            ]),
            Kind::CronJob => cols(&[
                ("Name", "string", 0, "name"),
                ("Schedule", "string", 0, "CronJobSpec.schedule"),
                ("Timezone", "string", 0, "CronJobSpec.timeZone"),
                ("Suspend", "boolean", 0, "CronJobSpec.suspend"),
                ("Active", "integer", 0, "CronJobStatus.active"),
                (
                    "Last Schedule",
                    "string",
                    0,
                    "CronJobStatus.lastScheduleTime",
                ),
                ("Age", "string", 0, "age"),
                ("Containers", "string", 1, TEMPLATE_NAMES),
                ("Images", "string", 1, TEMPLATE_IMAGES),
                ("Selector", "string", 1, "JobSpec.selector"),
            ]),
        }
    }

    /// Cells of one object.
    pub(crate) fn cells(self, o: &Value, now: Timestamp) -> Vec<Value> {
        let n = json!(name(o));
        let age = age_cell(o, now);
        match self {
            Kind::Job => {
                let (c, im) = containers(o.pointer("/spec/template/spec"));
                vec![
                    n,
                    json!(job_status(o)),
                    json!(job_completions(o)),
                    json!(job_duration(o, now)),
                    age,
                    json!(c),
                    json!(im),
                    json!(format_label_selector(o.pointer("/spec/selector"))),
                ]
            }
            Kind::CronJob => {
                let (c, im) = containers(o.pointer("/spec/jobTemplate/spec/template/spec"));
                let last = match timestamp(o.pointer("/status/lastScheduleTime")) {
                    None => "<none>".to_string(),
                    t => since(t, now),
                };
                vec![
                    n,
                    json!(s(o, "/spec/schedule")),
                    json!(opt_s(o, "/spec/timeZone").unwrap_or("<none>")),
                    json!(bool_ptr(opt_b(o, "/spec/suspend"))),
                    json!(len_of(o, "/status/active")),
                    json!(last),
                    age,
                    json!(c),
                    json!(im),
                    json!(format_label_selector(
                        o.pointer("/spec/jobTemplate/spec/selector")
                    )),
                ]
            }
        }
    }
}

/// hasJobCondition: the first condition of this type decides.
fn job_condition(o: &Value, ty: &str) -> bool {
    arr(o, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == ty)
        .is_some_and(|c| s(c, "/status") == "True")
}

fn job_status(o: &Value) -> &'static str {
    if job_condition(o, "Complete") {
        "Complete"
    } else if job_condition(o, "Failed") {
        "Failed"
    } else if o
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        "Terminating"
    } else if job_condition(o, "Suspended") {
        "Suspended"
    } else if job_condition(o, "FailureTarget") {
        "FailureTarget"
    } else if job_condition(o, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}

fn job_completions(o: &Value) -> String {
    let succeeded = i(o, "/status/succeeded");
    match opt_i(o, "/spec/completions") {
        Some(c) => format!("{succeeded}/{c}"),
        None => match i(o, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    }
}

fn job_duration(o: &Value, now: Timestamp) -> String {
    let Some(start) = timestamp(o.pointer("/status/startTime")) else {
        return String::new();
    };
    match timestamp(o.pointer("/status/completionTime")) {
        None => human_duration_signed(now.duration_since(start)),
        Some(end) => human_duration_signed(end.duration_since(start)),
    }
}
