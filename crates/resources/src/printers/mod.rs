//! Server-side Table printers: the columns, cells and row conditions kube-apiserver's
//! printers (pkg/printers/internalversion/printers.go, always run with `Wide: true`) and its
//! default table convertor produce, computed from objects in their v1 JSON form.

pub(crate) mod apps;
pub(crate) mod batch;
pub(crate) mod core;
mod docs;
pub mod duration;
mod fields;
pub(crate) mod other;
mod pod;

use serde_json::{json, Value};

pub use duration::{age, human_duration, human_duration_signed};

/// One Table column (metav1.TableColumnDefinition).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ColumnDefinition {
    /// Column name.
    pub name: String,
    /// Cell type: string, integer, number, boolean or date.
    #[serde(rename = "type")]
    pub type_: String,
    /// `name` for the column holding the object name, else "".
    pub format: String,
    /// The documentation of the field the column shows.
    pub description: String,
    /// 0 = shown by default, 1 = `-o wide` only.
    pub priority: i32,
}

/// Description of the Name column (ObjectMeta.name).
pub(super) fn name_doc() -> &'static str {
    docs::doc("ObjectMeta.name")
}

/// Description of the Age column (ObjectMeta.creationTimestamp).
pub(super) fn age_doc() -> &'static str {
    docs::doc("ObjectMeta.creationTimestamp")
}

/// One column spec: (name, type, priority, description). A `Type.field` description is
/// looked up in the API docs; anything else is a literal.
pub(super) type Spec<'a> = (&'a str, &'a str, i32, &'a str);

/// Build column definitions; the column called "Name" gets format `name`.
pub(super) fn cols(spec: &[Spec<'_>]) -> Vec<ColumnDefinition> {
    spec.iter()
        .map(|(n, t, p, d)| {
            let description = match *d {
                "name" => name_doc(),
                "age" => age_doc(),
                d => match docs::doc(d) {
                    "" => d,
                    found => found,
                },
            };
            ColumnDefinition {
                name: (*n).into(),
                type_: (*t).into(),
                format: if *n == "Name" {
                    "name".into()
                } else {
                    String::new()
                },
                description: description.into(),
                priority: *p,
            }
        })
        .collect()
}

/// Name + Created At, as rest.NewDefaultTableConvertor gives.
pub fn default_columns() -> Vec<ColumnDefinition> {
    cols(&[
        ("Name", "string", 0, "name"),
        ("Created At", "date", 0, "age"),
    ])
}

/// Cells of the default columns: the name and creationTimestamp in UTC RFC 3339 (Go's zero time when absent).
pub fn default_cells(obj: &Value, _now: jiff::Timestamp) -> Vec<Value> {
    let created = duration::timestamp(obj.pointer("/metadata/creationTimestamp"))
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    vec![json!(fields::name(obj)), json!(created)]
}

/// A kind's Table printer, named by its strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Printer {
    /// A core kind's printer (events.k8s.io Events included).
    Core(core::Kind),
    /// An apps kind's printer.
    Apps(apps::Kind),
    /// A batch kind's printer.
    Batch(batch::Kind),
    /// A printer of one of the smaller groups.
    Other(other::Kind),
}

impl From<core::Kind> for Printer {
    fn from(k: core::Kind) -> Self {
        Printer::Core(k)
    }
}

impl From<apps::Kind> for Printer {
    fn from(k: apps::Kind) -> Self {
        Printer::Apps(k)
    }
}

impl From<batch::Kind> for Printer {
    fn from(k: batch::Kind) -> Self {
        Printer::Batch(k)
    }
}

impl From<other::Kind> for Printer {
    fn from(k: other::Kind) -> Self {
        Printer::Other(k)
    }
}

impl Printer {
    /// Column definitions.
    pub fn columns(self) -> Vec<ColumnDefinition> {
        match self {
            Printer::Core(k) => k.columns(),
            Printer::Apps(k) => k.columns(),
            Printer::Batch(k) => k.columns(),
            Printer::Other(k) => k.columns(),
        }
    }

    /// Cells of one row, matching `columns` (same count and order).
    pub fn cells(self, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
        match self {
            Printer::Core(k) => k.cells(obj, now),
            Printer::Apps(k) => k.cells(obj, now),
            Printer::Batch(k) => k.cells(obj, now),
            Printer::Other(k) => k.cells(obj, now),
        }
    }

    /// Row conditions: pods in phase Succeeded or Failed are `Completed`; None otherwise.
    pub fn row_conditions(self, obj: &Value) -> Option<Value> {
        match self {
            Printer::Core(core::Kind::Pod) => pod::row_conditions(obj),
            _ => None,
        }
    }
}

/// The printer of a built-in kind, as its strategy names it (tests name kinds by group).
#[cfg(test)]
fn printer_of(group: &str, kind: &str) -> Option<Printer> {
    crate::kinds::strategy(group, kind)?.printer
}

#[cfg(test)]
fn columns(group: &str, kind: &str) -> Option<Vec<ColumnDefinition>> {
    printer_of(group, kind).map(Printer::columns)
}

#[cfg(test)]
fn cells(group: &str, kind: &str, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    match printer_of(group, kind) {
        Some(p) => p.cells(obj, now),
        None => default_cells(obj, now),
    }
}

#[cfg(test)]
fn row_conditions(group: &str, kind: &str, obj: &Value) -> Option<Value> {
    printer_of(group, kind)?.row_conditions(obj)
}

/// The instant the printer tests print at.
#[cfg(test)]
fn now() -> jiff::Timestamp {
    "2024-05-01T12:00:00Z".parse().unwrap()
}

/// Cells of an object, asserting they line up with the column definitions.
#[cfg(test)]
fn row(group: &str, kind: &str, o: &Value) -> Vec<Value> {
    let cols = columns(group, kind).expect("printer");
    let cells = cells(group, kind, o, now());
    assert_eq!(cols.len(), cells.len(), "{group}/{kind}: columns vs cells");
    cells
}

/// The column names of a kind's table.
#[cfg(test)]
fn header(group: &str, kind: &str) -> Vec<String> {
    columns(group, kind)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect()
}

/// Metadata created one hour before `now()`.
#[cfg(test)]
fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": "2024-05-01T11:00:00Z"})
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_groups;
#[cfg(test)]
mod tests_kinds;
