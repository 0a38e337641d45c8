//! The namespace lifecycle controller: when a namespace is being deleted, delete
//! everything in it, then remove the `kubernetes` finalizer so the namespace goes away.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::ApiResource;
use kube::runtime::controller::Action;
use kube::ResourceExt;

use super::retry::Retries;
use crate::informer::SharedCaches;
use crate::resources::registry::Registry;

/// Errors of one reconcile pass.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("namespace {namespace}: {source}")]
    Api {
        /// The namespace.
        namespace: String,
        /// The cause.
        source: kube::Error,
    },
}

struct Ctx {
    client: kube::Client,
    registry: Arc<Registry>,
}

/// The kube finalizer the namespace controller owns.
const FINALIZER: &str = "kubernetes";

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches, registry: Arc<Registry>) {
    let retries = Retries::new("namespace");
    caches
        .controller::<Namespace>()
        .await
        .run(
            retries.forgetting(reconcile),
            retries.error_policy(),
            Arc::new(Ctx { client, registry }),
        )
        .for_each(|res| async move { super::log_run_error("namespace", res) })
        .await;
}

/// Every namespaced, stored resource once (one version per storage).
fn namespaced_resources(registry: &Registry) -> Vec<ApiResource> {
    super::stored_kinds(registry, |r| {
        r.namespaced && r.verbs.iter().any(|v| v == "deletecollection")
    })
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if ns.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let err = |source| Error::Api {
        namespace: name.clone(),
        source,
    };
    let has_finalizer = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER));
    if !has_finalizer {
        return Ok(Action::await_change());
    }
    let mut remaining = 0;
    for ar in namespaced_resources(&ctx.registry) {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &name, &ar);
        api.delete_collection(&DeleteParams::background(), &ListParams::default())
            .await
            .map_err(err)?;
        remaining += api
            .list(&ListParams::default().limit(1))
            .await
            .map_err(err)?
            .items
            .len();
    }
    if remaining > 0 {
        // Objects with finalizers or grace periods go away on their own schedule.
        return Ok(Action::requeue(Duration::from_secs(2)));
    }
    let mut finalized = (*ns).clone();
    if let Some(f) = finalized.spec.as_mut().and_then(|s| s.finalizers.as_mut()) {
        f.retain(|x| x != FINALIZER);
    }
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    api.replace_subresource("finalize", &name, &PostParams::default(), &finalized)
        .await
        .map_err(err)?;
    Ok(Action::await_change())
}
