//! Role-based access control: the authorizer kube-apiserver runs with `--authorization-mode=RBAC`.
//!
//! Roles, ClusterRoles and their bindings are read from the store once and then followed
//! through store watches, so a decision never touches the disk (the real authorizer reads
//! informer caches the same way).

pub mod aggregation;
pub mod escalation;
pub mod policy;
pub mod rules;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::authn::UserInfo;
use super::request::RequestInfo;
use crate::resources::registry::Registry;
use crate::store::mirror::{self, Mirror};
use crate::store::{Store, StoreError};

#[derive(Clone, Debug)]
struct Binding {
    subjects: Vec<Subject>,
    role_ref: RoleRef,
}

/// The RBAC objects the authorizer decides with.
#[derive(Default)]
struct Policy {
    cluster_roles: HashMap<String, Vec<PolicyRule>>,
    roles: HashMap<(String, String), Vec<PolicyRule>>,
    cluster_bindings: BTreeMap<String, Binding>,
    bindings: HashMap<String, BTreeMap<String, Binding>>,
}

/// The four kinds the authorizer follows.
#[derive(Clone, Copy, Debug)]
enum Kind {
    ClusterRole,
    Role,
    ClusterRoleBinding,
    RoleBinding,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::ClusterRole,
        Kind::Role,
        Kind::ClusterRoleBinding,
        Kind::RoleBinding,
    ];

    fn plural(self) -> &'static str {
        match self {
            Kind::ClusterRole => "clusterroles",
            Kind::Role => "roles",
            Kind::ClusterRoleBinding => "clusterrolebindings",
            Kind::RoleBinding => "rolebindings",
        }
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

fn ns_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl Policy {
    /// Apply one stored object (or its deletion) to the policy.
    fn apply(&mut self, kind: Kind, value: &[u8], deleted: bool) {
        match kind {
            Kind::ClusterRole => {
                if let Some(r) = decode::<ClusterRole>(value) {
                    let (_, name) = ns_name(&r.metadata);
                    if deleted {
                        self.cluster_roles.remove(&name);
                    } else {
                        self.cluster_roles.insert(name, r.rules.unwrap_or_default());
                    }
                }
            }
            Kind::Role => {
                if let Some(r) = decode::<Role>(value) {
                    let key = ns_name(&r.metadata);
                    if deleted {
                        self.roles.remove(&key);
                    } else {
                        self.roles.insert(key, r.rules.unwrap_or_default());
                    }
                }
            }
            Kind::ClusterRoleBinding => {
                if let Some(b) = decode::<ClusterRoleBinding>(value) {
                    let (_, name) = ns_name(&b.metadata);
                    if deleted {
                        self.cluster_bindings.remove(&name);
                    } else {
                        let binding = Binding {
                            subjects: b.subjects.unwrap_or_default(),
                            role_ref: b.role_ref,
                        };
                        self.cluster_bindings.insert(name, binding);
                    }
                }
            }
            Kind::RoleBinding => {
                if let Some(b) = decode::<RoleBinding>(value) {
                    let (ns, name) = ns_name(&b.metadata);
                    let in_ns = self.bindings.entry(ns).or_default();
                    if deleted {
                        in_ns.remove(&name);
                    } else {
                        let binding = Binding {
                            subjects: b.subjects.unwrap_or_default(),
                            role_ref: b.role_ref,
                        };
                        in_ns.insert(name, binding);
                    }
                }
            }
        }
    }

    fn role_rules(&self, role_ref: &RoleRef, namespace: &str) -> Option<&[PolicyRule]> {
        match role_ref.kind.as_str() {
            "ClusterRole" => self.cluster_roles.get(&role_ref.name),
            "Role" => self
                .roles
                .get(&(namespace.to_string(), role_ref.name.clone())),
            _ => None,
        }
        .map(Vec::as_slice)
    }

    /// Visit every rule that applies to `user` in `namespace` (cluster-wide bindings
    /// first), with a description of where it came from; stop when `visit` says so.
    fn visit(
        &self,
        user: &UserInfo,
        namespace: &str,
        visit: &mut dyn FnMut(&dyn Fn() -> String, &PolicyRule) -> bool,
    ) {
        // Cluster-wide bindings first, then the namespace's; `""` marks a cluster binding.
        let cluster = self.cluster_bindings.iter().map(|(n, b)| ("", n, b));
        let local = (!namespace.is_empty())
            .then(|| self.bindings.get(namespace))
            .flatten()
            .into_iter()
            .flat_map(|m| m.iter().map(|(n, b)| (namespace, n, b)));
        for (ns, name, b) in cluster.chain(local) {
            let Some(subject) = b
                .subjects
                .iter()
                .find(|s| rules::subject_matches(s, user, ns))
            else {
                continue;
            };
            let Some(found) = self.role_rules(&b.role_ref, ns) else {
                continue;
            };
            let source = || {
                let binding = if ns.is_empty() {
                    format!("ClusterRoleBinding {name:?}")
                } else {
                    format!("RoleBinding \"{name}/{ns}\"")
                };
                format!(
                    "{binding} of {} {:?} to {}",
                    b.role_ref.kind,
                    b.role_ref.name,
                    describe_subject(subject)
                )
            };
            for rule in found {
                if visit(&source, rule) {
                    return;
                }
            }
        }
    }
}

fn describe_subject(s: &Subject) -> String {
    match (s.kind.as_str(), s.namespace.as_deref()) {
        ("ServiceAccount", Some(ns)) if !ns.is_empty() => {
            format!("{} \"{}/{}\"", s.kind, s.name, ns)
        }
        _ => format!("{} {:?}", s.kind, s.name),
    }
}

/// An authorization decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, with the reason access reviews report.
    Allow(String),
    /// No rule allows it.
    Deny,
}

/// The RBAC authorizer over a live view of the store's RBAC objects.
#[derive(Clone, Default)]
pub struct Authorizer {
    policy: Arc<RwLock<Policy>>,
}

impl Authorizer {
    /// Whether RBAC allows the request.
    pub fn decide(&self, user: &UserInfo, req: &RequestInfo) -> Decision {
        let ns = req.namespace.as_deref().unwrap_or("");
        let mut decision = Decision::Deny;
        let policy = self.policy.read().unwrap_or_else(|e| e.into_inner());
        policy.visit(user, ns, &mut |source, rule| {
            if rules::rule_allows(rule, req) {
                decision = Decision::Allow(format!("RBAC: allowed by {}", source()));
                true
            } else {
                false
            }
        });
        decision
    }

    /// The rules of a Role (in `namespace`) or ClusterRole, if it exists.
    pub fn role_rules(&self, kind: &str, namespace: &str, name: &str) -> Option<Vec<PolicyRule>> {
        let policy = self.policy.read().unwrap_or_else(|e| e.into_inner());
        let role_ref = RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: kind.into(),
            name: name.into(),
        };
        policy
            .role_rules(&role_ref, namespace)
            .map(<[PolicyRule]>::to_vec)
    }

    /// Every rule that applies to `user` in `namespace` (SelfSubjectRulesReview).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<PolicyRule> {
        let mut out = Vec::new();
        let policy = self.policy.read().unwrap_or_else(|e| e.into_inner());
        policy.visit(user, namespace, &mut |_, rule| {
            out.push(rule.clone());
            false
        });
        out
    }

    /// Read the RBAC objects from the store, then follow their changes until aborted.
    pub async fn start(
        &self,
        store: Arc<dyn Store>,
        registry: &Registry,
    ) -> Result<Vec<JoinHandle<()>>, StoreError> {
        let mut handles = Vec::new();
        for kind in Kind::ALL {
            let Some(res) = registry.lookup("rbac.authorization.k8s.io", "v1", kind.plural())
            else {
                continue;
            };
            let view = Arc::new(KindView {
                policy: self.policy.clone(),
                kind,
            });
            handles.push(mirror::start(store.clone(), res.prefix(None), view).await?);
        }
        Ok(handles)
    }
}

/// The policy's part that one RBAC kind fills.
struct KindView {
    policy: Arc<RwLock<Policy>>,
    kind: Kind,
}

impl Mirror for KindView {
    fn apply(&self, value: &[u8], deleted: bool) {
        let mut policy = self.policy.write().unwrap_or_else(|e| e.into_inner());
        policy.apply(self.kind, value, deleted);
    }

    fn clear(&self) {
        let mut policy = self.policy.write().unwrap_or_else(|e| e.into_inner());
        match self.kind {
            Kind::ClusterRole => policy.cluster_roles.clear(),
            Kind::Role => policy.roles.clear(),
            Kind::ClusterRoleBinding => policy.cluster_bindings.clear(),
            Kind::RoleBinding => policy.bindings.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            uid: String::new(),
        }
    }

    fn list_pods(ns: &str) -> RequestInfo {
        RequestInfo {
            is_resource: true,
            verb: "list".into(),
            version: "v1".into(),
            resource: "pods".into(),
            namespace: Some(ns.into()),
            ..Default::default()
        }
    }

    fn authorizer(objects: &[(Kind, serde_json::Value)]) -> Authorizer {
        let a = Authorizer::default();
        {
            let mut p = a.policy.write().unwrap();
            for (kind, v) in objects {
                p.apply(*kind, &serde_json::to_vec(v).unwrap(), false);
            }
        }
        a
    }

    #[test]
    fn role_binding_grants_only_in_its_namespace() {
        let a = authorizer(&[
            (
                Kind::ClusterRole,
                json!({"metadata": {"name": "view"}, "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]}),
            ),
            (
                Kind::RoleBinding,
                json!({"metadata": {"name": "ci-view", "namespace": "dev"},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                       "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "dev"}]}),
            ),
        ]);
        let ci = user("system:serviceaccount:dev:ci", &["system:serviceaccounts"]);
        assert_eq!(
            a.decide(&ci, &list_pods("dev")),
            Decision::Allow(
                "RBAC: allowed by RoleBinding \"ci-view/dev\" of ClusterRole \"view\" to ServiceAccount \"ci/dev\"".into()
            )
        );
        assert_eq!(a.decide(&ci, &list_pods("prod")), Decision::Deny);
        let mut create = list_pods("dev");
        create.verb = "create".into();
        assert_eq!(a.decide(&ci, &create), Decision::Deny);
        assert_eq!(a.rules_for(&ci, "dev").len(), 1);
        assert!(a.rules_for(&ci, "prod").is_empty());
    }

    #[test]
    fn cluster_binding_and_deletion() {
        let crb = json!({"metadata": {"name": "cluster-admin"},
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                         "subjects": [{"kind": "Group", "name": "system:masters", "apiGroup": "rbac.authorization.k8s.io"}]});
        let a = authorizer(&[
            (
                Kind::ClusterRole,
                json!({"metadata": {"name": "cluster-admin"}, "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]}),
            ),
            (Kind::ClusterRoleBinding, crb.clone()),
        ]);
        let admin = user("admin", &["system:masters"]);
        assert_eq!(
            a.decide(&admin, &list_pods("x")),
            Decision::Allow("RBAC: allowed by ClusterRoleBinding \"cluster-admin\" of ClusterRole \"cluster-admin\" to Group \"system:masters\"".into())
        );
        a.policy.write().unwrap().apply(
            Kind::ClusterRoleBinding,
            &serde_json::to_vec(&crb).unwrap(),
            true,
        );
        assert_eq!(a.decide(&admin, &list_pods("x")), Decision::Deny);
    }

    #[test]
    fn binding_to_a_missing_role_grants_nothing() {
        let a = authorizer(&[(
            Kind::RoleBinding,
            json!({"metadata": {"name": "b", "namespace": "dev"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gone"},
                   "subjects": [{"kind": "User", "name": "bob"}]}),
        )]);
        assert_eq!(
            a.decide(&user("bob", &[]), &list_pods("dev")),
            Decision::Deny
        );
    }
}
