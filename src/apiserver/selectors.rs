//! TEMPORARY compile shim.
use serde_json::{Map, Value};
#[derive(Debug)] pub struct SelectorError;
impl std::fmt::Display for SelectorError { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { write!(f, "x") } }
pub struct LabelSelector;
impl LabelSelector { pub fn parse(_s: &str) -> Result<Self, SelectorError> { Ok(LabelSelector) } pub fn matches(&self, _l: &Map<String, Value>) -> bool { true } pub fn is_empty(&self) -> bool { true } pub fn from_label_selector_json(_v: &Value) -> Result<Self, SelectorError> { Ok(LabelSelector) } }
impl std::fmt::Display for LabelSelector { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { write!(f, "") } }
#[derive(PartialEq)] pub enum Op { Eq, NotEq }
impl Op { pub fn is_eq(&self) -> bool { *self == Op::Eq } }
pub struct FieldSelector(Vec<(String, Op, String)>);
impl FieldSelector { pub fn parse(_s: &str) -> Result<Self, SelectorError> { Ok(FieldSelector(vec![])) } pub fn requirements(&self) -> &[(String, Op, String)] { &self.0 } pub fn matches(&self, _g: impl Fn(&str) -> Option<String>) -> bool { true } }
