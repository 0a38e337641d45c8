//! What the API server does differently for each kind, gathered in one value per kind, as
//! kube-apiserver's registry strategies gather it (pkg/registry/<group>/<kind>/strategy.go).
//!
//! Every built-in kind's strategy is written beside its names in the registry's table, so a
//! kind is read or added in one place; the functions it names live with their kin in
//! `defaults`, `validation` and `printers`.

use serde_json::Value;

use super::printers::Printer;
use super::validation::{FieldError, NameRule};

/// How a field selector reads one field of an object (the kind's GetAttrs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The text at this dotted path, "" when absent.
    Text(&'static str),
    /// A boolean at this dotted path, `false` when absent.
    Flag(&'static str),
    /// Selected by the first name, read from the dotted path of the second.
    Alias(&'static str, &'static str),
}

impl Field {
    /// The name a field selector uses.
    pub fn label(self) -> &'static str {
        match self {
            Field::Text(p) | Field::Flag(p) | Field::Alias(p, _) => p,
        }
    }
}

/// One kind's behaviour on writes, reads and tables.
#[derive(Clone, Copy)]
pub struct Strategy {
    /// How `metadata.name` is checked.
    pub name_rule: NameRule,
    /// Server-side defaults (the kind's `SetDefaults_*`), on every write.
    pub defaults: fn(&mut Value),
    /// Checks of the object's own fields, on create and update (`Validate<Kind>`).
    pub validate: fn(&Value) -> Vec<FieldError>,
    /// Rules between the stored object and its update, such as immutable fields.
    pub validate_update: fn(&Value, &Value) -> Vec<FieldError>,
    /// Server-owned fields of a new object, set before validation (`PrepareForCreate`).
    pub prepare_create: fn(&mut Value),
    /// What an update keeps of the stored object, given (old, new) (`PrepareForUpdate`).
    pub prepare_update: fn(&Value, &mut Value),
    /// Seconds a delete waits before the object goes, given the grace period the delete
    /// asked for (`CheckGracefulDelete`); 0 deletes at once.
    pub grace_period: fn(&Value, Option<i64>) -> i64,
    /// The Table printer; `None` gives the default convertor's Name and Created At.
    pub printer: Option<Printer>,
    /// Whether `metadata.generation` is kept and bumped on spec changes.
    pub generation: bool,
    /// Fields a field selector may name besides `metadata.name` and `metadata.namespace`.
    pub fields: &'static [Field],
}

fn leave_as_is(_: &mut Value) {}

fn no_errors(_: &Value) -> Vec<FieldError> {
    Vec::new()
}

fn no_update_errors(_: &Value, _: &Value) -> Vec<FieldError> {
    Vec::new()
}

fn leave_update_as_is(_: &Value, _: &mut Value) {}

fn no_grace(_: &Value, _: Option<i64>) -> i64 {
    0
}

impl Strategy {
    /// A kind with metadata rules only: no defaults, no spec checks, the default table.
    pub const PLAIN: Strategy = Strategy {
        name_rule: NameRule::Subdomain,
        defaults: leave_as_is,
        validate: no_errors,
        validate_update: no_update_errors,
        prepare_create: leave_as_is,
        prepare_update: leave_update_as_is,
        grace_period: no_grace,
        printer: None,
        generation: false,
        fields: &[],
    };

    /// Custom resources: a generation, and the CRD's schema (applied by the CRD admission).
    pub const CUSTOM: Strategy = Strategy {
        generation: true,
        ..Strategy::PLAIN
    };

    /// The selectable field called `label`, if this kind has one.
    pub fn field(&self, label: &str) -> Option<Field> {
        self.fields.iter().copied().find(|f| f.label() == label)
    }
}

/// Strategies compare by what they declare: their functions belong to the kind, and
/// function addresses are not stable enough to compare.
impl PartialEq for Strategy {
    fn eq(&self, other: &Self) -> bool {
        self.name_rule == other.name_rule
            && self.printer == other.printer
            && self.generation == other.generation
            && self.fields == other.fields
    }
}

impl Eq for Strategy {}

impl std::fmt::Debug for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strategy")
            .field("name_rule", &self.name_rule)
            .field("printer", &self.printer)
            .field("generation", &self.generation)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}
