//! Field errors with apimachinery's wording (field.Error).

use serde_json::Value;

/// The kinds of field error, as apimachinery names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// Required value missing.
    Required,
    /// Value invalid.
    Invalid,
    /// Duplicate value.
    Duplicate,
    /// Value not among the supported ones.
    NotSupported,
    /// Change not allowed.
    Forbidden,
    /// Too long.
    TooLong,
    /// A reference to something that does not exist.
    NotFound,
}

/// One invalid field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub kind: ErrorType,
    /// Field path (`spec.replicas`).
    pub field: String,
    /// The offending value, rendered as Go renders it.
    pub bad_value: Option<String>,
    /// Explanation.
    pub detail: String,
}

impl FieldError {
    pub(super) fn new(
        kind: ErrorType,
        field: &str,
        bad_value: Option<String>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: field.to_string(),
            bad_value,
            detail: detail.into(),
        }
    }

    pub(super) fn invalid(field: &str, value: &Value, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, Some(go_value(value)), detail)
    }

    pub(super) fn required(field: &str, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, field, None, detail)
    }

    /// The cause message: what `field.Error.ErrorBody()` says.
    pub fn cause_message(&self) -> String {
        let (label, with_value) = match self.kind {
            ErrorType::Required => ("Required value", false),
            ErrorType::Invalid => ("Invalid value", true),
            ErrorType::Duplicate => ("Duplicate value", true),
            ErrorType::NotSupported => ("Unsupported value", true),
            ErrorType::Forbidden => ("Forbidden", false),
            ErrorType::TooLong => ("Too long", false),
            ErrorType::NotFound => ("Not found", true),
        };
        let mut s = label.to_string();
        if with_value {
            if let Some(v) = &self.bad_value {
                s.push_str(&format!(": {v}"));
            }
        }
        if !self.detail.is_empty() {
            s.push_str(&format!(": {}", self.detail));
        }
        s
    }

    /// The full text, `field: body`.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.cause_message())
    }

    /// The Status cause reason.
    pub fn cause_reason(&self) -> &'static str {
        match self.kind {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::NotFound => "FieldValueNotFound",
        }
    }
}

/// A value as Go's `%#v` would print it in a field error.
pub(super) fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Object(m) if m.values().all(Value::is_string) => {
            let mut parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or("")))
                .collect();
            parts.sort();
            format!("map[string]string{{{}}}", parts.join(", "))
        }
        other => other.to_string(),
    }
}
