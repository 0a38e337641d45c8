//! Serving the OpenAPI documents: v3 generated once per group-version and cached with the
//! content hash kubectl uses to cache them on its side; the v2 document built from those
//! v3 documents, in JSON and gnostic protobuf, rebuilt only when one of them changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::crd::Crds;
use super::openapi;
use crate::resources::registry::{Registry, ResourceInfo};

/// One cached document: the resources it describes (with their custom schemas), its bytes
/// and their hash.
type Cached = ((Vec<ResourceInfo>, Map<String, Value>), Bytes, String);

/// The v2 document and the (group-version, v3 hash) list it was built from.
type CachedV2 = (Vec<(String, String)>, Arc<V2Document>);

/// Cached documents keyed by `api/v1` / `apis/<g>/<v>`, and the v2 document.
#[derive(Default)]
pub struct OpenApiCache {
    docs: Mutex<HashMap<String, Cached>>,
    v2: Mutex<Option<CachedV2>>,
}

/// The Swagger 2.0 document in both encodings kube-apiserver serves, and its ETag.
pub struct V2Document {
    /// `application/json`.
    pub json: Bytes,
    /// `application/com.github.proto-openapi.spec.v2.v1.0+protobuf` (gnostic's Document).
    pub protobuf: Bytes,
    /// SHA-512 of the JSON, upper-case hex, like kube-openapi's handler (shared by both
    /// encodings, which the `Vary: Accept` header keeps apart in caches).
    pub etag: String,
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

    /// `/openapi/v2`: every served group-version's v3 document merged into one Swagger 2.0
    /// document, cached until one of them changes (a CRD or an APIService comes or goes).
    pub fn v2(
        &self,
        registry: &Registry,
        crds: &Crds,
    ) -> Result<Arc<V2Document>, openapi::gnostic::GnosticError> {
        let mut parts = Vec::new();
        for (group, versions) in registry.groups() {
            for version in versions {
                let gv = gv_path(&group, &version);
                if let Some((bytes, h)) = self.document(registry, crds, &gv) {
                    parts.push((gv, h, bytes));
                }
            }
        }
        let key: Vec<(String, String)> = parts
            .iter()
            .map(|(gv, h, _)| (gv.clone(), h.clone()))
            .collect();
        let mut v2 = self.v2.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached_for, doc)) = v2.as_ref() {
            if *cached_for == key {
                return Ok(doc.clone());
            }
        }
        let v3: Vec<Value> = parts
            .iter()
            .filter_map(|(_, _, bytes)| serde_json::from_slice(bytes).ok())
            .collect();
        let swagger = openapi::v2::swagger(&v3);
        let json = serde_json::to_vec(&swagger).unwrap_or_default();
        let protobuf = openapi::gnostic::encode(&swagger)?;
        let doc = Arc::new(V2Document {
            etag: hash(&json),
            json: Bytes::from(json),
            protobuf: Bytes::from(protobuf),
        });
        *v2 = Some((key, doc.clone()));
        Ok(doc)
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
