//! Per-namespace defaults: the `default` ServiceAccount (the service-account controller)
//! and the `kube-root-ca.crt` ConfigMap with the cluster CA (the root-CA publisher).

use std::sync::Arc;

use super::retry::Retries;
use crate::informer::SharedCaches;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::ResourceExt;

/// Name of the ConfigMap the root-CA publisher keeps in every namespace.
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";

const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Errors of one reconcile pass.
#[derive(Debug, thiserror::Error)]
#[error("namespace {namespace}: {source}")]
pub struct Error {
    namespace: String,
    source: kube::Error,
}

struct Ctx {
    client: kube::Client,
    ca_pem: String,
}

/// Run until aborted.
pub async fn run(client: kube::Client, caches: SharedCaches, ca_pem: String) {
    let retries = Retries::new("serviceaccount");
    let accounts: Api<ServiceAccount> = Api::all(client.clone());
    let configmaps: Api<ConfigMap> = Api::all(client.clone());
    caches
        .controller::<Namespace>()
        .await
        .watches(
            accounts,
            watcher::Config::default().fields("metadata.name=default"),
            |sa: ServiceAccount| sa.namespace().map(|ns| ObjectRef::new(&ns)),
        )
        .watches(
            configmaps,
            watcher::Config::default().fields(&format!("metadata.name={ROOT_CA_CONFIGMAP}")),
            |cm: ConfigMap| cm.namespace().map(|ns| ObjectRef::new(&ns)),
        )
        .run(
            retries.forgetting(reconcile),
            retries.error_policy(),
            Arc::new(Ctx { client, ca_pem }),
        )
        .for_each(|res| async move { super::log_run_error("serviceaccount", res) })
        .await;
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    // Nothing new goes into a namespace that is being deleted.
    if ns.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let err = |source| Error {
        namespace: name.clone(),
        source,
    };
    let accounts: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &name);
    if accounts.get_opt("default").await.map_err(err)?.is_none() {
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("default".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        ignore_exists(accounts.create(&PostParams::default(), &sa).await).map_err(err)?;
    }
    let configmaps: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &name);
    let want = std::collections::BTreeMap::from([("ca.crt".to_string(), ctx.ca_pem.clone())]);
    match configmaps.get_opt(ROOT_CA_CONFIGMAP).await.map_err(err)? {
        Some(cm) if cm.data.as_ref() == Some(&want) => {}
        Some(mut cm) => {
            cm.data = Some(want);
            configmaps
                .replace(ROOT_CA_CONFIGMAP, &PostParams::default(), &cm)
                .await
                .map_err(err)?;
        }
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(ROOT_CA_CONFIGMAP.into()),
                    annotations: Some(
                        [(
                            "kubernetes.io/description".to_string(),
                            ROOT_CA_DESCRIPTION.to_string(),
                        )]
                        .into(),
                    ),
                    ..Default::default()
                },
                data: Some(want),
                ..Default::default()
            };
            ignore_exists(configmaps.create(&PostParams::default(), &cm).await).map_err(err)?;
        }
    }
    Ok(Action::await_change())
}

/// A create that lost a race with another creator is fine.
fn ignore_exists<T>(r: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
