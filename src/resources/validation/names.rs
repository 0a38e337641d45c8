//! Object metadata: names (DNS labels and subdomains per kind), labels, annotations,
//! namespace by scope — with util/validation's messages.

use serde_json::Value;

use super::field::{ErrorType, FieldError};

pub(super) const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
pub(super) const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
pub(super) const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
}

/// Errors of a DNS-1123 label (namespaces, services, container names): the length and
/// the character rules are reported separately, as apimachinery does.
pub(super) fn dns_label_errors(field: &str, s: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(FieldError::invalid(
            field,
            &Value::String(s.into()),
            "must be no more than 63 characters",
        ));
    }
    let chars_ok = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-');
    if !chars_ok {
        errs.push(FieldError::invalid(
            field,
            &Value::String(s.into()),
            DNS1123_LABEL_MSG,
        ));
    }
    errs
}

fn subdomain_errors(field: &str, s: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(FieldError::invalid(
            field,
            &Value::String(s.into()),
            "must be no more than 253 characters",
        ));
    }
    if !is_dns1123_subdomain(s) {
        errs.push(FieldError::invalid(
            field,
            &Value::String(s.into()),
            DNS1123_SUBDOMAIN_MSG,
        ));
    }
    errs
}

/// How names of a kind are checked.
fn name_rule(group: &str, kind: &str) -> fn(&str, &str) -> Vec<FieldError> {
    match (group, kind) {
        ("", "Namespace") => dns_label_errors,
        ("", "Service") => |f, s| {
            if is_dns1035_label(s) {
                Vec::new()
            } else {
                vec![FieldError::invalid(
                    f,
                    &Value::String(s.into()),
                    DNS1035_LABEL_MSG,
                )]
            }
        },
        ("rbac.authorization.k8s.io", _) => |f, s| {
            if s.contains('/') || s.contains('%') || s == "." || s == ".." {
                vec![FieldError::invalid(
                    f,
                    &Value::String(s.into()),
                    "may not contain '/'",
                )]
            } else {
                Vec::new()
            }
        },
        _ => subdomain_errors,
    }
}

fn qualified_name_ok(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    name_ok && prefix.is_none_or(is_dns1123_subdomain)
}

fn label_value_ok(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

pub(super) fn labels_errors(field: &str, labels: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels.and_then(Value::as_object).into_iter().flatten() {
        if !qualified_name_ok(k) {
            errs.push(FieldError::invalid(field, &Value::String(k.clone()), "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"));
        }
        let vs = v.as_str().unwrap_or("");
        if !label_value_ok(vs) {
            errs.push(FieldError::invalid(&format!("{field}.{k}"), v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
        }
    }
    errs
}

pub(super) fn metadata_errors(
    group: &str,
    kind: &str,
    obj: &Value,
    namespaced: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let meta = obj.get("metadata").cloned().unwrap_or(Value::Null);
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    let generate = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        if generate.is_empty() {
            errs.push(FieldError::required(
                "metadata.name",
                "name or generateName is required",
            ));
        }
    } else {
        errs.extend(name_rule(group, kind)("metadata.name", name));
    }
    let ns = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
    if namespaced && ns.is_empty() {
        errs.push(FieldError::required("metadata.namespace", ""));
    }
    if !namespaced && !ns.is_empty() {
        errs.push(FieldError::new(
            ErrorType::Forbidden,
            "metadata.namespace",
            None,
            "not allowed on this type",
        ));
    }
    errs.extend(labels_errors("metadata.labels", meta.get("labels")));
    let ann_size: usize = meta
        .get("annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                .sum()
        })
        .unwrap_or(0);
    if ann_size > 256 * 1024 {
        errs.push(FieldError::new(
            ErrorType::TooLong,
            "metadata.annotations",
            None,
            "must have at most 262144 bytes",
        ));
    }
    errs
}
