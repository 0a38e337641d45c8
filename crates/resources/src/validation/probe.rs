//! Container probes and resource requirements (`validateProbe`, handlers, int-or-string
//! ports, `ValidateContainerResourceRequirements`).

use serde_json::Value;

use super::field::FieldError;
use super::names::{invalid_each, port_name, port_num};
use super::pod::{arr, text};
use super::quantity::Quantity;

/// Resource names that may be requested below their limit.
fn overcommit_allowed(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    native && !name.starts_with("hugepages-")
}

pub(super) fn resource_errors(errs: &mut Vec<FieldError>, r: &Value, path: &str) {
    let parse_map = |key: &str| -> Vec<(String, Quantity)> {
        r.get(key)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        let s = match v {
                            Value::String(s) => s.clone(),
                            Value::Number(n) => n.to_string(),
                            _ => return None,
                        };
                        Quantity::parse(&s).map(|q| (k.clone(), q))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let limits = parse_map("limits");
    let requests = parse_map("requests");
    for (name, q) in &limits {
        if q.is_negative() {
            errs.push(FieldError::invalid(
                &format!("{path}.limits[{name}]"),
                q.canonical(),
                "must be greater than or equal to 0",
            ));
        }
    }
    for (name, q) in &requests {
        if q.is_negative() {
            errs.push(FieldError::invalid(
                &format!("{path}.requests[{name}]"),
                q.canonical(),
                "must be greater than or equal to 0",
            ));
        }
        let Some((_, limit)) = limits.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let ord = q.cmp(limit);
        if ord != std::cmp::Ordering::Equal && !overcommit_allowed(name) {
            errs.push(FieldError::invalid(
                &format!("{path}.requests"),
                q.canonical(),
                &format!("must be equal to {name} limit of {}", limit.canonical()),
            ));
        } else if ord == std::cmp::Ordering::Greater {
            errs.push(FieldError::invalid(
                &format!("{path}.requests"),
                q.canonical(),
                &format!(
                    "must be less than or equal to {name} limit of {}",
                    limit.canonical()
                ),
            ));
        }
    }
}

pub(super) fn probe_errors(
    errs: &mut Vec<FieldError>,
    probe: Option<&Value>,
    path: &str,
    success_one: bool,
) {
    let Some(probe) = probe.filter(|v| !v.is_null()) else {
        return;
    };
    let mut handlers = 0;
    for h in ["exec", "httpGet", "tcpSocket", "grpc"] {
        let Some(action) = probe.get(h).filter(|v| !v.is_null()) else {
            continue;
        };
        let hp = format!("{path}.{h}");
        if handlers > 0 {
            errs.push(FieldError::forbidden(
                &hp,
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        handlers += 1;
        match h {
            "exec" => {
                if arr(action, "command").is_empty() {
                    errs.push(FieldError::required(&format!("{hp}.command"), ""));
                }
            }
            "httpGet" => {
                if text(action, "path").is_empty() {
                    errs.push(FieldError::required(&format!("{hp}.path"), ""));
                }
                port_num_or_name(errs, action.get("port"), &format!("{hp}.port"));
                match text(action, "scheme") {
                    "HTTP" | "HTTPS" => {}
                    other => errs.push(FieldError::not_supported(
                        &format!("{hp}.scheme"),
                        other,
                        &["HTTP", "HTTPS"],
                    )),
                }
            }
            "tcpSocket" => port_num_or_name(errs, action.get("port"), &format!("{hp}.port")),
            _ => {
                let port = action.get("port").and_then(Value::as_i64).unwrap_or(0);
                for m in port_num(port) {
                    errs.push(FieldError::invalid(&format!("{hp}.port"), port, &m));
                }
            }
        }
    }
    if handlers == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    for k in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(n) = probe.get(k).and_then(Value::as_i64) {
            if n < 0 {
                errs.push(FieldError::invalid(
                    &format!("{path}.{k}"),
                    n,
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    if let Some(g) = probe
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
    {
        if g <= 0 {
            errs.push(FieldError::invalid(
                &format!("{path}.terminationGracePeriodSeconds"),
                g,
                "must be greater than 0",
            ));
        }
    }
    if success_one {
        if let Some(n) = probe.get("successThreshold").and_then(Value::as_i64) {
            if n != 1 {
                errs.push(FieldError::invalid(
                    &format!("{path}.successThreshold"),
                    n,
                    "must be 1",
                ));
            }
        }
    }
}

/// `ValidatePortNumOrName` for an int-or-string port.
pub(super) fn port_num_or_name(errs: &mut Vec<FieldError>, port: Option<&Value>, path: &str) {
    match port {
        Some(Value::String(s)) => errs.extend(invalid_each(path, s, port_name(s))),
        Some(v) => {
            let n = v.as_i64().unwrap_or(0);
            for m in port_num(n) {
                errs.push(FieldError::invalid(path, n, &m));
            }
        }
        None => {
            for m in port_num(0) {
                errs.push(FieldError::invalid(path, 0, &m));
            }
        }
    }
}
