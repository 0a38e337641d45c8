//! Server-side Table printers: the columns and cells of kube-apiserver's printers
//! (pkg/printers/internalversion/printers.go), computed from objects in their JSON form.

use std::time::Duration;

use serde_json::{json, Value};

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

fn col(name: &str, ty: &str, priority: i32) -> ColumnDefinition {
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

fn cols(spec: &[(&str, &str, i32)]) -> Vec<ColumnDefinition> {
    spec.iter().map(|(n, t, p)| col(n, t, *p)).collect()
}

const S: &str = "string";
const I: &str = "integer";

/// Columns of a kind's printer (group "" = core), None when it has none of its own.
pub fn columns(group: &str, kind: &str) -> Option<Vec<ColumnDefinition>> {
    Some(match (group, kind) {
        ("", "Pod") => cols(&[
            ("Name", S, 0),
            ("Ready", S, 0),
            ("Status", S, 0),
            ("Restarts", S, 0),
            ("Age", S, 0),
            ("IP", S, 1),
            ("Node", S, 1),
            ("Nominated Node", S, 1),
            ("Readiness Gates", S, 1),
        ]),
        ("", "PodTemplate") => cols(&[
            ("Template", S, 0),
            ("Containers", S, 0),
            ("Images", S, 0),
            ("Pod Labels", S, 0),
        ])
        .into_iter()
        .fold(vec![col("Name", S, 0)], |mut v, c| {
            v.push(c);
            v
        }),
        ("", "ReplicationController") => cols(&[
            ("Name", S, 0),
            ("Desired", I, 0),
            ("Current", I, 0),
            ("Ready", I, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("apps", "ReplicaSet") => cols(&[
            ("Name", S, 0),
            ("Desired", I, 0),
            ("Current", I, 0),
            ("Ready", I, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("apps", "Deployment") => cols(&[
            ("Name", S, 0),
            ("Ready", S, 0),
            ("Up-to-date", I, 0),
            ("Available", I, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("apps", "StatefulSet") => cols(&[
            ("Name", S, 0),
            ("Ready", S, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
        ]),
        ("apps", "DaemonSet") => cols(&[
            ("Name", S, 0),
            ("Desired", I, 0),
            ("Current", I, 0),
            ("Ready", I, 0),
            ("Up-to-date", I, 0),
            ("Available", I, 0),
            ("Node Selector", S, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("apps", "ControllerRevision") => cols(&[
            ("Name", S, 0),
            ("Controller", S, 0),
            ("Revision", I, 0),
            ("Age", S, 0),
        ]),
        ("batch", "Job") => cols(&[
            ("Name", S, 0),
            ("Status", S, 0),
            ("Completions", S, 0),
            ("Duration", S, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("batch", "CronJob") => cols(&[
            ("Name", S, 0),
            ("Schedule", S, 0),
            ("Timezone", S, 0),
            ("Suspend", "boolean", 0),
            ("Active", I, 0),
            ("Last Schedule", S, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("", "Service") => cols(&[
            ("Name", S, 0),
            ("Type", S, 0),
            ("Cluster-IP", S, 0),
            ("External-IP", S, 0),
            ("Port(s)", S, 0),
            ("Age", S, 0),
            ("Selector", S, 1),
        ]),
        ("networking.k8s.io", "Ingress") => cols(&[
            ("Name", S, 0),
            ("Class", S, 0),
            ("Hosts", S, 0),
            ("Address", S, 0),
            ("Ports", S, 0),
            ("Age", S, 0),
        ]),
        ("networking.k8s.io", "IngressClass") => cols(&[
            ("Name", S, 0),
            ("Controller", S, 0),
            ("Parameters", S, 0),
            ("Age", S, 0),
        ]),
        ("networking.k8s.io", "NetworkPolicy") => {
            cols(&[("Name", S, 0), ("Pod-Selector", S, 0), ("Age", S, 0)])
        }
        ("", "Endpoints") => cols(&[("Name", S, 0), ("Endpoints", S, 0), ("Age", S, 0)]),
        ("discovery.k8s.io", "EndpointSlice") => cols(&[
            ("Name", S, 0),
            ("AddressType", S, 0),
            ("Ports", S, 0),
            ("Endpoints", S, 0),
            ("Age", S, 0),
        ]),
        ("", "Node") => cols(&[
            ("Name", S, 0),
            ("Status", S, 0),
            ("Roles", S, 0),
            ("Age", S, 0),
            ("Version", S, 0),
            ("Internal-IP", S, 1),
            ("External-IP", S, 1),
            ("OS-Image", S, 1),
            ("Kernel-Version", S, 1),
            ("Container-Runtime", S, 1),
        ]),
        ("", "Event") | ("events.k8s.io", "Event") => cols(&[
            ("Last Seen", S, 0),
            ("Type", S, 0),
            ("Reason", S, 0),
            ("Object", S, 0),
            ("Subobject", S, 1),
            ("Source", S, 1),
            ("Message", S, 0),
            ("First Seen", S, 1),
            ("Count", S, 1),
            ("Name", S, 1),
        ]),
        ("", "Namespace") => cols(&[("Name", S, 0), ("Status", S, 0), ("Age", S, 0)]),
        ("", "Secret") => cols(&[
            ("Name", S, 0),
            ("Type", S, 0),
            ("Data", I, 0),
            ("Age", S, 0),
        ]),
        ("", "ServiceAccount") => cols(&[("Name", S, 0), ("Secrets", I, 0), ("Age", S, 0)]),
        ("", "ConfigMap") => cols(&[("Name", S, 0), ("Data", I, 0), ("Age", S, 0)]),
        ("", "PersistentVolume") => cols(&[
            ("Name", S, 0),
            ("Capacity", S, 0),
            ("Access Modes", S, 0),
            ("Reclaim Policy", S, 0),
            ("Status", S, 0),
            ("Claim", S, 0),
            ("StorageClass", S, 0),
            ("VolumeAttributesClass", S, 0),
            ("Reason", S, 0),
            ("Age", S, 0),
            ("VolumeMode", S, 1),
        ]),
        ("", "PersistentVolumeClaim") => cols(&[
            ("Name", S, 0),
            ("Status", S, 0),
            ("Volume", S, 0),
            ("Capacity", S, 0),
            ("Access Modes", S, 0),
            ("StorageClass", S, 0),
            ("VolumeAttributesClass", S, 0),
            ("Age", S, 0),
            ("VolumeMode", S, 1),
        ]),
        ("", "ResourceQuota") => cols(&[
            ("Name", S, 0),
            ("Age", S, 0),
            ("Request", S, 0),
            ("Limit", S, 0),
        ]),
        ("", "LimitRange") => cols(&[("Name", S, 0), ("Created At", "date", 0)]),
        ("autoscaling", "HorizontalPodAutoscaler") => cols(&[
            ("Name", S, 0),
            ("Reference", S, 0),
            ("Targets", S, 0),
            ("MinPods", S, 0),
            ("MaxPods", I, 0),
            ("Replicas", I, 0),
            ("Age", S, 0),
        ]),
        ("policy", "PodDisruptionBudget") => cols(&[
            ("Name", S, 0),
            ("Min Available", S, 0),
            ("Max Unavailable", S, 0),
            ("Allowed Disruptions", I, 0),
            ("Age", S, 0),
        ]),
        ("storage.k8s.io", "StorageClass") => cols(&[
            ("Name", S, 0),
            ("Provisioner", S, 0),
            ("ReclaimPolicy", S, 0),
            ("VolumeBindingMode", S, 0),
            ("AllowVolumeExpansion", S, 0),
            ("Age", S, 0),
        ]),
        ("rbac.authorization.k8s.io", "Role") | ("rbac.authorization.k8s.io", "ClusterRole") => {
            cols(&[("Name", S, 0), ("Created At", "date", 0)])
        }
        ("rbac.authorization.k8s.io", "RoleBinding")
        | ("rbac.authorization.k8s.io", "ClusterRoleBinding") => cols(&[
            ("Name", S, 0),
            ("Role", S, 0),
            ("Age", S, 0),
            ("Users", S, 1),
            ("Groups", S, 1),
            ("ServiceAccounts", S, 1),
        ]),
        ("coordination.k8s.io", "Lease") => {
            cols(&[("Name", S, 0), ("Holder", S, 0), ("Age", S, 0)])
        }
        ("scheduling.k8s.io", "PriorityClass") => cols(&[
            ("Name", S, 0),
            ("Value", I, 0),
            ("Global-Default", "boolean", 0),
            ("Age", S, 0),
            ("PreemptionPolicy", S, 0),
        ]),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            cols(&[("Name", S, 0), ("Created At", "date", 0)])
        }
        _ => return None,
    })
}

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

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn i(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn arr<'a>(v: &'a Value, p: &str) -> &'a [Value] {
    v.pointer(p)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn name(obj: &Value) -> &str {
    s(obj, "/metadata/name")
}

fn none_if_empty(x: String) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x
    }
}

fn parse_time(t: &str) -> Option<jiff::Timestamp> {
    t.parse().ok()
}

/// apimachinery's HumanDuration.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 * 2 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn since(t: &str, now: jiff::Timestamp) -> String {
    match parse_time(t) {
        None => "<unknown>".into(),
        Some(ts) => {
            let secs = now.as_second() - ts.as_second();
            if secs < -1 {
                return "<invalid>".into();
            }
            human_duration(Duration::from_secs(secs.max(0) as u64))
        }
    }
}

/// Age cell from metadata.creationTimestamp.
pub fn age(obj: &Value, now: jiff::Timestamp) -> String {
    since(s(obj, "/metadata/creationTimestamp"), now)
}

fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = Vec::new();
    if sel.get("matchLabels").is_none() && sel.get("matchExpressions").is_none() {
        if let Some(m) = sel.as_object() {
            parts.extend(
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))),
            );
            parts.sort();
            return none_if_empty(parts.join(","));
        }
    }
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        parts.extend(
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))),
        );
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let key = s(e, "/key");
        let vals: Vec<&str> = arr(e, "/values").iter().filter_map(Value::as_str).collect();
        parts.push(match s(e, "/operator") {
            "In" => format!("{key} in ({})", vals.join(",")),
            "NotIn" => format!("{key} notin ({})", vals.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        });
    }
    parts.sort();
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn containers_images(spec: &Value) -> (String, String) {
    let cs = arr(spec, "/containers");
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

fn labels_string(m: Option<&Value>) -> String {
    let mut parts: Vec<String> = m
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    none_if_empty(parts.join(","))
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
            let addrs: Vec<&str> = arr(o, "/status/loadBalancer/ingress")
                .iter()
                .map(|x| {
                    if s(x, "/ip").is_empty() {
                        s(x, "/hostname")
                    } else {
                        s(x, "/ip")
                    }
                })
                .collect();
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

fn access_modes(modes: &[Value]) -> String {
    let short: Vec<&str> = modes
        .iter()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect();
    short.join(",")
}

fn hpa_targets(o: &Value) -> String {
    let metrics = arr(o, "/spec/metrics");
    if metrics.is_empty() {
        return "<none>".into();
    }
    let current = arr(o, "/status/currentMetrics");
    let parts: Vec<String> = metrics
        .iter()
        .map(|m| {
            if s(m, "/type") == "Resource" {
                let res = s(m, "/resource/name");
                let cur = current
                    .iter()
                    .find(|c| s(c, "/type") == "Resource" && s(c, "/resource/name") == res)
                    .and_then(|c| c.pointer("/resource/current/averageUtilization"))
                    .and_then(Value::as_i64)
                    .map(|u| format!("{u}%"))
                    .unwrap_or_else(|| "<unknown>".into());
                match m
                    .pointer("/resource/target/averageUtilization")
                    .and_then(Value::as_i64)
                {
                    Some(t) => format!("{res}: {cur}/{t}%"),
                    None => format!("{res}: {cur}/{}", s(m, "/resource/target/averageValue")),
                }
            } else {
                "<unknown>/<unknown>".to_string()
            }
        })
        .collect();
    parts.join(", ")
}

fn condition<'a>(o: &'a Value, p: &str, ty: &str) -> Option<&'a Value> {
    arr(o, p).iter().find(|c| s(c, "/type") == ty)
}

fn job_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
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

fn service_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let ty = match s(o, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = match s(o, "/spec/clusterIP") {
        "" => "<none>",
        c => c,
    };
    let lb: Vec<&str> = arr(o, "/status/loadBalancer/ingress")
        .iter()
        .map(|x| {
            if s(x, "/ip").is_empty() {
                s(x, "/hostname")
            } else {
                s(x, "/ip")
            }
        })
        .filter(|x| !x.is_empty())
        .collect();
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

fn node_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
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

fn event_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
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

fn pod_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
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
