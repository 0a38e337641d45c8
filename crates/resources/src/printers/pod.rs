//! The Pod printer: Ready n/m, the aggregate Status reason, Restarts with the time of the
//! last restart, and the wide IP / Node / Nominated Node / Readiness Gates columns.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::duration::{since, timestamp};
use super::fields::*;
use super::{cols, ColumnDefinition};

/// Pod columns.
pub(super) fn columns() -> Vec<ColumnDefinition> {
    cols(&[
        ("Name", "string", 0, "name"),
        ("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
        ("Status", "string", 0, "The aggregate status of the containers in this pod."),
        ("Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        ("Age", "string", 0, "age"),
        ("IP", "string", 1, "PodStatus.podIP"),
        ("Node", "string", 1, "PodSpec.nodeName"),
        ("Nominated Node", "string", 1, "PodStatus.nominatedNodeName"),
        ("Readiness Gates", "string", 1, "PodSpec.readinessGates"),
    ])
}

/// `Completed` row condition for pods in a terminal phase.
pub(super) fn row_conditions(o: &Value) -> Option<Value> {
    let (reason, message) = match s(o, "/status/phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

/// An init container with restartPolicy Always (a sidecar).
fn is_restartable(init: Option<&Value>) -> bool {
    init.is_some_and(|c| s(c, "/restartPolicy") == "Always")
}

fn has_condition(o: &Value, ty: &str) -> bool {
    arr(o, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == ty && s(c, "/status") == "True")
}

/// isPodInitializedConditionTrue: the first Initialized condition decides.
fn initialized(o: &Value) -> bool {
    arr(o, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == "Initialized")
        .is_some_and(|c| s(c, "/status") == "True")
}

/// The later of two restart times.
fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn last_termination(st: &Value) -> Option<Timestamp> {
    match st.pointer("/lastState/terminated") {
        Some(t) if t.is_object() => timestamp(t.get("finishedAt")),
        _ => None,
    }
}

fn terminated(st: &Value) -> Option<&Value> {
    st.pointer("/state/terminated").filter(|v| v.is_object())
}

/// The reason of a terminated state: its reason, else Signal:n, else ExitCode:n.
fn terminated_reason(t: &Value, prefix: &str) -> String {
    match s(t, "/reason") {
        "" => match i(t, "/signal") {
            0 => format!("{prefix}ExitCode:{}", i(t, "/exitCode")),
            sig => format!("{prefix}Signal:{sig}"),
        },
        r => format!("{prefix}{r}"),
    }
}

/// The computed (ready, total, reason, restarts) of a pod.
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

fn summarize(o: &Value) -> Summary {
    let spec_inits = arr(o, "/spec/initContainers");
    let init_spec = |name: &str| spec_inits.iter().find(|c| s(c, "/name") == name);
    let total = arr(o, "/spec/containers").len()
        + spec_inits
            .iter()
            .filter(|c| is_restartable(Some(c)))
            .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut sidecar_last_restart: Option<Timestamp> = None;

    let phase = s(o, "/status/phase");
    let mut reason = match s(o, "/status/reason") {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if arr(o, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == "PodScheduled" && s(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let mut initializing = false;
    for (idx, st) in arr(o, "/status/initContainerStatuses").iter().enumerate() {
        restarts += i(st, "/restartCount");
        last_restart = later(last_restart, last_termination(st));
        let restartable = is_restartable(init_spec(s(st, "/name")));
        if restartable {
            sidecar_restarts += i(st, "/restartCount");
            sidecar_last_restart = later(sidecar_last_restart, last_termination(st));
        }
        let term = terminated(st);
        if term.is_some_and(|t| i(t, "/exitCode") == 0) {
            continue;
        }
        if restartable && b(st, "/started") {
            if b(st, "/ready") {
                ready += 1;
            }
            continue;
        }
        let waiting = s(st, "/state/waiting/reason");
        reason = match term {
            Some(t) => terminated_reason(t, "Init:"),
            None if !waiting.is_empty() && waiting != "PodInitializing" => {
                format!("Init:{waiting}")
            }
            None => format!("Init:{idx}/{}", spec_inits.len()),
        };
        initializing = true;
        break;
    }

    if !initializing || initialized(o) {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut has_running = false;
        let mut error_reason = String::new();
        for st in arr(o, "/status/containerStatuses").iter().rev() {
            restarts += i(st, "/restartCount");
            last_restart = later(last_restart, last_termination(st));
            let waiting = s(st, "/state/waiting/reason");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = terminated(st) {
                reason = terminated_reason(t, "");
                if i(t, "/exitCode") != 0 {
                    error_reason = reason.clone();
                }
            } else if b(st, "/ready") && st.pointer("/state/running").is_some_and(|v| v.is_object())
            {
                has_running = true;
                ready += 1;
            }
        }
        // A completed container with others still running means the pod is still Running.
        if reason == "Completed" {
            if has_running && has_condition(o, "Ready") {
                reason = "Running".into();
            } else if !error_reason.is_empty() {
                reason = error_reason;
            } else if has_running {
                reason = "NotReady".into();
            }
        }
    }

    let deleting = o
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    if deleting && s(o, "/status/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }
    Summary {
        ready,
        total,
        reason,
        restarts,
        last_restart,
    }
}

/// The pod's Status column alone (the aggregate reason).
#[cfg(test)]
pub(super) fn status(o: &Value) -> String {
    summarize(o).reason
}

/// Pod cells.
pub(super) fn cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let sum = summarize(o);
    let restarts = match sum.last_restart {
        Some(t) if sum.restarts != 0 => format!("{} ({} ago)", sum.restarts, since(Some(t), now)),
        _ => sum.restarts.to_string(),
    };
    // The v1→internal conversion makes podIP authoritative over podIPs[0].
    let ip = match s(o, "/status/podIP") {
        "" => s(o, "/status/podIPs/0/ip"),
        ip => ip,
    };
    let or_none = |v: &str| {
        if v.is_empty() {
            "<none>".to_string()
        } else {
            v.to_string()
        }
    };
    let gates = arr(o, "/spec/readinessGates");
    let readiness = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = arr(o, "/status/conditions");
        let true_count = gates
            .iter()
            .filter(|g| {
                conditions
                    .iter()
                    .find(|c| s(c, "/type") == s(g, "/conditionType"))
                    .is_some_and(|c| s(c, "/status") == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        json!(name(o)),
        json!(format!("{}/{}", sum.ready, sum.total)),
        json!(sum.reason),
        json!(restarts),
        json!(since(
            timestamp(o.pointer("/metadata/creationTimestamp")),
            now
        )),
        json!(or_none(ip)),
        json!(or_none(s(o, "/spec/nodeName"))),
        json!(or_none(s(o, "/status/nominatedNodeName"))),
        json!(readiness),
    ]
}
