//! Patch application (JSON patch, merge patch, strategic merge patch) and field ownership
//! (`metadata.managedFields`, server-side apply), with the API server's error codes.

mod apply;
mod fieldset;
mod managed;
mod schema;
mod strategic;
mod typed;

pub use apply::server_side_apply;
pub use fieldset::{path_string, Atom, FieldSet, Path, PathElement};
pub use managed::{track_update, FieldOwner};
pub use schema::{ListKind, SchemaRef};
pub use strategic::strategic_merge_patch;

use serde_json::Value;

/// The API server's cap on operations in one JSON patch.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// How many bytes the `copy` operations of one JSON patch may add in all, like
/// kube-apiserver's `JSONPatchMaxCopyBytes` (3 MiB): each copy can double the document.
pub const MAX_JSON_PATCH_COPY_BYTES: usize = 3 * 1024 * 1024;

/// Patch content types a custom resource accepts (no strategic merge patch).
pub const CUSTOM_RESOURCE_PATCH_TYPES: [&str; 3] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

/// One `details.causes` entry of a Status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCause {
    /// The cause's `reason` (e.g. `FieldManagerConflict`).
    pub reason: &'static str,
    /// The cause's `message`.
    pub message: String,
    /// The cause's `field`.
    pub field: String,
}

/// One field that another manager owns and this apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyConflict {
    /// The other manager as the server prints it (`"kubectl-client-side-apply" using apps/v1`).
    pub manager: String,
    /// The field path (`.spec.replicas`).
    pub field: String,
}

/// A patch that could not be applied, carrying the status the API server would answer with.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum PatchError {
    /// The patch document is malformed (400 BadRequest).
    #[error("{0}")]
    BadRequest(String),
    /// The patch is well formed but cannot be applied (422, the server hides the detail).
    #[error("the server rejected our request due to an error in our request")]
    Unprocessable {
        /// What actually went wrong, for logs.
        detail: String,
    },
    /// The patched document is not a valid object (422 Invalid on field `patch`).
    #[error(" \"\" is invalid: patch: Invalid value: {value}: {detail}")]
    InvalidResult {
        /// The patched document, quoted.
        value: String,
        /// Why it could not be decoded.
        detail: String,
    },
    /// Too many JSON patch operations (413).
    #[error("Request entity too large: {0}")]
    TooLarge(String),
    /// The patch type is not accepted for this resource (415), e.g. strategic merge on a CRD.
    #[error("the body of the request was in an unknown format - accepted media types include: {}", .accepted.join(", "))]
    UnsupportedMediaType {
        /// The content types the resource accepts.
        accepted: Vec<String>,
    },
    /// An error the server does not classify (500, empty reason), as strategic merge patch
    /// reports most structural problems.
    #[error("{0}")]
    Internal(String),
    /// Server-side apply conflicts with other managers (409 Conflict).
    #[error("{message}")]
    Conflict {
        /// The summary message (`Apply failed with 1 conflict: ...`).
        message: String,
        /// Each conflicting field.
        conflicts: Vec<ApplyConflict>,
    },
}

impl PatchError {
    /// The error for a strategic merge patch on a type without patch metadata (custom resources).
    pub fn strategic_merge_unsupported() -> Self {
        PatchError::UnsupportedMediaType {
            accepted: CUSTOM_RESOURCE_PATCH_TYPES
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Unprocessable { .. } | PatchError::InvalidResult { .. } => 422,
            PatchError::TooLarge(_) => 413,
            PatchError::UnsupportedMediaType { .. } => 415,
            PatchError::Internal(_) => 500,
            PatchError::Conflict { .. } => 409,
        }
    }

    /// Status `reason` (empty for unclassified errors, as the server sends).
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::Unprocessable { .. } | PatchError::InvalidResult { .. } => "Invalid",
            PatchError::TooLarge(_) => "RequestEntityTooLarge",
            PatchError::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            PatchError::Internal(_) => "",
            PatchError::Conflict { .. } => "Conflict",
        }
    }

    /// Status `details.causes`.
    pub fn causes(&self) -> Vec<StatusCause> {
        match self {
            PatchError::Conflict { conflicts, .. } => conflicts
                .iter()
                .map(|c| StatusCause {
                    reason: "FieldManagerConflict",
                    message: format!("conflict with {}", c.manager),
                    field: c.field.clone(),
                })
                .collect(),
            PatchError::InvalidResult { value, detail } => vec![StatusCause {
                reason: "FieldValueInvalid",
                message: format!("Invalid value: {value}: {detail}"),
                field: "patch".to_string(),
            }],
            _ => Vec::new(),
        }
    }
}

/// Go's name for a JSON value's type in `json: cannot unmarshal X into ...` messages.
pub(crate) fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn not_an_object(patched: &Value) -> PatchError {
    PatchError::InvalidResult {
        value: format!("{:?}", patched.to_string()),
        detail: format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            json_type_name(patched)
        ),
    }
}

/// Applies an RFC 6902 JSON patch (`application/json-patch+json`).
pub fn json_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = match patch {
        // `null` decodes to an empty patch in the server's decoder.
        Value::Null => return Ok(original.clone()),
        Value::Array(ops) => ops,
        other => {
            return Err(PatchError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                json_type_name(other)
            )))
        }
    };
    if let Some(bad) = ops.iter().find(|op| !op.is_object()) {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
            json_type_name(bad)
        )));
    }
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooLarge(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            ops.len()
        )));
    }
    // Unknown ops and missing members only fail when applied in the server, hence 422.
    let parsed: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| PatchError::Unprocessable {
            detail: e.to_string(),
        })?;
    let mut doc = original.clone();
    let mut copied = 0usize;
    for op in &parsed.0 {
        if let json_patch::PatchOperation::Copy(c) = op {
            let left = MAX_JSON_PATCH_COPY_BYTES.saturating_sub(copied);
            copied += doc
                .pointer(c.from.as_str())
                .map_or(0, |v| json_size(v, left));
            if copied > MAX_JSON_PATCH_COPY_BYTES {
                return Err(PatchError::Unprocessable {
                    detail: format!(
                        "Unable to complete the copy, the accumulated size increase of copy is {copied}, exceeding the limit {MAX_JSON_PATCH_COPY_BYTES}"
                    ),
                });
            }
        }
        // One at a time, so the copy limit sees each copy's source as it is then; a failure
        // discards `doc`, so the patch still applies all or nothing.
        json_patch::patch_unsafe(&mut doc, std::slice::from_ref(op)).map_err(|e| {
            PatchError::Unprocessable {
                detail: e.to_string(),
            }
        })?;
    }
    // `add` after `add` can nest the document as deep as the patch is long; what JSON cannot
    // read back must not reach the handlers' recursive walks or the store.
    if super::object::too_deep(&doc) {
        return Err(PatchError::Unprocessable {
            detail: format!(
                "the patched object nests deeper than {} levels",
                super::object::MAX_DEPTH
            ),
        });
    }
    if !doc.is_object() {
        return Err(not_an_object(&doc));
    }
    Ok(doc)
}

/// About how many bytes `v` takes as JSON (strings unescaped), counted only up to just past
/// `cap`: cheaper than encoding it, and bounded however large `v` is.
fn json_size(v: &Value, cap: usize) -> usize {
    let mut size = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        size += match v {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 8,
            Value::String(s) => s.len() + 2,
            Value::Array(items) => {
                stack.extend(items);
                items.len() + 2
            }
            Value::Object(m) => {
                stack.extend(m.values());
                m.keys().map(|k| k.len() + 4).sum::<usize>() + 2
            }
        };
        if size > cap {
            break;
        }
    }
    size
}

/// Applies an RFC 7386 JSON merge patch (`application/merge-patch+json`).
pub fn merge_patch(original: &Value, patch: &Value) -> Result<Value, PatchError> {
    match patch {
        Value::Object(_) => {
            let mut doc = original.clone();
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        // A list replaces the whole document, which then fails to decode as an object.
        Value::Array(_) => Err(not_an_object(patch)),
        _ => Err(PatchError::BadRequest("Invalid JSON Patch".to_string())),
    }
}

/// Formats a JSON value the way Go's `%v` prints decoded JSON (`map[k:v]`), for messages that
/// must match the server's.
fn go_format(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_format(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests;
