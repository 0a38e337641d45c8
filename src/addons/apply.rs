//! Switching an addon on and off through the API: server-side apply of its objects under
//! one field manager, and deletion of exactly the objects that carry its label.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiGroup, ApiResource, Scope};
use kube::error::DiscoveryError;
use serde_json::{json, Value};

use super::catalog::{Addon, Disable};
use super::{ADDON_LABEL, FIELD_MANAGER};
use crate::resources::registry::Registry;

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
    #[error("addon {addon}: {verb} {kind} {name:?}: {message}")]
    Api {
        /// The addon.
        addon: String,
        /// apply or delete.
        verb: &'static str,
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
        /// The HTTP status, when the server answered.
        code: Option<u16>,
        /// What the server (or the connection) said.
        message: String,
    },
}

/// The status code and message of a failed call.
fn describe(e: &kube::Error) -> (Option<u16>, String) {
    match e {
        kube::Error::Api(s) => (Some(s.code), s.message.clone()),
        other => (None, other.to_string()),
    }
}

struct Target {
    resource: ApiResource,
    caps: ApiCapabilities,
    namespace: Option<String>,
    name: String,
}

/// The API groups an apply has discovered, by apiVersion: one discovery GET per group
/// version instead of one per object (`start` re-applies every enabled addon). Built-in
/// kinds need none: the node runs this binary, so it serves them as this registry says.
#[derive(Default)]
struct Discovered(HashMap<String, ApiGroup>);

/// Where a built-in kind is served, as the node's API server (this same binary) serves it.
fn builtin_target(api_version: &str, kind: &str) -> Option<(ApiResource, ApiCapabilities)> {
    static BUILTIN: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::builtin);
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let info = BUILTIN.lookup_kind(group, version, kind)?;
    let scope = if info.namespaced {
        Scope::Namespaced
    } else {
        Scope::Cluster
    };
    Some((
        crate::controllers::api_resource(&info),
        ApiCapabilities {
            scope,
            subresources: Vec::new(),
            operations: info.verbs,
        },
    ))
}

impl Discovered {
    async fn target(
        &mut self,
        client: &kube::Client,
        addon: &Addon,
        obj: &Value,
    ) -> Result<Target, ApplyError> {
        let malformed = || ApplyError::Malformed {
            addon: addon.name.clone(),
        };
        let api_version = obj["apiVersion"].as_str().ok_or_else(malformed)?;
        let kind = obj["kind"].as_str().ok_or_else(malformed)?;
        let name = obj["metadata"]["name"].as_str().ok_or_else(malformed)?;
        let unserved = |source| ApplyError::Discovery {
            addon: addon.name.clone(),
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            source,
        };
        let target = |(resource, caps)| Target {
            resource,
            caps,
            namespace: obj["metadata"]["namespace"].as_str().map(str::to_string),
            name: name.to_string(),
        };
        if let Some(found) = builtin_target(api_version, kind) {
            return Ok(target(found));
        }
        let group = match self.0.entry(api_version.to_string()) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let gv: GroupVersion =
                    api_version
                        .parse()
                        .map_err(|e: kube::core::gvk::ParseGroupVersionError| {
                            unserved(kube::Error::Discovery(DiscoveryError::InvalidGroupVersion(
                                e.to_string(),
                            )))
                        })?;
                e.insert(
                    kube::discovery::pinned_group(client, &gv)
                        .await
                        .map_err(unserved)?,
                )
            }
        };
        let found = group.recommended_kind(kind).ok_or_else(|| {
            unserved(kube::Error::Discovery(DiscoveryError::MissingKind(
                format!("{api_version} {kind}"),
            )))
        })?;
        Ok(target(found))
    }
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
    let mut discovered = Discovered::default();
    for obj in &addon.objects {
        let t = discovered.target(client, addon, obj).await?;
        let mut body = labelled(addon, obj);
        edit(&mut body);
        api(client, &t)
            .patch(&t.name, &params, &Patch::Apply(&body))
            .await
            .map_err(|e| {
                let (code, message) = describe(&e);
                ApplyError::Api {
                    addon: addon.name.clone(),
                    verb: "apply",
                    kind: t.resource.kind.clone(),
                    name: t.name.clone(),
                    code,
                    message,
                }
            })?;
    }
    Ok(())
}

/// Create or update every object of `addon` (idempotent: `start` re-applies enabled
/// addons, which also brings them up to date with a new rkube). `images` maps each
/// manifest's `rkube/<image>:local` to the content tag of this binary's build, so a new
/// build rolls the addon's pods.
pub async fn enable(
    client: &kube::Client,
    addon: &Addon,
    images: &[(String, String)],
) -> Result<(), ApplyError> {
    apply_all(client, addon, |o| pin_images(o, images)).await
}

/// Replace every `image:` naming a local addon image with its content tag.
fn pin_images(v: &mut Value, images: &[(String, String)]) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                match child {
                    Value::String(s) if k == "image" => {
                        if let Some((_, tag)) = images.iter().find(|(local, _)| local == s) {
                            *s = tag.clone();
                        }
                    }
                    _ => pin_images(child, images),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| pin_images(i, images)),
        _ => {}
    }
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
    let mut discovered = Discovered::default();
    for obj in addon.objects.iter().rev() {
        let t = discovered.target(client, addon, obj).await?;
        if !done.insert((t.resource.api_version.clone(), t.resource.kind.clone())) {
            continue;
        }
        let all: Api<DynamicObject> = Api::all_with(client.clone(), &t.resource);
        let found = all
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| {
                let (code, message) = describe(&e);
                ApplyError::Api {
                    addon: addon.name.clone(),
                    verb: "list",
                    kind: t.resource.kind.clone(),
                    name: String::new(),
                    code,
                    message,
                }
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
                Err(e) => {
                    let (code, message) = describe(&e);
                    return Err(ApplyError::Api {
                        addon: addon.name.clone(),
                        verb: "delete",
                        kind: t.resource.kind.clone(),
                        name,
                        code,
                        message,
                    });
                }
            }
        }
    }
    wait_namespaces_gone(client, addon).await;
    Ok(())
}

/// Wait (up to a minute) until the addon's namespaces are gone, as `kubectl delete` does,
/// so that enabling it again right after finds none half-deleted.
async fn wait_namespaces_gone(client: &kube::Client, addon: &Addon) {
    use k8s_openapi::api::core::v1::Namespace;
    let names: Vec<&str> = addon
        .objects
        .iter()
        .filter(|o| o["kind"] == "Namespace" && o["apiVersion"] == "v1")
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    let api: Api<Namespace> = Api::all(client.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for name in names {
        while std::time::Instant::now() < deadline {
            match api.get_opt(name).await {
                Ok(None) => break,
                _ => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_images_are_pinned_to_the_build() {
        let mut pod =
            json!({"spec": {"containers": [{"image": "rkube/x:local"}, {"image": "busybox"}]}});
        pin_images(
            &mut pod,
            &[("rkube/x:local".into(), "rkube/x:0.1.0-abc".into())],
        );
        assert_eq!(pod["spec"]["containers"][0]["image"], "rkube/x:0.1.0-abc");
        assert_eq!(pod["spec"]["containers"][1]["image"], "busybox");
    }

    #[test]
    fn built_in_kinds_are_found_without_discovery() {
        let (deploy, caps) = builtin_target("apps/v1", "Deployment").unwrap();
        assert_eq!(
            (deploy.plural.as_str(), deploy.group.as_str()),
            ("deployments", "apps")
        );
        assert_eq!(caps.scope, Scope::Namespaced);
        let (class, caps) = builtin_target("storage.k8s.io/v1", "StorageClass").unwrap();
        assert_eq!(class.plural, "storageclasses");
        assert_eq!(caps.scope, Scope::Cluster);
        let (sa, _) = builtin_target("v1", "ServiceAccount").unwrap();
        assert_eq!((sa.group.as_str(), sa.api_version.as_str()), ("", "v1"));
        assert!(builtin_target("example.com/v1", "Widget").is_none());
        assert!(builtin_target("apps/v1", "Widget").is_none());
    }

    #[test]
    fn every_addon_object_is_a_built_in_kind() {
        // `start` re-applies the enabled addons; a kind needing discovery would cost it a
        // round trip per group.
        for addon in crate::addons::catalog::all() {
            for obj in &addon.objects {
                let (v, k) = (obj["apiVersion"].as_str(), obj["kind"].as_str());
                assert!(
                    builtin_target(v.unwrap(), k.unwrap()).is_some(),
                    "{} {v:?} {k:?}",
                    addon.name
                );
            }
        }
    }

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
