//! Printers of the core ("") group, and of events.k8s.io Events (served from the same
//! storage, so printed by the same core Event printer).

use jiff::Timestamp;
use serde_json::{json, Value};

use super::duration::{age_cell, since, timestamp};
use super::fields::*;
use super::{cols, pod, ColumnDefinition};

/// A core kind with a specific printer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Pod,
    PodTemplate,
    ReplicationController,
    Service,
    Endpoints,
    Node,
    Event,
    Namespace,
    Secret,
    ServiceAccount,
    ConfigMap,
    PersistentVolume,
    PersistentVolumeClaim,
    ResourceQuota,
    ComponentStatus,
}

impl Kind {
    /// Column definitions.
    pub(crate) fn columns(self) -> Vec<ColumnDefinition> {
        const TEMPLATE_NAMES: &str = "Names of each container in the template.";
        const TEMPLATE_IMAGES: &str = "Images referenced by each container in the template.";
        match self {
            Kind::Pod => pod::columns(),
            Kind::PodTemplate => cols(&[
                ("Name", "string", 0, "name"),
                ("Containers", "string", 0, TEMPLATE_NAMES),
                ("Images", "string", 0, TEMPLATE_IMAGES),
                ("Pod Labels", "string", 0, "The labels for the pod template."),
            ]),
            Kind::ReplicationController => cols(&[
                ("Name", "string", 0, "name"),
                ("Desired", "integer", 0, "ReplicationControllerSpec.replicas"),
                ("Current", "integer", 0, "ReplicationControllerStatus.replicas"),
                ("Ready", "integer", 0, "ReplicationControllerStatus.readyReplicas"),
                ("Age", "string", 0, "age"),
                ("Containers", "string", 1, TEMPLATE_NAMES),
                ("Images", "string", 1, TEMPLATE_IMAGES),
                ("Selector", "string", 1, "ReplicationControllerSpec.selector"),
            ]),
            Kind::Service => cols(&[
                ("Name", "string", 0, "name"),
                ("Type", "string", 0, "ServiceSpec.type"),
                ("Cluster-IP", "string", 0, "ServiceSpec.clusterIP"),
                ("External-IP", "string", 0, "ServiceSpec.externalIPs"),
                ("Port(s)", "string", 0, "ServiceSpec.ports"),
                ("Age", "string", 0, "age"),
                ("Selector", "string", 1, "ServiceSpec.selector"),
            ]),
            Kind::Endpoints => cols(&[
                ("Name", "string", 0, "name"),
                ("Endpoints", "string", 0, "Endpoints.subsets"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::Node => cols(&[
                ("Name", "string", 0, "name"),
                ("Status", "string", 0, "The status of the node"),
                ("Roles", "string", 0, "The roles of the node"),
                ("Age", "string", 0, "age"),
                ("Version", "string", 0, "NodeSystemInfo.kubeletVersion"),
                ("Internal-IP", "string", 1, "NodeStatus.addresses"),
                ("External-IP", "string", 1, "NodeStatus.addresses"),
                ("OS-Image", "string", 1, "NodeSystemInfo.osImage"),
                ("Kernel-Version", "string", 1, "NodeSystemInfo.kernelVersion"),
                ("Container-Runtime", "string", 1, "NodeSystemInfo.containerRuntimeVersion"),
            ]),
            Kind::Event => cols(&[
                ("Last Seen", "string", 0, "Event.lastTimestamp"),
                ("Type", "string", 0, "Event.type"),
                ("Reason", "string", 0, "Event.reason"),
                ("Object", "string", 0, "Event.involvedObject"),
                ("Subobject", "string", 1, "ObjectReference.fieldPath"),
                ("Source", "string", 1, "Event.source"),
                ("Message", "string", 0, "Event.message"),
                ("First Seen", "string", 1, "Event.firstTimestamp"),
                ("Count", "string", 1, "Event.count"),
                ("Name", "string", 1, "name"),
            ]),
            Kind::Namespace => cols(&[
                ("Name", "string", 0, "name"),
                ("Status", "string", 0, "The status of the namespace"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::Secret => cols(&[
                ("Name", "string", 0, "name"),
                ("Type", "string", 0, "Secret.type"),
                ("Data", "string", 0, "Secret.data"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::ServiceAccount => cols(&[("Name", "string", 0, "name"), ("Age", "string", 0, "age")]),
            Kind::ConfigMap => cols(&[
                ("Name", "string", 0, "name"),
                ("Data", "string", 0, "ConfigMap.data"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::PersistentVolume => cols(&[
                ("Name", "string", 0, "name"),
                ("Capacity", "string", 0, "PersistentVolumeSpec.capacity"),
                ("Access Modes", "string", 0, "PersistentVolumeSpec.accessModes"),
                ("Reclaim Policy", "string", 0, "PersistentVolumeSpec.persistentVolumeReclaimPolicy"),
                ("Status", "string", 0, "PersistentVolumeStatus.phase"),
                ("Claim", "string", 0, "PersistentVolumeSpec.claimRef"),
                ("StorageClass", "string", 0, "StorageClass of the pv"),
                ("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pv"),
                ("Reason", "string", 0, "PersistentVolumeStatus.reason"),
                ("Age", "string", 0, "age"),
                ("VolumeMode", "string", 1, "PersistentVolumeSpec.volumeMode"),
            ]),
            Kind::PersistentVolumeClaim => cols(&[
                ("Name", "string", 0, "name"),
                ("Status", "string", 0, "PersistentVolumeClaimStatus.phase"),
                ("Volume", "string", 0, "PersistentVolumeClaimSpec.volumeName"),
                ("Capacity", "string", 0, "PersistentVolumeClaimStatus.capacity"),
                ("Access Modes", "string", 0, "PersistentVolumeClaimStatus.accessModes"),
                ("StorageClass", "string", 0, "StorageClass of the pvc"),
                ("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pvc"),
                ("Age", "string", 0, "age"),
                ("VolumeMode", "string", 1, "PersistentVolumeClaimSpec.volumeMode"),
            ]),
            Kind::ResourceQuota => cols(&[
                ("Name", "string", 0, "name"),
                ("Request", "string", 0, "Request represents a minimum amount of cpu/memory that a container may consume."),
                ("Limit", "string", 0, "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
                ("Age", "string", 0, "age"),
            ]),
            Kind::ComponentStatus => cols(&[
                ("Name", "string", 0, "name"),
                ("Status", "string", 0, "Status of the component conditions"),
                ("Message", "string", 0, "Message of the component conditions"),
                ("Error", "string", 0, "Error of the component conditions"),
            ]),
        }
    }

    /// Cells of one object.
    pub(crate) fn cells(self, o: &Value, now: Timestamp) -> Vec<Value> {
        let n = json!(name(o));
        let age = age_cell(o, now);
        match self {
            Kind::Pod => pod::cells(o, now),
            Kind::PodTemplate => {
                let (c, im) = containers(o.pointer("/template/spec"));
                vec![
                    n,
                    json!(c),
                    json!(im),
                    json!(format_labels(map(o, "/template/metadata/labels"))),
                ]
            }
            Kind::ReplicationController => {
                let (c, im) = containers(o.pointer("/spec/template/spec"));
                vec![
                    n,
                    json!(i(o, "/spec/replicas")),
                    json!(i(o, "/status/replicas")),
                    json!(i(o, "/status/readyReplicas")),
                    age,
                    json!(c),
                    json!(im),
                    json!(format_labels(map(o, "/spec/selector"))),
                ]
            }
            Kind::Service => service_cells(o, n, age),
            Kind::Endpoints => vec![n, json!(format_endpoints(o)), age],
            Kind::Node => node_cells(o, n, age),
            Kind::Event => event_cells(o, n, now),
            Kind::Namespace => vec![n, json!(s(o, "/status/phase")), age],
            Kind::Secret => {
                // The v1→internal conversion merges stringData into data.
                let mut keys: Vec<&String> = map(o, "/data")
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                    .collect();
                keys.extend(map(o, "/stringData").into_iter().flatten().map(|(k, _)| k));
                keys.sort_unstable();
                keys.dedup();
                vec![n, json!(s(o, "/type")), json!(keys.len()), age]
            }
            Kind::ServiceAccount => vec![n, age],
            Kind::ConfigMap => {
                vec![n, json!(len_of(o, "/data") + len_of(o, "/binaryData")), age]
            }
            Kind::PersistentVolume => pv_cells(o, n, age),
            Kind::PersistentVolumeClaim => pvc_cells(o, n, age),
            Kind::ResourceQuota => resource_quota_cells(o, n, age),
            Kind::ComponentStatus => {
                let healthy = arr(o, "/conditions")
                    .iter()
                    .find(|c| s(c, "/type") == "Healthy");
                let (status, message, error) = match healthy {
                    None => ("Unknown", "", ""),
                    Some(c) => (
                        if s(c, "/status") == "True" {
                            "Healthy"
                        } else {
                            "Unhealthy"
                        },
                        s(c, "/message"),
                        s(c, "/error"),
                    ),
                };
                vec![n, json!(status), json!(message), json!(error)]
            }
        }
    }
}

/// The Service's external IPs as getServiceExternalIP (wide) prints them.
fn service_external_ip(o: &Value) -> String {
    let external: Vec<&str> = arr(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match s(o, "/spec/type") {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".into()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_addresses(o);
            if !external.is_empty() {
                let mut all: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    all.extend(lb.split(','));
                }
                all.extend(external);
                return all.join(",");
            }
            if lb.is_empty() {
                "<pending>".into()
            } else {
                lb
            }
        }
        "ExternalName" => s(o, "/spec/externalName").into(),
        _ => "<unknown>".into(),
    }
}

fn service_cells(o: &Value, n: Value, age: Value) -> Vec<Value> {
    // The v1→internal conversion makes clusterIP authoritative over clusterIPs[0].
    let cluster_ip = match s(o, "/spec/clusterIP") {
        "" => match s(o, "/spec/clusterIPs/0") {
            "" => "<none>",
            ip => ip,
        },
        ip => ip,
    };
    let ports: Vec<String> = arr(o, "/spec/ports")
        .iter()
        .map(|p| {
            let (port, proto) = (i(p, "/port"), s(p, "/protocol"));
            match i(p, "/nodePort") {
                np if np > 0 => format!("{port}:{np}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        n,
        json!(s(o, "/spec/type")),
        json!(cluster_ip),
        json!(service_external_ip(o)),
        json!(ports),
        age,
        json!(format_labels(map(o, "/spec/selector"))),
    ]
}

/// formatEndpoints: up to three `ip:port` (or bare IPs for port-less subsets), then "+ N more...".
fn format_endpoints(o: &Value) -> String {
    let subsets = arr(o, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addrs = arr(ss, "/addresses");
        let ports = arr(ss, "/ports");
        if ports.is_empty() {
            count += addrs.len();
            for a in addrs {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(s(a, "/ip").into());
            }
            continue;
        }
        for p in ports {
            count += addrs.len();
            for a in addrs {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(s(a, "/ip"), i(p, "/port")));
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count - MAX)
    } else {
        ret
    }
}

/// net.JoinHostPort: IPv6 hosts get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn node_cells(o: &Value, n: Value, age: Value) -> Vec<Value> {
    let mut status: Vec<&str> = Vec::new();
    // Only the last Ready condition counts (conditions are put in a map by type).
    if let Some(ready) = arr(o, "/status/conditions")
        .iter()
        .rev()
        .find(|c| s(c, "/type") == "Ready")
    {
        status.push(if s(ready, "/status") == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if b(o, "/spec/unschedulable") {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<&str> = Vec::new();
    for (k, v) in map(o, "/metadata/labels").into_iter().flatten() {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.push(role);
            }
        } else if k == "kubernetes.io/role" {
            if let Some(v) = v.as_str().filter(|v| !v.is_empty()) {
                roles.push(v);
            }
        }
    }
    roles.sort_unstable();
    roles.dedup();
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    };
    let address = |ty: &str| -> String {
        arr(o, "/status/addresses")
            .iter()
            .find(|a| s(a, "/type") == ty)
            .map(|a| s(a, "/address").to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    let info = |f: &str| -> String {
        match s(o, &format!("/status/nodeInfo/{f}")) {
            "" => "<unknown>".into(),
            v => v.into(),
        }
    };
    vec![
        n,
        json!(status.join(",")),
        json!(roles),
        age,
        json!(s(o, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// Reads an Event in either its core/v1 or its events.k8s.io/v1 shape.
struct EventView<'a> {
    o: &'a Value,
    new_api: bool,
}

impl<'a> EventView<'a> {
    fn new(o: &'a Value) -> Self {
        let new_api = s(o, "/apiVersion").starts_with("events.k8s.io/")
            || (o.get("involvedObject").is_none() && o.get("regarding").is_some());
        EventView { o, new_api }
    }
    fn pick(&self, core: &str, events: &str) -> Option<&'a Value> {
        self.o.pointer(if self.new_api { events } else { core })
    }
    fn str(&self, core: &str, events: &str) -> &'a str {
        self.pick(core, events)
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

fn event_cells(o: &Value, n: Value, now: Timestamp) -> Vec<Value> {
    let e = EventView::new(o);
    let first_ts = timestamp(e.pick("/firstTimestamp", "/deprecatedFirstTimestamp"));
    let last_ts = timestamp(e.pick("/lastTimestamp", "/deprecatedLastTimestamp"));
    let first = match first_ts {
        Some(t) => since(Some(t), now),
        None => since(timestamp(o.get("eventTime")), now),
    };
    let mut last = match last_ts {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = opt_i(
        o,
        if e.new_api {
            "/deprecatedCount"
        } else {
            "/count"
        },
    )
    .unwrap_or(0);
    if o.get("series").is_some_and(|v| v.is_object()) {
        last = since(timestamp(o.pointer("/series/lastObservedTime")), now);
        count = i(o, "/series/count");
    } else if count == 0 {
        // Singleton events of the new API carry no count.
        count = 1;
    }
    let kind = e
        .str("/involvedObject/kind", "/regarding/kind")
        .to_lowercase();
    let target = match e.str("/involvedObject/name", "/regarding/name") {
        "" => kind,
        obj => format!("{kind}/{obj}"),
    };
    let component = first_non_empty(
        e.str("/source/component", "/deprecatedSource/component"),
        e.str("/reportingComponent", "/reportingController"),
    );
    let instance = first_non_empty(
        e.str("/source/host", "/deprecatedSource/host"),
        s(o, "/reportingInstance"),
    );
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(s(o, "/type")),
        json!(s(o, "/reason")),
        json!(target),
        json!(e.str("/involvedObject/fieldPath", "/regarding/fieldPath")),
        json!(source),
        json!(e.str("/message", "/note").trim()),
        json!(first),
        json!(count),
        n,
    ]
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

fn pv_cells(o: &Value, n: Value, age: Value) -> Vec<Value> {
    let claim = match o.pointer("/spec/claimRef") {
        Some(c) if c.is_object() => format!("{}/{}", s(c, "/namespace"), s(c, "/name")),
        _ => String::new(),
    };
    let phase = if o
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        "Terminating"
    } else {
        s(o, "/status/phase")
    };
    let class = match map(o, "/metadata/annotations").and_then(|a| a.get(BETA_STORAGE_CLASS)) {
        Some(v) => v.as_str().unwrap_or(""),
        None => s(o, "/spec/storageClassName"),
    };
    vec![
        n,
        json!(quantity(o.pointer("/spec/capacity/storage"))),
        json!(access_modes(arr(o, "/spec/accessModes"))),
        json!(s(o, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase),
        json!(claim),
        json!(class),
        json!(opt_s(o, "/spec/volumeAttributesClassName").unwrap_or("<unset>")),
        json!(s(o, "/status/reason")),
        age,
        json!(opt_s(o, "/spec/volumeMode").unwrap_or("<unset>")),
    ]
}

fn pvc_cells(o: &Value, n: Value, age: Value) -> Vec<Value> {
    let phase = if o
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        "Terminating"
    } else {
        s(o, "/status/phase")
    };
    let volume = s(o, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(o.pointer("/status/capacity/storage")),
            access_modes(arr(o, "/status/accessModes")),
        )
    };
    let class = match map(o, "/metadata/annotations").and_then(|a| a.get(BETA_STORAGE_CLASS)) {
        Some(v) => v.as_str().unwrap_or(""),
        None => s(o, "/spec/storageClassName"),
    };
    vec![
        n,
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(opt_s(o, "/spec/volumeAttributesClassName").unwrap_or("<unset>")),
        age,
        json!(opt_s(o, "/spec/volumeMode").unwrap_or("<unset>")),
    ]
}

fn resource_quota_cells(o: &Value, n: Value, age: Value) -> Vec<Value> {
    let mut names: Vec<&String> = map(o, "/status/hard")
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    names.sort();
    let (mut request, mut limit) = (Vec::new(), Vec::new());
    for r in names {
        let used = quantity(o.pointer("/status/used").and_then(|u| u.get(r.as_str())));
        let hard = quantity(o.pointer("/status/hard").and_then(|h| h.get(r.as_str())));
        let text = format!("{r}: {used}/{hard}");
        let pieces: Vec<&str> = r.split('.').collect();
        if pieces.len() > 1 && pieces[0] == "limits" {
            limit.push(text);
        } else {
            request.push(text);
        }
    }
    vec![n, json!(request.join(", ")), json!(limit.join(", ")), age]
}
