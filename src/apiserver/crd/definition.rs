//! What a CustomResourceDefinition declares, read from its stored JSON, checked the way
//! apiextensions-apiserver validates CRDs, and turned into registry entries.

use serde_json::Value;

use super::schema;
use crate::resources::registry::{ResourceInfo, Subresource};
use crate::resources::strategy::Strategy;
use crate::resources::validation::FieldError;

/// One printer column (`additionalPrinterColumns`).
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Header.
    pub name: String,
    /// OpenAPI type (`string`, `integer`, `date`, ...).
    pub type_: String,
    /// OpenAPI format.
    pub format: String,
    /// Description.
    pub description: String,
    /// 0 shows by default; higher only with `-o wide`.
    pub priority: i64,
    /// A simple JSONPath (`.spec.replicas`).
    pub json_path: String,
}

/// The scale subresource's paths.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalePaths {
    /// `.spec.replicas`.
    pub spec_replicas: String,
    /// `.status.replicas`.
    pub status_replicas: String,
    /// `.status.selector`, if any.
    pub label_selector: Option<String>,
}

/// One version of a CRD.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    /// Version name.
    pub name: String,
    /// Whether it is served.
    pub served: bool,
    /// Whether objects are stored at it.
    pub storage: bool,
    /// The structural schema (`openAPIV3Schema`).
    pub schema: Option<Value>,
    /// Printer columns.
    pub columns: Vec<Column>,
    /// A status subresource.
    pub status: bool,
    /// A scale subresource.
    pub scale: Option<ScalePaths>,
}

/// A CRD's names, scope and versions.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    /// `<plural>.<group>`.
    pub name: String,
    /// API group.
    pub group: String,
    /// Plural.
    pub plural: String,
    /// Singular.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Short names.
    pub short_names: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Namespaced scope.
    pub namespaced: bool,
    /// Versions, in the CRD's order.
    pub versions: Vec<Version>,
}

fn s(v: &Value, ptr: &str) -> String {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn strings(v: &Value, ptr: &str) -> Vec<String> {
    crate::apiserver::object::string_list(v.pointer(ptr))
}

const VERBS: &[&str] = &[
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "create",
    "update",
    "watch",
];

impl Definition {
    /// Read a CRD object.
    pub fn from_object(crd: &Value) -> Definition {
        let mut versions = Vec::new();
        for v in crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let columns = v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| Column {
                    name: s(c, "/name"),
                    type_: s(c, "/type"),
                    format: s(c, "/format"),
                    description: s(c, "/description"),
                    priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    json_path: s(c, "/jsonPath"),
                })
                .collect();
            let scale = v.pointer("/subresources/scale").map(|sc| ScalePaths {
                spec_replicas: s(sc, "/specReplicasPath"),
                status_replicas: s(sc, "/statusReplicasPath"),
                label_selector: sc
                    .get("labelSelectorPath")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
            versions.push(Version {
                name: s(v, "/name"),
                served: v.get("served").and_then(Value::as_bool).unwrap_or(false),
                storage: v.get("storage").and_then(Value::as_bool).unwrap_or(false),
                schema: v.pointer("/schema/openAPIV3Schema").cloned(),
                columns,
                status: v.pointer("/subresources/status").is_some(),
                scale,
            });
        }
        let plural = s(crd, "/spec/names/plural");
        let singular = match s(crd, "/spec/names/singular") {
            x if x.is_empty() => s(crd, "/spec/names/kind").to_lowercase(),
            x => x,
        };
        Definition {
            name: s(crd, "/metadata/name"),
            group: s(crd, "/spec/group"),
            plural,
            singular,
            kind: s(crd, "/spec/names/kind"),
            short_names: strings(crd, "/spec/names/shortNames"),
            categories: strings(crd, "/spec/names/categories"),
            namespaced: s(crd, "/spec/scope") != "Cluster",
            versions,
        }
    }

    /// Problems apiextensions-apiserver would refuse the CRD for.
    pub fn errors(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if self.group.is_empty() {
            errs.push(FieldError::required("spec.group", ""));
        } else if !self.group.contains('.') {
            errs.push(FieldError::invalid(
                "spec.group",
                self.group.clone(),
                "should be a domain with at least one dot",
            ));
        }
        if self.plural.is_empty() {
            errs.push(FieldError::required("spec.names.plural", ""));
        }
        if self.kind.is_empty() {
            errs.push(FieldError::required("spec.names.kind", ""));
        }
        let expected = format!("{}.{}", self.plural, self.group);
        if !self.plural.is_empty() && !self.group.is_empty() && self.name != expected {
            errs.push(FieldError::invalid(
                "metadata.name",
                self.name.clone(),
                "must be spec.names.plural+\".\"+spec.group",
            ));
        }
        if self.versions.iter().filter(|v| v.storage).count() != 1 {
            errs.push(FieldError::invalid(
                "spec.versions",
                Value::Array(vec![]),
                "must have exactly one version marked as storage version",
            ));
        }
        for (i, v) in self.versions.iter().enumerate() {
            match &v.schema {
                Some(sc) => errs.extend(schema::structural_errors(
                    sc,
                    &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                )),
                None => errs.push(FieldError::required(
                    &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "schemas are required",
                )),
            }
        }
        errs
    }

    /// The storage version's name.
    pub fn storage_version(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.storage)
            .map(|v| v.name.as_str())
    }

    /// Registry entries, one per served version.
    pub fn resources(&self) -> Vec<ResourceInfo> {
        self.versions
            .iter()
            .filter(|v| v.served)
            .map(|v| {
                let mut subresources = Vec::new();
                if v.status {
                    subresources.push(Subresource {
                        name: "status".into(),
                        group: self.group.clone(),
                        version: v.name.clone(),
                        kind: self.kind.clone(),
                        verbs: vec!["get".into(), "patch".into(), "update".into()],
                    });
                }
                if v.scale.is_some() {
                    subresources.push(Subresource {
                        name: "scale".into(),
                        group: "autoscaling".into(),
                        version: "v1".into(),
                        kind: "Scale".into(),
                        verbs: vec!["get".into(), "patch".into(), "update".into()],
                    });
                }
                ResourceInfo {
                    group: self.group.clone(),
                    version: v.name.clone(),
                    kind: self.kind.clone(),
                    plural: self.plural.clone(),
                    singular: self.singular.clone(),
                    short_names: self.short_names.clone(),
                    categories: self.categories.clone(),
                    namespaced: self.namespaced,
                    verbs: VERBS.iter().map(|v| v.to_string()).collect(),
                    subresources,
                    stored: true,
                    storage: format!("{}/{}", self.group, self.plural),
                    strategy: Strategy::CUSTOM,
                }
            })
            .collect()
    }

    /// A served version.
    pub fn version(&self, name: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.name == name && v.served)
    }
}
