//! The shape the workload controllers share: a kube-runtime Controller over one kind that
//! owns another, with an event recorder, retrying failed passes with per-object back-off.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::Resource;
use serde::de::DeserializeOwned;

use super::events::Recorder;
use super::expectations::Expectations;
use super::retry::Retries;
use crate::informer::{Cached, SharedCaches};

/// A failed reconcile pass over the named object.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {source}")]
pub struct Error {
    /// The object.
    pub name: String,
    /// The failed API call.
    pub source: kube::Error,
}

/// What a workload controller reconciles with.
pub struct Ctx {
    /// The controller's client.
    pub client: kube::Client,
    /// Its event recorder.
    pub recorder: Recorder,
    /// The process's shared caches, read instead of LISTing.
    pub caches: SharedCaches,
    /// Its writes that the caches may not show yet.
    pub expectations: Expectations,
}

/// Run the controller `component` for `K` objects owning `C` objects until aborted.
pub async fn run<K, C, F, Fut>(
    client: kube::Client,
    caches: SharedCaches,
    component: &'static str,
    reconcile: F,
) where
    K: Cached,
    C: Cached,
    F: FnMut(Arc<K>, Arc<Ctx>) -> Fut,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let recorder = Recorder::new(client.clone(), component, "");
    let retries = Retries::new(component);
    // Owned objects come from the shared cache's watch, after the cache has them, so a
    // pass they trigger reads them as they were when they triggered it.
    let owned = caches
        .touched::<C>()
        .filter_map(|child| async move { owner_of::<K>(&*child) });
    caches
        .controller::<K>()
        .await
        .reconcile_on(owned)
        .run(
            retries.forgetting(reconcile),
            retries.error_policy(),
            Arc::new(Ctx {
                client,
                recorder,
                caches,
                expectations: Expectations::default(),
            }),
        )
        .for_each(|res| async move { super::log_run_error(component, res) })
        .await;
}

/// The controller of `child` if it is a `K`, as kube-runtime's `owns` maps it.
fn owner_of<K: Resource<DynamicType = ()>>(child: &impl Resource) -> Option<ObjectRef<K>> {
    let meta = child.meta();
    let owner = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))?;
    let ours = owner.kind == K::kind(&()) && owner.api_version == K::api_version(&());
    ours.then(|| {
        let owner_ref = ObjectRef::new(&owner.name);
        match &meta.namespace {
            Some(ns) => owner_ref.within(ns),
            None => owner_ref,
        }
    })
}

/// The pods that the owner `uid` controls in `ns`, as the shared cache has them, once it
/// shows every earlier pod write of that owner (`what` names it in logs); `None` while it
/// does not, and the pass should come back after [`SETTLING`]: counting from a cache behind
/// the last pass's writes would create or delete pods twice.
pub async fn settled_pods(
    ctx: &Ctx,
    ns: &str,
    what: &str,
    uid: &str,
    pods_api: &Api<Pod>,
) -> Option<Vec<Arc<Pod>>> {
    let all = ctx.caches.in_namespace::<Pod>(ns).await;
    let cached: Vec<&Pod> = all.iter().map(AsRef::as_ref).collect();
    if !ctx.expectations.satisfied(uid, &cached, pods_api).await {
        tracing::debug!(object = %format!("{ns}/{what}"), "waiting for the cache to show earlier writes");
        return None;
    }
    Some(
        all.into_iter()
            .filter(|p| super::pods::controller_uid(p.as_ref()).as_deref() == Some(uid))
            .collect(),
    )
}

/// How soon a pass that found its cache unsettled comes back.
pub const SETTLING: std::time::Duration = std::time::Duration::from_millis(200);

/// Delete `name` through `api` and record SuccessfulDelete with `message` on `about` (or
/// FailedDelete with the error), as the workload controllers do for what they remove.
/// Returns whether this call deleted it: a missing object is fine, and records nothing.
pub async fn delete_recorded<K>(
    api: &Api<K>,
    name: &str,
    params: &kube::api::DeleteParams,
    ctx: &Ctx,
    about: &k8s_openapi::api::core::v1::ObjectReference,
    message: &str,
) -> bool
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    use super::events::EventType;
    match api.delete(name, params).await {
        Ok(_) => {
            ctx.recorder
                .publish(about, EventType::Normal, "SuccessfulDelete", message);
            true
        }
        Err(kube::Error::Api(s)) if s.code == 404 => false,
        Err(e) => {
            tracing::debug!(error = %e, name, "delete failed");
            let failed = format!("Error deleting: {e}");
            ctx.recorder
                .publish(about, EventType::Warning, "FailedDelete", &failed);
            false
        }
    }
}
