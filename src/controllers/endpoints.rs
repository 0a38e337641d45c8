//! EndpointSlices and Endpoints for Services with selectors: the pods a Service selects
//! that have an IP, ready or not, with each Service port's target resolved per pod (named
//! target ports can differ between pods) — the endpointslice and endpoints controllers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use serde_json::{json, Value};

use super::pods::{controller_ref, is_active, ready_since};
use super::retry::Retries;
use crate::informer::SharedCaches;

const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
const SERVICE_NAME: &str = "kubernetes.io/service-name";

/// Errors of one reconcile pass.
#[derive(Debug, thiserror::Error)]
#[error("endpoints of service {name}: {source}")]
pub struct Error {
    name: String,
    source: kube::Error,
}

/// Run until aborted; pods come from the shared cache.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    let retries = Retries::new("endpoints");
    let controller = caches.controller::<Service>().await;
    let store = controller.store();
    // A pod change re-syncs every Service in its namespace that selects it.
    let selecting = caches.touched::<Pod>().flat_map(move |pod| {
        let ns = pod.namespace().unwrap_or_default();
        let labels = pod.labels();
        let services: Vec<_> = store
            .state()
            .into_iter()
            .filter(|s| s.namespace().as_deref() == Some(ns.as_str()))
            .filter(|s| selects(s, labels))
            .map(|s| ObjectRef::from_obj(s.as_ref()))
            .collect();
        futures::stream::iter(services)
    });
    controller
        .reconcile_on(selecting)
        .run(
            retries.forgetting(reconcile),
            retries.error_policy(),
            Arc::new(Ctx { client, caches }),
        )
        .for_each(|res| async move { super::log_run_error("endpoints", res) })
        .await;
}

/// What a pass works with.
struct Ctx {
    client: kube::Client,
    caches: SharedCaches,
}

/// Whether the Service `svc` has a selector and it matches `labels`.
fn selects(svc: &Service, labels: &BTreeMap<String, String>) -> bool {
    svc.spec
        .as_ref()
        .and_then(|sp| sp.selector.as_ref())
        .is_some_and(|sel| !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// A pod's resolved service ports: (name, target port, protocol) per service port.
type PortMapping = Vec<(String, i32, String)>;

/// A service port's target on one pod: a number, or a named container port.
fn target_port(tp: Option<&IntOrString>, port: i32, pod: &Pod) -> Option<i32> {
    match tp {
        None => Some(port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => pod
            .spec
            .as_ref()?
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port),
    }
}

async fn reconcile(svc: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let client = &ctx.client;
    let name = svc.name_any();
    let ns = svc.namespace().unwrap_or_default();
    let err = |source| Error {
        name: name.clone(),
        source,
    };
    let Some(spec) = svc.spec.clone() else {
        return Ok(Action::await_change());
    };
    let Some(selector) = spec.selector.clone().filter(|s| !s.is_empty()) else {
        // Services without selectors have their endpoints managed by someone else.
        return Ok(Action::await_change());
    };
    if svc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let uid = svc.uid().unwrap_or_default();
    let mut pods: Vec<Arc<Pod>> = ctx
        .caches
        .in_namespace::<Pod>(&ns)
        .await
        .into_iter()
        .filter(|p| selector.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
        .collect();
    // The order a LIST would give, so the slices' endpoints do not reorder between passes.
    pods.sort_by_key(|p| p.name_any());
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.clone().unwrap_or_default();
    // Endpoints grouped by their resolved ports (one slice per distinct port mapping).
    let mut groups: BTreeMap<PortMapping, Vec<Value>> = BTreeMap::new();
    let mut subsets: BTreeMap<PortMapping, (Vec<Value>, Vec<Value>)> = BTreeMap::new();
    for pod in &pods {
        let Some(ip) = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .filter(|i| !i.is_empty())
        else {
            continue;
        };
        let terminating = pod.metadata.deletion_timestamp.is_some();
        if !terminating && !is_active(pod) {
            continue;
        }
        let ready = (ready_since(pod).is_some() && !terminating) || publish_not_ready;
        let serving = ready_since(pod).is_some() || publish_not_ready;
        let resolved: Vec<(String, i32, String)> = ports
            .iter()
            .filter_map(|p| {
                Some((
                    p.name.clone().unwrap_or_default(),
                    target_port(p.target_port.as_ref(), p.port, pod)?,
                    p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                ))
            })
            .collect();
        let pod_spec = pod.spec.clone().unwrap_or_default();
        let hostname = pod_spec
            .hostname
            .clone()
            .filter(|_| pod_spec.subdomain.as_deref() == Some(name.as_str()));
        let target =
            json!({"kind": "Pod", "name": pod.name_any(), "namespace": ns, "uid": pod.uid()});
        let mut ep = json!({
            "addresses": [ip],
            "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            "targetRef": target,
        });
        if let Some(node) = pod_spec.node_name.clone() {
            ep["nodeName"] = json!(node);
        }
        if let Some(h) = &hostname {
            ep["hostname"] = json!(h);
        }
        groups.entry(resolved.clone()).or_default().push(ep);
        if !terminating {
            let mut addr = json!({"ip": ip, "targetRef": target});
            if let Some(node) = &pod_spec.node_name {
                addr["nodeName"] = json!(node);
            }
            if let Some(h) = &hostname {
                addr["hostname"] = json!(h);
            }
            let entry = subsets.entry(resolved).or_default();
            if ready {
                entry.0.push(addr);
            } else {
                entry.1.push(addr);
            }
        }
    }
    let owner = controller_ref("v1", "Service", &name, &uid);
    let slices_api: Api<EndpointSlice> = Api::namespaced((*client).clone(), &ns);
    let existing = slices_api
        .list(&ListParams::default().labels(&format!(
            "{SERVICE_NAME}={name},endpointslice.kubernetes.io/managed-by={MANAGED_BY}"
        )))
        .await
        .map_err(err)?
        .items;
    let mut desired: Vec<Value> = groups
        .iter()
        .map(|(ports, eps)| {
            json!({
                "ports": ports.iter().map(|(n, p, proto)| json!({"name": n, "port": p, "protocol": proto})).collect::<Vec<_>>(),
                "endpoints": eps,
            })
        })
        .collect();
    if desired.is_empty() {
        // An empty slice still tells consumers the service exists and has no endpoints.
        desired.push(json!({"ports": [], "endpoints": []}));
    }
    let labels = json!({SERVICE_NAME: name, "endpointslice.kubernetes.io/managed-by": MANAGED_BY});
    for (i, want) in desired.iter().enumerate() {
        match existing.get(i) {
            Some(have) => {
                let have_json = serde_json::to_value(have).unwrap_or(Value::Null);
                let same = have_json.get("endpoints").unwrap_or(&json!([]))
                    == want.get("endpoints").unwrap_or(&json!([]))
                    && have_json.get("ports").unwrap_or(&json!([]))
                        == want.get("ports").unwrap_or(&json!([]));
                if !same {
                    let patch = json!({"endpoints": want["endpoints"], "ports": want["ports"]});
                    slices_api
                        .patch(
                            &have.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(&patch),
                        )
                        .await
                        .map_err(err)?;
                }
            }
            None => {
                let slice: EndpointSlice = serde_json::from_value(json!({
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"generateName": format!("{name}-"), "namespace": ns, "labels": labels, "ownerReferences": [owner]},
                    "addressType": "IPv4",
                    "ports": want["ports"], "endpoints": want["endpoints"],
                }))
                .map_err(|e| err(kube::Error::SerdeError(e)))?;
                slices_api
                    .create(&PostParams::default(), &slice)
                    .await
                    .map_err(err)?;
            }
        }
    }
    for extra in existing.iter().skip(desired.len()) {
        let _ = slices_api
            .delete(&extra.name_any(), &DeleteParams::default())
            .await;
    }

    // The v1 Endpoints object with the same name.
    let endpoints_api: Api<Endpoints> = Api::namespaced((*client).clone(), &ns);
    let subsets_json: Vec<Value> = subsets
        .iter()
        .map(|(ports, (ready, not_ready))| {
            let mut s = json!({"ports": ports.iter().map(|(n, p, proto)| {
                let mut port = json!({"port": p, "protocol": proto});
                if !n.is_empty() { port["name"] = json!(n); }
                port
            }).collect::<Vec<_>>()});
            if !ready.is_empty() {
                s["addresses"] = json!(ready);
            }
            if !not_ready.is_empty() {
                s["notReadyAddresses"] = json!(not_ready);
            }
            s
        })
        .collect();
    let endpoints: Endpoints = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": name, "namespace": ns, "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name, "uid": uid}]},
        "subsets": subsets_json,
    }))
    .map_err(|e| err(kube::Error::SerdeError(e)))?;
    match endpoints_api.get_opt(&name).await.map_err(err)? {
        None => {
            endpoints_api
                .create(&PostParams::default(), &endpoints)
                .await
                .map_err(err)?;
        }
        Some(have) => {
            let have_subsets = serde_json::to_value(&have.subsets).unwrap_or(Value::Null);
            let want = serde_json::to_value(&endpoints.subsets).unwrap_or(Value::Null);
            if have_subsets != want {
                let mut replace = endpoints.clone();
                replace.metadata.resource_version = have.metadata.resource_version.clone();
                endpoints_api
                    .replace(&name, &PostParams::default(), &replace)
                    .await
                    .map_err(err)?;
            }
        }
    }
    Ok(Action::requeue(Duration::from_secs(60)))
}
