//! Printers of the smaller groups: autoscaling, networking, storage, rbac, coordination,
//! discovery, policy, scheduling, node and admissionregistration.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::duration::age_cell;
use super::fields::*;
use super::{cols, ColumnDefinition};

/// A kind of the smaller groups with a specific printer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    HorizontalPodAutoscaler,
    Ingress,
    IngressClass,
    NetworkPolicy,
    StorageClass,
    RoleBinding,
    ClusterRoleBinding,
    Lease,
    EndpointSlice,
    PodDisruptionBudget,
    PriorityClass,
    ApiService,
}

impl Kind {
    /// Column definitions.
    pub(crate) fn columns(self) -> Vec<ColumnDefinition> {
        match self {
            Kind::HorizontalPodAutoscaler => cols(&[
                ("Name", "string", 0, "name"),
                ("Reference", "string", 0, "HorizontalPodAutoscalerSpec.scaleTargetRef"),
                ("Targets", "string", 0, "HorizontalPodAutoscalerSpec.metrics"),
                ("MinPods", "string", 0, "HorizontalPodAutoscalerSpec.minReplicas"),
                ("MaxPods", "string", 0, "HorizontalPodAutoscalerSpec.maxReplicas"),
                ("Replicas", "string", 0, "HorizontalPodAutoscalerStatus.currentReplicas"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::Ingress => cols(&[
                ("Name", "string", 0, "name"),
                ("Class", "string", 0, "The name of the IngressClass resource that should be used for additional configuration"),
                ("Hosts", "string", 0, "Hosts that incoming requests are matched against before the ingress rule"),
                ("Address", "string", 0, "Address is a list containing ingress points for the load-balancer"),
                ("Ports", "string", 0, "Ports of TLS configurations that open"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::IngressClass => cols(&[
                ("Name", "string", 0, "name"),
                ("Controller", "string", 0, "Controller that is responsible for handling this class"),
                ("Parameters", "string", 0, "A reference to a resource with additional parameters"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::NetworkPolicy => cols(&[
                ("Name", "string", 0, "name"),
                ("Pod-Selector", "string", 0, "NetworkPolicySpec.podSelector"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::StorageClass => cols(&[
                ("Name", "string", 0, "name"),
                ("Provisioner", "string", 0, "StorageClass.provisioner"),
                ("ReclaimPolicy", "string", 0, "StorageClass.reclaimPolicy"),
                ("VolumeBindingMode", "string", 0, "StorageClass.volumeBindingMode"),
                ("AllowVolumeExpansion", "string", 0, "StorageClass.allowVolumeExpansion"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::RoleBinding => cols(&[
                ("Name", "string", 0, "name"),
                ("Role", "string", 0, "RoleBinding.roleRef"),
                ("Age", "string", 0, "age"),
                ("Users", "string", 1, "Users in the roleBinding"),
                ("Groups", "string", 1, "Groups in the roleBinding"),
                ("ServiceAccounts", "string", 1, "ServiceAccounts in the roleBinding"),
            ]),
            Kind::ClusterRoleBinding => cols(&[
                ("Name", "string", 0, "name"),
                ("Role", "string", 0, "ClusterRoleBinding.roleRef"),
                ("Age", "string", 0, "age"),
                ("Users", "string", 1, "Users in the clusterRoleBinding"),
                ("Groups", "string", 1, "Groups in the clusterRoleBinding"),
                ("ServiceAccounts", "string", 1, "ServiceAccounts in the clusterRoleBinding"),
            ]),
            Kind::Lease => cols(&[
                ("Name", "string", 0, "name"),
                ("Holder", "string", 0, "LeaseSpec.holderIdentity"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::EndpointSlice => cols(&[
                ("Name", "string", 0, "name"),
                ("AddressType", "string", 0, "EndpointSlice.addressType"),
                ("Ports", "string", 0, "EndpointSlice.ports"),
                ("Endpoints", "string", 0, "EndpointSlice.endpoints"),
                ("Age", "string", 0, "age"),
            ]),
            Kind::PodDisruptionBudget => cols(&[
                ("Name", "string", 0, "name"),
                ("Min Available", "string", 0, "The minimum number of pods that must be available."),
                ("Max Unavailable", "string", 0, "The maximum number of pods that may be unavailable."),
                ("Allowed Disruptions", "integer", 0, "Calculated number of pods that may be disrupted at this time."),
                ("Age", "string", 0, "age"),
            ]),
            Kind::PriorityClass => cols(&[
                ("Name", "string", 0, "name"),
                ("Value", "integer", 0, "PriorityClass.value"),
                ("Global-Default", "boolean", 0, "PriorityClass.globalDefault"),
                ("Age", "string", 0, "age"),
                ("PreemptionPolicy", "string", 0, "PriorityClass.preemptionPolicy"),
            ]),
            Kind::ApiService => cols(&[
                ("Name", "string", 0, "name"),
                ("Service", "string", 0, ""),
                ("Available", "string", 0, ""),
                ("Age", "string", 0, "age"),
            ]),
        }
    }

    /// Cells of one object.
    pub(crate) fn cells(self, o: &Value, now: Timestamp) -> Vec<Value> {
        let n = json!(name(o));
        let age = age_cell(o, now);
        match self {
            Kind::HorizontalPodAutoscaler => {
                let min = match opt_i(o, "/spec/minReplicas") {
                    Some(m) => m.to_string(),
                    None => "<unset>".into(),
                };
                vec![
                    n,
                    json!(format!(
                        "{}/{}",
                        s(o, "/spec/scaleTargetRef/kind"),
                        s(o, "/spec/scaleTargetRef/name")
                    )),
                    json!(hpa_targets(o)),
                    json!(min),
                    json!(i(o, "/spec/maxReplicas")),
                    json!(i(o, "/status/currentReplicas")),
                    age,
                ]
            }
            Kind::Ingress => {
                let ports = if arr(o, "/spec/tls").is_empty() {
                    "80"
                } else {
                    "80, 443"
                };
                vec![
                    n,
                    json!(opt_s(o, "/spec/ingressClassName").unwrap_or("<none>")),
                    json!(ingress_hosts(arr(o, "/spec/rules"))),
                    json!(load_balancer_addresses(o)),
                    json!(ports),
                    age,
                ]
            }
            Kind::IngressClass => {
                let params = match o.pointer("/spec/parameters").filter(|p| p.is_object()) {
                    None => "<none>".to_string(),
                    Some(p) => {
                        let mut kind = s(p, "/kind").to_string();
                        if let Some(g) = opt_s(p, "/apiGroup") {
                            kind = format!("{kind}.{g}");
                        }
                        format!("{kind}/{}", s(p, "/name"))
                    }
                };
                let default = map(o, "/metadata/annotations")
                    .and_then(|a| a.get("ingressclass.kubernetes.io/is-default-class"))
                    .and_then(Value::as_str)
                    == Some("true");
                let shown = if default {
                    json!(format!("{} (default)", name(o)))
                } else {
                    n
                };
                vec![shown, json!(s(o, "/spec/controller")), json!(params), age]
            }
            Kind::NetworkPolicy => {
                // An absent podSelector is the empty (select-all) selector, not a nil one.
                let sel = o
                    .pointer("/spec/podSelector")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                vec![n, json!(format_label_selector(Some(&sel))), age]
            }
            Kind::StorageClass => {
                let annotations = map(o, "/metadata/annotations");
                let is_default = [
                    "storageclass.kubernetes.io/is-default-class",
                    "storageclass.beta.kubernetes.io/is-default-class",
                ]
                .iter()
                .any(|k| {
                    annotations.and_then(|a| a.get(*k)).and_then(Value::as_str) == Some("true")
                });
                let shown = if is_default {
                    format!("{} (default)", name(o))
                } else {
                    name(o).to_string()
                };
                vec![
                    json!(shown),
                    json!(s(o, "/provisioner")),
                    json!(opt_s(o, "/reclaimPolicy").unwrap_or("Delete")),
                    json!(opt_s(o, "/volumeBindingMode").unwrap_or("Immediate")),
                    json!(b(o, "/allowVolumeExpansion")),
                    age,
                ]
            }
            Kind::RoleBinding | Kind::ClusterRoleBinding => {
                let (users, groups, sas) = subjects(arr(o, "/subjects"));
                vec![
                    n,
                    json!(format!(
                        "{}/{}",
                        s(o, "/roleRef/kind"),
                        s(o, "/roleRef/name")
                    )),
                    age,
                    json!(users.join(", ")),
                    json!(groups.join(", ")),
                    json!(sas.join(", ")),
                ]
            }
            Kind::Lease => vec![n, json!(s(o, "/spec/holderIdentity")), age],
            Kind::EndpointSlice => vec![
                n,
                json!(s(o, "/addressType")),
                json!(slice_ports(arr(o, "/ports"))),
                json!(slice_endpoints(arr(o, "/endpoints"))),
                age,
            ],
            Kind::ApiService => {
                let service = match o.pointer("/spec/service").filter(|v| !v.is_null()) {
                    Some(svc) => format!(
                        "{}/{}",
                        svc.get("namespace").and_then(Value::as_str).unwrap_or(""),
                        svc.get("name").and_then(Value::as_str).unwrap_or("")
                    ),
                    None => "Local".to_string(),
                };
                let available = o
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|c| c.iter().find(|x| x["type"] == "Available"))
                    .map(|c| {
                        let status = c["status"].as_str().unwrap_or("Unknown");
                        match c["reason"].as_str() {
                            Some(r) if status != "True" => format!("{status} ({r})"),
                            _ => status.to_string(),
                        }
                    })
                    .unwrap_or_else(|| "Unknown".to_string());
                vec![n, json!(service), json!(available), age]
            }
            Kind::PodDisruptionBudget => {
                let ios = |p: &str| match o.pointer(p) {
                    None | Some(Value::Null) => "N/A".to_string(),
                    Some(v) => int_or_string(v),
                };
                vec![
                    n,
                    json!(ios("/spec/minAvailable")),
                    json!(ios("/spec/maxUnavailable")),
                    json!(i(o, "/status/disruptionsAllowed")),
                    age,
                ]
            }
            Kind::PriorityClass => vec![
                n,
                json!(i(o, "/value")),
                json!(b(o, "/globalDefault")),
                age,
                json!(s(o, "/preemptionPolicy")),
            ],
        }
    }
}

/// formatHosts: up to three hosts, "*" when none, "+ N more..." counting every rule.
fn ingress_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = s(rule, "/host");
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".into();
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", rules.len() - MAX)
    } else {
        ret
    }
}

/// rbac.SubjectsStrings: users, groups and `namespace/name` service accounts.
fn subjects(list: &[Value]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for sub in list {
        match s(sub, "/kind") {
            "ServiceAccount" => sas.push(format!("{}/{}", s(sub, "/namespace"), s(sub, "/name"))),
            "User" => users.push(s(sub, "/name").to_string()),
            "Group" => groups.push(s(sub, "/name").to_string()),
            _ => {}
        }
    }
    (users, groups, sas)
}

/// formatDiscoveryPorts: port numbers (or names, or "*"), three at most.
fn slice_ports(ports: &[Value]) -> String {
    const MAX: usize = 3;
    let (mut list, mut more, mut count) = (Vec::new(), false, 0usize);
    for p in ports {
        if list.len() < MAX {
            let shown = match (opt_i(p, "/port"), opt_s(p, "/name")) {
                (Some(n), _) => n.to_string(),
                (None, Some(name)) => name.to_string(),
                (None, None) => "*".to_string(),
            };
            list.push(shown);
        } else if list.len() == MAX {
            more = true;
        }
        count += 1;
    }
    list_with_more(&list, more, count, MAX)
}

/// formatDiscoveryEndpoints: the endpoints' addresses, three at most.
fn slice_endpoints(endpoints: &[Value]) -> String {
    const MAX: usize = 3;
    let (mut list, mut more, mut count) = (Vec::new(), false, 0usize);
    for e in endpoints {
        for a in arr(e, "/addresses") {
            if list.len() < MAX {
                list.push(a.as_str().unwrap_or("").to_string());
            } else if list.len() == MAX {
                more = true;
            }
            count += 1;
        }
    }
    list_with_more(&list, more, count, MAX)
}

/// A metric as the internal (autoscaling/v2-shaped) HPA holds it, from a v2 or v1 object.
fn hpa_metrics(o: &Value) -> (Vec<Value>, Vec<Value>) {
    if o.pointer("/spec/metrics").is_some()
        || o.pointer("/spec/targetCPUUtilizationPercentage").is_none()
    {
        return (
            arr(o, "/spec/metrics").to_vec(),
            arr(o, "/status/currentMetrics").to_vec(),
        );
    }
    // autoscaling/v1 carries a single CPU utilization target.
    let target = i(o, "/spec/targetCPUUtilizationPercentage");
    let spec = json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}});
    let status = match opt_i(o, "/status/currentCPUUtilizationPercentage") {
        Some(cur) => vec![
            json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cur}}}),
        ],
        None => vec![],
    };
    (vec![spec], status)
}

/// formatHPAMetrics: "cpu: 20%/50%", "<unknown>/50%", two metrics at most then "+ N more...".
fn hpa_targets(o: &Value) -> String {
    let (specs, statuses) = hpa_metrics(o);
    if specs.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 2;
    let mut list: Vec<String> = Vec::new();
    for (idx, spec) in specs.iter().enumerate() {
        let status = statuses.get(idx);
        // The status entry of the same source type, as the Go code reads statuses[i].<Type>.
        let cur = |field: &str| {
            status
                .and_then(|st| st.get(field))
                .filter(|v| v.is_object())
        };
        let unknown = || "<unknown>".to_string();
        let entry = match s(spec, "/type") {
            "External" | "Object" => {
                let field = if s(spec, "/type") == "External" {
                    "external"
                } else {
                    "object"
                };
                match spec.pointer(&format!("/{field}/target/averageValue")) {
                    Some(avg) if !avg.is_null() => {
                        let current = cur(field)
                            .and_then(|c| c.pointer("/current/averageValue"))
                            .filter(|v| !v.is_null())
                            .map(|v| quantity(Some(v)))
                            .unwrap_or_else(unknown);
                        format!("{current}/{} (avg)", quantity(Some(avg)))
                    }
                    _ => {
                        let current = cur(field)
                            .map(|c| quantity_ptr(c.pointer("/current/value")))
                            .unwrap_or_else(unknown);
                        format!(
                            "{current}/{}",
                            quantity_ptr(spec.pointer(&format!("/{field}/target/value")))
                        )
                    }
                }
            }
            "Pods" => {
                let current = cur("pods")
                    .map(|c| quantity_ptr(c.pointer("/current/averageValue")))
                    .unwrap_or_else(unknown);
                format!(
                    "{current}/{}",
                    quantity_ptr(spec.pointer("/pods/target/averageValue"))
                )
            }
            ty @ ("Resource" | "ContainerResource") => {
                let field = if ty == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let res = s(spec, &format!("/{field}/name"));
                match spec.pointer(&format!("/{field}/target/averageValue")) {
                    Some(avg) if !avg.is_null() => {
                        let current = cur(field)
                            .map(|c| quantity_ptr(c.pointer("/current/averageValue")))
                            .unwrap_or_else(unknown);
                        format!("{res}: {current}/{}", quantity(Some(avg)))
                    }
                    _ => {
                        let current = cur(field)
                            .and_then(|c| opt_i(c, "/current/averageUtilization"))
                            .map(|u| format!("{u}%"))
                            .unwrap_or_else(unknown);
                        let target = opt_i(spec, &format!("/{field}/target/averageUtilization"))
                            .map(|u| format!("{u}%"))
                            .unwrap_or_else(|| "<auto>".into());
                        format!("{res}: {current}/{target}")
                    }
                }
            }
            _ => "<unknown type>".into(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > MAX {
        list.truncate(MAX);
        return format!("{} + {} more...", list.join(", "), count - MAX);
    }
    list.join(", ")
}
