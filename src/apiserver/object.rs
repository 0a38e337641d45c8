//! Small helpers over objects held as JSON: metadata access and the server-owned fields.

use serde_json::{Map, Value};

/// Current time as Kubernetes writes timestamps (RFC 3339, whole seconds, UTC).
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .map(|t| t.to_string())
        .unwrap_or_else(|_| now.to_string())
}

/// `metadata` of an object (None when absent or not an object).
pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// Mutable `metadata`, created when missing.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let root = obj.as_object_mut().expect("made an object above");
    let m = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("made an object above")
}

/// A string field of metadata.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj).and_then(|m| m.get(field)).and_then(Value::as_str)
}

/// `metadata.name` ("" when absent).
pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or("")
}

/// `metadata.namespace`.
pub fn namespace(obj: &Value) -> Option<&str> {
    meta_str(obj, "namespace").filter(|s| !s.is_empty())
}

/// `metadata.labels` as a map (empty when absent).
pub fn labels(obj: &Value) -> Map<String, Value> {
    meta(obj)
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The strings of a JSON list (empty when absent or not a list).
pub fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.finalizers` (empty when absent).
pub fn finalizers(obj: &Value) -> Vec<String> {
    string_list(meta(obj).and_then(|m| m.get("finalizers")))
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(obj: &Value) -> bool {
    meta(obj)
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|v| !v.is_null())
}

/// Set `metadata.resourceVersion` from a store revision.
pub fn set_resource_version(obj: &mut Value, rev: i64) {
    meta_mut(obj).insert("resourceVersion".into(), Value::String(rev.to_string()));
}

/// Parse an object's `metadata.resourceVersion` precondition ("" and absent mean none).
pub fn resource_version(obj: &Value) -> Option<&str> {
    meta_str(obj, "resourceVersion").filter(|s| !s.is_empty())
}

/// Everything but metadata and status: a change here bumps `metadata.generation`.
pub fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    v
}

/// An object with the server-managed, ever-changing metadata removed, for no-op detection.
pub fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    let m = meta_mut(&mut v);
    m.remove("resourceVersion");
    m.remove("managedFields");
    v
}

/// The random 5-character suffix kube-apiserver appends for `generateName`.
pub fn random_suffix() -> String {
    // Same alphabet as apimachinery's rand.String: no vowels, no confusable characters.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    use rand::Rng;
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Remove keys whose value is null or an empty map from metadata that clients send blank.
pub fn drop_null_metadata(obj: &mut Value) {
    let m = meta_mut(obj);
    m.retain(|_, v| !v.is_null());
}

/// The deepest nesting of arrays and objects the JSON decoder reads back (serde_json's
/// recursion limit). Objects are stored as JSON, so one nested deeper could be written but
/// never read again: every GET and LIST that met it would fail.
pub const MAX_DEPTH: usize = 127;

/// Whether `v` nests arrays and objects deeper than [`MAX_DEPTH`].
pub fn too_deep(v: &Value) -> bool {
    // Iterative: patch results are not bounded by any decoder and may nest very deep.
    let mut stack = vec![(v, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(m) => Box::new(m.values()),
            _ => continue,
        };
        if depth > MAX_DEPTH {
            return true;
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `depth` arrays nested in each other, innermost holding a scalar.
    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn depth_limit_is_what_json_reads_back() {
        let ok: Value = serde_json::from_str(&nested(MAX_DEPTH)).expect("JSON reads 127 levels");
        assert!(!too_deep(&ok));
        assert!(serde_json::from_str::<Value>(&nested(MAX_DEPTH + 1)).is_err());
        let mut deep = json!(1);
        for _ in 0..=MAX_DEPTH {
            deep = json!({ "a": deep });
        }
        assert!(too_deep(&deep));
        assert!(serde_json::from_slice::<Value>(&serde_json::to_vec(&deep).unwrap()).is_err());
    }

    #[test]
    fn timestamps_are_whole_seconds() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z'), "{t}");
        assert!(!t.contains('.'), "{t}");
    }

    #[test]
    fn metadata_helpers() {
        let mut o = json!({"metadata": {"name": "a", "labels": {"x": "y"}, "finalizers": ["f"]}});
        assert_eq!(name(&o), "a");
        assert_eq!(labels(&o).get("x"), Some(&json!("y")));
        assert_eq!(finalizers(&o), ["f"]);
        set_resource_version(&mut o, 7);
        assert_eq!(resource_version(&o), Some("7"));
        assert!(!is_deleting(&o));
        let mut bad = json!("x");
        meta_mut(&mut bad).insert("name".into(), json!("n"));
        assert_eq!(name(&bad), "n");
        assert_eq!(random_suffix().len(), 5);
    }
}
