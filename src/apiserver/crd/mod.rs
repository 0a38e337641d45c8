//! CustomResourceDefinitions: the resources they define are registered while the CRD is
//! established, validated, pruned and defaulted by its schemas, printed with its columns,
//! described in OpenAPI, and deleted with it.

pub mod admission;
pub mod columns;
pub mod controller;
pub mod definition;
pub mod schema;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::{json, Map, Value};

use definition::{Definition, Version};

use crate::resources::registry::{Registry, ResourceInfo};

/// The established CRDs, by (group, plural).
#[derive(Default)]
pub struct Crds {
    defs: RwLock<HashMap<(String, String), Arc<Definition>>>,
}

impl Crds {
    /// Serve a CRD's resources (replacing an earlier definition of it).
    pub fn register(&self, registry: &Registry, def: Definition) {
        registry.remove(&def.group, &def.plural);
        for r in def.resources() {
            registry.insert(r);
        }
        let key = (def.group.clone(), def.plural.clone());
        self.defs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::new(def));
    }

    /// Stop serving a CRD's resources.
    pub fn unregister(&self, registry: &Registry, group: &str, plural: &str) {
        registry.remove(group, plural);
        self.defs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(group.to_string(), plural.to_string()));
    }

    /// The definition behind a resource, if it is a custom one.
    pub fn get(&self, group: &str, plural: &str) -> Option<Arc<Definition>> {
        self.defs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(group.to_string(), plural.to_string()))
            .cloned()
    }

    /// The served version behind a resource, if it is a custom one.
    pub fn version_of(&self, res: &ResourceInfo) -> Option<Version> {
        self.get(&res.group, &res.plural)?
            .version(&res.version)
            .cloned()
    }

    /// Every established definition.
    pub fn all(&self) -> Vec<Arc<Definition>> {
        self.defs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

impl Crds {
    /// OpenAPI component schemas of the custom kinds served at a group-version.
    pub fn openapi_schemas(&self, group: &str, version: &str) -> Map<String, Value> {
        let mut out = Map::new();
        for def in self.all().iter().filter(|d| d.group == group) {
            let Some(v) = def.version(version) else {
                continue;
            };
            let mut schema = v
                .schema
                .clone()
                .unwrap_or_else(|| json!({"type": "object"}));
            if let Some(props) = schema
                .as_object_mut()
                .map(|m| m.entry("properties").or_insert_with(|| json!({})))
                .and_then(Value::as_object_mut)
            {
                props.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"}));
                props.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"}));
                props.insert("metadata".into(), json!({"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}], "default": {}, "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}));
            }
            schema["x-kubernetes-group-version-kind"] =
                json!([{"group": group, "version": version, "kind": def.kind}]);
            out.insert(
                crate::apiserver::openapi::custom_definition_name(group, version, &def.kind),
                schema,
            );
        }
        out
    }
}
