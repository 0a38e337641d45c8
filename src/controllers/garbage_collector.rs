//! The garbage collector: follows ownerReferences. Dependents of owners that are gone are
//! deleted; `orphan` deletions strip the owner from dependents first; `foregroundDeletion`
//! deletes dependents before the owner goes.
//!
//! Like kube-controller-manager's, it keeps a graph of every object's metadata, fed by one
//! metadata-only watch per resource kind, and acts only once every initial list is in.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use crate::resources::registry::Registry;

const ORPHAN: &str = "orphan";
const FOREGROUND: &str = "foregroundDeletion";
/// Re-examine the graph this often even without events, so a failed call is retried.
const RESYNC: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
struct Owner {
    uid: String,
    api_version: String,
    kind: String,
    name: String,
}

#[derive(Clone, Debug)]
struct Node {
    kind: usize,
    namespace: Option<String>,
    name: String,
    owners: Vec<Owner>,
    deleting: bool,
    finalizers: Vec<String>,
}

enum Update {
    Apply(String, Node),
    Delete(String),
    InitDone(usize),
}

fn kinds(registry: &Registry) -> Vec<ApiResource> {
    super::stored_kinds(registry, |r| r.verbs.iter().any(|v| v == "watch"))
}

fn node_of(
    kind: usize,
    m: &kube::core::PartialObjectMeta<DynamicObject>,
) -> Option<(String, Node)> {
    let meta = &m.metadata;
    Some((
        meta.uid.clone()?,
        Node {
            kind,
            namespace: meta.namespace.clone(),
            name: meta.name.clone()?,
            owners: meta
                .owner_references
                .iter()
                .flatten()
                .map(|o| Owner {
                    uid: o.uid.clone(),
                    api_version: o.api_version.clone(),
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                })
                .collect(),
            deleting: meta.deletion_timestamp.is_some(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
        },
    ))
}

/// Run until aborted.
pub async fn run(client: kube::Client, registry: Arc<Registry>) {
    let kinds = kinds(&registry);
    let (tx, mut rx) = mpsc::channel::<Update>(1024);
    // Owned here, so aborting the collector also ends its watches: a watch left behind
    // outlives the API server and keeps its runtime from shutting down.
    let mut watches = tokio::task::JoinSet::new();
    for (i, ar) in kinds.iter().enumerate() {
        let api: Api<kube::core::PartialObjectMeta<DynamicObject>> =
            Api::all_with(client.clone(), ar);
        let tx = tx.clone();
        watches.spawn(async move {
            // Backing off as client-go's reflector does: an error can come back at once
            // (a closed client), and retrying without a pause would never yield.
            let mut stream = watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(ev) = stream.next().await {
                let update = match ev {
                    Ok(watcher::Event::Apply(m)) | Ok(watcher::Event::InitApply(m)) => {
                        match node_of(i, &m) {
                            Some((uid, node)) => Update::Apply(uid, node),
                            None => continue,
                        }
                    }
                    Ok(watcher::Event::Delete(m)) => match m.metadata.uid {
                        Some(uid) => Update::Delete(uid),
                        None => continue,
                    },
                    Ok(watcher::Event::InitDone) => Update::InitDone(i),
                    Ok(watcher::Event::Init) => continue,
                    Err(e) => {
                        tracing::debug!(error = %e, "garbage collector watch");
                        continue;
                    }
                };
                if tx.send(update).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut graph: HashMap<String, Node> = HashMap::new();
    let mut synced: HashSet<usize> = HashSet::new();
    let mut tick = tokio::time::interval(RESYNC);
    loop {
        tokio::select! {
            update = rx.recv() => {
                let Some(update) = update else { return };
                apply(&mut graph, &mut synced, update);
                // Take everything already queued before acting, so a burst is one pass.
                while let Ok(u) = rx.try_recv() {
                    apply(&mut graph, &mut synced, u);
                }
            }
            _ = tick.tick() => {}
        }
        if synced.len() == kinds.len() {
            collect(&client, &kinds, &graph).await;
        }
    }
}

fn apply(graph: &mut HashMap<String, Node>, synced: &mut HashSet<usize>, u: Update) {
    match u {
        Update::Apply(uid, node) => {
            graph.insert(uid, node);
        }
        Update::Delete(uid) => {
            graph.remove(&uid);
        }
        Update::InitDone(kind) => {
            synced.insert(kind);
        }
    }
}

fn api_for(client: &kube::Client, ar: &ApiResource, ns: Option<&str>) -> Api<DynamicObject> {
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    }
}

async fn collect(client: &kube::Client, kinds: &[ApiResource], graph: &HashMap<String, Node>) {
    let mut dependents: HashMap<&str, Vec<(&str, &Node)>> = HashMap::new();
    for (uid, n) in graph {
        for o in &n.owners {
            dependents
                .entry(o.uid.as_str())
                .or_default()
                .push((uid.as_str(), n));
        }
    }
    for (uid, owner) in graph {
        if !owner.deleting {
            continue;
        }
        let deps = dependents
            .get(uid.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let owner_api = api_for(client, &kinds[owner.kind], owner.namespace.as_deref());
        if owner.finalizers.iter().any(|f| f == ORPHAN) {
            for (_, d) in deps {
                let api = api_for(client, &kinds[d.kind], d.namespace.as_deref());
                if let Ok(obj) = api.get_metadata(&d.name).await {
                    let kept: Vec<_> = obj
                        .metadata
                        .owner_references
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|o| &o.uid != uid)
                        .collect();
                    let patch = json!({"metadata": {"ownerReferences": kept}});
                    let _ = api
                        .patch_metadata(&d.name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await;
                }
            }
            if deps.is_empty() {
                remove_finalizer(&owner_api, owner, ORPHAN).await;
            }
        } else if owner.finalizers.iter().any(|f| f == FOREGROUND) {
            for (_, d) in deps {
                if !d.deleting {
                    let api = api_for(client, &kinds[d.kind], d.namespace.as_deref());
                    let _ = api.delete(&d.name, &DeleteParams::foreground()).await;
                }
            }
            if deps.is_empty() {
                remove_finalizer(&owner_api, owner, FOREGROUND).await;
            }
        }
    }
    // Dependents whose every owner is gone follow them (background deletion). The graph
    // can lag behind the API, so absence is confirmed with a read of each owner first.
    for n in graph.values() {
        if n.owners.is_empty() || n.deleting || n.owners.iter().any(|o| graph.contains_key(&o.uid))
        {
            continue;
        }
        let mut all_gone = true;
        for o in &n.owners {
            if owner_exists(client, kinds, n.namespace.as_deref(), o).await {
                all_gone = false;
                break;
            }
        }
        if all_gone {
            let api = api_for(client, &kinds[n.kind], n.namespace.as_deref());
            let _ = api.delete(&n.name, &DeleteParams::background()).await;
        }
    }
}

/// Whether the owner still exists with the referenced uid (unknown kinds count as existing).
async fn owner_exists(
    client: &kube::Client,
    kinds: &[ApiResource],
    ns: Option<&str>,
    o: &Owner,
) -> bool {
    let Some(ar) = kinds
        .iter()
        .find(|k| k.api_version == o.api_version && k.kind == o.kind)
    else {
        return true;
    };
    // Owners are in the dependent's namespace, or cluster-scoped.
    let api = api_for(client, ar, ns);
    match api.get_metadata_opt(&o.name).await {
        Ok(Some(m)) => m.metadata.uid.as_deref() == Some(o.uid.as_str()),
        Ok(None) => match ns {
            Some(_) => match Api::<DynamicObject>::all_with(client.clone(), ar)
                .get_metadata_opt(&o.name)
                .await
            {
                Ok(Some(m)) => m.metadata.uid.as_deref() == Some(o.uid.as_str()),
                Ok(None) => false,
                Err(_) => true,
            },
            None => false,
        },
        Err(_) => true,
    }
}

async fn remove_finalizer(api: &Api<DynamicObject>, node: &Node, finalizer: &str) {
    let kept: Vec<&String> = node.finalizers.iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {"finalizers": kept}});
    if let Err(e) = api
        .patch_metadata(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        tracing::debug!(error = %e, name = %node.name, "removing {finalizer} finalizer");
    }
}
