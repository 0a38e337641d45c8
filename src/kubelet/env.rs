//! Container environments: `env` and `envFrom` with their references, the service
//! variables (`WEB_SERVICE_HOST`, …) and `$(VAR)` expansion, as the kubelet builds them.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};
use kube::api::Api;

/// Why an environment could not be built (the container waits with `CreateContainerConfigError`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EnvError(pub String);

/// Expand `$(NAME)` from `vars`; `$$` is a literal `$`; unknown references stay as written.
pub fn expand(input: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn env_name(service: &str) -> String {
    service.to_uppercase().replace('-', "_")
}

/// The docker-links style variables for these services.
pub fn service_env(services: &[Service]) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for svc in services {
        let Some(spec) = &svc.spec else { continue };
        let Some(ip) = spec
            .cluster_ip
            .as_deref()
            .filter(|ip| !ip.is_empty() && *ip != "None")
        else {
            continue;
        };
        let name = env_name(svc.metadata.name.as_deref().unwrap_or_default());
        let ports = spec.ports.clone().unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        vars.insert(format!("{name}_SERVICE_HOST"), ip.to_string());
        vars.insert(format!("{name}_SERVICE_PORT"), first.port.to_string());
        for p in &ports {
            if let Some(pn) = p.name.as_deref().filter(|n| !n.is_empty()) {
                vars.insert(
                    format!("{name}_SERVICE_PORT_{}", env_name(pn)),
                    p.port.to_string(),
                );
            }
        }
        let proto = |p: &k8s_openapi::api::core::v1::ServicePort| {
            p.protocol.clone().unwrap_or_else(|| "TCP".into())
        };
        vars.insert(
            format!("{name}_PORT"),
            format!("{}://{ip}:{}", proto(first).to_lowercase(), first.port),
        );
        for p in &ports {
            let pr = proto(p);
            let prefix = format!("{name}_PORT_{}_{}", p.port, pr.to_uppercase());
            vars.insert(
                prefix.clone(),
                format!("{}://{ip}:{}", pr.to_lowercase(), p.port),
            );
            vars.insert(format!("{prefix}_PROTO"), pr.to_lowercase());
            vars.insert(format!("{prefix}_PORT"), p.port.to_string());
            vars.insert(format!("{prefix}_ADDR"), ip.to_string());
        }
    }
    vars
}

/// Whether the container's environment reads the pod's IP (`status.podIP`, `status.podIPs`).
pub fn reads_pod_ip(c: &Container) -> bool {
    c.env.iter().flatten().any(|e| {
        let path = e.value_from.as_ref().and_then(|v| v.field_ref.as_ref());
        path.is_some_and(|f| matches!(f.field_path.as_str(), "status.podIP" | "status.podIPs"))
    })
}

/// Fill the addresses the kubelet knows into `pod`'s status before its containers and
/// downward API volumes read them: a new pod's own status has no hostIP or podIP until
/// the kubelet reports them, and upstream's kubelet answers `status.hostIP` and
/// `status.podIP` from the node and the sandbox, not from the object it was sent.
pub fn fill_known_addresses(pod: &mut Pod, host_ip: &str, pod_ip: &str) {
    use k8s_openapi::api::core::v1::{HostIP, PodIP};
    let status = pod.status.get_or_insert_with(Default::default);
    status.host_ip = Some(host_ip.to_string());
    status.host_ips = Some(vec![HostIP {
        ip: host_ip.to_string(),
    }]);
    if !pod_ip.is_empty() {
        status.pod_ip = Some(pod_ip.to_string());
        status.pod_ips = Some(vec![PodIP {
            ip: pod_ip.to_string(),
        }]);
    }
}

/// The value a `fieldRef` names.
pub fn field_value(pod: &Pod, path: &str) -> Result<String, EnvError> {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    let keyed = |prefix: &str, map: Option<&BTreeMap<String, String>>| -> Option<String> {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    if let Some(v) = keyed("metadata.labels['", meta.labels.as_ref()) {
        return Ok(v);
    }
    if let Some(v) = keyed("metadata.annotations['", meta.annotations.as_ref()) {
        return Ok(v);
    }
    let v = match path {
        "metadata.name" => meta.name.clone(),
        "metadata.namespace" => meta.namespace.clone(),
        "metadata.uid" => meta.uid.clone(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()),
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()),
        "status.podIP" => status.and_then(|s| s.pod_ip.clone()),
        "status.podIPs" => status.and_then(|s| {
            s.pod_ips.as_ref().map(|ips| {
                ips.iter()
                    .map(|i| i.ip.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            })
        }),
        "status.hostIP" => status.and_then(|s| s.host_ip.clone()),
        "status.hostIPs" => status.and_then(|s| {
            s.host_ips.as_ref().map(|ips| {
                ips.iter()
                    .map(|i| i.ip.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            })
        }),
        _ => return Err(EnvError(format!("unsupported fieldRef {path:?}"))),
    };
    Ok(v.unwrap_or_default())
}

/// A `resourceFieldRef` value: limits fall back to node allocatable, as the kubelet does.
pub fn resource_value(
    container: &Container,
    resource: &str,
    divisor: Option<&str>,
    node_cpus: u32,
    node_memory_bytes: u64,
) -> Result<String, EnvError> {
    let res = container.resources.as_ref();
    let get = |which: &str, name: &str| {
        let m = if which == "limits" {
            res.and_then(|r| r.limits.as_ref())
        } else {
            res.and_then(|r| r.requests.as_ref())
        };
        m.and_then(|m| m.get(name)).map(|q| q.0.clone())
    };
    let (which, name) = resource
        .split_once('.')
        .ok_or_else(|| EnvError(format!("unsupported resourceFieldRef {resource:?}")))?;
    let raw = get(which, name).or_else(|| {
        (which == "limits").then(|| {
            if name == "cpu" {
                node_cpus.to_string()
            } else {
                node_memory_bytes.to_string()
            }
        })
    });
    let nanos = |q: &str| crate::resources::validation::quantity_nanos(q).unwrap_or(0);
    let value = raw.as_deref().map(nanos).unwrap_or(0);
    let div = divisor
        .map(nanos)
        .filter(|d| *d > 0)
        .unwrap_or(1_000_000_000);
    // Rounded up, as the downward API does (a CPU limit of 250m is "1" core).
    Ok(((value + div - 1) / div).to_string())
}

/// Build `NAME=value` pairs for a container.
pub async fn build(
    client: &kube::Client,
    pod: &Pod,
    container: &Container,
    services: &[Service],
    node_cpus: u32,
    node_memory_bytes: u64,
) -> Result<Vec<String>, EnvError> {
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mut ordered: Vec<(String, String)> = Vec::new();
    let mut vars: HashMap<String, String> = HashMap::new();
    let enable_links = pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    for (k, v) in service_env(services) {
        if enable_links || k.starts_with("KUBERNETES_") {
            vars.insert(k.clone(), v.clone());
            ordered.push((k, v));
        }
    }
    let set = |ordered: &mut Vec<(String, String)>,
               vars: &mut HashMap<String, String>,
               k: String,
               v: String| {
        ordered.retain(|(n, _)| *n != k);
        vars.insert(k.clone(), v.clone());
        ordered.push((k, v));
    };
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match cms
                .get_opt(&r.name)
                .await
                .map_err(|e| EnvError(e.to_string()))?
            {
                Some(cm) => {
                    for (k, v) in cm.data.unwrap_or_default() {
                        set(&mut ordered, &mut vars, format!("{prefix}{k}"), v);
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(EnvError(format!("configmap \"{}\" not found", r.name))),
            }
        }
        if let Some(r) = &from.secret_ref {
            match secrets
                .get_opt(&r.name)
                .await
                .map_err(|e| EnvError(e.to_string()))?
            {
                Some(s) => {
                    for (k, v) in s.data.unwrap_or_default() {
                        set(
                            &mut ordered,
                            &mut vars,
                            format!("{prefix}{k}"),
                            String::from_utf8_lossy(&v.0).into(),
                        );
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(EnvError(format!("secret \"{}\" not found", r.name))),
            }
        }
    }
    for e in container.env.iter().flatten() {
        let value = if let Some(v) = &e.value {
            expand(v, &vars)
        } else if let Some(src) = &e.value_from {
            if let Some(r) = &src.config_map_key_ref {
                match cms
                    .get_opt(&r.name)
                    .await
                    .map_err(|e| EnvError(e.to_string()))?
                {
                    Some(cm) => match cm.data.unwrap_or_default().get(&r.key) {
                        Some(v) => v.clone(),
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(EnvError(format!(
                                "couldn't find key {} in ConfigMap {ns}/{}",
                                r.key, r.name
                            )))
                        }
                    },
                    None if r.optional == Some(true) => continue,
                    None => return Err(EnvError(format!("configmap \"{}\" not found", r.name))),
                }
            } else if let Some(r) = &src.secret_key_ref {
                match secrets
                    .get_opt(&r.name)
                    .await
                    .map_err(|e| EnvError(e.to_string()))?
                {
                    Some(s) => match s.data.unwrap_or_default().get(&r.key) {
                        Some(v) => String::from_utf8_lossy(&v.0).into(),
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(EnvError(format!(
                                "couldn't find key {} in Secret {ns}/{}",
                                r.key, r.name
                            )))
                        }
                    },
                    None if r.optional == Some(true) => continue,
                    None => return Err(EnvError(format!("secret \"{}\" not found", r.name))),
                }
            } else if let Some(f) = &src.field_ref {
                field_value(pod, &f.field_path)?
            } else if let Some(r) = &src.resource_field_ref {
                let c = match &r.container_name {
                    Some(name) if !name.is_empty() => pod
                        .spec
                        .iter()
                        .flat_map(|s| s.containers.iter())
                        .find(|c| &c.name == name)
                        .unwrap_or(container),
                    _ => container,
                };
                resource_value(
                    c,
                    &r.resource,
                    r.divisor.as_ref().map(|d| d.0.as_str()),
                    node_cpus,
                    node_memory_bytes,
                )?
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        set(&mut ordered, &mut vars, e.name.clone(), value);
    }
    Ok(ordered
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect())
}

/// The environment as a lookup table, for expanding `command` and `args`.
pub fn as_map(env: &[String]) -> HashMap<String, String> {
    env.iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expansion() {
        let vars = HashMap::from([("A".to_string(), "1".to_string())]);
        assert_eq!(expand("x$(A)y", &vars), "x1y");
        assert_eq!(expand("$(B)", &vars), "$(B)");
        assert_eq!(expand("$$(A)", &vars), "$(A)");
        assert_eq!(expand("$(A", &vars), "$(A");
        assert_eq!(expand("a$b", &vars), "a$b");
    }

    #[test]
    fn service_variables() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "redis-primary"},
            "spec": {"clusterIP": "10.0.0.11", "ports": [{"name": "db", "port": 6379, "protocol": "TCP"}]}
        }))
        .unwrap();
        let headless: Service = serde_json::from_value(json!({
            "metadata": {"name": "h"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}
        }))
        .unwrap();
        let v = service_env(&[svc, headless]);
        assert_eq!(v["REDIS_PRIMARY_SERVICE_HOST"], "10.0.0.11");
        assert_eq!(v["REDIS_PRIMARY_SERVICE_PORT"], "6379");
        assert_eq!(v["REDIS_PRIMARY_SERVICE_PORT_DB"], "6379");
        assert_eq!(v["REDIS_PRIMARY_PORT"], "tcp://10.0.0.11:6379");
        assert_eq!(v["REDIS_PRIMARY_PORT_6379_TCP_ADDR"], "10.0.0.11");
        assert!(!v.keys().any(|k| k.starts_with("H_")));
    }

    #[test]
    fn a_new_pod_reads_the_addresses_the_kubelet_knows() {
        let mut pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}})).unwrap();
        assert_eq!(field_value(&pod, "status.hostIP").unwrap(), "");
        fill_known_addresses(&mut pod, "192.168.49.2", "192.168.49.7");
        assert_eq!(field_value(&pod, "status.hostIP").unwrap(), "192.168.49.2");
        assert_eq!(field_value(&pod, "status.hostIPs").unwrap(), "192.168.49.2");
        assert_eq!(field_value(&pod, "status.podIP").unwrap(), "192.168.49.7");
        assert_eq!(field_value(&pod, "status.podIPs").unwrap(), "192.168.49.7");
        // No sandbox address yet: the pod IP stays as it was.
        let mut fresh: Pod = serde_json::from_value(json!({"metadata": {"name": "q"}})).unwrap();
        fill_known_addresses(&mut fresh, "192.168.49.2", "");
        assert_eq!(field_value(&fresh, "status.podIP").unwrap(), "");
        assert_eq!(
            field_value(&fresh, "status.hostIP").unwrap(),
            "192.168.49.2"
        );
    }

    #[test]
    fn fields() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "n", "labels": {"app": "web"}},
            "spec": {"containers": [], "nodeName": "rkube"},
            "status": {"podIP": "10.1.0.5"}
        }))
        .unwrap();
        assert_eq!(field_value(&pod, "metadata.name").unwrap(), "p");
        assert_eq!(field_value(&pod, "metadata.labels['app']").unwrap(), "web");
        assert_eq!(field_value(&pod, "status.podIP").unwrap(), "10.1.0.5");
        assert_eq!(field_value(&pod, "spec.nodeName").unwrap(), "rkube");
        assert!(field_value(&pod, "spec.bogus").is_err());
    }

    #[test]
    fn resources() {
        let c: Container = serde_json::from_value(json!({
            "name": "c", "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}}
        }))
        .unwrap();
        assert_eq!(
            resource_value(&c, "limits.memory", Some("1Mi"), 2, 1 << 30).unwrap(),
            "64"
        );
        assert_eq!(
            resource_value(&c, "requests.cpu", Some("1m"), 2, 1 << 30).unwrap(),
            "250"
        );
        assert_eq!(
            resource_value(&c, "limits.cpu", None, 2, 1 << 30).unwrap(),
            "2"
        );
    }
}
