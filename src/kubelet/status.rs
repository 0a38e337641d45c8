//! Pod status as the kubelet reports it: container states with their reasons, restart
//! counts and last states, the phase, and the Initialized / ContainersReady / Ready
//! conditions.

use serde_json::{json, Value};

use super::runtime::{Container, State};

/// What the worker knows about one container of the pod spec.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Container name.
    pub name: String,
    /// Image as in the spec.
    pub image: String,
    /// The newest instance.
    pub latest: Option<Container>,
    /// The instance before it (for `lastState`).
    pub previous: Option<Container>,
    /// Why it is waiting, overriding what the runtime says (image pull errors, back-off).
    pub waiting: Option<(String, String)>,
    /// Readiness verdict.
    pub ready: bool,
    /// Startup verdict (true when there is no startup probe and it runs).
    pub started: bool,
    /// Restart count to report.
    pub restart_count: u32,
}

fn terminated(c: &Container) -> Option<Value> {
    match &c.state {
        State::Exited {
            exit_code,
            started_at,
            finished_at,
            oom_killed,
            error,
        } => {
            let reason = if *oom_killed {
                "OOMKilled"
            } else if *exit_code == 0 {
                "Completed"
            } else if !error.is_empty() && started_at.is_empty() {
                "ContainerCannotRun"
            } else {
                "Error"
            };
            let mut t = json!({
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": if started_at.is_empty() { finished_at } else { started_at },
                "finishedAt": finished_at,
                "containerID": format!("docker://{}", c.id),
            });
            if !error.is_empty() {
                t["message"] = json!(error);
            }
            Some(t)
        }
        State::Created => Some(json!({
            "exitCode": 128, "reason": "ContainerCannotRun",
            "containerID": format!("docker://{}", c.id),
        })),
        State::Running { .. } => None,
    }
}

/// The `containerStatuses` entry of one container.
pub fn container_status(v: &View) -> Value {
    let state = match (&v.latest, &v.waiting) {
        (Some(c), _) if c.running() => {
            let State::Running { started_at } = &c.state else {
                unreachable!()
            };
            json!({"running": {"startedAt": started_at}})
        }
        (_, Some((reason, message))) => json!({"waiting": {"reason": reason, "message": message}}),
        (Some(c), None) => json!({"terminated": terminated(c)}),
        (None, None) => json!({"waiting": {"reason": "ContainerCreating"}}),
    };
    // The last state is the previous instance, or the latest one when it is not the one
    // reported as current (a crashed container waiting for its restart).
    let last = match (&v.latest, &v.waiting) {
        (Some(c), Some(_)) if !c.running() => terminated(c),
        _ => v.previous.as_ref().and_then(terminated),
    };
    let mut s = json!({
        "name": v.name,
        "state": state,
        "lastState": last.map(|t| json!({"terminated": t})).unwrap_or_else(|| json!({})),
        "ready": v.ready,
        "restartCount": v.restart_count,
        "image": v.image,
        "imageID": "",
        "started": v.latest.as_ref().is_some_and(|c| c.running()) && v.started,
    });
    if let Some(c) = &v.latest {
        s["containerID"] = json!(format!("docker://{}", c.id));
        s["imageID"] = json!(format!("docker://{}", c.image_id));
    }
    s
}

/// Exit code of a finished instance.
pub fn exit_code(c: &Container) -> Option<i32> {
    match &c.state {
        State::Exited { exit_code, .. } => Some(*exit_code),
        State::Created => Some(128),
        State::Running { .. } => None,
    }
}

/// The pod phase from its containers (PodPhase rules of the kubelet).
pub fn phase(
    restart_policy: &str,
    init_failed: bool,
    init_done: bool,
    views: &[View],
) -> &'static str {
    if init_failed {
        return "Failed";
    }
    if !init_done {
        return "Pending";
    }
    let mut running = 0;
    let mut waiting_new = 0;
    let mut succeeded = 0;
    let mut failed = 0;
    for v in views {
        match &v.latest {
            Some(c) if c.running() => running += 1,
            Some(c) => match exit_code(c) {
                Some(0) => succeeded += 1,
                _ => failed += 1,
            },
            None => waiting_new += 1,
        }
    }
    if waiting_new > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    match restart_policy {
        "Always" => "Running",
        "OnFailure" if failed > 0 => "Running",
        _ if failed > 0 => "Failed",
        _ if succeeded == views.len() => "Succeeded",
        _ => "Running",
    }
}

fn condition(
    existing: &[Value],
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    now: &str,
) -> Value {
    let status = if ok { "True" } else { "False" };
    let prev = existing.iter().find(|c| c["type"] == type_);
    let since = match prev {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let mut c = json!({"type": type_, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
    if !ok && !reason.is_empty() {
        c["reason"] = json!(reason);
        c["message"] = json!(message);
    }
    c
}

/// The pod's conditions, keeping any the kubelet does not own (PodScheduled, readiness gates).
pub fn conditions(
    existing: &[Value],
    sandbox_ready: bool,
    init_done: bool,
    pending_init: &[String],
    views: &[View],
    now: &str,
) -> Vec<Value> {
    let unready: Vec<&str> = views
        .iter()
        .filter(|v| !v.ready)
        .map(|v| v.name.as_str())
        .collect();
    let unready_msg = format!("containers with unready status: [{}]", unready.join(" "));
    let all_ready = unready.is_empty();
    let ours = [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
    ];
    let mut out: Vec<Value> = existing
        .iter()
        .filter(|c| !ours.contains(&c["type"].as_str().unwrap_or_default()))
        .cloned()
        .collect();
    out.push(condition(
        existing,
        "PodReadyToStartContainers",
        sandbox_ready,
        "",
        "",
        now,
    ));
    out.push(condition(
        existing,
        "Initialized",
        init_done,
        "ContainersNotInitialized",
        &format!(
            "containers with incomplete status: [{}]",
            pending_init.join(" ")
        ),
        now,
    ));
    out.push(condition(
        existing,
        "ContainersReady",
        all_ready,
        "ContainersNotReady",
        &unready_msg,
        now,
    ));
    out.push(condition(
        existing,
        "Ready",
        all_ready,
        "ContainersNotReady",
        &unready_msg,
        now,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(state: State) -> Container {
        Container {
            id: "abc".into(),
            pod_uid: "u".into(),
            pod_namespace: "default".into(),
            pod_name: "p".into(),
            name: "c".into(),
            sandbox: false,
            attempt: 0,
            image: "img".into(),
            image_id: "sha256:1".into(),
            state,
            ip: None,
        }
    }

    fn exited(code: i32) -> State {
        State::Exited {
            exit_code: code,
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:00:01Z".into(),
            oom_killed: false,
            error: String::new(),
        }
    }

    #[test]
    fn crash_loop_reports_waiting_with_last_state() {
        let v = View {
            name: "c".into(),
            latest: Some(instance(exited(1))),
            waiting: Some(("CrashLoopBackOff".into(), "back-off 10s".into())),
            restart_count: 2,
            ..Default::default()
        };
        let s = container_status(&v);
        assert_eq!(s["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(s["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(s["lastState"]["terminated"]["reason"], "Error");
        assert_eq!(s["restartCount"], 2);
    }

    #[test]
    fn phases() {
        let run = View {
            latest: Some(instance(State::Running {
                started_at: "t".into(),
            })),
            ..Default::default()
        };
        let ok = View {
            latest: Some(instance(exited(0))),
            ..Default::default()
        };
        let bad = View {
            latest: Some(instance(exited(2))),
            ..Default::default()
        };
        let new = View::default();
        assert_eq!(
            phase("Always", false, true, std::slice::from_ref(&run)),
            "Running"
        );
        assert_eq!(
            phase("Never", false, true, std::slice::from_ref(&ok)),
            "Succeeded"
        );
        assert_eq!(
            phase("Never", false, true, &[ok.clone(), bad.clone()]),
            "Failed"
        );
        assert_eq!(
            phase("OnFailure", false, true, std::slice::from_ref(&bad)),
            "Running"
        );
        assert_eq!(phase("Always", false, true, &[new]), "Pending");
        assert_eq!(phase("Always", false, false, &[run]), "Pending");
        assert_eq!(phase("Never", true, false, &[]), "Failed");
    }

    #[test]
    fn conditions_keep_transition_times() {
        let before = vec![
            json!({"type": "PodScheduled", "status": "True"}),
            json!({"type": "Ready", "status": "True", "lastTransitionTime": "old"}),
        ];
        let v = View {
            name: "c".into(),
            ready: true,
            ..Default::default()
        };
        let c = conditions(&before, true, true, &[], &[v], "now");
        let ready = c.iter().find(|c| c["type"] == "Ready").unwrap();
        assert_eq!(ready["lastTransitionTime"], "old");
        assert!(c.iter().any(|c| c["type"] == "PodScheduled"));
        let v = View {
            name: "c".into(),
            ready: false,
            ..Default::default()
        };
        let c = conditions(&before, true, true, &[], &[v], "now");
        let ready = c.iter().find(|c| c["type"] == "Ready").unwrap();
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["message"], "containers with unready status: [c]");
    }
}
