//! Objects every cluster has from its first start: the four system namespaces, the
//! `kubernetes` service and the bootstrap RBAC policy.

use std::sync::Arc;

use serde_json::json;

use super::authn::UserInfo;
use super::handlers::{create_object, guaranteed_update, Change, Ctx};
use super::http::Output;
use super::rbac::{aggregation, policy};
use super::request::{Query, RequestInfo};
use super::status::ApiError;
use super::State;

/// A context for the API server's own writes (identity `system:apiserver`).
pub fn internal_ctx(
    state: &Arc<State>,
    group: &str,
    version: &str,
    plural: &str,
    namespace: Option<&str>,
) -> Option<Ctx> {
    let res = state.registry.lookup(group, version, plural)?;
    Some(Ctx {
        state: state.clone(),
        req: RequestInfo {
            is_resource: true,
            verb: "create".into(),
            group: group.into(),
            version: version.into(),
            namespace: namespace.map(str::to_string),
            resource: plural.into(),
            ..Default::default()
        },
        res,
        query: Query::default(),
        output: Output::Json,
        user: UserInfo {
            name: "system:apiserver".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
            uid: String::new(),
        },
        content_type: "application/json".into(),
        user_agent: "kube-apiserver".into(),
    })
}

async fn ensure(ctx: Option<Ctx>, obj: serde_json::Value) -> Result<(), ApiError> {
    let ctx = ctx.ok_or_else(|| ApiError::internal("bootstrap resource not registered"))?;
    ensure_in(&ctx, obj).await
}

async fn ensure_in(ctx: &Ctx, obj: serde_json::Value) -> Result<(), ApiError> {
    let key = ctx.key(obj["metadata"]["name"].as_str().unwrap_or_default());
    if ctx
        .state
        .store
        .get(&key)
        .await
        .map_err(ApiError::internal)?
        .is_some()
    {
        return Ok(());
    }
    match create_object(ctx, obj, "kube-apiserver", None).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

const RBAC: &str = "rbac.authorization.k8s.io";

fn autoupdate(obj: &serde_json::Value) -> bool {
    obj.pointer("/metadata/annotations/rbac.authorization.kubernetes.io~1autoupdate")
        .and_then(serde_json::Value::as_str)
        != Some("false")
}

/// Create the bootstrap roles and bindings, bring annotated ones back to this version's
/// policy (as kube-apiserver's RBAC reconciliation does at start), and fill aggregated
/// ClusterRoles.
async fn rbac_policy(state: &Arc<State>) -> Result<(), ApiError> {
    let ctx = |plural: &str| {
        internal_ctx(state, RBAC, "v1", plural, None)
            .ok_or_else(|| ApiError::internal("RBAC kinds are not registered"))
    };
    let roles_ctx = ctx("clusterroles")?;
    for role in policy::cluster_roles() {
        ensure_in(&roles_ctx, role.clone()).await?;
        if role.get("aggregationRule").is_some() {
            continue;
        }
        let name = role["metadata"]["name"].as_str().unwrap_or_default();
        guaranteed_update(&roles_ctx, name, None, |mut current| {
            if !autoupdate(&current) || current.get("rules") == role.get("rules") {
                return Ok(Change::Unchanged);
            }
            current["rules"] = role["rules"].clone();
            Ok(Change::Write(current))
        })
        .await?;
    }
    let bindings_ctx = ctx("clusterrolebindings")?;
    for binding in policy::cluster_role_bindings() {
        ensure_in(&bindings_ctx, binding).await?;
    }
    for (name, kind, subject) in policy::RETIRED_SUBJECTS {
        guaranteed_update(&bindings_ctx, name, None, |mut current| {
            let Some(subjects) = current.get_mut("subjects").and_then(|s| s.as_array_mut()) else {
                return Ok(Change::Unchanged);
            };
            let before = subjects.len();
            subjects.retain(|s| s["kind"] != *kind || s["name"] != *subject);
            let (removed, left) = (subjects.len() != before, subjects.len());
            if !removed || !autoupdate(&current) {
                return Ok(Change::Unchanged);
            }
            if left == 0 {
                if let Some(obj) = current.as_object_mut() {
                    obj.remove("subjects");
                }
            }
            Ok(Change::Write(current))
        })
        .await?;
    }
    // Aggregate over every stored ClusterRole, including ones users added.
    let prefix = roles_ctx.res.prefix(None);
    let listed = state
        .store
        .range(&prefix, None, None, None)
        .await
        .map_err(ApiError::internal)?;
    let mut all: Vec<serde_json::Value> = listed
        .kvs
        .iter()
        .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
        .collect();
    for name in aggregation::settle(&mut all) {
        let Some(role) = all.iter().find(|r| r["metadata"]["name"] == name.as_str()) else {
            continue;
        };
        guaranteed_update(&roles_ctx, &name, None, |mut current| {
            current["rules"] = role["rules"].clone();
            Ok(Change::Write(current))
        })
        .await?;
    }
    Ok(())
}

/// Create the bootstrap objects that are missing.
pub async fn bootstrap(state: &Arc<State>) -> Result<(), ApiError> {
    rbac_policy(state).await?;
    for apiservice in super::aggregator::local_apiservices(state) {
        ensure(
            internal_ctx(state, "apiregistration.k8s.io", "v1", "apiservices", None),
            apiservice,
        )
        .await?;
    }
    system_objects(state).await
}

/// How often kube-apiserver's controllers put back the `kubernetes` Service and its
/// endpoints (`--endpoint-reconciler` interval) and the system namespaces.
const RECONCILE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Put back, as kube-apiserver does, what a user may delete but every cluster needs: the
/// system namespaces, the `kubernetes` Service and, on a node, its endpoints and `kube-dns`.
pub async fn keep_system_objects(state: Arc<State>, advertise: Option<std::net::SocketAddr>) {
    loop {
        tokio::time::sleep(RECONCILE_INTERVAL).await;
        if let Err(e) = system_objects(&state).await {
            tracing::warn!(error = %e.message, "reconciling the kubernetes service");
        }
        if let Some(advertise) = advertise {
            if let Err(e) = node_services(&state, advertise).await {
                tracing::warn!(error = %e.message, "reconciling the kubernetes endpoints");
            }
        }
    }
}

/// The four system namespaces and the `kubernetes` Service, created when missing.
async fn system_objects(state: &Arc<State>) -> Result<(), ApiError> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        ensure(
            internal_ctx(state, "", "v1", "namespaces", None),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}),
        )
        .await?;
    }
    let ip = state.allocators.first_ip().to_string();
    ensure(
        internal_ctx(state, "", "v1", "services", Some("default")),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]},
        }),
    )
    .await
}

/// Write `obj` unless the stored object already has the same `field` (create when missing).
async fn ensure_field(ctx: &Ctx, obj: serde_json::Value, field: &str) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure_in(ctx, obj.clone()).await?;
    guaranteed_update(ctx, &name, None, |mut current| {
        if current.get(field) == obj.get(field) {
            return Ok(Change::Unchanged);
        }
        current[field] = obj[field].clone();
        Ok(Change::Write(current))
    })
    .await
    .map(|_| ())
}

/// The objects a node-hosted control plane adds: the `kube-dns` Service on the tenth
/// service address (the node answers DNS there itself, so it selects no pods), and the
/// `kubernetes` Service's endpoints at the address pods reach the API server on, kept
/// current like kube-apiserver's endpoint reconciler does.
pub async fn node_services(
    state: &Arc<State>,
    advertise: std::net::SocketAddr,
) -> Result<(), ApiError> {
    let dns_ip = state.allocators.dns_ip().to_string();
    ensure(
        internal_ctx(state, "", "v1", "services", Some("kube-system")),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system",
                         "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                    "kubernetes.io/name": "CoreDNS"}},
            "spec": {"type": "ClusterIP", "clusterIP": dns_ip, "sessionAffinity": "None",
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
        }),
    )
    .await?;
    let ip = advertise.ip().to_string();
    let port = advertise.port();
    let endpoints_ctx = internal_ctx(state, "", "v1", "endpoints", Some("default"))
        .ok_or_else(|| ApiError::internal("endpoints are not registered"))?;
    ensure_field(
        &endpoints_ctx,
        json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": ip}],
                         "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
        }),
        "subsets",
    )
    .await?;
    let slices_ctx = internal_ctx(
        state,
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        Some("default"),
    )
    .ok_or_else(|| ApiError::internal("endpointslices are not registered"))?;
    ensure_field(
        &slices_ctx,
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": true, "serving": true, "terminating": false}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }),
        "endpoints",
    )
    .await
}
