//! Defaulting of built-in objects, as kube-apiserver's `SetDefaults_*` functions do for the
//! fields clients read back (pkg/apis/{core,apps,batch,...}/v1/defaults.go), plus the job
//! registry's create-time selector generation. Each kind's strategy names its function.

pub(crate) mod apps;
pub(crate) mod batch;
pub(crate) mod core;
pub(crate) mod networking;
pub(crate) mod other;
pub(crate) mod rbac;

use serde_json::{json, Map, Value};

/// The object under `key`, created empty when absent or not an object.
fn obj_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let m = v.as_object_mut()?;
    if !m.get(key).is_some_and(Value::is_object) {
        m.insert(key.to_string(), json!({}));
    }
    m.get_mut(key)?.as_object_mut()
}

/// The object at a JSON pointer, if it exists and is an object (never created).
fn at<'a>(v: &'a mut Value, pointer: &str) -> Option<&'a mut Map<String, Value>> {
    v.pointer_mut(pointer).and_then(Value::as_object_mut)
}

/// Set `key` when it is absent or null.
fn default(m: &mut Map<String, Value>, key: &str, value: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_string(), value);
    }
}

/// Set `key` when it is absent or holds no entries (a label set or a selector).
fn default_map(m: &mut Map<String, Value>, key: &str, value: Value) {
    if m.get(key)
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
    {
        m.insert(key.to_string(), value);
    }
}

/// Each object in the array under `key`.
fn each<'a>(
    m: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    m.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}
