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
/// tag at this binary's build; `progress` hears about builds.
pub async fn ensure_images(
    docker: &Docker,
    addon: &Addon,
    mut progress: impl FnMut(&str),
) -> Result<(), AddonError> {
    for name in &addon.images {
        let which = catalog::image(name).ok_or_else(|| AddonError::NoImage {
            addon: addon.name.clone(),
            image: name.clone(),
        })?;
        let ctx = which.context()?;
        let tag = which.tag(&ctx);
        if !image::exists(docker, &tag).await? {
            progress(&format!("Building the {name} image {tag} ..."));
            image::ensure(docker, &ctx, &tag, |_| {}).await?;
        }
        image::alias(docker, &tag, &catalog::image_ref(name)).await?;
    }
    Ok(())
}

/// Apply `addon`, retrying while the API server is still coming up (a `start` with
/// `--wait=none` gets here before it answers).
pub async fn enable(
    client: &kube::Client,
    addon: &Addon,
    patience: Duration,
) -> Result<(), AddonError> {
    let deadline = Instant::now() + patience;
    loop {
        match apply::enable(client, addon).await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline && transient(&e) => {
                tracing::debug!(error = %e, addon = %addon.name, "retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Remove what `addon` owns.
pub async fn disable(client: &kube::Client, addon: &Addon) -> Result<(), AddonError> {
    Ok(apply::disable(client, addon).await?)
}

/// Whether the API server may just not be ready: unreachable, or 5xx/429.
fn transient(e: &ApplyError) -> bool {
    let source = match e {
        ApplyError::Discovery { source, .. } | ApplyError::Api { source, .. } => source,
        ApplyError::Malformed { .. } => return false,
    };
    match source {
        kube::Error::Api(s) => s.code >= 500 || s.code == 429,
        _ => true,
    }
}
