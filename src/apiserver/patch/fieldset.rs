//! Field paths and field sets in the structured-merge-diff model, with the FieldsV1 encoding
//! used by `metadata.managedFields`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// A scalar held as canonical JSON text, ordered like structured-merge-diff orders values:
/// numbers (numerically), then strings, then booleans, then anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Atom(String);

impl Atom {
    fn new(v: &Value) -> Self {
        Atom(v.to_string())
    }

    fn rank(&self) -> (u8, f64, &str) {
        match serde_json::from_str::<Value>(&self.0) {
            Ok(Value::Number(n)) => (0, n.as_f64().unwrap_or(0.0), ""),
            Ok(Value::String(_)) => (1, 0.0, &self.0),
            Ok(Value::Bool(b)) => (2, f64::from(u8::from(b)), ""),
            _ => (3, 0.0, &self.0),
        }
    }
}

impl Ord for Atom {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.rank(), other.rank());
        a.0.cmp(&b.0)
            .then_with(|| a.1.total_cmp(&b.1))
            .then_with(|| a.2.cmp(b.2))
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One step of a field path.
///
/// The variant order is the sort order structured-merge-diff uses (field names, then keyed
/// list items, then set values, then indices).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathElement {
    /// A struct field or map key (`f:name`).
    Field(String),
    /// An item of an associative list, by its key fields sorted by name (`k:{"name":"web"}`).
    Key(Vec<(String, Atom)>),
    /// An item of a set list (`v:"value"`).
    Value(Atom),
    /// An item of a list addressed by position (`i:0`).
    Index(usize),
}

impl PathElement {
    /// Builds a key element from key fields and their values.
    pub fn key(fields: Vec<(String, Value)>) -> Self {
        let mut pairs: Vec<(String, Atom)> = fields
            .into_iter()
            .map(|(name, value)| (name, Atom::new(&value)))
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(pairs)
    }

    /// Builds a set-value element.
    pub fn value(v: &Value) -> Self {
        PathElement::Value(Atom::new(v))
    }

    /// The FieldsV1 key for this element (`f:x`, `k:{...}`, `v:...`, `i:n`).
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(pairs) => {
                let body: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
                    .collect();
                format!("k:{{{}}}", body.join(","))
            }
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a FieldsV1 key; `None` for anything malformed.
    pub fn from_fields_v1_key(key: &str) -> Option<Self> {
        let (kind, rest) = key.split_at_checked(2)?;
        match kind {
            "f:" => Some(PathElement::Field(rest.to_string())),
            "v:" => {
                let v: Value = serde_json::from_str(rest).ok()?;
                Some(PathElement::value(&v))
            }
            "i:" => rest.parse().ok().map(PathElement::Index),
            "k:" => {
                let v: Value = serde_json::from_str(rest).ok()?;
                let obj = v.as_object()?;
                Some(PathElement::key(
                    obj.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                ))
            }
            _ => None,
        }
    }
}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(pairs) => {
                let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", body.join(","))
            }
            PathElement::Value(v) => write!(f, "[={v}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the object root.
pub type Path = Vec<PathElement>;

/// Renders a path the way the API server prints it in conflict messages (`.spec.replicas`).
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of field paths stored as a trie; `member` marks that the node's own path is in the set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no path is a member.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds a path.
    pub fn insert(&mut self, path: &[PathElement]) {
        let mut node = self;
        for pe in path {
            node = node.children.entry(pe.clone()).or_default();
        }
        node.member = true;
    }

    /// True when `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        self.node(path).is_some_and(|n| n.member)
    }

    /// True when `path` or any path below it is a member.
    pub fn has_prefix(&self, path: &[PathElement]) -> bool {
        self.node(path).is_some_and(|n| !n.is_empty())
    }

    fn node(&self, path: &[PathElement]) -> Option<&FieldSet> {
        let mut node = self;
        for pe in path {
            node = node.children.get(pe)?;
        }
        Some(node)
    }

    /// Members of `self` or `other`.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.union_in_place(other);
        out
    }

    fn union_in_place(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (pe, child) in &other.children {
            self.children
                .entry(pe.clone())
                .or_default()
                .union_in_place(child);
        }
    }

    /// Members of `self` that are not members of `other` (path by path, not recursive).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            let sub = match other.children.get(pe) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !sub.is_empty() {
                out.children.insert(pe.clone(), sub);
            }
        }
        out
    }

    /// Members of `self` that are not members of `other` nor below one of its members.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            let sub = match other.children.get(pe) {
                Some(o) if o.member => continue,
                Some(o) => child.recursive_difference(o),
                None => child.clone(),
            };
            if !sub.is_empty() {
                out.children.insert(pe.clone(), sub);
            }
        }
        out
    }

    /// Members of both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let sub = child.intersection(o);
                if !sub.is_empty() {
                    out.children.insert(pe.clone(), sub);
                }
            }
        }
        out
    }

    /// Every member path, in sorted order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect(&mut prefix, &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Encodes the set as a FieldsV1 object (`{"f:spec":{"f:replicas":{}}}`).
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (pe, child) in &self.children {
            if child.is_empty() {
                continue;
            }
            map.insert(pe.to_fields_v1_key(), child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Decodes a FieldsV1 object; unreadable keys are skipped rather than failing the write.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut out = FieldSet::new();
        if let Some(map) = v.as_object() {
            out.decode_children(map);
        }
        out
    }

    fn decode_children(&mut self, map: &Map<String, Value>) {
        for (key, child) in map {
            if key == "." {
                self.member = true;
                continue;
            }
            let Some(pe) = PathElement::from_fields_v1_key(key) else {
                continue;
            };
            let node = self.children.entry(pe).or_default();
            match child.as_object() {
                // A leaf is written as `{}`: the path itself is the member.
                Some(m) if m.is_empty() => node.member = true,
                Some(m) => node.decode_children(m),
                None => node.member = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    #[test]
    fn fields_v1_round_trip_keeps_dot_members_and_key_order() {
        let v = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {
                "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:ports": {
                    "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}
                }}
            }, "f:finalizers": {"v:\"a\"": {}}}
        });
        let set = FieldSet::from_fields_v1(&v);
        assert!(set.has(&[f("metadata"), f("labels")]));
        assert!(set.has(&[f("metadata"), f("labels"), f("app")]));
        assert!(!set.has(&[f("metadata")]));
        assert_eq!(set.to_fields_v1(), v);
    }

    #[test]
    fn key_elements_sort_fields_and_print_like_the_server() {
        let pe = PathElement::key(vec![
            ("protocol".into(), json!("TCP")),
            ("containerPort".into(), json!(80)),
        ]);
        assert_eq!(
            pe.to_fields_v1_key(),
            "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"
        );
        assert_eq!(pe.to_string(), "[containerPort=80,protocol=\"TCP\"]");
        let path = vec![
            f("spec"),
            f("containers"),
            PathElement::key(vec![("name".into(), json!("web"))]),
            f("image"),
        ];
        assert_eq!(path_string(&path), ".spec.containers[name=\"web\"].image");
        assert_eq!(PathElement::value(&json!("x")).to_string(), "[=\"x\"]");
    }

    #[test]
    fn values_sort_numerically_before_strings() {
        let port = |n: i64| PathElement::key(vec![("containerPort".into(), json!(n))]);
        let mut set = FieldSet::new();
        set.insert(&[port(8080)]);
        set.insert(&[port(443)]);
        set.insert(&[port(80)]);
        set.insert(&[PathElement::value(&json!("a"))]);
        set.insert(&[PathElement::value(&json!(2))]);
        let keys: Vec<String> = set
            .paths()
            .iter()
            .map(|p| p[0].to_fields_v1_key())
            .collect();
        assert_eq!(
            keys,
            [
                "k:{\"containerPort\":80}",
                "k:{\"containerPort\":443}",
                "k:{\"containerPort\":8080}",
                "v:2",
                "v:\"a\""
            ]
        );
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::new();
        a.insert(&[f("spec"), f("replicas")]);
        a.insert(&[f("spec"), f("paused")]);
        let mut b = FieldSet::new();
        b.insert(&[f("spec"), f("replicas")]);
        b.insert(&[f("status")]);
        assert_eq!(
            a.intersection(&b).paths(),
            vec![vec![f("spec"), f("replicas")]]
        );
        assert_eq!(a.difference(&b).paths(), vec![vec![f("spec"), f("paused")]]);
        assert_eq!(a.union(&b).paths().len(), 3);
        let mut spec = FieldSet::new();
        spec.insert(&[f("spec")]);
        assert!(a.recursive_difference(&spec).is_empty());
        assert!(!a.difference(&spec).is_empty());
        assert!(a.has_prefix(&[f("spec")]));
        assert!(!a.has_prefix(&[f("status")]));
    }

    #[test]
    fn malformed_fields_v1_is_tolerated() {
        let set = FieldSet::from_fields_v1(&json!({"x:bad": {}, "k:notjson": {}, "f:a": 5}));
        assert_eq!(set.paths(), vec![vec![f("a")]]);
        assert!(FieldSet::from_fields_v1(&json!("nope")).is_empty());
    }
}
