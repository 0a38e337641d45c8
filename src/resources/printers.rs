//! TEMPORARY compile shim.
use serde_json::Value;
#[derive(Clone, Debug, serde::Serialize)] pub struct ColumnDefinition { pub name: String }
pub fn columns(_g: &str, _k: &str) -> Option<Vec<ColumnDefinition>> { None }
pub fn default_columns() -> Vec<ColumnDefinition> { vec![] }
pub fn cells(_g: &str, _k: &str, _o: &Value, _n: jiff::Timestamp) -> Vec<Value> { vec![] }
pub fn default_cells(_o: &Value, _n: jiff::Timestamp) -> Vec<Value> { vec![] }
pub fn row_conditions(_g: &str, _k: &str, _o: &Value) -> Option<Value> { None }
