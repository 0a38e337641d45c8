//! networking.k8s.io/v1: Ingress (rules, paths, backends), IngressClass and NetworkPolicy
//! basics.

use std::net::IpAddr;

use serde_json::Value;

use super::field::FieldError;
use super::names::{dns1035_label, dns1123_subdomain, invalid_each, port_name, port_num};
use super::pod::{arr, protocol_errors, text};
use super::selector::selector_errors;

fn spec(obj: &Value) -> &Value {
    obj.get("spec").unwrap_or(&Value::Null)
}

/// An Ingress's spec.
pub(crate) fn ingress(obj: &Value) -> Vec<FieldError> {
    ingress_errors(spec(obj))
}

/// An IngressClass names its controller.
pub(crate) fn ingress_class(obj: &Value) -> Vec<FieldError> {
    if text(spec(obj), "controller").is_empty() {
        vec![FieldError::required("spec.controller", "")]
    } else {
        Vec::new()
    }
}

/// A NetworkPolicy's spec.
pub(crate) fn network_policy(obj: &Value) -> Vec<FieldError> {
    network_policy_errors(spec(obj))
}

fn ingress_errors(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let rules = arr(spec, "rules");
    let default = spec.get("defaultBackend").filter(|v| !v.is_null());
    match default {
        Some(b) => backend_errors(&mut errs, b, "spec.defaultBackend"),
        None if rules.is_empty() => errs.push(FieldError::invalid(
            "spec.rules",
            Value::Array(Vec::new()),
            "either `defaultBackend` or `rules` must be specified",
        )),
        None => {}
    }
    for (i, rule) in rules.iter().enumerate() {
        let p = format!("spec.rules[{i}]");
        let host = text(rule, "host");
        if !host.is_empty() {
            if host.parse::<IpAddr>().is_ok() {
                errs.push(FieldError::invalid(
                    &format!("{p}.host"),
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
            let msgs = match host.strip_prefix("*.") {
                Some(rest) if !rest.contains('*') => dns1123_subdomain(rest)
                    .into_iter()
                    .map(|_| "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string())
                    .take(1)
                    .collect(),
                _ => dns1123_subdomain(host),
            };
            errs.extend(invalid_each(&format!("{p}.host"), host, msgs));
        }
        let Some(http) = rule.get("http").filter(|v| !v.is_null()) else {
            continue;
        };
        let paths = arr(http, "paths");
        if paths.is_empty() {
            errs.push(FieldError::required(&format!("{p}.http.paths"), ""));
        }
        for (j, path) in paths.iter().enumerate() {
            let pp = format!("{p}.http.paths[{j}]");
            let kind = text(path, "pathType");
            let value = text(path, "path");
            match kind {
                "" => errs.push(FieldError::required(
                    &format!("{pp}.pathType"),
                    "pathType must be specified",
                )),
                "Exact" | "Prefix" => {
                    if !value.starts_with('/') {
                        errs.push(FieldError::invalid(
                            &format!("{pp}.path"),
                            value,
                            "must be an absolute path",
                        ));
                    }
                }
                "ImplementationSpecific" => {
                    if !value.is_empty() && !value.starts_with('/') {
                        errs.push(FieldError::invalid(
                            &format!("{pp}.path"),
                            value,
                            "must be an absolute path",
                        ));
                    }
                }
                other => errs.push(FieldError::not_supported(
                    &format!("{pp}.pathType"),
                    other,
                    &["Exact", "ImplementationSpecific", "Prefix"],
                )),
            }
            match path.get("backend").filter(|v| !v.is_null()) {
                Some(b) => backend_errors(&mut errs, b, &format!("{pp}.backend")),
                None => errs.push(FieldError::invalid(
                    &format!("{pp}.backend"),
                    "",
                    "resource or service backend is required",
                )),
            }
        }
    }
    let class = text(spec, "ingressClassName");
    if !class.is_empty() {
        errs.extend(invalid_each(
            "spec.ingressClassName",
            class,
            dns1123_subdomain(class),
        ));
    }
    errs
}

fn backend_errors(errs: &mut Vec<FieldError>, b: &Value, path: &str) {
    let resource = b.get("resource").filter(|v| !v.is_null());
    let service = b.get("service").filter(|v| !v.is_null());
    match (resource, service) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (Some(r), None) => {
            for k in ["kind", "name"] {
                if text(r, k).is_empty() {
                    errs.push(FieldError::required(&format!("{path}.resource.{k}"), ""));
                }
            }
        }
        (None, Some(s)) => {
            let name = text(s, "name");
            if name.is_empty() {
                errs.push(FieldError::required(&format!("{path}.service.name"), ""));
            } else {
                errs.extend(invalid_each(
                    &format!("{path}.service.name"),
                    name,
                    dns1035_label(name),
                ));
            }
            let port_name_v = s
                .pointer("/port/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let number = s
                .pointer("/port/number")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            match (port_name_v.is_empty(), number != 0) {
                (false, true) => errs.push(FieldError::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, false) => errs.extend(invalid_each(
                    &format!("{path}.service.port.name"),
                    port_name_v,
                    port_name(port_name_v),
                )),
                (true, true) => {
                    for m in port_num(number) {
                        errs.push(FieldError::invalid(
                            &format!("{path}.service.port.number"),
                            number,
                            &m,
                        ));
                    }
                }
                (true, false) => errs.push(FieldError::required(
                    path,
                    "port name or number is required",
                )),
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )),
    }
}

fn network_policy_errors(spec: &Value) -> Vec<FieldError> {
    let mut errs = selector_errors("spec.podSelector", spec.get("podSelector"));
    for (dir, list) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in arr(spec, dir).iter().enumerate() {
            let p = format!("spec.{dir}[{i}]");
            for (j, port) in arr(rule, "ports").iter().enumerate() {
                let pp = format!("{p}.ports[{j}]");
                if port.get("protocol").is_some() {
                    protocol_errors(&mut errs, port, &pp);
                }
                match port.get("port") {
                    Some(Value::String(s)) => {
                        errs.extend(invalid_each(&format!("{pp}.port"), s, port_name(s)))
                    }
                    Some(v) if !v.is_null() => {
                        let n = v.as_i64().unwrap_or(0);
                        for m in port_num(n) {
                            errs.push(FieldError::invalid(&format!("{pp}.port"), n, &m));
                        }
                    }
                    _ => {}
                }
            }
            for (j, peer) in arr(rule, list).iter().enumerate() {
                let pp = format!("{p}.{list}[{j}]");
                errs.extend(selector_errors(
                    &format!("{pp}.podSelector"),
                    peer.get("podSelector"),
                ));
                errs.extend(selector_errors(
                    &format!("{pp}.namespaceSelector"),
                    peer.get("namespaceSelector"),
                ));
            }
        }
    }
    for (i, t) in arr(spec, "policyTypes").iter().enumerate() {
        let t = t.as_str().unwrap_or("");
        if t != "Ingress" && t != "Egress" {
            errs.push(FieldError::not_supported(
                &format!("spec.policyTypes[{i}]"),
                t,
                &["Ingress", "Egress"],
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn ingress_table() {
        let ok = json!({"spec": {"rules": [{"host": "a.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
        assert!(ingress(&ok).is_empty());
        assert_eq!(msgs(&ingress(&json!({"spec": {}}))), ["spec.rules: Invalid value: []: either `defaultBackend` or `rules` must be specified"]);
        let bad = json!({"spec": {"rules": [{"host": "*.example.com", "http": {"paths": [
            {"path": "x", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {}}}},
            {"path": "/", "backend": {"service": {"name": "web", "port": {"name": "http", "number": 80}}}}]}}]}});
        assert_eq!(msgs(&ingress(&bad)), [
            "spec.rules[0].http.paths[0].path: Invalid value: \"x\": must be an absolute path",
            "spec.rules[0].http.paths[0].backend: Required value: port name or number is required",
            "spec.rules[0].http.paths[1].pathType: Required value: pathType must be specified",
            "spec.rules[0].http.paths[1].backend: Invalid value: \"\": cannot set both port name & port number",
        ]);
    }

    #[test]
    fn network_policies() {
        let np = json!({"spec": {"podSelector": {}, "policyTypes": ["Sideways"], "ingress": [{"ports": [{"protocol": "TCP", "port": 0}]}]}});
        assert_eq!(msgs(&network_policy(&np)), [
            "spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.policyTypes[0]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
        ]);
    }
}
