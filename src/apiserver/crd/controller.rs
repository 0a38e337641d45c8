//! The CRD controller inside the API server (apiextensions-apiserver's establishing,
//! naming and finalizing controllers): serves each stored CRD, keeps its status
//! conditions, and on deletion removes its objects before letting the CRD go.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::admission::CLEANUP_FINALIZER;
use super::definition::Definition;
use crate::apiserver::bootstrap::internal_ctx;
use crate::apiserver::handlers::{guaranteed_update, Change};
use crate::apiserver::{object, State};
use crate::store::{Revision, StoreError};

const GROUP: &str = "apiextensions.k8s.io";

fn prefix(state: &State) -> Option<String> {
    state
        .registry
        .lookup(GROUP, "v1", "customresourcedefinitions")
        .map(|r| r.prefix(None))
}

/// Serve the CRDs already stored, then follow changes until aborted.
pub async fn start(state: Arc<State>) -> Result<JoinHandle<()>, StoreError> {
    let Some(prefix) = prefix(&state) else {
        return Ok(tokio::spawn(async {}));
    };
    let listed = state.store.range(&prefix, None, None, None).await?;
    for kv in &listed.kvs {
        if let Ok(crd) = serde_json::from_slice::<Value>(&kv.value) {
            reconcile(&state, &crd).await;
        }
    }
    let rev = listed.revision;
    Ok(tokio::spawn(follow(state, prefix, rev)))
}

async fn follow(state: Arc<State>, prefix: String, mut rev: Revision) {
    loop {
        let mut watch = match state.store.watch(&prefix, rev).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "CRD watch failed; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                rev = state.store.current_revision();
                continue;
            }
        };
        while let Some(ev) = watch.next().await {
            let Ok(ev) = ev else { break };
            rev = ev.revision();
            // Act on the CRD as it is now, not as this (possibly stale) event saw it: an
            // old event must not serve a CRD that has since been deleted.
            let current = match state.store.get(&ev.kv.key).await {
                Ok(kv) => kv.and_then(|kv| serde_json::from_slice::<Value>(&kv.value).ok()),
                Err(_) => continue,
            };
            match current {
                Some(crd) => reconcile(&state, &crd).await,
                None => {
                    let Ok(gone) = serde_json::from_slice::<Value>(&ev.kv.value) else {
                        continue;
                    };
                    let def = Definition::from_object(&gone);
                    state
                        .crds
                        .unregister(&state.registry, &def.group, &def.plural);
                }
            }
        }
    }
}

fn condition(kind: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message})
}

async fn reconcile(state: &Arc<State>, crd: &Value) {
    let def = Definition::from_object(crd);
    if object::is_deleting(crd) {
        finalize(state, &def).await;
        return;
    }
    if !def.errors().is_empty() {
        return;
    }
    let accepted = accepted_names(crd, &def);
    state.crds.register(&state.registry, def.clone());
    let Some(ctx) = internal_ctx(state, GROUP, "v1", "customresourcedefinitions", None) else {
        return;
    };
    let storage = def.storage_version().unwrap_or_default().to_string();
    let result = guaranteed_update(&ctx, &def.name, None, |mut current| {
        let established = current
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| c.iter().any(|x| x["type"] == "Established" && x["status"] == "True"));
        let mut stored: Vec<Value> = current
            .pointer("/status/storedVersions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let new_version = !stored.iter().any(|v| v == storage.as_str());
        if established && !new_version && current.pointer("/status/acceptedNames") == Some(&accepted) {
            return Ok(Change::Unchanged);
        }
        if new_version {
            stored.push(json!(storage));
        }
        let now = object::now_rfc3339();
        current["status"] = json!({
            "conditions": [
                condition("NamesAccepted", "NoConflicts", "no conflicts found", &now),
                condition("Established", "InitialNamesAccepted", "the initial names have been accepted", &now),
            ],
            "acceptedNames": accepted,
            "storedVersions": stored,
        });
        Ok(Change::Write(current))
    })
    .await;
    if let Err(e) = result {
        tracing::warn!(crd = %def.name, error = %e.message, "updating CRD status");
    }
}

fn accepted_names(crd: &Value, def: &Definition) -> Value {
    let mut names = crd
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    names["singular"] = json!(def.singular);
    if names.get("listKind").is_none_or(Value::is_null) {
        names["listKind"] = json!(format!("{}List", def.kind));
    }
    names
}

/// Delete every object of the CRD, stop serving it, then release the finalizer.
async fn finalize(state: &Arc<State>, def: &Definition) {
    let prefix = format!("/registry/{}/{}/", def.group, def.plural);
    loop {
        let page = match state.store.range(&prefix, None, Some(500), None).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(crd = %def.name, error = %e, "listing objects to delete");
                return;
            }
        };
        for kv in &page.kvs {
            let _ = state.store.delete(&kv.key, None).await;
        }
        if !page.more {
            break;
        }
    }
    state
        .crds
        .unregister(&state.registry, &def.group, &def.plural);
    let Some(ctx) = internal_ctx(state, GROUP, "v1", "customresourcedefinitions", None) else {
        return;
    };
    let released = guaranteed_update(&ctx, &def.name, None, |mut current| {
        let before = object::finalizers(&current);
        if !before.iter().any(|f| f == CLEANUP_FINALIZER) {
            return Ok(Change::Unchanged);
        }
        let rest: Vec<String> = before
            .into_iter()
            .filter(|f| f != CLEANUP_FINALIZER)
            .collect();
        object::meta_mut(&mut current).insert("finalizers".into(), json!(rest));
        Ok(Change::Write(current))
    })
    .await;
    if let Err(e) = released {
        tracing::warn!(crd = %def.name, error = %e.message, "releasing the CRD finalizer");
    }
}
