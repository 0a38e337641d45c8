//! The service-account token controller's legacy half: a Secret of type
//! `kubernetes.io/service-account-token` that a user creates for an account gets a
//! long-lived token, the cluster CA and the namespace; Secrets of accounts that are gone
//! are deleted (tokens of a deleted account must stop working).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;

use super::retry::Retries;
use crate::apiserver::tokens::{Claims, TokenIssuer, LEGACY_ISSUER};

const TYPE: &str = "kubernetes.io/service-account-token";
const ACCOUNT_NAME: &str = "kubernetes.io/service-account.name";
const ACCOUNT_UID: &str = "kubernetes.io/service-account.uid";

/// Errors of one reconcile pass.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("secret {0}: {1}")]
    Api(String, kube::Error),
    /// The token could not be signed.
    #[error("secret {0}: {1}")]
    Sign(String, crate::apiserver::tokens::TokenError),
}

struct Ctx {
    client: kube::Client,
    issuer: Arc<TokenIssuer>,
    ca_pem: String,
}

/// Run until aborted.
pub async fn run(client: kube::Client, issuer: Arc<TokenIssuer>, ca_pem: String) {
    let retries = Retries::new("legacy-service-account-token-tracking");
    let secrets: Api<Secret> = Api::all(client.clone());
    let accounts: Api<ServiceAccount> = Api::all(client.clone());
    let by_type = watcher::Config::default().fields(&format!("type={TYPE}"));
    let controller = Controller::new(secrets, by_type);
    let store = controller.store();
    controller
        // A deleted or recreated account re-checks the token Secrets that name it.
        .watches(
            accounts,
            watcher::Config::default(),
            move |sa: ServiceAccount| {
                let ns = sa.namespace().unwrap_or_default();
                let name = sa.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|s| {
                        s.namespace().as_deref() == Some(ns.as_str())
                            && s.annotations().get(ACCOUNT_NAME) == Some(&name)
                    })
                    .map(|s| kube::runtime::reflector::ObjectRef::from_obj(s.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .run(
            retries.forgetting(reconcile),
            retries.error_policy(),
            Arc::new(Ctx {
                client,
                issuer,
                ca_pem,
            }),
        )
        .for_each(|res| async move {
            super::log_run_error("legacy-service-account-token-tracking", res)
        })
        .await;
}

async fn reconcile(secret: Arc<Secret>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if secret.metadata.deletion_timestamp.is_some() || secret.type_.as_deref() != Some(TYPE) {
        return Ok(Action::await_change());
    }
    let ns = secret.namespace().unwrap_or_default();
    let name = secret.name_any();
    let id = format!("{ns}/{name}");
    let api_err = |e| Error::Api(id.clone(), e);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(account_name) = secret.annotations().get(ACCOUNT_NAME).cloned() else {
        return Ok(Action::await_change());
    };
    let accounts: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &ns);
    let account = accounts.get_opt(&account_name).await.map_err(api_err)?;
    let wanted_uid = secret.annotations().get(ACCOUNT_UID).cloned();
    let live_uid = account.as_ref().and_then(|a| a.metadata.uid.clone());
    match (&live_uid, &wanted_uid) {
        // The account is gone, or was recreated under the same name: the token dies.
        (None, _) => {
            secrets
                .delete(&name, &DeleteParams::default())
                .await
                .map(|_| ())
                .or_else(ignore_not_found)
                .map_err(api_err)?;
            return Ok(Action::await_change());
        }
        (Some(live), Some(want)) if live != want => {
            secrets
                .delete(&name, &DeleteParams::default())
                .await
                .map(|_| ())
                .or_else(ignore_not_found)
                .map_err(api_err)?;
            return Ok(Action::await_change());
        }
        _ => {}
    }
    let data = secret.data.clone().unwrap_or_default();
    if data.contains_key("token") && data.contains_key("ca.crt") && data.contains_key("namespace") {
        return Ok(Action::await_change());
    }
    let uid = live_uid.unwrap_or_default();
    let claims = Claims {
        iss: LEGACY_ISSUER.into(),
        sub: crate::apiserver::rbac::rules::service_account_user(&ns, &account_name),
        legacy_namespace: Some(ns.clone()),
        legacy_secret: Some(name.clone()),
        legacy_account: Some(account_name.clone()),
        legacy_account_uid: Some(uid.clone()),
        ..Default::default()
    };
    let token = ctx
        .issuer
        .sign(&claims)
        .map_err(|e| Error::Sign(id.clone(), e))?;
    let mut fill: BTreeMap<String, ByteString> = BTreeMap::new();
    fill.insert("token".into(), ByteString(token.into_bytes()));
    fill.insert("ca.crt".into(), ByteString(ctx.ca_pem.clone().into_bytes()));
    fill.insert("namespace".into(), ByteString(ns.clone().into_bytes()));
    let patch = json!({
        "metadata": {"annotations": {ACCOUNT_UID: uid}, "resourceVersion": secret.resource_version()},
        "data": fill,
    });
    secrets
        .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .map_err(api_err)?;
    Ok(Action::await_change())
}

fn ignore_not_found(e: kube::Error) -> Result<(), kube::Error> {
    match &e {
        kube::Error::Api(s) if s.code == 404 => Ok(()),
        _ => Err(e),
    }
}
