//! Objects every cluster has from its first start: the four system namespaces and the
//! `kubernetes` service.

use std::sync::Arc;

use serde_json::json;

use super::authn::UserInfo;
use super::handlers::{create_object, Ctx};
use super::http::Output;
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
    match create_object(&ctx, obj, "kube-apiserver", None).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Create the bootstrap objects that are missing.
pub async fn bootstrap(state: &Arc<State>) -> Result<(), ApiError> {
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
