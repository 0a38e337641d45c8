//! String formats with util/validation's messages: DNS labels and subdomains, qualified
//! names (label and annotation keys), label values, config keys, port names, env names,
//! percentages, IPs and path segments.

use std::net::IpAddr;

use serde_json::Value;

use super::field::FieldError;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_KEY_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `RegexError`: the message, examples and the regex.
fn regex_error(msg: &str, re: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{re}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push_str(&format!("'{e}', "));
    }
    s.push_str(&format!("regex used for validation is '{re}')"));
    s
}

/// util/validation's length message (util/validation still says "characters").
fn max_len_chars(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// api/validate/content's length message (label keys and values say "bytes").
fn max_len_bytes(n: usize) -> String {
    format!("must be no more than {n} bytes")
}

fn alnum_lower(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            alnum_lower(f) && alnum_lower(l) && b.iter().all(|&c| alnum_lower(c) || c == b'-')
        }
        _ => false,
    }
}

fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

/// A label in DNS (RFC 1123): namespaces, container and port names.
pub(super) fn dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_chars(63));
    }
    if !matches_dns1123_label(s) {
        if matches_dns1123_subdomain(s) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// A subdomain in DNS (RFC 1123): most object names.
pub(super) fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_chars(253));
    }
    if !matches_dns1123_subdomain(s) {
        errs.push(subdomain_regex_error());
    }
    errs
}

fn subdomain_regex_error() -> String {
    regex_error(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN_FMT,
        &["example.com"],
    )
}

/// A DNS-1035 label: service names.
pub(super) fn dns1035_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_chars(63));
    }
    if !(matches_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()) {
        errs.push(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// A path segment (RBAC names, HPA target kinds): no '/' or '%', not '.' or '..'.
pub(super) fn path_segment_name(s: &str) -> Vec<String> {
    if s == "." || s == ".." {
        return vec![format!("may not be '{s}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|bad| s.contains(*bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// How names of a kind are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// An RFC 1123 subdomain, as most kinds.
    Subdomain,
    /// An RFC 1123 label (Namespace, StatefulSet).
    Label,
    /// An RFC 1035 label (Service).
    Dns1035,
    /// Anything usable as a path segment (RBAC kinds, APIService).
    PathSegment,
}

/// Name errors; `prefix` is for generateName, whose trailing dash is allowed.
pub(super) fn name_errors(rule: NameRule, name: &str, prefix: bool) -> Vec<String> {
    if rule == NameRule::PathSegment {
        // A prefix may not contain '/' or '%' but may be '.'.
        if prefix {
            return ["/", "%"]
                .iter()
                .filter(|bad| name.contains(*bad))
                .map(|bad| format!("may not contain '{bad}'"))
                .collect();
        }
        return path_segment_name(name);
    }
    let masked;
    let name = if prefix && name.len() > 1 && name.ends_with('-') {
        // maskTrailingDash drops the last two bytes and adds "a".
        masked = format!("{}a", name.get(..name.len() - 2).unwrap_or(""));
        masked.as_str()
    } else {
        name
    };
    match rule {
        NameRule::Subdomain => dns1123_subdomain(name),
        NameRule::Label => dns1123_label(name),
        NameRule::Dns1035 => dns1035_label(name),
        NameRule::PathSegment => Vec::new(),
    }
}

fn matches_label_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// A qualified name (label keys, annotation keys, finalizers): `[prefix/]name`.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                // The prefix is checked with content's subdomain rule ("bytes").
                let mut msgs = Vec::new();
                if prefix.len() > 253 {
                    msgs.push(max_len_bytes(253));
                }
                if !matches_dns1123_subdomain(prefix) {
                    msgs.push(subdomain_regex_error());
                }
                errs.extend(msgs.into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_MSG, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_bytes(63)));
    }
    if !matches_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_KEY_MSG,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// A label value: empty or a short alphanumeric string.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_bytes(63));
    }
    if !value.is_empty() && !matches_label_key_name(value) {
        errs.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

fn chdir_prefix(value: &str) -> Option<String> {
    if value == "." {
        Some("must not be '.'".into())
    } else if value == ".." {
        Some("must not be '..'".into())
    } else if value.starts_with("..") {
        Some("must not start with '..'".into())
    } else {
        None
    }
}

/// A ConfigMap or Secret key.
pub(super) fn config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(max_len_chars(253));
    }
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if !ok {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    errs.extend(chdir_prefix(value));
    errs
}

/// An IANA service name (container and service port names).
pub(super) fn port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_chars(15));
    }
    if port.is_empty()
        || !port
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !port.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// A port number.
pub(super) fn port_num(port: i64) -> Vec<String> {
    in_range(port, 1, 65535)
}

/// `InclusiveRangeError` when out of range.
pub(super) fn in_range(value: i64, lo: i64, hi: i64) -> Vec<String> {
    if (lo..=hi).contains(&value) {
        Vec::new()
    } else {
        vec![format!("must be between {lo} and {hi}, inclusive")]
    }
}

/// A percentage string like `25%`.
pub(super) fn percent(value: &str) -> Vec<String> {
    let ok = value
        .strip_suffix('%')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
    if ok {
        Vec::new()
    } else {
        vec![regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'",
            "[0-9]+%",
            &["1%", "93%"],
        )]
    }
}

/// An environment variable name under the (GA) relaxed rules.
pub(super) fn env_var_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if value.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(
            "a valid environment variable name must consist only of printable ASCII characters other than '='"
                .to_string(),
        );
    }
    errs
}

/// An IP address in canonical form.
pub(super) fn ip(value: &str) -> Vec<String> {
    match value.parse::<IpAddr>() {
        Err(_) => vec!["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into()],
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => {
            vec!["must not be an IPv4-mapped IPv6 address".into()]
        }
        Ok(addr) => {
            let canonical = addr.to_string();
            if canonical == value {
                Vec::new()
            } else {
                vec![format!("must be in canonical form ({canonical:?})")]
            }
        }
    }
}

/// One `Invalid` error per message.
pub(super) fn invalid_each(field: &str, value: &str, msgs: Vec<String>) -> Vec<FieldError> {
    msgs.into_iter()
        .map(|m| FieldError::invalid(field, value, &m))
        .collect()
}

/// Labels (`metav1 ValidateLabels`): keys and values, all reported at `field`.
pub(super) fn labels_errors(field: &str, labels: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(m) = labels.and_then(Value::as_object) else {
        return errs;
    };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for k in keys {
        errs.extend(invalid_each(field, k, qualified_name(k)));
        let v = m.get(k).and_then(Value::as_str).unwrap_or("");
        errs.extend(invalid_each(field, v, label_value(v)));
    }
    errs
}

/// Annotations: keys are qualified names (checked lower-cased), total size ≤ 256 KiB.
pub(super) fn annotations_errors(field: &str, annotations: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(m) = annotations.and_then(Value::as_object) else {
        return errs;
    };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    let mut size = 0usize;
    for k in keys {
        errs.extend(invalid_each(field, k, qualified_name(&k.to_lowercase())));
        size += k.len() + m.get(k).and_then(Value::as_str).map_or(0, str::len);
    }
    if size > 256 * 1024 {
        errs.push(FieldError::too_long(field, 256 * 1024));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

    #[test]
    fn dns_labels() {
        assert!(dns1123_label("my-name").is_empty());
        assert!(dns1123_label("0abc").is_empty());
        assert_eq!(dns1123_label("Bad_Name"), [LABEL_MSG]);
        assert_eq!(dns1123_label("a.b"), ["must not contain dots"]);
        assert_eq!(dns1123_label(""), [LABEL_MSG]);
        assert_eq!(
            dns1123_label(&"a".repeat(64)),
            ["must be no more than 63 characters"]
        );
        assert!(dns1035_label("abc-1").is_empty());
        assert_eq!(dns1035_label("1abc").len(), 1);
        assert!(dns1035_label("1abc")[0].starts_with("a DNS-1035 label must consist"));
    }

    #[test]
    fn subdomains_and_generate_name() {
        assert!(dns1123_subdomain("a.b-c.d").is_empty());
        assert_eq!(dns1123_subdomain("a..b").len(), 1);
        assert!(dns1123_subdomain("-a")[0].ends_with("(e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
        assert!(name_errors(NameRule::Subdomain, "web-", true).is_empty());
        assert!(!name_errors(NameRule::Subdomain, "web-", false).is_empty());
        assert_eq!(
            name_errors(NameRule::PathSegment, "a/b", false),
            ["may not contain '/'"]
        );
        assert_eq!(
            name_errors(NameRule::PathSegment, "..", false),
            ["may not be '..'"]
        );
    }

    #[test]
    fn qualified_names_and_values() {
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert!(qualified_name("app").is_empty());
        assert_eq!(
            qualified_name("/a"),
            ["prefix part must be non-empty".to_string()]
        );
        let e = qualified_name("-a");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("name part must consist of alphanumeric characters"));
        assert!(e[0].contains("(e.g. 'MyName',  or 'my.name',  or '123-abc', regex"));
        assert_eq!(qualified_name("").len(), 2);
        assert!(qualified_name("a/b/c")[0].starts_with("a valid label key must consist"));
        assert!(qualified_name("Example.com/x")[0]
            .starts_with("prefix part a lowercase RFC 1123 subdomain"));
        assert!(label_value("").is_empty());
        assert_eq!(
            label_value(&"a".repeat(64)),
            ["must be no more than 63 bytes"]
        );
        assert_eq!(label_value("a b").len(), 1);
    }

    #[test]
    fn misc_formats() {
        assert!(config_map_key("key.name").is_empty());
        assert_eq!(config_map_key("a b"), ["a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]);
        assert_eq!(config_map_key(".."), ["must not be '..'"]);
        assert!(port_name("http").is_empty());
        assert_eq!(port_name("80").len(), 1);
        assert_eq!(port_name("-a--").len(), 2);
        assert_eq!(port_num(0), ["must be between 1 and 65535, inclusive"]);
        assert!(percent("25%").is_empty() && !percent("x%").is_empty());
        assert!(env_var_name("MY_VAR").is_empty() && env_var_name("1ok").is_empty());
        assert_eq!(env_var_name("A=B").len(), 1);
        assert!(ip("10.0.0.1").is_empty());
        assert_eq!(
            ip("abc"),
            ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
        );
        assert_eq!(
            ip("2001:DB8::1"),
            ["must be in canonical form (\"2001:db8::1\")"]
        );
    }

    #[test]
    fn label_and_annotation_errors() {
        let l = serde_json::json!({"app": "x y", "ok": "v"});
        let errs = labels_errors("metadata.labels", Some(&l));
        assert_eq!(errs.len(), 1);
        assert!(errs[0]
            .message()
            .starts_with("metadata.labels: Invalid value: \"x y\": a valid label must be"));
        let big = serde_json::json!({"a": "x".repeat(300 * 1024)});
        assert_eq!(
            annotations_errors("metadata.annotations", Some(&big))[0].message(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
    }
}
