//! The Node authorizer (kube-apiserver's `--authorization-mode=Node`). A kubelet, known by
//! its `system:node:<name>` identity in `system:nodes`, reads only the Secrets, ConfigMaps,
//! PersistentVolumeClaims and PersistentVolumes that pods bound to its node use, asks for
//! tokens only of those pods' service accounts, and writes only its own Lease. Anything
//! else it may do is what the `system:node` role lists; RBAC no longer binds that role to
//! the group, as on real clusters since Kubernetes 1.8.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, PodSpec, Volume};
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::Deserialize;
use tokio::task::JoinHandle;

use super::authn::UserInfo;
use super::rbac::{policy, rules, Decision};
use super::request::RequestInfo;
use crate::resources::registry::Registry;
use crate::store::mirror::{self, Mirror};
use crate::store::{Store, StoreError};

/// The group every kubelet's identity is in.
pub const NODES_GROUP: &str = "system:nodes";
const NODE_USER_PREFIX: &str = "system:node:";
const LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node a user speaks for, if it is a kubelet's identity.
pub fn node_name(user: &UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_USER_PREFIX)?;
    (!name.is_empty() && user.in_group(NODES_GROUP)).then_some(name)
}

/// What the `system:node` role allows, for requests outside the graph.
static NODE_RULES: LazyLock<Vec<PolicyRule>> = LazyLock::new(|| {
    policy::node_rules()
        .into_iter()
        .filter_map(|r| serde_json::from_value(r).ok())
        .collect()
});

/// The Node authorizer over a live graph of pods and claims.
#[derive(Clone, Default)]
pub struct NodeAuthorizer {
    graph: Arc<RwLock<Graph>>,
}

impl NodeAuthorizer {
    /// Allow a kubelet's request, or have no opinion (`Deny`) and leave it to RBAC.
    pub fn decide(&self, user: &UserInfo, req: &RequestInfo) -> Decision {
        let Some(node) = node_name(user) else {
            return Decision::Deny;
        };
        let allowed = match self.graph_answer(node, req) {
            Some(answer) => answer,
            None => NODE_RULES.iter().any(|r| rules::rule_allows(r, req)),
        };
        if allowed {
            Decision::Allow(String::new())
        } else {
            Decision::Deny
        }
    }

    /// Why the graph refused a kubelet's request, as upstream's Node authorizer words it
    /// (kube-apiserver appends it to the Forbidden message); `None` when it did not.
    pub fn refusal(&self, user: &UserInfo, req: &RequestInfo) -> Option<String> {
        let node = node_name(user)?;
        if self.graph_answer(node, req)? {
            return None;
        }
        Some(match req.name {
            Some(_) => format!("no relationship found between node '{node}' and this object"),
            None => "can only get individual resources of this type".to_string(),
        })
    }

    /// The answer for the kinds the graph governs; `None` for every other request.
    fn graph_answer(&self, node: &str, req: &RequestInfo) -> Option<bool> {
        if !req.is_resource {
            return None;
        }
        let ns = req.namespace.as_deref().unwrap_or("");
        let name = req.name.as_deref();
        let verb = req.verb.as_str();
        let graph = self.graph.read().unwrap_or_else(|e| e.into_inner());
        let answer = match (req.group.as_str(), req.resource.as_str()) {
            ("", "secrets") => {
                read_one(req) && name.is_some_and(|n| graph.used(node, ns, |p| has(&p.secrets, n)))
            }
            ("", "configmaps") => {
                read_one(req)
                    && name.is_some_and(|n| graph.used(node, ns, |p| has(&p.config_maps, n)))
            }
            ("", "persistentvolumeclaims") => {
                let verb_ok = match req.subresource.as_deref() {
                    None => verb == "get",
                    Some("status") => matches!(verb, "get" | "patch" | "update"),
                    Some(_) => false,
                };
                verb_ok && name.is_some_and(|n| graph.used(node, ns, |p| has(&p.claims, n)))
            }
            ("", "persistentvolumes") => {
                verb == "get"
                    && req.subresource.is_none()
                    && name.is_some_and(|n| graph.volume_used(node, n))
            }
            ("", "serviceaccounts") => {
                req.subresource.as_deref() == Some("token")
                    && verb == "create"
                    && name.is_some_and(|n| graph.used(node, ns, |p| p.service_account == n))
            }
            ("coordination.k8s.io", "leases") => {
                ns == LEASE_NAMESPACE
                    && req.subresource.is_none()
                    && match verb {
                        "create" => true,
                        "get" | "update" | "patch" | "delete" => name == Some(node),
                        _ => false,
                    }
            }
            _ => return None,
        };
        Some(answer)
    }

    /// Read the pods and claims from the store, then follow them until aborted.
    pub async fn start(
        &self,
        store: Arc<dyn Store>,
        registry: &Registry,
    ) -> Result<Vec<JoinHandle<()>>, StoreError> {
        let mut handles = Vec::new();
        let views: [(&str, Arc<dyn Mirror>); 2] = [
            ("pods", Arc::new(pods_view(self.graph.clone()))),
            (
                "persistentvolumeclaims",
                Arc::new(claims_view(self.graph.clone())),
            ),
        ];
        for (plural, view) in views {
            if let Some(res) = registry.lookup("", "v1", plural) {
                handles.push(mirror::start(store.clone(), res.prefix(None), view).await?);
            }
        }
        Ok(handles)
    }
}

/// Upstream lets a node read one named object: a `get`, or a list or watch that names it by
/// field selector (the kubelet watches each ConfigMap and Secret its pods use that way).
fn read_one(req: &RequestInfo) -> bool {
    req.subresource.is_none() && matches!(req.verb.as_str(), "get" | "list" | "watch")
}

fn has(names: &[String], name: &str) -> bool {
    names.iter().any(|n| n == name)
}

/// What a pod bound to a node uses.
#[derive(Debug, Default, PartialEq)]
struct PodUses {
    node: String,
    secrets: Vec<String>,
    config_maps: Vec<String>,
    claims: Vec<String>,
    service_account: String,
}

/// Pods by namespace and name (only those bound to a node), and each claim's volume.
#[derive(Default)]
struct Graph {
    pods: HashMap<Key, PodUses>,
    claims: HashMap<Key, String>,
}

impl Graph {
    /// Whether a pod of `node` in `namespace` satisfies `uses`.
    fn used(&self, node: &str, namespace: &str, uses: impl Fn(&PodUses) -> bool) -> bool {
        self.pods
            .iter()
            .any(|((ns, _), p)| ns == namespace && p.node == node && uses(p))
    }

    /// Whether a pod of `node` mounts a claim bound to the volume `pv`.
    fn volume_used(&self, node: &str, pv: &str) -> bool {
        self.pods.iter().any(|((ns, _), p)| {
            p.node == node
                && p.claims.iter().any(|c| {
                    self.claims
                        .get(&(ns.clone(), c.clone()))
                        .is_some_and(|v| v == pv)
                })
        })
    }
}

/// Objects by namespace and name.
type Key = (String, String);

/// A stored object's key, and its value in the graph if it belongs there; `None` for
/// bytes that do not decode.
type Entry<V> = Option<(Key, Option<V>)>;

/// The name and namespace of a stored object; serde skips the rest of its metadata
/// (managed fields, labels) without building it.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Named {
    name: String,
    namespace: String,
}

/// The parts of a stored object the graph reads: pod and claim events (every status
/// write among them) are decoded without their status.
#[derive(Deserialize)]
struct Stored<S> {
    #[serde(default)]
    metadata: Named,
    spec: Option<S>,
}

impl<S> Stored<S> {
    fn key(&self) -> Key {
        (self.metadata.namespace.clone(), self.metadata.name.clone())
    }
}

/// One kind's part of the graph: the map `part` picks, filled with what `entry` reads off
/// each stored object (its key, and a value when it belongs in the graph).
struct View<V> {
    graph: Arc<RwLock<Graph>>,
    part: fn(&mut Graph) -> &mut HashMap<Key, V>,
    entry: fn(&[u8]) -> Entry<V>,
}

impl<V: Send + Sync + 'static> Mirror for View<V> {
    fn apply(&self, value: &[u8], deleted: bool) {
        let Some((key, entry)) = (self.entry)(value) else {
            return;
        };
        let mut graph = self.graph.write().unwrap_or_else(|e| e.into_inner());
        let part = (self.part)(&mut graph);
        match entry {
            Some(v) if !deleted => part.insert(key, v),
            _ => part.remove(&key),
        };
    }

    fn clear(&self) {
        let mut graph = self.graph.write().unwrap_or_else(|e| e.into_inner());
        (self.part)(&mut graph).clear();
    }
}

fn pods_view(graph: Arc<RwLock<Graph>>) -> View<PodUses> {
    View {
        graph,
        part: |g| &mut g.pods,
        entry: |value| {
            let pod: Stored<PodSpec> = serde_json::from_slice(value).ok()?;
            let uses = pod
                .spec
                .as_ref()
                .and_then(|s| pod_uses(&pod.metadata.name, s));
            Some((pod.key(), uses))
        },
    }
}

fn claims_view(graph: Arc<RwLock<Graph>>) -> View<String> {
    View {
        graph,
        part: |g| &mut g.claims,
        entry: |value| {
            let pvc: Stored<PersistentVolumeClaimSpec> = serde_json::from_slice(value).ok()?;
            let volume = pvc.spec.as_ref().and_then(|s| s.volume_name.clone());
            Some((pvc.key(), volume.filter(|v| !v.is_empty())))
        },
    }
}

/// What the pod `pod_name` uses, if it is bound to a node: the edges upstream's graph
/// draws from a pod.
fn pod_uses(pod_name: &str, spec: &PodSpec) -> Option<PodUses> {
    let node = spec.node_name.clone().filter(|n| !n.is_empty())?;
    let mut uses = PodUses {
        node,
        service_account: spec
            .service_account_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into()),
        ..PodUses::default()
    };
    for s in spec.image_pull_secrets.iter().flatten() {
        uses.secrets.push(s.name.clone());
    }
    containers_use(spec, &mut uses);
    for v in spec.volumes.iter().flatten() {
        volume_uses(pod_name, v, &mut uses);
    }
    Some(uses)
}

fn containers_use(spec: &PodSpec, uses: &mut PodUses) {
    let ephemeral = spec.ephemeral_containers.iter().flatten();
    let envs = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .map(|c| (&c.env, &c.env_from))
        .chain(ephemeral.map(|c| (&c.env, &c.env_from)));
    for (env, env_from) in envs {
        for from in env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            if let Some(r) = &from.secret_key_ref {
                uses.secrets.push(r.name.clone());
            }
            if let Some(r) = &from.config_map_key_ref {
                uses.config_maps.push(r.name.clone());
            }
        }
        for from in env_from.iter().flatten() {
            if let Some(r) = &from.secret_ref {
                uses.secrets.push(r.name.clone());
            }
            if let Some(r) = &from.config_map_ref {
                uses.config_maps.push(r.name.clone());
            }
        }
    }
}

fn volume_uses(pod_name: &str, v: &Volume, uses: &mut PodUses) {
    if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
        uses.secrets.push(s);
    }
    if let Some(c) = &v.config_map {
        uses.config_maps.push(c.name.clone());
    }
    if let Some(c) = &v.persistent_volume_claim {
        uses.claims.push(c.claim_name.clone());
    }
    if v.ephemeral.is_some() {
        // The ephemeral-volume controller names the claim after the pod and the volume.
        uses.claims.push(format!("{pod_name}-{}", v.name));
    }
    for source in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
        if let Some(s) = &source.secret {
            uses.secrets.push(s.name.clone());
        }
        if let Some(c) = &source.config_map {
            uses.config_maps.push(c.name.clone());
        }
    }
    let secret_refs = [
        v.csi
            .as_ref()
            .and_then(|c| c.node_publish_secret_ref.as_ref()),
        v.flex_volume.as_ref().and_then(|f| f.secret_ref.as_ref()),
        v.cephfs.as_ref().and_then(|c| c.secret_ref.as_ref()),
        v.rbd.as_ref().and_then(|r| r.secret_ref.as_ref()),
        v.iscsi.as_ref().and_then(|i| i.secret_ref.as_ref()),
        v.scale_io.as_ref().map(|s| &s.secret_ref),
        v.storageos.as_ref().and_then(|s| s.secret_ref.as_ref()),
    ];
    for r in secret_refs.into_iter().flatten() {
        uses.secrets.push(r.name.clone());
    }
    if let Some(a) = &v.azure_file {
        uses.secrets.push(a.secret_name.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node_user(name: &str) -> UserInfo {
        UserInfo {
            name: format!("system:node:{name}"),
            groups: vec![NODES_GROUP.into(), "system:authenticated".into()],
            uid: String::new(),
        }
    }

    fn req(verb: &str, group: &str, resource: &str, ns: &str, name: Option<&str>) -> RequestInfo {
        RequestInfo {
            is_resource: true,
            verb: verb.into(),
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            namespace: (!ns.is_empty()).then(|| ns.into()),
            name: name.map(Into::into),
            ..Default::default()
        }
    }

    fn authorizer_with(pods: &[serde_json::Value], claims: &[serde_json::Value]) -> NodeAuthorizer {
        let a = NodeAuthorizer::default();
        for p in pods {
            pods_view(a.graph.clone()).apply(&serde_json::to_vec(p).unwrap(), false);
        }
        for c in claims {
            claims_view(a.graph.clone()).apply(&serde_json::to_vec(c).unwrap(), false);
        }
        a
    }

    fn web_pod() -> serde_json::Value {
        json!({
            "metadata": {"name": "web", "namespace": "app"},
            "spec": {
                "nodeName": "n1",
                "serviceAccountName": "runner",
                "imagePullSecrets": [{"name": "pull"}],
                "containers": [{
                    "name": "c", "image": "i",
                    "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}}],
                    "envFrom": [{"configMapRef": {"name": "env-config"}}],
                }],
                "volumes": [
                    {"name": "s", "secret": {"secretName": "vol-secret"}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "token", "projected": {"sources": [
                        {"configMap": {"name": "kube-root-ca.crt"}},
                        {"serviceAccountToken": {"path": "token"}},
                    ]}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                ],
            },
        })
    }

    #[test]
    fn a_node_reads_what_its_pods_use_and_nothing_else() {
        let claim = json!({"metadata": {"name": "data", "namespace": "app"}, "spec": {"volumeName": "pv-1"}});
        let a = authorizer_with(&[web_pod()], &[claim]);
        let n1 = node_user("n1");
        let allowed = |r: RequestInfo| a.decide(&n1, &r) != Decision::Deny;
        for s in ["pull", "env-secret", "vol-secret"] {
            assert!(allowed(req("get", "", "secrets", "app", Some(s))), "{s}");
        }
        for c in ["env-config", "kube-root-ca.crt"] {
            assert!(allowed(req("get", "", "configmaps", "app", Some(c))), "{c}");
        }
        assert!(allowed(req(
            "get",
            "",
            "persistentvolumeclaims",
            "app",
            Some("data")
        )));
        assert!(allowed(req(
            "get",
            "",
            "persistentvolumeclaims",
            "app",
            Some("web-scratch")
        )));
        assert!(allowed(req(
            "get",
            "",
            "persistentvolumes",
            "",
            Some("pv-1")
        )));
        let mut token = req("create", "", "serviceaccounts", "app", Some("runner"));
        token.subresource = Some("token".into());
        assert!(allowed(token.clone()));

        // A list or watch naming a used object (by field selector) is a read of it.
        assert!(allowed(req(
            "watch",
            "",
            "secrets",
            "app",
            Some("vol-secret")
        )));
        assert!(allowed(req(
            "list",
            "",
            "configmaps",
            "app",
            Some("env-config")
        )));
        assert!(!allowed(req("watch", "", "secrets", "app", Some("other"))));

        // Unrelated objects, other namespaces, lists and writes are refused.
        assert!(!allowed(req("get", "", "secrets", "app", Some("other"))));
        assert!(!allowed(req(
            "get",
            "",
            "secrets",
            "kube-system",
            Some("pull")
        )));
        assert!(!allowed(req("list", "", "secrets", "app", None)));
        assert!(!allowed(req("watch", "", "configmaps", "", None)));
        assert!(!allowed(req("update", "", "secrets", "app", Some("pull"))));
        assert!(!allowed(req(
            "get",
            "",
            "persistentvolumes",
            "",
            Some("pv-2")
        )));
        token.name = Some("default".into());
        assert!(!allowed(token));

        // Another node gets none of it.
        let n2 = node_user("n2");
        let other = req("get", "", "secrets", "app", Some("pull"));
        assert_eq!(a.decide(&n2, &other), Decision::Deny);
        assert_eq!(
            a.refusal(&n2, &other).as_deref(),
            Some("no relationship found between node 'n2' and this object")
        );
        assert_eq!(
            a.refusal(&n1, &req("list", "", "secrets", "app", None))
                .as_deref(),
            Some("can only get individual resources of this type")
        );
        assert_eq!(a.refusal(&n1, &other), None);
        assert_eq!(
            a.refusal(&n2, &req("get", "", "nodes", "", Some("n1"))),
            None
        );
    }

    #[test]
    fn deleting_or_unbinding_a_pod_drops_its_edges() {
        let a = authorizer_with(&[web_pod()], &[]);
        let n1 = node_user("n1");
        let get = req("get", "", "secrets", "app", Some("vol-secret"));
        assert_ne!(a.decide(&n1, &get), Decision::Deny);
        pods_view(a.graph.clone()).apply(&serde_json::to_vec(&web_pod()).unwrap(), true);
        assert_eq!(a.decide(&n1, &get), Decision::Deny);

        let mut pending = web_pod();
        pending["spec"]["nodeName"] = json!(null);
        let a = authorizer_with(&[pending], &[]);
        assert_eq!(a.decide(&n1, &get), Decision::Deny);
    }

    #[test]
    fn leases_only_its_own_and_other_kinds_by_the_node_role() {
        let a = NodeAuthorizer::default();
        let n1 = node_user("n1");
        let allowed = |r: RequestInfo| a.decide(&n1, &r) != Decision::Deny;
        let lease = |verb: &str, ns: &str, name: Option<&str>| {
            req(verb, "coordination.k8s.io", "leases", ns, name)
        };
        assert!(allowed(lease("get", LEASE_NAMESPACE, Some("n1"))));
        assert!(allowed(lease("update", LEASE_NAMESPACE, Some("n1"))));
        assert!(allowed(lease("create", LEASE_NAMESPACE, None)));
        assert!(!allowed(lease("update", LEASE_NAMESPACE, Some("n2"))));
        assert!(!allowed(lease("get", "default", Some("n1"))));

        assert!(allowed(req("list", "", "pods", "", None)));
        assert!(allowed(req("get", "", "services", "app", Some("web"))));
        assert!(!allowed(req("create", "", "secrets", "app", None)));
        assert!(!allowed(req("list", "apps", "deployments", "", None)));
    }

    #[test]
    fn only_kubelet_identities_are_nodes() {
        let a = NodeAuthorizer::default();
        let pods = req("list", "", "pods", "", None);
        let mut impostor = node_user("n1");
        impostor.groups = vec!["system:authenticated".into()];
        assert_eq!(a.decide(&impostor, &pods), Decision::Deny);
        let mut nameless = node_user("");
        nameless.name = "system:node:".into();
        assert_eq!(a.decide(&nameless, &pods), Decision::Deny);
        assert_eq!(node_name(&node_user("n1")), Some("n1"));
    }
}
