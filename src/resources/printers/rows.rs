//! Rows whose cells need more than field look-ups: pods, jobs, services, nodes, events.

use std::time::Duration;

use serde_json::{json, Value};

use super::duration::{age, human_duration, since};
use super::fields::*;

pub(super) fn job_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let (c, im) = containers_images(o.pointer("/spec/template/spec").unwrap_or(&Value::Null));
    let completions = match o.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(n) => format!("{}/{}", i(o, "/status/succeeded"), n),
        None => match o.pointer("/spec/parallelism").and_then(Value::as_i64) {
            Some(p) if p > 1 => format!("{}/1 of {p}", i(o, "/status/succeeded")),
            _ => format!("{}/1", i(o, "/status/succeeded")),
        },
    };
    let is_true =
        |t: &str| condition(o, "/status/conditions", t).is_some_and(|c| s(c, "/status") == "True");
    let status = if is_true("Failed") {
        "Failed"
    } else if is_true("Complete") {
        "Complete"
    } else if is_true("Suspended") {
        "Suspended"
    } else if is_true("FailureTarget") {
        "FailureTarget"
    } else if is_true("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else if o.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else {
        "Running"
    };
    let duration = match (s(o, "/status/startTime"), s(o, "/status/completionTime")) {
        ("", _) => String::new(),
        (start, "") => since(start, now),
        (start, end) => match (parse_time(start), parse_time(end)) {
            (Some(a), Some(b)) => human_duration(Duration::from_secs(
                (b.as_second() - a.as_second()).max(0) as u64,
            )),
            _ => String::new(),
        },
    };
    vec![
        json!(name(o)),
        json!(status),
        json!(completions),
        json!(duration),
        json!(age(o, now)),
        json!(c),
        json!(im),
        json!(selector_string(o.pointer("/spec/selector"))),
    ]
}

pub(super) fn service_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let ty = match s(o, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = match s(o, "/spec/clusterIP") {
        "" => "<none>",
        c => c,
    };
    let lb: Vec<&str> = lb_addresses(o);
    let external: Vec<&str> = arr(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external_ip = match ty {
        "ClusterIP" | "NodePort" => none_if_empty(external.join(",")),
        "LoadBalancer" => {
            let mut all: Vec<&str> = lb.clone();
            all.extend(external.iter());
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => s(o, "/spec/externalName").to_string(),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = arr(o, "/spec/ports")
        .iter()
        .map(|p| {
            let proto = match s(p, "/protocol") {
                "" => "TCP",
                x => x,
            };
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(np) if np != 0 => format!("{}:{np}/{proto}", i(p, "/port")),
                _ => format!("{}/{proto}", i(p, "/port")),
            }
        })
        .collect();
    vec![
        json!(name(o)),
        json!(ty),
        json!(cluster_ip),
        json!(external_ip),
        json!(none_if_empty(ports.join(","))),
        json!(age(o, now)),
        json!(selector_string(o.pointer("/spec/selector"))),
    ]
}

pub(super) fn node_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let ready = condition(o, "/status/conditions", "Ready");
    let mut status = vec![match ready.map(|c| s(c, "/status")) {
        Some("True") => "Ready",
        Some("False") => "NotReady",
        _ => "Unknown",
    }
    .to_string()];
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.iter()
                .filter_map(|(k, v)| {
                    if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
                        Some(r.to_string())
                    } else if k == "kubernetes.io/role" {
                        v.as_str().map(str::to_string)
                    } else {
                        None
                    }
                })
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let addr = |t: &str| {
        arr(o, "/status/addresses")
            .iter()
            .find(|a| s(a, "/type") == t)
            .map(|a| s(a, "/address").to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    let ni = |f: &str| {
        let v = s(o, &format!("/status/nodeInfo/{f}"));
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        json!(name(o)),
        json!(status.join(",")),
        json!(none_if_empty(roles.join(","))),
        json!(age(o, now)),
        json!(s(o, "/status/nodeInfo/kubeletVersion")),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(ni("osImage")),
        json!(ni("kernelVersion")),
        json!(ni("containerRuntimeVersion")),
    ]
}

pub(super) fn event_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    // core/v1 and events.k8s.io/v1 name the same fields differently.
    let pick = |a: &str, b: &str| {
        let x = s(o, a);
        if x.is_empty() {
            s(o, b).to_string()
        } else {
            x.to_string()
        }
    };
    let regarding = o
        .get("involvedObject")
        .or_else(|| o.get("regarding"))
        .cloned()
        .unwrap_or(Value::Null);
    let first = pick("/firstTimestamp", "/deprecatedFirstTimestamp");
    let last_ts = {
        let l = pick("/lastTimestamp", "/deprecatedLastTimestamp");
        if !l.is_empty() {
            l
        } else {
            let series = s(o, "/series/lastObservedTime").to_string();
            if !series.is_empty() {
                series
            } else {
                s(o, "/eventTime").to_string()
            }
        }
    };
    let first_seen = if first.is_empty() {
        s(o, "/eventTime").to_string()
    } else {
        first
    };
    let last_seen = if last_ts.is_empty() {
        "<unknown>".to_string()
    } else {
        since(&last_ts, now)
    };
    let object = format!(
        "{}/{}",
        s(&regarding, "/kind").to_lowercase(),
        s(&regarding, "/name")
    );
    let source = {
        let comp = pick("/source/component", "/reportingController");
        let comp = if comp.is_empty() {
            pick("/reportingComponent", "/deprecatedSource/component")
        } else {
            comp
        };
        let host = pick("/source/host", "/deprecatedSource/host");
        if host.is_empty() {
            comp
        } else {
            format!("{comp}, {host}")
        }
    };
    let count = o
        .get("count")
        .or_else(|| o.get("deprecatedCount"))
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(1);
    vec![
        json!(last_seen),
        json!(s(o, "/type")),
        json!(s(o, "/reason")),
        json!(object),
        json!(s(&regarding, "/fieldPath")),
        json!(source),
        json!(pick("/message", "/note").trim()),
        json!(if first_seen.is_empty() {
            "<unknown>".to_string()
        } else {
            since(&first_seen, now)
        }),
        json!(count),
        json!(name(o)),
    ]
}

pub(super) fn pod_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let containers = arr(o, "/spec/containers");
    let total = containers.len();
    let mut ready = 0;
    let mut restarts = 0;
    let mut last_restart: Option<jiff::Timestamp> = None;
    let mut reason = s(o, "/status/phase").to_string();
    if !s(o, "/status/reason").is_empty() {
        reason = s(o, "/status/reason").to_string();
    }
    let init_statuses = arr(o, "/status/initContainerStatuses");
    let init_total = arr(o, "/spec/initContainers").len();
    let mut initializing = false;
    for (idx, c) in init_statuses.iter().enumerate() {
        restarts += i(c, "/restartCount");
        if let Some(t) = c
            .pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str)
            .and_then(parse_time)
        {
            last_restart = last_restart.max(Some(t));
        }
        let term = c.pointer("/state/terminated");
        if term.is_some_and(|t| i(t, "/exitCode") == 0) {
            continue;
        }
        if let Some(t) = term {
            reason = if s(t, "/reason").is_empty() {
                if i(t, "/signal") != 0 {
                    format!("Init:Signal:{}", i(t, "/signal"))
                } else {
                    format!("Init:ExitCode:{}", i(t, "/exitCode"))
                }
            } else {
                format!("Init:{}", s(t, "/reason"))
            };
        } else if let Some(w) = c
            .pointer("/state/waiting")
            .filter(|w| !s(w, "/reason").is_empty() && s(w, "/reason") != "PodInitializing")
        {
            reason = format!("Init:{}", s(w, "/reason"));
        } else {
            reason = format!("Init:{idx}/{init_total}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in arr(o, "/status/containerStatuses").iter().rev() {
            restarts += i(c, "/restartCount");
            if let Some(t) = c
                .pointer("/lastState/terminated/finishedAt")
                .and_then(Value::as_str)
                .and_then(parse_time)
            {
                last_restart = last_restart.max(Some(t));
            }
            if let Some(w) = c
                .pointer("/state/waiting")
                .filter(|w| !s(w, "/reason").is_empty())
            {
                reason = s(w, "/reason").to_string();
            } else if let Some(t) = c.pointer("/state/terminated") {
                reason = if !s(t, "/reason").is_empty() {
                    s(t, "/reason").to_string()
                } else if i(t, "/signal") != 0 {
                    format!("Signal:{}", i(t, "/signal"))
                } else {
                    format!("ExitCode:{}", i(t, "/exitCode"))
                };
            } else if c.pointer("/state/running").is_some() && c.get("ready") == Some(&json!(true))
            {
                has_running = true;
                ready += 1;
            } else if c.pointer("/state/running").is_some() {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = condition(o, "/status/conditions", "Ready")
                .is_some_and(|c| s(c, "/status") == "True");
            reason = if pod_ready {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        reason = if s(o, "/status/reason") == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    let restarts_cell = match last_restart {
        Some(t) if restarts > 0 => format!(
            "{restarts} ({} ago)",
            human_duration(Duration::from_secs(
                (now.as_second() - t.as_second()).max(0) as u64
            ))
        ),
        _ => restarts.to_string(),
    };
    let ip = s(o, "/status/podIP");
    let gates = arr(o, "/spec/readinessGates");
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|g| {
                condition(o, "/status/conditions", s(g, "/conditionType"))
                    .is_some_and(|c| s(c, "/status") == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        json!(name(o)),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_cell),
        json!(age(o, now)),
        json!(if ip.is_empty() { "<none>" } else { ip }),
        json!(match s(o, "/spec/nodeName") {
            "" => "<none>",
            x => x,
        }),
        json!(match s(o, "/status/nominatedNodeName") {
            "" => "<none>",
            x => x,
        }),
        json!(gates_cell),
    ]
}
