//! Host side of addons: build their images from the running binary, then switch them on
//! or off on a profile's cluster (shared by `start` and `rkube addons`).

use std::time::{Duration, Instant};

use bollard::Docker;

use super::image::{self, ImageError};
use crate::addons::apply::{self, ApplyError};
use crate::addons::catalog::{self, Addon};

/// Why an addon could not be switched on or off.
#[derive(Debug, thiserror::Error)]
pub enum AddonError {
    /// An image could not be built.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The API refused.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The addon names an image with no Dockerfile (a build defect).
    #[error("addon {addon} runs image {image}, which rkube cannot build")]
    NoImage {
        /// The addon.
        addon: String,
        /// The image.
        image: String,
    },
}

/// Build (unless present) every image `addon` runs and point its `rkube/<name>:local`
/// tag at this binary's build; `progress` hears about builds. Gives each local name with
/// its build's content tag.
pub async fn ensure_images(
    docker: &Docker,
    addon: &Addon,
    mut progress: impl FnMut(&str),
) -> Result<Vec<(String, String)>, AddonError> {
    let mut built = Vec::new();
    for name in &addon.images {
        let which = catalog::image(name).ok_or_else(|| AddonError::NoImage {
            addon: addon.name.clone(),
            image: name.clone(),
        })?;
        let tag = which
            .ensure(docker, |tag| {
                progress(&format!("Building the {name} image {tag} ..."))
            })
            .await?;
        image::alias(docker, &tag, &catalog::image_ref(name)).await?;
        built.push((catalog::image_ref(name), tag));
    }
    Ok(built)
}

/// Apply `addon`, retrying while the API server is still coming up (a `start` with
/// `--wait=none` gets here before it answers).
pub async fn enable(
    client: &kube::Client,
    addon: &Addon,
    images: &[(String, String)],
    patience: Duration,
) -> Result<(), AddonError> {
    let deadline = Instant::now() + patience;
    loop {
        match apply::enable(client, addon, images).await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline && transient(&e) => {
                tracing::debug!(error = %e, addon = %addon.name, "retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Wait until a pod `addon` names in `verify` is Ready (minikube waits 6 minutes).
pub async fn verify(
    client: &kube::Client,
    addon: &Addon,
    patience: Duration,
) -> Result<bool, AddonError> {
    use k8s_openapi::api::core::v1::Pod;
    let Some(v) = &addon.verify else {
        return Ok(true);
    };
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), &v.namespace);
    let deadline = Instant::now() + patience;
    let params = kube::api::ListParams::default().labels(&v.selector);
    while Instant::now() < deadline {
        if let Ok(list) = pods.list(&params).await {
            let ready = list.items.iter().any(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            });
            if ready {
                return Ok(true);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(false)
}

/// Remove what `addon` owns.
pub async fn disable(client: &kube::Client, addon: &Addon) -> Result<(), AddonError> {
    Ok(apply::disable(client, addon).await?)
}

/// Whether the API server may just not be ready (unreachable, 5xx, 429), or a namespace
/// the addon just removed is still going away.
fn transient(e: &ApplyError) -> bool {
    match e {
        ApplyError::Discovery { source, .. } => match source {
            kube::Error::Api(s) => s.code >= 500 || s.code == 429,
            _ => true,
        },
        ApplyError::Api { code, message, .. } => match code {
            None => true,
            Some(c) => *c >= 500 || *c == 429 || message.contains("is being terminated"),
        },
        ApplyError::Malformed { .. } => false,
    }
}
