//! ControllerRevisions: the template history of StatefulSets and DaemonSets, as
//! kube-controller-manager's `controller/history` keeps it. `kubectl rollout history`
//! lists these revisions, and `rollout undo` patches the owner with one's data.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::{json, Value};

use super::deployment::canonical;
use super::pods::{controller_ref, controller_uid};

/// The object whose template history is kept.
pub struct Owner<'a> {
    /// `StatefulSet` or `DaemonSet` (in `apps/v1`).
    pub kind: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its uid.
    pub uid: &'a str,
    /// Its annotations, copied onto new revisions (the change-cause among them).
    pub annotations: &'a std::collections::BTreeMap<String, String>,
    /// How many revisions no pod uses are kept (`revisionHistoryLimit`, default 10).
    pub history_limit: i32,
}

/// A revision's data: the strategic merge patch that puts `template` back, byte for byte
/// what kubectl's rollback compares with.
pub fn revision_data(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(m) = t.as_object_mut() {
        m.insert("$patch".into(), json!("replace"));
    }
    canonical(&json!({"spec": {"template": t}}))
}

/// Make the revision named `name` hold `template` as the newest revision, reusing an equal
/// older one (a rollback) or creating it, then prune the oldest beyond the history limit
/// that no pod uses (`in_use` holds revision names).
pub async fn record(
    client: &kube::Client,
    owner: &Owner<'_>,
    name: &str,
    template: &Value,
    in_use: &BTreeSet<String>,
) -> Result<(), kube::Error> {
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), owner.namespace);
    let mut revisions: Vec<ControllerRevision> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|r| controller_uid(r).as_deref() == Some(owner.uid))
        .collect();
    revisions.sort_by_key(|r| r.revision.unwrap_or(0));
    let newest = revisions.last().and_then(|r| r.revision).unwrap_or(0);
    let data = revision_data(template);
    match revisions.iter().find(|r| r.name_any() == name) {
        Some(r) if r.revision == Some(newest) => {}
        Some(_) => {
            api.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"revision": newest + 1})),
            )
            .await?;
        }
        None => {
            let labels = template
                .pointer("/metadata/labels")
                .cloned()
                .and_then(|l| serde_json::from_value(l).ok());
            let revision = ControllerRevision {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some(owner.namespace.to_string()),
                    labels,
                    annotations: Some(owner.annotations.clone()),
                    owner_references: Some(vec![controller_ref(
                        "apps/v1", owner.kind, owner.name, owner.uid,
                    )]),
                    ..Default::default()
                },
                data: RawExtension(data),
                revision: Some(newest + 1),
            };
            match api.create(&PostParams::default(), &revision).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
    }
    let unused: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| r.name_any() != name && !in_use.contains(&r.name_any()))
        .collect();
    let surplus = unused
        .len()
        .saturating_sub(owner.history_limit.max(0) as usize);
    for r in unused.into_iter().take(surplus) {
        if let Err(e) = api.delete(&r.name_any(), &DeleteParams::default()).await {
            tracing::debug!(error = %e, revision = %r.name_any(), "pruning a revision");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_kubectls_rollback_patch() {
        let t = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}});
        assert_eq!(
            serde_json::to_string(&revision_data(&t)).unwrap(),
            r#"{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"web"}},"spec":{"containers":[]}}}}"#
        );
    }
}
