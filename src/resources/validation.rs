//! TEMPORARY compile shim.
use serde_json::Value;
pub struct FieldError { pub field: String }
impl FieldError { pub fn message(&self) -> String { String::new() } pub fn cause_reason(&self) -> &'static str { "" } pub fn cause_message(&self) -> String { String::new() } }
pub fn validate_create(_g: &str, _k: &str, _o: &Value, _n: bool) -> Vec<FieldError> { vec![] }
pub fn validate_update(_g: &str, _k: &str, _n: &Value, _o: &Value, _ns: bool) -> Vec<FieldError> { vec![] }
