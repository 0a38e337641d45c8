//! ServiceAccount admission for new pods: the account defaults to `default`, must exist,
//! and unless automounting is switched off every container gets the `kube-api-access-*`
//! projected volume (bound token, cluster CA, namespace) at the standard path.

use std::time::Duration;

use serde_json::{json, Value};

use super::Ctx;
use crate::apiserver::object;
use crate::apiserver::status::ApiError;

/// Where in-cluster clients look for the token, CA and namespace.
pub const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Lifetime the plugin asks for; the kubelet refreshes the token well before it ends.
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;

/// Admit a pod being created in `ns`.
pub async fn admit_pod(ctx: &Ctx, ns: &str, pod: &mut Value) -> Result<(), ApiError> {
    // Mirror pods come from the kubelet's static manifests and never get a token.
    if pod
        .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
        .is_some()
    {
        return Ok(());
    }
    let name = pod
        .pointer("/spec/serviceAccountName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_string();
    pod["spec"]["serviceAccountName"] = json!(name);
    pod["spec"]["serviceAccount"] = json!(name);
    let account = lookup(ctx, ns, &name).await?.ok_or_else(|| {
        ApiError::forbidden_with(
            format!(
                "pods \"{}\" is forbidden: error looking up service account {ns}/{name}: serviceaccount \"{name}\" not found",
                object::name(pod)
            ),
            Some(object::name(pod)),
            "",
            "pods",
        )
    })?;
    if automount(pod, &account) {
        mount_api_access(pod);
    }
    let pull_secrets = pod
        .pointer("/spec/imagePullSecrets")
        .and_then(Value::as_array);
    if pull_secrets.is_none_or(|s| s.is_empty()) {
        if let Some(s) = account.get("imagePullSecrets").filter(|s| s.is_array()) {
            pod["spec"]["imagePullSecrets"] = s.clone();
        }
    }
    Ok(())
}

/// The account, waiting a moment for `default`: the service-account controller creates it
/// just after the namespace, and a pod created at once should not fail for that.
async fn lookup(ctx: &Ctx, ns: &str, name: &str) -> Result<Option<Value>, ApiError> {
    let key = format!("/registry/serviceaccounts/{ns}/{name}");
    let attempts = if name == "default" { 10 } else { 1 };
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let kv = ctx
            .state
            .store
            .get(&key)
            .await
            .map_err(ApiError::internal)?;
        if let Some(kv) = kv {
            return serde_json::from_slice(&kv.value)
                .map(Some)
                .map_err(ApiError::internal);
        }
    }
    Ok(None)
}

/// The pod's own setting wins over the account's; both default to mounting.
fn automount(pod: &Value, account: &Value) -> bool {
    pod.pointer("/spec/automountServiceAccountToken")
        .or_else(|| account.get("automountServiceAccountToken"))
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// Add the projected volume and mount it in every container that has nothing at the path.
fn mount_api_access(pod: &mut Value) {
    let containers = ["initContainers", "containers"];
    let mounted_everywhere = containers.iter().all(|f| {
        pod.pointer(&format!("/spec/{f}"))
            .and_then(Value::as_array)
            .is_none_or(|cs| cs.iter().all(has_mount_at_path))
    });
    if mounted_everywhere {
        return;
    }
    let volume = existing_volume(pod).unwrap_or_else(|| {
        let volume = format!("kube-api-access-{}", object::random_suffix());
        let volumes = pod["spec"]
            .as_object_mut()
            .expect("pod spec is an object")
            .entry("volumes")
            .or_insert_with(|| json!([]));
        if let Some(v) = volumes.as_array_mut() {
            v.push(api_access_volume(&volume));
        }
        volume
    });
    for f in containers {
        let Some(cs) = pod["spec"].get_mut(f).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in cs.iter_mut().filter(|c| !has_mount_at_path(c)) {
            let mounts = c
                .as_object_mut()
                .map(|c| c.entry("volumeMounts").or_insert_with(|| json!([])));
            if let Some(m) = mounts.and_then(Value::as_array_mut) {
                m.push(json!({"name": volume, "readOnly": true, "mountPath": MOUNT_PATH}));
            }
        }
    }
}

/// A `kube-api-access-*` volume already in the pod (a pod re-created from another's spec).
fn existing_volume(pod: &Value) -> Option<String> {
    pod.pointer("/spec/volumes")?
        .as_array()?
        .iter()
        .filter_map(|v| v.get("name")?.as_str())
        .find(|n| n.starts_with("kube-api-access-"))
        .map(str::to_string)
}

fn has_mount_at_path(container: &Value) -> bool {
    container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .is_some_and(|ms| {
            ms.iter()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(MOUNT_PATH))
        })
}

fn api_access_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Value {
        json!({"metadata": {"name": "p"}, "spec": {
            "initContainers": [{"name": "i"}],
            "containers": [{"name": "a"}, {"name": "b", "volumeMounts": [{"name": "x", "mountPath": MOUNT_PATH}]}]
        }})
    }

    #[test]
    fn mounts_in_every_container_without_the_path() {
        let mut p = pod();
        mount_api_access(&mut p);
        let vols = p["spec"]["volumes"].as_array().unwrap();
        assert_eq!(vols.len(), 1);
        let name = vols[0]["name"].as_str().unwrap();
        assert!(name.starts_with("kube-api-access-") && name.len() == 21);
        assert_eq!(
            p["spec"]["initContainers"][0]["volumeMounts"][0]["name"],
            name
        );
        assert_eq!(p["spec"]["containers"][0]["volumeMounts"][0]["name"], name);
        assert_eq!(
            p["spec"]["containers"][1]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // Admitting again (a copied spec) adds nothing.
        let before = p.clone();
        mount_api_access(&mut p);
        assert_eq!(p, before);
    }

    #[test]
    fn pod_setting_overrides_account() {
        let sa_off = json!({"automountServiceAccountToken": false});
        let mut p = pod();
        assert!(!automount(&p, &sa_off));
        p["spec"]["automountServiceAccountToken"] = json!(true);
        assert!(automount(&p, &sa_off));
        assert!(automount(&pod(), &json!({})));
    }
}
