//! Built-in admission: namespace lifecycle, create-time preparation of server-owned fields
//! (pod status, service IPs and node ports), and the service IP / NodePort allocators.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::Ctx;
use crate::apiserver::object;
use crate::apiserver::status::ApiError;
use crate::resources::registry::ResourceInfo;
use crate::store::Store;

/// The NodePort range, as kube-apiserver's default `--service-node-port-range`.
pub const NODE_PORT_RANGE: std::ops::RangeInclusive<u16> = 30000..=32767;

#[derive(Debug, Default)]
struct Used {
    ips: BTreeSet<u32>,
    ports: BTreeSet<u16>,
}

/// Service cluster IP and NodePort allocators, rebuilt from the store at start.
#[derive(Debug, Clone)]
pub struct Allocators {
    base: u32,
    size: u32,
    used: Arc<Mutex<Used>>,
}

/// Parse `a.b.c.d/n`.
pub fn parse_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (ip, bits) = cidr.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    if !(8..=30).contains(&bits) {
        return None;
    }
    let mask = u32::MAX << (32 - bits);
    Some((u32::from(ip) & mask, 1u32 << (32 - bits)))
}

impl Allocators {
    /// Allocators over a service CIDR (the first address is the `kubernetes` service's).
    pub fn new(cidr: &str) -> Option<Self> {
        let (base, size) = parse_cidr(cidr)?;
        Some(Allocators {
            base,
            size,
            used: Arc::new(Mutex::new(Used::default())),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Used> {
        self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The first usable address of the range (the `kubernetes` service).
    pub fn first_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base + 1)
    }

    /// The tenth address of the range: the `kube-dns` service's, as on kubeadm clusters.
    pub fn dns_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base + 10)
    }

    /// Mark what existing services hold as used.
    pub async fn load(&self, store: &dyn Store) -> Result<(), crate::store::StoreError> {
        let r = store.range("/registry/services/", None, None, None).await?;
        let mut used = self.lock();
        for kv in r.kvs {
            if let Ok(svc) = serde_json::from_slice::<Value>(&kv.value) {
                for ip in cluster_ips(&svc) {
                    used.ips.insert(u32::from(ip));
                }
                for p in node_ports(&svc) {
                    used.ports.insert(p);
                }
            }
        }
        Ok(())
    }

    fn in_range(&self, ip: Ipv4Addr) -> bool {
        let v = u32::from(ip);
        v > self.base && v < self.base + self.size - 1
    }

    /// Reserve a specific or the next free IP.
    fn take_ip(&self, want: Option<Ipv4Addr>) -> Result<Ipv4Addr, String> {
        let mut used = self.lock();
        if let Some(ip) = want {
            if !self.in_range(ip) {
                return Err(format!("failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}/{}", Ipv4Addr::from(self.base), 32 - self.size.trailing_zeros()));
            }
            if !used.ips.insert(u32::from(ip)) {
                return Err(format!(
                    "failed to allocate IP {ip}: provided IP is already allocated"
                ));
            }
            return Ok(ip);
        }
        // Dynamic allocations start past the first addresses, which stay for static use
        // (kubernetes, kube-dns), like kube-apiserver's upper-band allocation.
        let start = self.base + 11.min(self.size / 2);
        let end = self.base + self.size - 1;
        for v in (start..end).chain(self.base + 1..start) {
            if used.ips.insert(v) {
                return Ok(Ipv4Addr::from(v));
            }
        }
        Err("failed to allocate a serviceIP: range is full".to_string())
    }

    fn take_port(&self, want: Option<u16>) -> Result<u16, String> {
        let mut used = self.lock();
        if let Some(p) = want {
            if !NODE_PORT_RANGE.contains(&p) {
                return Err(format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    NODE_PORT_RANGE.start(),
                    NODE_PORT_RANGE.end()
                ));
            }
            if !used.ports.insert(p) {
                return Err("provided port is already allocated".to_string());
            }
            return Ok(p);
        }
        let span = (NODE_PORT_RANGE.end() - NODE_PORT_RANGE.start()) as u32 + 1;
        let offset = rand::random::<u32>() % span;
        for i in 0..span {
            let p = NODE_PORT_RANGE.start() + ((offset + i) % span) as u16;
            if used.ports.insert(p) {
                return Ok(p);
            }
        }
        Err("range is full".to_string())
    }

    /// Return addresses and ports to the pool.
    pub fn release(&self, ips: &[Ipv4Addr], ports: &[u16]) {
        let mut used = self.lock();
        for ip in ips {
            used.ips.remove(&u32::from(*ip));
        }
        for p in ports {
            used.ports.remove(p);
        }
    }
}

/// Allocations made for one write; released on drop unless committed.
pub struct Reservation {
    alloc: Option<Allocators>,
    ips: Vec<Ipv4Addr>,
    ports: Vec<u16>,
}

impl Reservation {
    fn none() -> Self {
        Reservation {
            alloc: None,
            ips: Vec::new(),
            ports: Vec::new(),
        }
    }

    /// Keep the allocations (the object was stored).
    pub fn commit(mut self) {
        self.alloc = None;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(a) = &self.alloc {
            a.release(&self.ips, &self.ports);
        }
    }
}

/// Cluster IPs a service holds.
pub fn cluster_ips(svc: &Value) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = svc
        .pointer("/spec/clusterIPs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
        .unwrap_or_default();
    if let Some(ip) = svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
    {
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// NodePorts a service holds.
pub fn node_ports(svc: &Value) -> Vec<u16> {
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.get("nodePort")?.as_u64())
                .filter_map(|p| u16::try_from(p).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn is_kind(ctx: &Ctx, group: &str, kind: &str) -> bool {
    ctx.res.group == group && ctx.res.kind == kind
}

/// NamespaceLifecycle: no new objects in a missing or terminating namespace. The namespace
/// read, for the admission that follows (Pod Security reads its labels).
pub async fn check_namespace_open(ctx: &Ctx, ns: &str) -> Result<Value, ApiError> {
    let key = format!("/registry/namespaces/{ns}");
    let kv = ctx
        .state
        .store
        .get(&key)
        .await
        .map_err(ApiError::internal)?;
    let Some(kv) = kv else {
        return Err(
            ApiError::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
                .with_object_details("", "namespaces", ns),
        );
    };
    let v: Value = serde_json::from_slice(&kv.value).map_err(ApiError::internal)?;
    if object::is_deleting(&v) {
        return Err(ApiError::forbidden(format!(
            "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
            ctx.res.qualified_resource(),
            ctx.req.name.as_deref().unwrap_or("")
        )));
    }
    Ok(v)
}

/// DefaultStorageClass: a claim that names no class (the field absent, not empty) gets the
/// default StorageClass, the newest when several are marked.
pub async fn default_storage_class(ctx: &Ctx, claim: &mut Value) -> Result<(), ApiError> {
    if claim.pointer("/spec/storageClassName").is_some() {
        return Ok(());
    }
    let class = default_class(
        ctx,
        "/registry/storageclasses/",
        &[
            "storageclass.kubernetes.io~1is-default-class",
            "storageclass.beta.kubernetes.io~1is-default-class",
        ],
    )
    .await?;
    if let (Some(class), Some(spec)) = (class, claim.get_mut("spec").and_then(Value::as_object_mut))
    {
        spec.insert("storageClassName".into(), json!(class));
    }
    Ok(())
}

/// DefaultIngressClass: an Ingress that names no class (neither the field nor the old
/// `kubernetes.io/ingress.class` annotation) gets the default IngressClass.
pub async fn default_ingress_class(ctx: &Ctx, ingress: &mut Value) -> Result<(), ApiError> {
    let annotated = ingress
        .pointer("/metadata/annotations/kubernetes.io~1ingress.class")
        .is_some();
    if ingress.pointer("/spec/ingressClassName").is_some() || annotated {
        return Ok(());
    }
    let class = default_class(
        ctx,
        "/registry/ingressclasses/",
        &["ingressclass.kubernetes.io~1is-default-class"],
    )
    .await?;
    if let (Some(class), Some(spec)) = (
        class,
        ingress.get_mut("spec").and_then(Value::as_object_mut),
    ) {
        spec.insert("ingressClassName".into(), json!(class));
    }
    Ok(())
}

/// The name of the class under `prefix` marked default by one of `annotations` (JSON
/// pointer escaped), the newest when several are.
async fn default_class(
    ctx: &Ctx,
    prefix: &str,
    annotations: &[&str],
) -> Result<Option<String>, ApiError> {
    let classes = ctx
        .state
        .store
        .range(prefix, None, None, None)
        .await
        .map_err(ApiError::internal)?;
    let is_default = |c: &Value| {
        annotations.iter().any(|a| {
            c.pointer(&format!("/metadata/annotations/{a}"))
                .and_then(Value::as_str)
                == Some("true")
        })
    };
    Ok(classes
        .kvs
        .iter()
        .filter_map(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
        .filter(is_default)
        .max_by(|a, b| {
            let created = |c: &Value| {
                object::meta_str(c, "creationTimestamp")
                    .unwrap_or("")
                    .to_string()
            };
            created(a)
                .cmp(&created(b))
                .then_with(|| object::name(b).cmp(object::name(a)))
        })
        .map(|c| object::name(&c).to_string()))
}

/// How long pods stay on a not-ready or unreachable node before eviction, unless they say.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// DefaultTolerationSeconds: every pod tolerates the not-ready and unreachable NoExecute
/// taints for five minutes unless it already tolerates them its own way.
fn default_toleration_seconds(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = tolerations.as_array_mut() else {
        return;
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = list.iter().any(|t| {
            let t_key = t.get("key").and_then(Value::as_str).unwrap_or("");
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            let exists = t.get("operator").and_then(Value::as_str) == Some("Exists");
            (t_key == key || (t_key.is_empty() && exists))
                && (effect.is_empty() || effect == "NoExecute")
        });
        if !tolerated {
            list.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
}

/// Create-time preparation of server-owned fields: a status to start from, then the kind's
/// strategy (PrepareForCreate), after RBAC's escalation check; and DefaultTolerationSeconds.
pub fn prepare_create(ctx: &Ctx, obj: &mut Value) -> Result<(), ApiError> {
    if ctx.res.group == "rbac.authorization.k8s.io" {
        crate::apiserver::rbac::escalation::check(&ctx.state, &ctx.user, &ctx.res.kind, obj, None)?;
    }
    if ctx.res.has_status_subresource() && obj.get("status").is_none() {
        obj["status"] = json!({});
    }
    (ctx.res.strategy.prepare_create)(obj);
    if is_kind(ctx, "", "Pod") {
        default_toleration_seconds(obj);
    }
    Ok(())
}

/// Update-time preparation: RBAC's escalation check, then the kind's strategy
/// (PrepareForUpdate), which keeps what the server allocated unless the user changes it.
pub fn prepare_update(ctx: &Ctx, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    if ctx.res.group == "rbac.authorization.k8s.io" {
        crate::apiserver::rbac::escalation::check(
            &ctx.state,
            &ctx.user,
            &ctx.res.kind,
            new,
            Some(old),
        )?;
    }
    (ctx.res.strategy.prepare_update)(old, new);
    Ok(())
}

/// Allocate cluster IPs and node ports a new or changed service needs.
pub fn allocate(ctx: &Ctx, obj: &mut Value, old: Option<&Value>) -> Result<Reservation, ApiError> {
    if !is_kind(ctx, "", "Service") {
        return Ok(Reservation::none());
    }
    let alloc = ctx.state.allocators.clone();
    let mut res = Reservation {
        alloc: Some(alloc.clone()),
        ips: Vec::new(),
        ports: Vec::new(),
    };
    let name = object::name(obj).to_string();
    let svc_type = obj
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    let held_ips = old.map(cluster_ips).unwrap_or_default();
    let held_ports = old.map(node_ports).unwrap_or_default();
    if svc_type != "ExternalName" {
        let requested = obj
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if requested != "None" {
            let want: Option<Ipv4Addr> = if requested.is_empty() {
                None
            } else {
                Some(requested.parse().map_err(|_| {
                    ApiError::invalid_field(&ctx.res, &name, "spec.clusterIPs[0]", &format!("Invalid value: \"{requested}\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
                })?)
            };
            let ip = match want {
                Some(ip) if held_ips.contains(&ip) => ip,
                _ => {
                    let ip = alloc.take_ip(want).map_err(|e| {
                        ApiError::invalid_field(
                            &ctx.res,
                            &name,
                            "spec.clusterIPs",
                            &format!("Invalid value: [\"{requested}\"]: {e}"),
                        )
                    })?;
                    res.ips.push(ip);
                    ip
                }
            };
            obj["spec"]["clusterIP"] = json!(ip.to_string());
            obj["spec"]["clusterIPs"] = json!([ip.to_string()]);
        } else {
            obj["spec"]["clusterIPs"] = json!(["None"]);
        }
    }
    if matches!(svc_type.as_str(), "NodePort" | "LoadBalancer") {
        if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for (i, p) in ports.iter_mut().enumerate() {
                let want = p
                    .get("nodePort")
                    .and_then(Value::as_u64)
                    .and_then(|v| u16::try_from(v).ok());
                if want.is_some_and(|w| held_ports.contains(&w)) {
                    continue;
                }
                let port = alloc.take_port(want).map_err(|e| {
                    ApiError::invalid_field(
                        &ctx.res,
                        &name,
                        &format!("spec.ports[{i}].nodePort"),
                        &format!(
                            "Invalid value: {}: {e}",
                            want.map(|w| w.to_string()).unwrap_or_default()
                        ),
                    )
                })?;
                res.ports.push(port);
                p["nodePort"] = json!(port);
            }
        }
    }
    Ok(res)
}

/// After a stored update: give back the addresses and node ports the old service held and
/// the new one does not (a NodePort service turned ClusterIP, a port removed, a service
/// turned ExternalName).
pub fn release_dropped(ctx: &Ctx, old: &Value, new: &Value) {
    if !is_kind(ctx, "", "Service") {
        return;
    }
    let (new_ips, new_ports) = (cluster_ips(new), node_ports(new));
    let ips: Vec<Ipv4Addr> = cluster_ips(old)
        .into_iter()
        .filter(|ip| !new_ips.contains(ip))
        .collect();
    let ports: Vec<u16> = node_ports(old)
        .into_iter()
        .filter(|p| !new_ports.contains(p))
        .collect();
    ctx.state.allocators.release(&ips, &ports);
}

/// Kinds whose PUT creates a missing object (the strategies' AllowCreateOnUpdate).
pub fn allow_create_on_update(res: &ResourceInfo) -> bool {
    matches!(
        (res.group.as_str(), res.kind.as_str()),
        ("", "Endpoints")
            | ("", "Node")
            | ("", "Event")
            | ("coordination.k8s.io", "Lease")
            | ("events.k8s.io", "Event")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_ips_and_ports() {
        let a = Allocators::new("10.96.0.0/24").unwrap();
        assert_eq!(a.first_ip(), Ipv4Addr::new(10, 96, 0, 1));
        let ip = a.take_ip(None).unwrap();
        assert!(a.in_range(ip));
        assert!(a.take_ip(Some(ip)).is_err(), "double allocation refused");
        assert!(a.take_ip(Some(Ipv4Addr::new(10, 97, 0, 1))).is_err());
        a.release(&[ip], &[]);
        assert_eq!(a.take_ip(Some(ip)).unwrap(), ip);
        let p = a.take_port(Some(30080)).unwrap();
        assert_eq!(p, 30080);
        assert!(a.take_port(Some(30080)).is_err());
        assert!(a.take_port(Some(80)).is_err());
        assert!(NODE_PORT_RANGE.contains(&a.take_port(None).unwrap()));
    }

    #[test]
    fn default_tolerations_added_unless_tolerated() {
        let mut pod = json!({"spec": {"tolerations": [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}
        ]}});
        default_toleration_seconds(&mut pod);
        let ts = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(ts.len(), 2);
        assert_eq!(ts[0]["tolerationSeconds"], 2);
        assert_eq!(ts[1]["key"], "node.kubernetes.io/not-ready");
        assert_eq!(ts[1]["tolerationSeconds"], 300);
        let mut all = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        default_toleration_seconds(&mut all);
        assert_eq!(all["spec"]["tolerations"].as_array().unwrap().len(), 1);
    }
}
