//! Serving the OpenAPI v3 documents: generated once per group-version and cached with the
//! content hash kubectl uses to cache them on its side.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::crd::Crds;
use super::openapi;
use crate::resources::registry::{Registry, ResourceInfo};

/// One cached document: the resources it describes (with their custom schemas), its bytes
/// and their hash.
type Cached = ((Vec<ResourceInfo>, Map<String, Value>), Bytes, String);

/// Cached documents keyed by `api/v1` / `apis/<g>/<v>`.
#[derive(Default)]
pub struct OpenApiCache {
    docs: Mutex<HashMap<String, Cached>>,
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn hash(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA512, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

impl OpenApiCache {
    /// The document for a group-version path and its hash; None when not served.
    pub fn document(&self, registry: &Registry, crds: &Crds, gv: &str) -> Option<(Bytes, String)> {
        let (group, version) = match gv.split('/').collect::<Vec<_>>().as_slice() {
            ["api", v] => (String::new(), v.to_string()),
            ["apis", g, v] => (g.to_string(), v.to_string()),
            _ => return None,
        };
        let resources = registry.resources_of(&group, &version);
        if resources.is_empty() {
            return None;
        }
        let custom = crds.openapi_schemas(&group, &version);
        let key = (resources, custom);
        let mut docs = self.docs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached_for, bytes, h)) = docs.get(gv) {
            if *cached_for == key {
                return Some((bytes.clone(), h.clone()));
            }
        }
        let doc = openapi::group_version_document(&group, &version, &key.0, &key.1);
        let bytes = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
        let h = hash(&bytes);
        docs.insert(gv.to_string(), (key, bytes.clone(), h.clone()));
        Some((bytes, h))
    }

    /// `/openapi/v3`: every group-version with its document's URL and hash.
    pub fn index(&self, registry: &Registry, crds: &Crds) -> Value {
        let mut paths = serde_json::Map::new();
        for (group, versions) in registry.groups() {
            for version in versions {
                let gv = gv_path(&group, &version);
                if let Some((_, h)) = self.document(registry, crds, &gv) {
                    paths.insert(
                        gv.clone(),
                        json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={h}")}),
                    );
                }
            }
        }
        json!({"paths": paths})
    }
}
