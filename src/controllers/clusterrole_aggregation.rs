//! The ClusterRole aggregation controller: keeps the rules of every ClusterRole with an
//! `aggregationRule` equal to the union of the ClusterRoles its selectors match, so that
//! a CRD installer's `aggregate-to-view` role extends `view`, `edit` and `admin` at once.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::{json, Value};

use super::retry::Retries;
use crate::apiserver::rbac::aggregation::aggregated_rules;
use crate::informer::SharedCaches;

/// Errors of one reconcile pass.
#[derive(Debug, thiserror::Error)]
#[error("clusterrole {name}: {source}")]
pub struct Error {
    name: String,
    source: kube::Error,
}

struct Ctx {
    api: Api<ClusterRole>,
}

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches) {
    let retries = Retries::new("clusterrole-aggregation");
    let api: Api<ClusterRole> = Api::all(client);
    // Any role's change may change any aggregate, so every change re-checks them all.
    let changes = caches.changes::<ClusterRole>();
    caches
        .controller::<ClusterRole>()
        .await
        .reconcile_all_on(changes)
        .run(
            retries.forgetting(reconcile),
            retries.error_policy(),
            Arc::new(Ctx { api }),
        )
        .for_each(|res| async move { super::log_run_error("clusterrole-aggregation", res) })
        .await;
}

async fn reconcile(role: Arc<ClusterRole>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if role.aggregation_rule.is_none() {
        return Ok(Action::await_change());
    }
    // A fresh list, not the reflector: the change that triggered this pass may not have
    // reached the controller's own cache yet, and a stale source would settle on old rules.
    let name = role.name_any();
    let listed = ctx
        .api
        .list(&Default::default())
        .await
        .map_err(|source| Error {
            name: name.clone(),
            source,
        })?;
    let all: Vec<Value> = listed
        .items
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .collect();
    let Ok(me) = serde_json::to_value(role.as_ref()) else {
        return Ok(Action::await_change());
    };
    let Some(rules) = aggregated_rules(&me, &all) else {
        return Ok(Action::await_change());
    };
    let current = me.get("rules").cloned().unwrap_or(json!([]));
    if current == json!(rules) || (current.is_null() && rules.is_empty()) {
        return Ok(Action::await_change());
    }
    ctx.api
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"rules": rules})),
        )
        .await
        .map_err(|source| Error {
            name: name.clone(),
            source,
        })?;
    Ok(Action::await_change())
}
