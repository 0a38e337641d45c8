//! `meta.k8s.io` Table and PartialObjectMetadata renderings of objects, as `kubectl get` asks.

use serde_json::{json, Map, Value};

use super::crd;
use super::crd::definition::Version;
use crate::resources::printers;
use crate::resources::registry::ResourceInfo;

/// What `includeObject` asks each row to carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// PartialObjectMetadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// From the `includeObject` query parameter.
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// The `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value, meta_version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{meta_version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// Column definitions for a resource (a custom resource's come from its CRD version).
pub fn columns(info: &ResourceInfo, custom: Option<&Version>) -> Vec<Value> {
    if let Some(v) = custom {
        return crd::columns::definitions(v);
    }
    let cols = match info.strategy.printer {
        Some(p) => p.columns(),
        None => printers::default_columns(),
    };
    cols.iter()
        .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
        .collect()
}

fn row(
    info: &ResourceInfo,
    custom: Option<&Version>,
    obj: &Value,
    include: IncludeObject,
    meta_version: &str,
    now: jiff::Timestamp,
) -> Value {
    let printer = info.strategy.printer;
    let cells = match (custom, printer) {
        (Some(v), _) => crd::columns::cells(v, obj, now),
        (None, Some(p)) => p.cells(obj, now),
        (None, None) => printers::default_cells(obj, now),
    };
    let mut row = Map::new();
    row.insert("cells".into(), Value::Array(cells));
    if let Some(c) = printer.and_then(|p| p.row_conditions(obj)) {
        row.insert("conditions".into(), c);
    }
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row.insert("object".into(), partial_metadata(obj, meta_version));
        }
        IncludeObject::Object => {
            row.insert("object".into(), obj.clone());
        }
    }
    Value::Object(row)
}

/// A Table of these objects.
pub fn table(
    info: &ResourceInfo,
    custom: Option<&Version>,
    objs: &[Value],
    include: IncludeObject,
    meta_version: &str,
    list_meta: Value,
    with_columns: bool,
) -> Value {
    let now = jiff::Timestamp::now();
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| row(info, custom, o, include, meta_version, now))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{meta_version}"),
        "metadata": list_meta,
        "columnDefinitions": if with_columns { Value::Array(columns(info, custom)) } else { Value::Array(vec![]) },
        "rows": rows,
    })
}
