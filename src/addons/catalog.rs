//! The embedded addons: their `addon.yaml` settings and manifests, parsed once.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::cluster::image::BinaryImage;

/// What disabling an addon does.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Disable {
    /// Delete every object carrying the addon's label.
    #[default]
    Delete,
    /// Keep the StorageClass but take its default mark away (minikube's
    /// default-storageclass): volumes already made keep working.
    UnsetDefaultClass,
}

/// The pods whose readiness shows an addon works.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// Their namespace.
    pub namespace: String,
    /// Their label selector.
    pub selector: String,
}

/// One addon.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Addon {
    /// Its name, as `rkube addons enable` takes it.
    pub name: String,
    /// One line on what it does.
    pub description: String,
    /// Who maintains what it is modelled on (minikube's MAINTAINER column).
    pub maintainer: String,
    /// Whether `rkube start` turns it on for a new profile.
    #[serde(default)]
    pub default: bool,
    /// Images it runs: `images/<name>/Dockerfile`, tagged `rkube/<name>:local`.
    #[serde(default)]
    pub images: Vec<String>,
    /// What `disable` does.
    #[serde(default)]
    pub disable: Disable,
    /// Pods `enable` waits for (minikube's "Verifying <addon> addon...").
    #[serde(default)]
    pub verify: Option<Verify>,
    /// Its objects, in the order they are applied.
    #[serde(skip)]
    pub objects: Vec<Value>,
}

struct Embedded {
    settings: &'static str,
    manifests: &'static [&'static str],
}

macro_rules! addon {
    ($dir:literal, [$($file:literal),* $(,)?]) => {
        Embedded {
            settings: include_str!(concat!("../../addons/", $dir, "/addon.yaml")),
            manifests: &[$(include_str!(concat!("../../addons/", $dir, "/", $file))),*],
        }
    };
}

const EMBEDDED: &[Embedded] = &[
    addon!("dashboard", ["dashboard.yaml"]),
    addon!("default-storageclass", ["storageclass.yaml"]),
    addon!("ingress", ["ingress.yaml"]),
    addon!("metrics-server", ["metrics-server.yaml"]),
    addon!("storage-provisioner", ["storage-provisioner.yaml"]),
];

/// The addon images, by image name.
const IMAGES: &[(&str, BinaryImage)] = &[
    (
        "dashboard",
        BinaryImage {
            repository: "rkube/dashboard",
            dockerfile: include_str!("../../images/dashboard/Dockerfile"),
        },
    ),
    (
        "ingress-controller",
        BinaryImage {
            repository: "rkube/ingress-controller",
            dockerfile: include_str!("../../images/ingress-controller/Dockerfile"),
        },
    ),
    (
        "metrics-server",
        BinaryImage {
            repository: "rkube/metrics-server",
            dockerfile: include_str!("../../images/metrics-server/Dockerfile"),
        },
    ),
    (
        "storage-provisioner",
        BinaryImage {
            repository: "rkube/storage-provisioner",
            dockerfile: include_str!("../../images/storage-provisioner/Dockerfile"),
        },
    ),
];

/// Why an embedded addon could not be read (a build defect, caught by the unit tests).
#[derive(Debug, thiserror::Error)]
#[error("embedded addon: {0}")]
pub struct CatalogError(String);

fn parse(e: &Embedded) -> Result<Addon, CatalogError> {
    let mut addon: Addon =
        serde_yaml::from_str(e.settings).map_err(|err| CatalogError(err.to_string()))?;
    for text in e.manifests {
        for doc in serde_yaml::Deserializer::from_str(text) {
            let v = Value::deserialize(doc)
                .map_err(|err| CatalogError(format!("{}: {err}", addon.name)))?;
            if !v.is_null() {
                addon.objects.push(v);
            }
        }
    }
    Ok(addon)
}

/// Every addon, sorted by name.
pub fn all() -> &'static [Addon] {
    static ALL: OnceLock<Vec<Addon>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut v: Vec<Addon> = EMBEDDED
            .iter()
            .filter_map(|e| match parse(e) {
                Ok(a) => Some(a),
                Err(err) => {
                    tracing::error!(%err, "skipping an addon");
                    None
                }
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    })
}

/// The addon called `name`.
pub fn find(name: &str) -> Option<&'static Addon> {
    all().iter().find(|a| a.name == name)
}

/// The message for a name that is no addon: it lists those there are.
pub fn unknown(name: &str) -> String {
    let names: Vec<&str> = all().iter().map(|a| a.name.as_str()).collect();
    format!(
        "'{name}' is not a valid rkube addon; the available addons are: {}",
        names.join(", ")
    )
}

/// The names `rkube start` turns on for a new profile.
pub fn defaults() -> Vec<String> {
    all()
        .iter()
        .filter(|a| a.default)
        .map(|a| a.name.clone())
        .collect()
}

/// The tag pods use for the addon image `name`.
pub fn image_ref(name: &str) -> String {
    format!("rkube/{name}:local")
}

/// The build recipe of the addon image `name`.
pub fn image(name: &str) -> Option<BinaryImage> {
    IMAGES.iter().find(|(n, _)| *n == name).map(|(_, i)| *i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addons::ADDON_LABEL;

    #[test]
    fn every_embedded_addon_parses() {
        for e in EMBEDDED {
            parse(e).unwrap();
        }
        assert_eq!(all().len(), EMBEDDED.len());
    }

    #[test]
    fn every_object_carries_its_addon_label() {
        for a in all() {
            assert!(!a.objects.is_empty(), "{} has no objects", a.name);
            for o in &a.objects {
                assert_eq!(
                    o.pointer(&format!(
                        "/metadata/labels/{}",
                        ADDON_LABEL.replace('/', "~1")
                    )),
                    Some(&Value::String(a.name.clone())),
                    "{}: {}",
                    a.name,
                    o["metadata"]["name"]
                );
            }
        }
    }

    #[test]
    fn every_image_has_a_dockerfile_and_pods_use_the_local_tag() {
        for a in all() {
            for i in &a.images {
                let img = image(i).unwrap_or_else(|| panic!("{}: no Dockerfile for {i}", a.name));
                assert_eq!(img.repository, format!("rkube/{i}"));
                let text = serde_json::to_string(&a.objects).unwrap();
                assert!(text.contains(&image_ref(i)), "{} never runs {i}", a.name);
            }
        }
    }

    #[test]
    fn minikube_defaults() {
        assert_eq!(defaults(), ["default-storageclass", "storage-provisioner"]);
    }
}
