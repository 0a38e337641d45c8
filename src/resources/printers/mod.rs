//! Server-side Table printers: the columns and cells of kube-apiserver's printers
//! (pkg/printers/internalversion/printers.go), computed from objects in their JSON form.

mod columns;
mod duration;
mod fields;
mod rows;

use serde_json::{json, Value};

pub use columns::columns;
use duration::since;
pub use duration::{age, human_duration};
use fields::*;
use rows::*;

/// One Table column.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ColumnDefinition {
    /// Column name.
    pub name: String,
    /// Cell type: string, integer, date, boolean.
    #[serde(rename = "type")]
    pub type_: String,
    /// Format: `name` for the name column.
    pub format: String,
    /// Description.
    pub description: String,
    /// 0 = shown by default, 1 = `-o wide` only.
    pub priority: i32,
}

pub(super) fn col(name: &str, ty: &str, priority: i32) -> ColumnDefinition {
    ColumnDefinition {
        name: name.into(),
        type_: ty.into(),
        format: if name == "Name" {
            "name".into()
        } else {
            String::new()
        },
        description: String::new(),
        priority,
    }
}

pub(super) fn cols(spec: &[(&str, &str, i32)]) -> Vec<ColumnDefinition> {
    spec.iter().map(|(n, t, p)| col(n, t, *p)).collect()
}

pub(super) const S: &str = "string";
pub(super) const I: &str = "integer";

/// The default Name + Created At columns (rest.NewDefaultTableConvertor).
pub fn default_columns() -> Vec<ColumnDefinition> {
    cols(&[("Name", S, 0), ("Created At", "date", 0)])
}

/// Cells of the default columns.
pub fn default_cells(obj: &Value, _now: jiff::Timestamp) -> Vec<Value> {
    vec![
        json!(name(obj)),
        obj.pointer("/metadata/creationTimestamp")
            .cloned()
            .unwrap_or(Value::Null),
    ]
}

/// Cells of one row (same order as `columns`).
pub fn cells(group: &str, kind: &str, o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let n = json!(name(o));
    let a = json!(age(o, now));
    match (group, kind) {
        ("", "Pod") => pod_cells(o, now),
        ("", "PodTemplate") => {
            let (c, im) = containers_images(o.pointer("/template/spec").unwrap_or(&Value::Null));
            vec![
                n,
                json!(""),
                json!(c),
                json!(im),
                json!(labels_string(o.pointer("/template/metadata/labels"))),
            ]
        }
        ("", "ReplicationController") | ("apps", "ReplicaSet") => {
            let (c, im) =
                containers_images(o.pointer("/spec/template/spec").unwrap_or(&Value::Null));
            vec![
                n,
                json!(i(o, "/spec/replicas")),
                json!(i(o, "/status/replicas")),
                json!(i(o, "/status/readyReplicas")),
                a,
                json!(c),
                json!(im),
                json!(selector_string(o.pointer("/spec/selector"))),
            ]
        }
        ("apps", "Deployment") => {
            let (c, im) =
                containers_images(o.pointer("/spec/template/spec").unwrap_or(&Value::Null));
            vec![
                n,
                json!(format!(
                    "{}/{}",
                    i(o, "/status/readyReplicas"),
                    i(o, "/spec/replicas")
                )),
                json!(i(o, "/status/updatedReplicas")),
                json!(i(o, "/status/availableReplicas")),
                a,
                json!(c),
                json!(im),
                json!(selector_string(o.pointer("/spec/selector"))),
            ]
        }
        ("apps", "StatefulSet") => {
            let (c, im) =
                containers_images(o.pointer("/spec/template/spec").unwrap_or(&Value::Null));
            vec![
                n,
                json!(format!(
                    "{}/{}",
                    i(o, "/status/readyReplicas"),
                    i(o, "/spec/replicas")
                )),
                a,
                json!(c),
                json!(im),
            ]
        }
        ("apps", "DaemonSet") => {
            let (c, im) =
                containers_images(o.pointer("/spec/template/spec").unwrap_or(&Value::Null));
            vec![
                n,
                json!(i(o, "/status/desiredNumberScheduled")),
                json!(i(o, "/status/currentNumberScheduled")),
                json!(i(o, "/status/numberReady")),
                json!(i(o, "/status/updatedNumberScheduled")),
                json!(i(o, "/status/numberAvailable")),
                json!(labels_string(o.pointer("/spec/template/spec/nodeSelector"))),
                a,
                json!(c),
                json!(im),
                json!(selector_string(o.pointer("/spec/selector"))),
            ]
        }
        ("apps", "ControllerRevision") => {
            let owner = arr(o, "/metadata/ownerReferences")
                .iter()
                .find(|r| r.get("controller") == Some(&json!(true)));
            let controller = owner
                .map(|r| {
                    format!(
                        "{}/{}",
                        s(r, "/kind").to_lowercase()
                            + "."
                            + s(r, "/apiVersion").split('/').next().unwrap_or(""),
                        s(r, "/name")
                    )
                })
                .unwrap_or_else(|| "<none>".into());
            vec![n, json!(controller), json!(i(o, "/revision")), a]
        }
        ("batch", "Job") => job_cells(o, now),
        ("batch", "CronJob") => {
            let (c, im) = containers_images(
                o.pointer("/spec/jobTemplate/spec/template/spec")
                    .unwrap_or(&Value::Null),
            );
            let last = match s(o, "/status/lastScheduleTime") {
                "" => "<none>".to_string(),
                t => since(t, now),
            };
            let tz = match s(o, "/spec/timeZone") {
                "" => "<none>",
                t => t,
            };
            vec![
                n,
                json!(s(o, "/spec/schedule")),
                json!(tz),
                json!(o
                    .pointer("/spec/suspend")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)),
                json!(arr(o, "/status/active").len()),
                json!(last),
                a,
                json!(c),
                json!(im),
                json!(selector_string(
                    o.pointer("/spec/jobTemplate/spec/selector")
                )),
            ]
        }
        ("", "Service") => service_cells(o, now),
        ("networking.k8s.io", "Ingress") => {
            let hosts: Vec<&str> = arr(o, "/spec/rules")
                .iter()
                .map(|r| s(r, "/host"))
                .filter(|h| !h.is_empty())
                .collect();
            let addrs: Vec<&str> = lb_addresses(o);
            let ports = if arr(o, "/spec/tls").is_empty() {
                "80"
            } else {
                "80, 443"
            };
            let class = match s(o, "/spec/ingressClassName") {
                "" => "<none>",
                c => c,
            };
            vec![
                n,
                json!(class),
                json!(if hosts.is_empty() {
                    "*".to_string()
                } else {
                    hosts.join(",")
                }),
                json!(addrs.join(",")),
                json!(ports),
                a,
            ]
        }
        ("networking.k8s.io", "IngressClass") => {
            let params = o
                .pointer("/spec/parameters")
                .map(|p| format!("{}/{}", s(p, "/kind"), s(p, "/name")))
                .unwrap_or_else(|| "<none>".into());
            vec![n, json!(s(o, "/spec/controller")), json!(params), a]
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            vec![n, json!(selector_string(o.pointer("/spec/podSelector"))), a]
        }
        ("", "Endpoints") => {
            let mut eps = Vec::new();
            for sub in arr(o, "/subsets") {
                for addr in arr(sub, "/addresses") {
                    for p in arr(sub, "/ports") {
                        eps.push(format!("{}:{}", s(addr, "/ip"), i(p, "/port")));
                    }
                    if arr(sub, "/ports").is_empty() {
                        eps.push(s(addr, "/ip").to_string());
                    }
                }
            }
            let shown = if eps.len() > 3 {
                format!("{} + {} more...", eps[..3].join(","), eps.len() - 3)
            } else {
                eps.join(",")
            };
            vec![n, json!(none_if_empty(shown)), a]
        }
        ("discovery.k8s.io", "EndpointSlice") => {
            let ports: Vec<String> = arr(o, "/ports")
                .iter()
                .map(|p| i(p, "/port").to_string())
                .collect();
            let addrs: Vec<&str> = arr(o, "/endpoints")
                .iter()
                .flat_map(|e| arr(e, "/addresses").iter().filter_map(Value::as_str))
                .collect();
            let shown = if addrs.len() > 3 {
                format!("{} + {} more...", addrs[..3].join(","), addrs.len() - 3)
            } else {
                addrs.join(",")
            };
            vec![
                n,
                json!(s(o, "/addressType")),
                json!(none_if_empty(ports.join(","))),
                json!(none_if_empty(shown)),
                a,
            ]
        }
        ("", "Node") => node_cells(o, now),
        ("", "Event") | ("events.k8s.io", "Event") => event_cells(o, now),
        ("", "Namespace") => vec![n, json!(s(o, "/status/phase")), a],
        ("", "Secret") => {
            let count = o
                .get("data")
                .and_then(Value::as_object)
                .map(|m| m.len())
                .unwrap_or(0);
            vec![n, json!(s(o, "/type")), json!(count), a]
        }
        ("", "ServiceAccount") => vec![n, json!(arr(o, "/secrets").len()), a],
        ("", "ConfigMap") => {
            let count = o
                .get("data")
                .and_then(Value::as_object)
                .map(|m| m.len())
                .unwrap_or(0)
                + o.get("binaryData")
                    .and_then(Value::as_object)
                    .map(|m| m.len())
                    .unwrap_or(0);
            vec![n, json!(count), a]
        }
        ("", "PersistentVolume") => {
            let claim = o
                .pointer("/spec/claimRef")
                .map(|c| format!("{}/{}", s(c, "/namespace"), s(c, "/name")))
                .unwrap_or_default();
            vec![
                n,
                json!(s(o, "/spec/capacity/storage")),
                json!(access_modes(arr(o, "/spec/accessModes"))),
                json!(s(o, "/spec/persistentVolumeReclaimPolicy")),
                json!(s(o, "/status/phase")),
                json!(claim),
                json!(s(o, "/spec/storageClassName")),
                json!(none_if_empty(
                    s(o, "/spec/volumeAttributesClassName").to_string()
                )),
                json!(s(o, "/status/reason")),
                a,
                json!(s(o, "/spec/volumeMode")),
            ]
        }
        ("", "PersistentVolumeClaim") => {
            let phase = if o.pointer("/metadata/deletionTimestamp").is_some() {
                "Terminating"
            } else {
                s(o, "/status/phase")
            };
            vec![
                n,
                json!(phase),
                json!(s(o, "/spec/volumeName")),
                json!(s(o, "/status/capacity/storage")),
                json!(access_modes(arr(o, "/status/accessModes"))),
                json!(s(o, "/spec/storageClassName")),
                json!(none_if_empty(
                    s(o, "/spec/volumeAttributesClassName").to_string()
                )),
                a,
                json!(s(o, "/spec/volumeMode")),
            ]
        }
        ("", "ResourceQuota") => {
            let fmt = |which: &str| -> String {
                let hard = o.pointer("/status/hard").and_then(Value::as_object);
                let used = o.pointer("/status/used").and_then(Value::as_object);
                let mut parts: Vec<String> = hard
                    .map(|h| {
                        h.iter()
                            .filter(|(k, _)| (which == "limits") == k.starts_with("limits."))
                            .map(|(k, v)| {
                                format!(
                                    "{k}: {}/{}",
                                    used.and_then(|u| u.get(k))
                                        .and_then(Value::as_str)
                                        .unwrap_or("0"),
                                    v.as_str().unwrap_or("")
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                parts.sort();
                parts.join(", ")
            };
            vec![n, a, json!(fmt("requests")), json!(fmt("limits"))]
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let reference = format!(
                "{}/{}",
                s(o, "/spec/scaleTargetRef/kind"),
                s(o, "/spec/scaleTargetRef/name")
            );
            let min = o
                .pointer("/spec/minReplicas")
                .and_then(Value::as_i64)
                .map(|m| m.to_string())
                .unwrap_or_else(|| "<unset>".into());
            vec![
                n,
                json!(reference),
                json!(hpa_targets(o)),
                json!(min),
                json!(i(o, "/spec/maxReplicas")),
                json!(i(o, "/status/currentReplicas")),
                a,
            ]
        }
        ("policy", "PodDisruptionBudget") => {
            let v = |p: &str| {
                o.pointer(p)
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .unwrap_or_else(|| "N/A".into())
            };
            vec![
                n,
                json!(v("/spec/minAvailable")),
                json!(v("/spec/maxUnavailable")),
                json!(i(o, "/status/disruptionsAllowed")),
                a,
            ]
        }
        ("storage.k8s.io", "StorageClass") => {
            let mut shown = name(o).to_string();
            if o.pointer("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
                .and_then(Value::as_str)
                == Some("true")
            {
                shown.push_str(" (default)");
            }
            vec![
                json!(shown),
                json!(s(o, "/provisioner")),
                json!(if s(o, "/reclaimPolicy").is_empty() {
                    "Delete"
                } else {
                    s(o, "/reclaimPolicy")
                }),
                json!(if s(o, "/volumeBindingMode").is_empty() {
                    "Immediate"
                } else {
                    s(o, "/volumeBindingMode")
                }),
                json!(o
                    .get("allowVolumeExpansion")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string()),
                a,
            ]
        }
        ("rbac.authorization.k8s.io", "Role")
        | ("rbac.authorization.k8s.io", "ClusterRole")
        | ("apiextensions.k8s.io", "CustomResourceDefinition")
        | ("", "LimitRange") => {
            vec![
                n,
                o.pointer("/metadata/creationTimestamp")
                    .cloned()
                    .unwrap_or(Value::Null),
            ]
        }
        ("rbac.authorization.k8s.io", "RoleBinding")
        | ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            let subj = |k: &str| -> String {
                let v: Vec<String> = arr(o, "/subjects")
                    .iter()
                    .filter(|x| s(x, "/kind") == k)
                    .map(|x| {
                        if k == "ServiceAccount" {
                            format!("{}/{}", s(x, "/namespace"), s(x, "/name"))
                        } else {
                            s(x, "/name").to_string()
                        }
                    })
                    .collect();
                v.join(", ")
            };
            vec![
                n,
                json!(format!(
                    "{}/{}",
                    s(o, "/roleRef/kind"),
                    s(o, "/roleRef/name")
                )),
                a,
                json!(subj("User")),
                json!(subj("Group")),
                json!(subj("ServiceAccount")),
            ]
        }
        ("coordination.k8s.io", "Lease") => vec![n, json!(s(o, "/spec/holderIdentity")), a],
        ("scheduling.k8s.io", "PriorityClass") => vec![
            n,
            json!(i(o, "/value")),
            json!(o
                .get("globalDefault")
                .and_then(Value::as_bool)
                .unwrap_or(false)),
            a,
            json!(s(o, "/preemptionPolicy")),
        ],
        _ => default_cells(o, now),
    }
}

/// Row conditions: pods that finished are marked Completed (kubectl hides them with --show-all=false).
pub fn row_conditions(group: &str, kind: &str, obj: &Value) -> Option<Value> {
    if group.is_empty()
        && kind == "Pod"
        && matches!(s(obj, "/status/phase"), "Succeeded" | "Failed")
    {
        return Some(
            json!([{"type": "Completed", "status": "True", "reason": s(obj, "/status/phase"), "message": "The pod has completed successfully."}]),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn now() -> jiff::Timestamp {
        "2026-01-02T03:04:05Z".parse().unwrap()
    }

    #[test]
    fn durations() {
        for (secs, want) in [
            (45, "45s"),
            (119, "119s"),
            (192, "3m12s"),
            (600, "10m"),
            (25 * 60, "25m"),
            (5 * 3600 + 3 * 60, "5h3m"),
            (30 * 3600, "30h"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (120 * 86400, "120d"),
            (2 * 365 * 86400 + 10 * 86400, "2y10d"),
        ] {
            assert_eq!(human_duration(Duration::from_secs(secs)), want);
        }
    }

    #[test]
    fn every_row_matches_its_columns() {
        let o = json!({"metadata": {"name": "x", "creationTimestamp": "2026-01-02T03:00:00Z"}});
        for (g, k) in [
            ("", "Pod"),
            ("", "Service"),
            ("apps", "Deployment"),
            ("batch", "Job"),
            ("batch", "CronJob"),
            ("", "Node"),
            ("", "Event"),
            ("", "ConfigMap"),
            ("", "Secret"),
            ("", "Namespace"),
            ("apps", "DaemonSet"),
            ("", "Endpoints"),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            ("autoscaling", "HorizontalPodAutoscaler"),
            ("", "PersistentVolumeClaim"),
            ("", "PodTemplate"),
            ("apps", "ControllerRevision"),
            ("storage.k8s.io", "StorageClass"),
        ] {
            assert_eq!(
                columns(g, k).unwrap().len(),
                cells(g, k, &o, now()).len(),
                "{g}/{k}"
            );
        }
        assert_eq!(age(&o, now()), "4m5s");
    }

    #[test]
    fn pods_and_services() {
        let pod = json!({"metadata": {"name": "p", "creationTimestamp": "2026-01-02T03:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"finishedAt": "2026-01-02T03:00:05Z"}}}]}});
        let c = cells("", "Pod", &pod, now());
        assert_eq!(c[1], "1/2");
        assert_eq!(c[2], "CrashLoopBackOff");
        assert_eq!(c[3], "3 (4m ago)");
        assert_eq!(c[5], "10.0.0.5");
        let svc = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.12", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}});
        let c = cells("", "Service", &svc, now());
        assert_eq!(c[3], "<none>");
        assert_eq!(c[4], "80:30080/TCP");
        let lb = json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}});
        assert_eq!(cells("", "Service", &lb, now())[3], "<pending>");
    }
}
