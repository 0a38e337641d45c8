//! Validation of built-in objects with kube-apiserver's field errors and message texts
//! (apimachinery's field.Error and util/validation, pkg/apis/*/validation).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

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
    fn new(
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

    fn invalid(field: &str, value: &Value, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, Some(go_value(value)), detail)
    }

    fn required(field: &str, detail: impl Into<String>) -> Self {
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
fn go_value(v: &Value) -> String {
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

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

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
fn dns_label_errors(field: &str, s: &str) -> Vec<FieldError> {
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

fn labels_errors(field: &str, labels: Option<&Value>) -> Vec<FieldError> {
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

fn metadata_errors(group: &str, kind: &str, obj: &Value, namespaced: bool) -> Vec<FieldError> {
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

fn non_negative(errs: &mut Vec<FieldError>, obj: &Value, pointer: &str, field: &str) {
    if let Some(v) = obj.pointer(pointer) {
        if v.as_i64().is_some_and(|n| n < 0) {
            errs.push(FieldError::invalid(
                field,
                v,
                "must be greater than or equal to 0",
            ));
        }
    }
}

fn container_errors(
    errs: &mut Vec<FieldError>,
    path: &str,
    containers: &[Value],
    volumes: &BTreeSet<String>,
    names: &mut BTreeSet<String>,
) {
    for (i, c) in containers.iter().enumerate() {
        let f = format!("{path}[{i}]");
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            errs.push(FieldError::required(&format!("{f}.name"), ""));
        } else {
            errs.extend(dns_label_errors(&format!("{f}.name"), name));
            if !names.insert(name.to_string()) {
                errs.push(FieldError::new(
                    ErrorType::Duplicate,
                    &format!("{f}.name"),
                    Some(format!("{name:?}")),
                    "",
                ));
            }
        }
        if c.get("image")
            .and_then(Value::as_str)
            .is_none_or(|s| s.trim().is_empty())
        {
            errs.push(FieldError::required(&format!("{f}.image"), ""));
        }
        for (j, p) in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let pf = format!("{f}.ports[{j}]");
            match p.get("containerPort").and_then(Value::as_i64) {
                Some(n) if (1..=65535).contains(&n) => {}
                Some(n) => errs.push(FieldError::invalid(
                    &format!("{pf}.containerPort"),
                    &Value::from(n),
                    "must be between 1 and 65535, inclusive",
                )),
                None => errs.push(FieldError::required(&format!("{pf}.containerPort"), "")),
            }
            if let Some(proto) = p.get("protocol").and_then(Value::as_str) {
                if !matches!(proto, "TCP" | "UDP" | "SCTP") {
                    errs.push(FieldError::new(
                        ErrorType::NotSupported,
                        &format!("{pf}.protocol"),
                        Some(format!("{proto:?}")),
                        "supported values: \"SCTP\", \"TCP\", \"UDP\"",
                    ));
                }
            }
        }
        for (j, m) in c
            .get("volumeMounts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let vname = m.get("name").and_then(Value::as_str).unwrap_or("");
            if !volumes.contains(vname) {
                errs.push(FieldError::new(
                    ErrorType::NotFound,
                    &format!("{f}.volumeMounts[{j}].name"),
                    Some(format!("{vname:?}")),
                    "",
                ));
            }
        }
    }
}

fn pod_spec_errors(errs: &mut Vec<FieldError>, spec: &Value, path: &str, allowed_restart: &[&str]) {
    let volumes: BTreeSet<String> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|x| x.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut names = BTreeSet::new();
    let containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if containers.is_empty() {
        errs.push(FieldError::required(&format!("{path}.containers"), ""));
    }
    if let Some(init) = spec.get("initContainers").and_then(Value::as_array) {
        container_errors(
            errs,
            &format!("{path}.initContainers"),
            init,
            &volumes,
            &mut names,
        );
    }
    container_errors(
        errs,
        &format!("{path}.containers"),
        containers,
        &volumes,
        &mut names,
    );
    if let Some(r) = spec.get("restartPolicy").and_then(Value::as_str) {
        if !allowed_restart.contains(&r) {
            let supported: Vec<String> = allowed_restart.iter().map(|s| format!("{s:?}")).collect();
            errs.push(FieldError::new(
                ErrorType::NotSupported,
                &format!("{path}.restartPolicy"),
                Some(format!("{r:?}")),
                format!("supported values: {}", supported.join(", ")),
            ));
        }
    }
    non_negative(
        errs,
        spec,
        "/terminationGracePeriodSeconds",
        &format!("{path}.terminationGracePeriodSeconds"),
    );
}

fn selector_matches_template(errs: &mut Vec<FieldError>, obj: &Value, required: bool) {
    let selector = obj.pointer("/spec/selector");
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    match selector {
        None | Some(Value::Null) if required => {
            errs.push(FieldError::required("spec.selector", ""))
        }
        Some(sel) => {
            let empty = sel
                .get("matchLabels")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
                && sel
                    .get("matchExpressions")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty);
            if empty && required {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    sel,
                    "empty selector is invalid for deployment",
                ));
                return;
            }
            let ok = match crate::apiserver::selectors::LabelSelector::from_label_selector_json(sel)
            {
                Ok(s) => s.matches(labels.as_object().unwrap_or(&Map::new())),
                Err(_) => false,
            };
            if !ok {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    &labels,
                    "`selector` does not match template `labels`",
                ));
            }
        }
        _ => {}
    }
}

fn spec_errors(group: &str, kind: &str, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match (group, kind) {
        ("", "Pod") => {
            if let Some(spec) = obj.get("spec") {
                pod_spec_errors(&mut errs, spec, "spec", &["Always", "OnFailure", "Never"]);
            } else {
                errs.push(FieldError::required("spec.containers", ""));
            }
        }
        ("apps", "Deployment")
        | ("apps", "ReplicaSet")
        | ("apps", "StatefulSet")
        | ("apps", "DaemonSet")
        | ("", "ReplicationController") => {
            non_negative(&mut errs, obj, "/spec/replicas", "spec.replicas");
            non_negative(
                &mut errs,
                obj,
                "/spec/minReadySeconds",
                "spec.minReadySeconds",
            );
            non_negative(
                &mut errs,
                obj,
                "/spec/revisionHistoryLimit",
                "spec.revisionHistoryLimit",
            );
            if kind != "ReplicationController" {
                selector_matches_template(&mut errs, obj, true);
            }
            if let Some(spec) = obj.pointer("/spec/template/spec") {
                pod_spec_errors(&mut errs, spec, "spec.template.spec", &["Always"]);
            }
            if kind == "Deployment" {
                if let Some(t) = obj.pointer("/spec/strategy/type").and_then(Value::as_str) {
                    if !matches!(t, "RollingUpdate" | "Recreate") {
                        errs.push(FieldError::new(
                            ErrorType::NotSupported,
                            "spec.strategy.type",
                            Some(format!("{t:?}")),
                            "supported values: \"Recreate\", \"RollingUpdate\"",
                        ));
                    }
                }
            }
        }
        ("batch", "Job") => {
            non_negative(&mut errs, obj, "/spec/parallelism", "spec.parallelism");
            non_negative(&mut errs, obj, "/spec/completions", "spec.completions");
            non_negative(&mut errs, obj, "/spec/backoffLimit", "spec.backoffLimit");
            selector_matches_template(&mut errs, obj, false);
            if let Some(spec) = obj.pointer("/spec/template/spec") {
                pod_spec_errors(
                    &mut errs,
                    spec,
                    "spec.template.spec",
                    &["OnFailure", "Never"],
                );
            }
        }
        ("batch", "CronJob") => {
            let schedule = obj
                .pointer("/spec/schedule")
                .and_then(Value::as_str)
                .unwrap_or("");
            if schedule.is_empty() {
                errs.push(FieldError::required("spec.schedule", ""));
            } else if !cron_ok(schedule) {
                errs.push(FieldError::invalid(
                    "spec.schedule",
                    &Value::String(schedule.into()),
                    "unparseable cron expression",
                ));
            }
            if let Some(p) = obj
                .pointer("/spec/concurrencyPolicy")
                .and_then(Value::as_str)
            {
                if !matches!(p, "Allow" | "Forbid" | "Replace") {
                    errs.push(FieldError::new(
                        ErrorType::NotSupported,
                        "spec.concurrencyPolicy",
                        Some(format!("{p:?}")),
                        "supported values: \"Allow\", \"Forbid\", \"Replace\"",
                    ));
                }
            }
            if let Some(spec) = obj.pointer("/spec/jobTemplate/spec/template/spec") {
                pod_spec_errors(
                    &mut errs,
                    spec,
                    "spec.jobTemplate.spec.template.spec",
                    &["OnFailure", "Never"],
                );
            }
        }
        ("", "Service") => service_errors(&mut errs, obj),
        ("", "ConfigMap") | ("", "Secret") => {
            for field in ["data", "binaryData", "stringData"] {
                for k in obj
                    .get(field)
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    let ok = !k.is_empty()
                        && k.len() <= 253
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                    if !ok {
                        errs.push(FieldError::invalid(&format!("{field}[{k}]"), &Value::String(k.clone()), "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
                    }
                }
            }
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let max = obj
                .pointer("/spec/maxReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let min = obj
                .pointer("/spec/minReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            if max < 1 {
                errs.push(FieldError::invalid(
                    "spec.maxReplicas",
                    &Value::from(max),
                    "must be greater than or equal to 1",
                ));
            } else if min > max {
                errs.push(FieldError::invalid(
                    "spec.maxReplicas",
                    &Value::from(max),
                    "must be greater than or equal to `minReplicas`",
                ));
            }
        }
        ("rbac.authorization.k8s.io", "Role") | ("rbac.authorization.k8s.io", "ClusterRole") => {
            for (i, r) in obj
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if r.get("verbs")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
                {
                    errs.push(FieldError::required(
                        &format!("rules[{i}].verbs"),
                        "verbs must contain at least one value",
                    ));
                }
            }
        }
        _ => {}
    }
    errs
}

fn cron_ok(s: &str) -> bool {
    if s.starts_with('@') {
        return matches!(
            s,
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly"
        ) || s.starts_with("@every ");
    }
    let fields: Vec<&str> = s
        .split_whitespace()
        .filter(|f| !f.starts_with("CRON_TZ=") && !f.starts_with("TZ="))
        .collect();
    fields.len() == 5
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || "*/,-?".contains(c))
        })
}

fn service_errors(errs: &mut Vec<FieldError>, obj: &Value) {
    let ty = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if !matches!(
        ty,
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
    ) {
        errs.push(FieldError::new(
            ErrorType::NotSupported,
            "spec.type",
            Some(format!("{ty:?}")),
            "supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
        ));
    }
    let ports = obj
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let headless = obj.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
    if ports.is_empty() && ty != "ExternalName" && !headless {
        errs.push(FieldError::required("spec.ports", ""));
    }
    let mut names = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let f = format!("spec.ports[{i}]");
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(&format!("{f}.name"), ""));
        }
        if !name.is_empty() && !names.insert(name.to_string()) {
            errs.push(FieldError::new(
                ErrorType::Duplicate,
                &format!("{f}.name"),
                Some(format!("{name:?}")),
                "",
            ));
        }
        match p.get("port").and_then(Value::as_i64) {
            Some(n) if (1..=65535).contains(&n) => {}
            Some(n) => errs.push(FieldError::invalid(
                &format!("{f}.port"),
                &Value::from(n),
                "must be between 1 and 65535, inclusive",
            )),
            None => errs.push(FieldError::required(&format!("{f}.port"), "")),
        }
        if let Some(np) = p.get("nodePort").and_then(Value::as_i64) {
            if np != 0 && ty == "ClusterIP" {
                errs.push(FieldError::new(
                    ErrorType::Forbidden,
                    &format!("{f}.nodePort"),
                    None,
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
        if let Some(proto) = p.get("protocol").and_then(Value::as_str) {
            if !matches!(proto, "TCP" | "UDP" | "SCTP") {
                errs.push(FieldError::new(
                    ErrorType::NotSupported,
                    &format!("{f}.protocol"),
                    Some(format!("{proto:?}")),
                    "supported values: \"SCTP\", \"TCP\", \"UDP\"",
                ));
            }
        }
    }
}

/// Validate a new object.
pub fn validate_create(group: &str, kind: &str, obj: &Value, namespaced: bool) -> Vec<FieldError> {
    let mut errs = metadata_errors(group, kind, obj, namespaced);
    errs.extend(spec_errors(group, kind, obj));
    errs
}

fn immutable(errs: &mut Vec<FieldError>, new: &Value, old: &Value, pointer: &str, field: &str) {
    if new.pointer(pointer) != old.pointer(pointer) {
        errs.push(FieldError::new(
            ErrorType::Invalid,
            field,
            new.pointer(pointer).map(go_value),
            "field is immutable",
        ));
    }
}

/// Validate an update against the stored object (also checks immutable fields).
pub fn validate_update(
    group: &str,
    kind: &str,
    new: &Value,
    old: &Value,
    namespaced: bool,
) -> Vec<FieldError> {
    let mut errs = validate_create(group, kind, new, namespaced);
    match (group, kind) {
        ("apps", "Deployment")
        | ("apps", "ReplicaSet")
        | ("apps", "DaemonSet")
        | ("apps", "StatefulSet") => {
            immutable(&mut errs, new, old, "/spec/selector", "spec.selector");
        }
        ("batch", "Job") => {
            immutable(&mut errs, new, old, "/spec/selector", "spec.selector");
            immutable(&mut errs, new, old, "/spec/completions", "spec.completions");
        }
        ("", "ConfigMap") | ("", "Secret")
            if old.get("immutable").and_then(Value::as_bool) == Some(true) =>
        {
            for f in ["data", "binaryData"] {
                if new.get(f) != old.get(f) {
                    errs.push(FieldError::new(
                        ErrorType::Forbidden,
                        f,
                        None,
                        "field is immutable when `immutable` is set",
                    ));
                }
            }
        }
        ("", "Service") => {
            let old_ip = old
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .unwrap_or("");
            let new_ip = new
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !old_ip.is_empty()
                && !new_ip.is_empty()
                && old_ip != new_ip
                && new.pointer("/spec/type").and_then(Value::as_str) != Some("ExternalName")
            {
                errs.push(FieldError::new(
                    ErrorType::Invalid,
                    "spec.clusterIPs[0]",
                    Some(format!("[]string{{{new_ip:?}}}")),
                    "may not change once set",
                ));
            }
        }
        ("", "PersistentVolumeClaim") => immutable(
            &mut errs,
            new,
            old,
            "/spec/resources/requests/storage",
            "spec",
        ),
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_match_kube() {
        let d = json!({"metadata": {"name": "bad", "namespace": "n"}, "spec": {"replicas": -1,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
        let errs = validate_create("apps", "Deployment", &d, true);
        let msgs: Vec<String> = errs.iter().map(FieldError::message).collect();
        assert_eq!(msgs, [
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"y\"}: `selector` does not match template `labels`",
        ]);
        let ns = json!({"metadata": {"name": "Bad_Name"}});
        assert_eq!(
            validate_create("", "Namespace", &ns, false)[0].message(),
            format!("metadata.name: Invalid value: \"Bad_Name\": {DNS1123_LABEL_MSG}")
        );
        let none = json!({"metadata": {"namespace": "n"}});
        assert_eq!(
            validate_create("", "ConfigMap", &none, true)[0].message(),
            "metadata.name: Required value: name or generateName is required"
        );
    }

    #[test]
    fn pods_services_and_updates() {
        let p = json!({"metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": [{"name": "a", "image": "", "ports": [{"containerPort": 70000}]}]}});
        let msgs: Vec<String> = validate_create("", "Pod", &p, true)
            .iter()
            .map(FieldError::message)
            .collect();
        assert!(
            msgs.contains(&"spec.containers[0].image: Required value".to_string()),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m
                .starts_with("spec.containers[0].ports[0].containerPort: Invalid value: 70000")),
            "{msgs:?}"
        );
        let s = json!({"metadata": {"name": "s", "namespace": "n"}, "spec": {"ports": []}});
        assert_eq!(
            validate_create("", "Service", &s, true)[0].message(),
            "spec.ports: Required value"
        );
        let old = json!({"metadata": {"name": "d", "namespace": "n"}, "spec": {"selector": {"matchLabels": {"a": "1"}}, "template": {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"b": "2"}});
        let msgs: Vec<String> = validate_update("apps", "Deployment", &new, &old, true)
            .iter()
            .map(FieldError::message)
            .collect();
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("spec.selector: Invalid value")
                    && m.ends_with("field is immutable")),
            "{msgs:?}"
        );
        assert!(cron_ok("*/5 * * * *") && cron_ok("@hourly") && !cron_ok("every minute"));
    }
}
