//! Field errors with apimachinery's wording (`field.Error` and its `ErrorBody`).

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// The kinds of field error, as apimachinery names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// A value that was looked up does not exist.
    NotFound,
    /// Required value missing.
    Required,
    /// Duplicate value.
    Duplicate,
    /// Value invalid.
    Invalid,
    /// Value not among the supported ones.
    NotSupported,
    /// Change or value not allowed here.
    Forbidden,
    /// Too long.
    TooLong,
    /// A list has too many items.
    TooMany,
    /// Not the user's fault.
    Internal,
    /// The value has the wrong type for its schema.
    TypeInvalid,
}

/// One invalid field.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// What is wrong.
    pub kind: ErrorType,
    /// Field path (`spec.replicas`).
    pub field: String,
    /// The offending value; `None` when the message carries no value.
    pub bad_value: Option<Value>,
    /// Explanation.
    pub detail: String,
}

impl FieldError {
    /// An error of any kind.
    pub fn new(kind: ErrorType, field: &str, bad_value: Option<Value>, detail: &str) -> Self {
        FieldError {
            kind,
            field: field.to_string(),
            bad_value,
            detail: detail.to_string(),
        }
    }

    pub fn required(field: &str, detail: &str) -> Self {
        Self::new(ErrorType::Required, field, None, detail)
    }

    pub fn invalid(field: &str, value: impl Into<Value>, detail: &str) -> Self {
        Self::new(ErrorType::Invalid, field, Some(value.into()), detail)
    }

    pub(super) fn duplicate(field: &str, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::Duplicate, field, Some(value.into()), "")
    }

    pub(super) fn not_found(field: &str, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::NotFound, field, Some(value.into()), "")
    }

    pub fn not_supported(field: &str, value: impl Into<Value>, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, field, Some(value.into()), &detail)
    }

    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new(ErrorType::Forbidden, field, None, detail)
    }

    pub fn too_long(field: &str, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        let detail = format!("may not be more than {max_bytes} {unit}");
        Self::new(ErrorType::TooLong, field, None, &detail)
    }

    /// The Status cause reason.
    pub fn cause_reason(&self) -> &'static str {
        match self.kind {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    fn label(&self) -> &'static str {
        match self.kind {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
        }
    }

    /// The cause message: `field.Error.ErrorBody()`, the message without the field.
    pub fn cause_message(&self) -> String {
        let mut s = self.label().to_string();
        let shows_value = !matches!(
            self.kind,
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong | ErrorType::Internal
        );
        if shows_value {
            if let Some(v) = &self.bad_value {
                s.push_str(": ");
                s.push_str(&go_value(v));
            }
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The full text of `field.Error.Error()`: `field: body`.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.cause_message())
    }
}

/// A bad value as `ErrorBody` prints it: strings quoted like Go's `%q`, numbers and
/// booleans bare, everything else as Go's `json.Marshal` would write it.
pub(super) fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => go_json(other),
    }
}

/// Go's `strconv.Quote` (`%q`), as kube-apiserver quotes values in its messages.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        let code = c as u32;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            _ if code < 0x20 || code == 0x7f => {
                let _ = write!(out, "\\x{code:02x}");
            }
            _ if !go_printable(c) && code < 0x10000 => {
                let _ = write!(out, "\\u{code:04x}");
            }
            _ if !go_printable(c) => {
                let _ = write!(out, "\\U{code:08x}");
            }
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Approximates Go's unicode.IsPrint without Unicode tables: controls, separators other than
/// the space, the common format characters and private-use code points are not printable.
fn go_printable(c: char) -> bool {
    let format_or_private = matches!(c as u32,
        0xad | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x206f | 0xe000..=0xf8ff
            | 0xfeff | 0xfff9..=0xfffb | 0xfffe | 0xffff | 0xf0000..);
    c == ' ' || !(c.is_control() || c.is_whitespace() || format_or_private)
}

/// Go's `json.Marshal`: compact, with `<`, `>`, `&`, U+2028 and U+2029 escaped.
pub(super) fn go_json(v: &Value) -> String {
    let raw = v.to_string();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// A string map as Go marshals a `map[string]string`: keys sorted; `null` when absent.
pub(super) fn sorted_map(v: Option<&Value>) -> Value {
    match v.and_then(Value::as_object) {
        Some(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), m.get(k).cloned().unwrap_or(Value::Null));
            }
            Value::Object(out)
        }
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_follow_error_body() {
        let cases = [
            (
                FieldError::invalid("spec.replicas", -1, "must be greater than or equal to 0"),
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                FieldError::required("metadata.name", "name or generateName is required"),
                "metadata.name: Required value: name or generateName is required",
            ),
            (FieldError::required("spec.ports", ""), "spec.ports: Required value"),
            (
                FieldError::not_supported("spec.type", "Foo", &["ClusterIP", "NodePort"]),
                "spec.type: Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"NodePort\"",
            ),
            (
                FieldError::duplicate("spec.containers[1].name", "a"),
                "spec.containers[1].name: Duplicate value: \"a\"",
            ),
            (
                FieldError::not_found("spec.containers[0].volumeMounts[0].name", "v"),
                "spec.containers[0].volumeMounts[0].name: Not found: \"v\"",
            ),
            (
                FieldError::forbidden("metadata.namespace", "not allowed on this type"),
                "metadata.namespace: Forbidden: not allowed on this type",
            ),
            (
                FieldError::too_long("metadata.annotations", 262144),
                "metadata.annotations: Too long: may not be more than 262144 bytes",
            ),
            (
                FieldError::new(ErrorType::TooMany, "rules", Some(Value::from(21)), "must have at most 20 items"),
                "rules: Too many: 21: must have at most 20 items",
            ),
            (
                FieldError::invalid(
                    "spec.clusterIPs[0]",
                    json!(["None"]),
                    "may not change once set",
                ),
                "spec.clusterIPs[0]: Invalid value: [\"None\"]: may not change once set",
            ),
            (
                FieldError::new(ErrorType::Invalid, "status.conditions", None, "cannot set"),
                "status.conditions: Invalid value: cannot set",
            ),
            (
                FieldError::new(ErrorType::Internal, "spec", Some(Value::from(1)), "boom"),
                "spec: Internal error: boom",
            ),
            (
                FieldError::invalid("x", Value::Null, "d"),
                "x: Invalid value: null: d",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.message(), want);
        }
    }

    #[test]
    fn reasons_and_cause_message() {
        let e = FieldError::invalid("spec.replicas", -1, "must be greater than or equal to 0");
        assert_eq!(e.cause_reason(), "FieldValueInvalid");
        assert_eq!(
            e.cause_message(),
            "Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            FieldError::required("a", "").cause_reason(),
            "FieldValueRequired"
        );
        assert_eq!(
            FieldError::not_supported("a", "b", &[]).cause_reason(),
            "FieldValueNotSupported"
        );
    }

    #[test]
    fn go_rendering() {
        assert_eq!(go_quote("a\"b\n\u{1}é"), "\"a\\\"b\\n\\x01é\"");
        assert_eq!(
            go_json(&json!({"a": "<&>"})),
            "{\"a\":\"\\u003c\\u0026\\u003e\"}"
        );
        let m = sorted_map(Some(&json!({"b": "2", "a": "1"})));
        assert_eq!(go_value(&m), "{\"a\":\"1\",\"b\":\"2\"}");
        assert_eq!(go_value(&sorted_map(None)), "null");
        assert_eq!(go_value(&json!(true)), "true");
    }
}
