//! Switching an addon on and off through the API: server-side apply of its objects under
//! one field manager, and deletion of exactly the objects that carry its label.

use std::collections::BTreeSet;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::{json, Value};

use super::catalog::{Addon, Disable};
use super::{ADDON_LABEL, FIELD_MANAGER};

/// Why an addon could not be switched.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// An embedded object lacks apiVersion, kind or name (a build defect).
    #[error("addon {addon}: an object has no apiVersion, kind or metadata.name")]
    Malformed {
        /// The addon.
        addon: String,
    },
    /// The API server does not serve a kind the addon needs.
    #[error("addon {addon}: the API server does not serve {api_version} {kind}: {source}")]
    Discovery {
        /// The addon.
        addon: String,
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
        /// The cause.
        source: kube::Error,
    },
    /// The API server refused a write.
    #[error("addon {addon}: {verb} {kind} {name:?}: {source}")]
    Api {
        /// The addon.
        addon: String,
        /// apply or delete.
        verb: &'static str,
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
        /// The cause.
        source: kube::Error,
    },
}

struct Target {
    resource: ApiResource,
    caps: ApiCapabilities,
    namespace: Option<String>,
    name: String,
}

async fn target(client: &kube::Client, addon: &Addon, obj: &Value) -> Result<Target, ApplyError> {
    let malformed = || ApplyError::Malformed {
        addon: addon.name.clone(),
    };
    let api_version = obj["apiVersion"].as_str().ok_or_else(malformed)?;
    let kind = obj["kind"].as_str().ok_or_else(malformed)?;
    let name = obj["metadata"]["name"].as_str().ok_or_else(malformed)?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .map_err(|source| ApplyError::Discovery {
            addon: addon.name.clone(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            source,
        })?;
    Ok(Target {
        resource,
        caps,
        namespace: obj["metadata"]["namespace"].as_str().map(str::to_string),
        name: name.to_string(),
    })
}

fn api(client: &kube::Client, t: &Target) -> Api<DynamicObject> {
    match (&t.caps.scope, &t.namespace) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &t.resource),
        (Scope::Namespaced, None) => Api::default_namespaced_with(client.clone(), &t.resource),
        (Scope::Cluster, _) => Api::all_with(client.clone(), &t.resource),
    }
}

/// `obj` with the addon's label set, whatever the manifest says.
fn labelled(addon: &Addon, obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert(ADDON_LABEL.into(), Value::String(addon.name.clone()));
        }
    }
    o
}

async fn apply_all(
    client: &kube::Client,
    addon: &Addon,
    edit: impl Fn(&mut Value),
) -> Result<(), ApplyError> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for obj in &addon.objects {
        let t = target(client, addon, obj).await?;
        let mut body = labelled(addon, obj);
        edit(&mut body);
        api(client, &t)
            .patch(&t.name, &params, &Patch::Apply(&body))
            .await
            .map_err(|source| ApplyError::Api {
                addon: addon.name.clone(),
                verb: "apply",
                kind: t.resource.kind.clone(),
                name: t.name.clone(),
                source,
            })?;
    }
    Ok(())
}

/// Create or update every object of `addon` (idempotent: `start` re-applies enabled
/// addons, which also brings them up to date with a new rkube).
pub async fn enable(client: &kube::Client, addon: &Addon) -> Result<(), ApplyError> {
    apply_all(client, addon, |_| {}).await
}

const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

/// Remove what `addon` owns: every object carrying its label, in reverse order of
/// creation, kinds it never made left alone.
pub async fn disable(client: &kube::Client, addon: &Addon) -> Result<(), ApplyError> {
    if addon.disable == Disable::UnsetDefaultClass {
        return apply_all(client, addon, |o| {
            if o["kind"] == "StorageClass" {
                o["metadata"]["annotations"][DEFAULT_CLASS] = json!("false");
            }
        })
        .await;
    }
    let selector = format!("{ADDON_LABEL}={}", addon.name);
    let mut done = BTreeSet::new();
    for obj in addon.objects.iter().rev() {
        let t = target(client, addon, obj).await?;
        if !done.insert((t.resource.api_version.clone(), t.resource.kind.clone())) {
            continue;
        }
        let all: Api<DynamicObject> = Api::all_with(client.clone(), &t.resource);
        let found = all
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|source| ApplyError::Api {
                addon: addon.name.clone(),
                verb: "list",
                kind: t.resource.kind.clone(),
                name: String::new(),
                source,
            })?;
        for item in found.items {
            let name = item.metadata.name.clone().unwrap_or_default();
            let owned = match (&t.caps.scope, &item.metadata.namespace) {
                (Scope::Namespaced, Some(ns)) => {
                    Api::<DynamicObject>::namespaced_with(client.clone(), ns, &t.resource)
                }
                _ => Api::all_with(client.clone(), &t.resource),
            };
            match owned.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(source) => {
                    return Err(ApplyError::Api {
                        addon: addon.name.clone(),
                        verb: "delete",
                        kind: t.resource.kind.clone(),
                        name,
                        source,
                    })
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_is_forced_onto_every_object() {
        let addon = crate::addons::catalog::find("storage-provisioner").unwrap();
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        let out = labelled(addon, &obj);
        assert_eq!(
            out["metadata"]["labels"][ADDON_LABEL],
            json!("storage-provisioner")
        );
    }
}
