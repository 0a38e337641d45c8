//! TEMPORARY compile shim (replaced by the openapi module).
use serde_json::{Map, Value};
pub struct ResourceDesc { pub group: String, pub version: String, pub kind: String, pub plural: String, pub namespaced: bool, pub verbs: Vec<String>, pub subresources: Vec<SubresourceDesc> }
pub struct SubresourceDesc { pub name: String, pub group: String, pub version: String, pub kind: String, pub verbs: Vec<String> }
pub fn definitions() -> &'static Map<String, Value> { static M: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new(); M.get_or_init(Map::new) }
pub fn definition_name(_g: &str, _v: &str, _k: &str) -> Option<&'static str> { None }
pub fn group_version_document(_g: &str, _v: &str, _r: &[ResourceDesc]) -> Value { Value::Null }
pub fn unknown_fields(_g: &str, _v: &str, _k: &str, _o: &Value) -> Option<Result<Vec<String>, String>> { None }
