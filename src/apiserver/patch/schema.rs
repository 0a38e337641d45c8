//! Navigation in OpenAPI v3 schemas for patch metadata (`x-kubernetes-patch-*`, list and map
//! types), resolving `$ref` and `allOf: [{$ref}]` against the component schemas.

use serde_json::Value;

use crate::apiserver::openapi::Definitions;

const REF_PREFIX: &str = "#/components/schemas/";
/// Guards against reference cycles in malformed documents.
const MAX_REF_DEPTH: usize = 16;

/// How the elements of a list are identified when merging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// The list is one value: replaced whole, owned whole.
    Atomic,
    /// Scalars identified by value.
    Set,
    /// Objects identified by the listed key fields.
    Map(Vec<String>),
}

/// A position in an OpenAPI v3 schema (resolves `$ref` / `allOf` against the component schemas).
#[derive(Clone, Copy)]
pub struct SchemaRef<'a> {
    definitions: Option<&'a dyn Definitions>,
    node: Option<&'a Value>,
}

impl<'a> SchemaRef<'a> {
    /// A schema rooted at `root`, with `definitions` the `components.schemas` map.
    pub fn new(definitions: &'a dyn Definitions, root: &'a Value) -> Self {
        SchemaRef {
            definitions: Some(definitions),
            node: Some(root),
        }
    }

    /// No metadata: maps merge, lists are atomic.
    pub fn unknown() -> Self {
        SchemaRef {
            definitions: None,
            node: None,
        }
    }

    /// True when this position carries no schema at all.
    pub fn is_unknown(&self) -> bool {
        self.node.is_none()
    }

    fn with(&self, node: Option<&'a Value>) -> SchemaRef<'a> {
        SchemaRef {
            definitions: self.definitions,
            node,
        }
    }

    /// The node itself followed by every schema it refers to, outermost first; extensions
    /// written beside an `allOf` wrapper take precedence over the referenced type's.
    fn layers(&self) -> Vec<&'a Value> {
        let mut out = Vec::new();
        let mut current = self.node;
        while let Some(node) = current {
            if out.len() >= MAX_REF_DEPTH {
                break;
            }
            out.push(node);
            current = self.referenced(node);
        }
        out
    }

    fn referenced(&self, node: &'a Value) -> Option<&'a Value> {
        let reference = node.get("$ref").and_then(Value::as_str).or_else(|| {
            node.get("allOf")?
                .as_array()?
                .iter()
                .find_map(|v| v.get("$ref").and_then(Value::as_str))
        })?;
        let name = reference.strip_prefix(REF_PREFIX)?;
        self.definitions?.schema(name)
    }

    fn lookup(&self, key: &str) -> Option<&'a Value> {
        self.layers().into_iter().find_map(|layer| layer.get(key))
    }

    fn lookup_str(&self, key: &str) -> Option<&'a str> {
        self.lookup(key).and_then(Value::as_str)
    }

    /// The schema of the field `name` of an object (a property, or the additionalProperties
    /// value schema); unknown when there is none.
    pub fn field(&self, name: &str) -> SchemaRef<'a> {
        if self.preserves_unknown() && self.lookup("properties").is_none() {
            return SchemaRef::unknown();
        }
        if let Some(prop) = self
            .lookup("properties")
            .and_then(|p| p.as_object())
            .and_then(|p| p.get(name))
        {
            return self.with(Some(prop));
        }
        match self.lookup("additionalProperties") {
            Some(v) if v.is_object() => self.with(Some(v)),
            _ => SchemaRef::unknown(),
        }
    }

    /// The schema of the elements of a list; unknown when there is none.
    pub fn items(&self) -> SchemaRef<'a> {
        match self.lookup("items") {
            Some(v) if v.is_object() => self.with(Some(v)),
            _ => SchemaRef::unknown(),
        }
    }

    fn preserves_unknown(&self) -> bool {
        self.lookup("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// True when the schema declares named properties (a struct, not a free-form map).
    pub fn is_struct(&self) -> bool {
        self.lookup("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| !p.is_empty())
    }

    /// True when `name` is listed in the object's `required` fields.
    pub fn is_required(&self, name: &str) -> bool {
        self.lookup("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|v| v.as_str() == Some(name)))
    }

    /// The comma separated `x-kubernetes-patch-strategy` entries.
    pub fn patch_strategies(&self) -> Vec<&'a str> {
        self.lookup_str("x-kubernetes-patch-strategy")
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// True when the field's strategy includes `strategy`.
    pub fn has_strategy(&self, strategy: &str) -> bool {
        self.patch_strategies().contains(&strategy)
    }

    /// The `x-kubernetes-patch-merge-key`.
    pub fn patch_merge_key(&self) -> Option<&'a str> {
        self.lookup_str("x-kubernetes-patch-merge-key")
    }

    /// The `default` value declared for this position.
    pub fn default_value(&self) -> Option<&'a Value> {
        self.lookup("default")
    }

    /// True when `x-kubernetes-map-type: atomic`.
    pub fn map_is_atomic(&self) -> bool {
        self.lookup_str("x-kubernetes-map-type") == Some("atomic")
    }

    /// How server-side apply identifies list elements: `x-kubernetes-list-type` first, then the
    /// patch strategy (merge + key → map, merge without key → set), else atomic.
    pub fn list_kind(&self) -> ListKind {
        match self.lookup_str("x-kubernetes-list-type") {
            Some("atomic") => return ListKind::Atomic,
            Some("set") => return ListKind::Set,
            Some("map") => {
                let keys: Vec<String> = self
                    .lookup("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                if !keys.is_empty() {
                    return ListKind::Map(keys);
                }
                if let Some(key) = self.patch_merge_key() {
                    return ListKind::Map(vec![key.to_string()]);
                }
                return ListKind::Atomic;
            }
            _ => {}
        }
        if self.has_strategy("merge") {
            return match self.patch_merge_key() {
                Some(key) => ListKind::Map(vec![key.to_string()]),
                None => ListKind::Set,
            };
        }
        ListKind::Atomic
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs() -> Value {
        json!({
            "Pod": {"properties": {
                "spec": {"allOf": [{"$ref": "#/components/schemas/PodSpec"}], "default": {}},
                "metadata": {"$ref": "#/components/schemas/Meta"}
            }},
            "Meta": {"properties": {"labels": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "PodSpec": {"properties": {
                "containers": {"type": "array", "items": {"$ref": "#/components/schemas/Container"},
                    "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name",
                    "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
                "volumes": {"type": "array", "items": {}, "x-kubernetes-patch-strategy": "merge,retainKeys",
                    "x-kubernetes-patch-merge-key": "name"},
                "finalizers": {"type": "array", "x-kubernetes-patch-strategy": "merge"},
                "tolerations": {"type": "array", "x-kubernetes-list-type": "atomic"},
                "selector": {"type": "object", "x-kubernetes-map-type": "atomic"}
            }},
            "Container": {"properties": {"name": {"type": "string"}, "image": {"type": "string"}}},
            "Loop": {"$ref": "#/components/schemas/Loop"}
        })
    }

    #[test]
    fn resolves_refs_all_of_and_extensions() {
        let d = defs();
        let d = d.as_object().expect("object");
        let root = d.get("Pod").expect("pod");
        let s = SchemaRef::new(d, root);
        let spec = s.field("spec");
        assert!(spec.is_struct());
        let containers = spec.field("containers");
        assert_eq!(containers.list_kind(), ListKind::Map(vec!["name".into()]));
        assert_eq!(containers.patch_merge_key(), Some("name"));
        assert!(containers.items().is_struct());
        assert!(!containers.items().field("image").is_unknown());
        let volumes = spec.field("volumes");
        assert!(volumes.has_strategy("retainKeys") && volumes.has_strategy("merge"));
        assert_eq!(volumes.list_kind(), ListKind::Map(vec!["name".into()]));
        assert_eq!(spec.field("finalizers").list_kind(), ListKind::Set);
        assert_eq!(spec.field("tolerations").list_kind(), ListKind::Atomic);
        assert!(spec.field("selector").map_is_atomic());
        assert!(spec.field("nope").is_unknown());
        let labels = s.field("metadata").field("labels");
        assert!(!labels.is_struct());
        assert!(!labels.field("app").is_unknown());
    }

    #[test]
    fn unknown_and_cyclic_schemas_do_not_hang() {
        let u = SchemaRef::unknown();
        assert!(u.field("x").items().is_unknown());
        assert_eq!(u.list_kind(), ListKind::Atomic);
        let d = defs();
        let d = d.as_object().expect("object");
        let looped = SchemaRef::new(d, d.get("Loop").expect("loop"));
        assert!(looped.field("x").is_unknown());
    }
}
