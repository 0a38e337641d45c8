//! Removing the images earlier rkube builds left behind. Every binary builds its own
//! content-tagged `rkube/*` images (node, echo-server, hello-app, addons); without this a
//! laptop that upgrades weekly gathers one ~90 MB node image per upgrade.
//!
//! Only images rkube built (label `io.rkube.image=true`) are considered, and of those only
//! the `rkube/*` tags that this binary does not use; an image a container still uses (a
//! stopped profile, a pod) is kept. A user's own images carry no such label and are never
//! touched.

use std::collections::HashSet;

use bollard::query_parameters::{ListContainersOptions, ListImagesOptions, RemoveImageOptions};
use bollard::Docker;

use super::docker::label_filter;
use super::image::{self, ImageError};

/// The label every image rkube builds carries.
pub const LABEL: (&str, &str) = ("io.rkube.image", "true");

/// What a prune removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// The tags removed.
    pub tags: Vec<String>,
    /// Bytes the removed images held.
    pub bytes: u64,
}

/// The tags this binary builds and uses.
pub fn current_tags() -> Result<Vec<String>, ImageError> {
    let mut tags = vec![
        image::base_tag()?,
        image::NODE.tag()?,
        image::ECHO_SERVER.tag()?,
        image::HELLO_APP.tag()?,
    ];
    for a in crate::addons::catalog::all() {
        for name in &a.images {
            if let Some(i) = crate::addons::catalog::image(name) {
                tags.push(i.tag()?);
            }
        }
    }
    Ok(tags)
}

/// Whether `tag` is one an earlier build left: an `rkube/` content tag that is not one of
/// `current`, nor an image made on top of one (hello-app's `<tag>-v1.0.0`). The `:local`
/// names addons' manifests carry follow the newest build, so they are never stale.
fn stale(tag: &str, current: &[String]) -> bool {
    tag.starts_with("rkube/")
        && !tag.ends_with(":local")
        && !current
            .iter()
            .any(|c| tag == c || tag.starts_with(&format!("{c}-")))
}

/// The images rkube built, and the ids of the images some container (of any profile, any
/// rkube home, or none) uses.
async fn rkube_images(
    docker: &Docker,
) -> Result<(Vec<bollard::models::ImageSummary>, HashSet<String>), ImageError> {
    let images = docker
        .list_images(Some(ListImagesOptions {
            filters: Some(label_filter(&[LABEL])),
            ..Default::default()
        }))
        .await?;
    let in_use: HashSet<String> = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await?
        .into_iter()
        .filter_map(|c| c.image_id)
        .collect();
    Ok((images, in_use))
}

/// Remove the stale tags of images no container uses; images left with no tag go too.
pub async fn prune(docker: &Docker) -> Result<Pruned, ImageError> {
    let current = current_tags()?;
    let (images, in_use) = rkube_images(docker).await?;
    let mut pruned = Pruned::default();
    for img in images {
        if in_use.contains(&img.id) || img.repo_tags.iter().any(|t| !stale(t, &current)) {
            continue;
        }
        remove_tags(docker, &img, &mut pruned).await;
    }
    Ok(pruned)
}

/// Remove every image rkube built that no container uses, whatever its tags (`delete
/// --purge`); the count of those kept because a container (another home's cluster, say)
/// still uses them.
pub async fn purge(docker: &Docker) -> Result<(Pruned, usize), ImageError> {
    let (images, in_use) = rkube_images(docker).await?;
    let mut pruned = Pruned::default();
    let mut kept = 0;
    for img in images {
        if in_use.contains(&img.id) {
            kept += 1;
            continue;
        }
        remove_tags(docker, &img, &mut pruned).await;
    }
    Ok((pruned, kept))
}

/// Remove each tag of `img` (the last removal deletes it), recording what went.
async fn remove_tags(docker: &Docker, img: &bollard::models::ImageSummary, pruned: &mut Pruned) {
    let mut removed_all = true;
    // An image that lost its tags (a rebuild took them) goes by its id.
    let tagged: Vec<&String> = img
        .repo_tags
        .iter()
        .filter(|t| *t != "<none>:<none>")
        .collect();
    let names = if tagged.is_empty() {
        vec![&img.id]
    } else {
        tagged
    };
    for tag in names {
        let removed = docker
            .remove_image(
                tag,
                Some(RemoveImageOptions {
                    force: false,
                    ..Default::default()
                }),
                None,
            )
            .await;
        match removed {
            Ok(_) => pruned.tags.push(tag.clone()),
            // Another process may be using or removing it: leave it for next time.
            Err(e) => {
                tracing::debug!(%tag, error = %e, "keeping an old image");
                removed_all = false;
            }
        }
    }
    if removed_all {
        pruned.bytes += u64::try_from(img.size).unwrap_or(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rkube_content_tags_of_other_builds_are_stale() {
        let current = vec![
            "rkube/node:0.1.0-aaaa".to_string(),
            "rkube/hello-app:0.1.0-bbbb".into(),
        ];
        assert!(!stale("rkube/node:0.1.0-aaaa", &current));
        assert!(stale("rkube/node:0.1.0-cccc", &current));
        assert!(stale("rkube/node:0.0.9-aaaa", &current));
        assert!(!stale("rkube/hello-app:0.1.0-bbbb-v1.0.0", &current));
        assert!(stale("rkube/hello-app:0.1.0-dddd-v1.0.0", &current));
        assert!(!stale("rkube/metrics-server:local", &current));
        assert!(!stale("myorg/rkube-like:1", &current));
        assert!(!stale("kicbase/echo-server:1.0", &current));
    }

    #[test]
    fn current_tags_cover_every_image_this_binary_builds() {
        let tags = current_tags().unwrap();
        for repo in [
            "rkube/node:",
            "rkube/echo-server:",
            "rkube/hello-app:",
            "rkube/dashboard:",
            "rkube/metrics-server:",
        ] {
            assert!(
                tags.iter().any(|t| t.starts_with(repo)),
                "{repo} in {tags:?}"
            );
        }
    }
}
