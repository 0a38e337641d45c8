//! The resource registry: every served kind with its names, scope, verbs and subresources.
//!
//! This is the one place that says which resources exist. CRDs (a later issue) add entries
//! at run time through [`Registry::insert`].

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Verbs of an ordinary read-write resource, as discovery lists them.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Verbs of a create-only virtual resource (reviews, token requests).
pub const CREATE_ONLY: &[&str] = &["create"];

/// A subresource served under a resource, e.g. `deployments/scale`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subresource {
    /// Subresource name: `status`, `scale`, `log`, ...
    pub name: String,
    /// Group of the object the subresource accepts and returns.
    pub group: String,
    /// Version of that object.
    pub version: String,
    /// Kind of that object.
    pub kind: String,
    /// Verbs discovery advertises.
    pub verbs: Vec<String>,
}

/// One served resource (group, version, plural) and everything the API layer needs to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    /// API group, "" for core.
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Plural resource name used in URLs.
    pub plural: String,
    /// Singular resource name.
    pub singular: String,
    /// Short names for kubectl (`deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Verbs on the main resource.
    pub verbs: Vec<String>,
    /// Subresources.
    pub subresources: Vec<Subresource>,
    /// Whether the object is stored (false for virtual create-only kinds like reviews).
    pub stored: bool,
    /// The datastore key segment (`/registry/<storage>/...`); shared by versions of one kind.
    pub storage: String,
}

impl ResourceInfo {
    /// `apiVersion` string of this resource's objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// This resource as kube-rs names it for dynamic clients.
    pub fn api_resource(&self) -> kube::discovery::ApiResource {
        kube::discovery::ApiResource {
            api_version: self.api_version(),
            group: self.group.clone(),
            version: self.version.clone(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }

    /// `plural.group` (or just `plural` for core), as error messages name resources.
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Kind.group` (or just `Kind` for core), as Invalid errors name kinds.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The kind of the list object.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The subresource with this name, if served.
    pub fn subresource(&self, name: &str) -> Option<&Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Whether the main resource ignores `status` on writes (it has a status subresource).
    pub fn has_status_subresource(&self) -> bool {
        self.subresource("status").is_some()
    }

    /// Datastore key of an object, following kube-apiserver's etcd layout.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("/registry/{}/{}/{}", self.storage, ns, name),
            _ => format!("/registry/{}/{}", self.storage, name),
        }
    }

    /// Datastore prefix of all objects (in a namespace, when given).
    pub fn prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("/registry/{}/{}/", self.storage, ns),
            _ => format!("/registry/{}/", self.storage),
        }
    }

    /// Whether objects of this kind carry `metadata.generation`, as their registry
    /// strategies set it (workloads and other kinds whose spec has an observed status).
    pub fn has_generation(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "ReplicationController"
                | "Job"
                | "CronJob"
                | "Pod"
                | "HorizontalPodAutoscaler"
                | "Ingress"
                | "NetworkPolicy"
                | "PodDisruptionBudget"
                | "CustomResourceDefinition"
        ) || !self.is_builtin_group()
    }

    /// Whether the group is one of Kubernetes' own (custom resources are not).
    pub fn is_builtin_group(&self) -> bool {
        self.group.is_empty() || self.group.ends_with(".k8s.io") || !self.group.contains('.')
    }
}

/// Builder-style description used by the built-in table below.
struct Def {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    all: bool,
    namespaced: bool,
    subs: &'static [&'static str],
    storage: Option<&'static str>,
    create_only: bool,
}

const fn def(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> Def {
    Def {
        group,
        version,
        kind,
        plural,
        short: &[],
        all: false,
        namespaced,
        subs: &[],
        storage: None,
        create_only: false,
    }
}

impl Def {
    const fn short(mut self, s: &'static [&'static str]) -> Self {
        self.short = s;
        self
    }
    const fn all(mut self) -> Self {
        self.all = true;
        self
    }
    const fn subs(mut self, s: &'static [&'static str]) -> Self {
        self.subs = s;
        self
    }
    const fn storage(mut self, s: &'static str) -> Self {
        self.storage = Some(s);
        self
    }
    const fn create_only(mut self) -> Self {
        self.create_only = true;
        self
    }
}

/// The built-in resources, in discovery order (first version of a group is preferred).
fn builtin_defs() -> Vec<Def> {
    vec![
        // core/v1
        def("", "v1", "Binding", "bindings", true).create_only(),
        def("", "v1", "ComponentStatus", "componentstatuses", false).short(&["cs"]),
        def("", "v1", "ConfigMap", "configmaps", true).short(&["cm"]),
        def("", "v1", "Endpoints", "endpoints", true).short(&["ep"]),
        def("", "v1", "Event", "events", true).short(&["ev"]),
        def("", "v1", "LimitRange", "limitranges", true).short(&["limits"]),
        def("", "v1", "Namespace", "namespaces", false)
            .short(&["ns"])
            .subs(&["finalize", "status"]),
        def("", "v1", "Node", "nodes", false)
            .short(&["no"])
            .subs(&["proxy", "status"]),
        def(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
        )
        .short(&["pvc"])
        .subs(&["status"]),
        def("", "v1", "PersistentVolume", "persistentvolumes", false)
            .short(&["pv"])
            .subs(&["status"]),
        def("", "v1", "Pod", "pods", true)
            .short(&["po"])
            .all()
            .subs(&[
                "attach",
                "binding",
                "ephemeralcontainers",
                "eviction",
                "exec",
                "log",
                "portforward",
                "proxy",
                "resize",
                "status",
            ]),
        def("", "v1", "PodTemplate", "podtemplates", true),
        def(
            "",
            "v1",
            "ReplicationController",
            "replicationcontrollers",
            true,
        )
        .short(&["rc"])
        .all()
        .subs(&["scale", "status"]),
        def("", "v1", "ResourceQuota", "resourcequotas", true)
            .short(&["quota"])
            .subs(&["status"]),
        def("", "v1", "Secret", "secrets", true),
        def("", "v1", "ServiceAccount", "serviceaccounts", true)
            .short(&["sa"])
            .subs(&["token"]),
        def("", "v1", "Service", "services", true)
            .short(&["svc"])
            .all()
            .subs(&["proxy", "status"]),
        // apps/v1
        def(
            "apps",
            "v1",
            "ControllerRevision",
            "controllerrevisions",
            true,
        ),
        def("apps", "v1", "DaemonSet", "daemonsets", true)
            .short(&["ds"])
            .all()
            .subs(&["status"]),
        def("apps", "v1", "Deployment", "deployments", true)
            .short(&["deploy"])
            .all()
            .subs(&["scale", "status"]),
        def("apps", "v1", "ReplicaSet", "replicasets", true)
            .short(&["rs"])
            .all()
            .subs(&["scale", "status"]),
        def("apps", "v1", "StatefulSet", "statefulsets", true)
            .short(&["sts"])
            .all()
            .subs(&["scale", "status"]),
        // authentication / authorization (virtual)
        def(
            "authentication.k8s.io",
            "v1",
            "SelfSubjectReview",
            "selfsubjectreviews",
            false,
        )
        .create_only(),
        def(
            "authentication.k8s.io",
            "v1",
            "TokenReview",
            "tokenreviews",
            false,
        )
        .create_only(),
        def(
            "authorization.k8s.io",
            "v1",
            "LocalSubjectAccessReview",
            "localsubjectaccessreviews",
            true,
        )
        .create_only(),
        def(
            "authorization.k8s.io",
            "v1",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            false,
        )
        .create_only(),
        def(
            "authorization.k8s.io",
            "v1",
            "SelfSubjectRulesReview",
            "selfsubjectrulesreviews",
            false,
        )
        .create_only(),
        def(
            "authorization.k8s.io",
            "v1",
            "SubjectAccessReview",
            "subjectaccessreviews",
            false,
        )
        .create_only(),
        // autoscaling: v2 is preferred and the storage version, v1 shares its storage
        def(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        )
        .short(&["hpa"])
        .all()
        .subs(&["status"]),
        def(
            "autoscaling",
            "v1",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        )
        .short(&["hpa"])
        .all()
        .subs(&["status"]),
        // batch/v1
        def("batch", "v1", "CronJob", "cronjobs", true)
            .short(&["cj"])
            .all()
            .subs(&["status"]),
        def("batch", "v1", "Job", "jobs", true)
            .all()
            .subs(&["status"]),
        // coordination
        def("coordination.k8s.io", "v1", "Lease", "leases", true),
        // discovery
        def(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            "endpointslices",
            true,
        ),
        // events.k8s.io shares storage with core events
        def("events.k8s.io", "v1", "Event", "events", true)
            .short(&["ev"])
            .storage("events"),
        // networking
        def(
            "networking.k8s.io",
            "v1",
            "IngressClass",
            "ingressclasses",
            false,
        ),
        def("networking.k8s.io", "v1", "Ingress", "ingresses", true)
            .short(&["ing"])
            .subs(&["status"]),
        def(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        )
        .short(&["netpol"]),
        // policy
        def(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
        )
        .short(&["pdb"])
        .subs(&["status"]),
        // rbac
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
        ),
        def("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
        // apiextensions
        def(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        )
        .short(&["crd", "crds"])
        .subs(&["status"])
        .storage("apiextensions.k8s.io/customresourcedefinitions"),
        // apiregistration
        def(
            "apiregistration.k8s.io",
            "v1",
            "APIService",
            "apiservices",
            false,
        )
        .subs(&["status"]),
        // scheduling
        def(
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            "priorityclasses",
            false,
        )
        .short(&["pc"]),
        // storage
        def(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            "storageclasses",
            false,
        )
        .short(&["sc"]),
    ]
}

/// The response kind of a named subresource of `kind`.
fn subresource_of(d: &Def, name: &str) -> Subresource {
    let (group, version, kind, verbs): (&str, &str, &str, &[&str]) = match name {
        "status" => (d.group, d.version, d.kind, &["get", "patch", "update"]),
        "scale" => ("autoscaling", "v1", "Scale", &["get", "patch", "update"]),
        "eviction" => ("policy", "v1", "Eviction", &["create"]),
        "binding" => ("", "v1", "Binding", &["create"]),
        "token" => ("authentication.k8s.io", "v1", "TokenRequest", &["create"]),
        "log" => ("", "v1", "Pod", &["get"]),
        "exec" | "attach" | "portforward" => ("", "v1", "PodExecOptions", &["create", "get"]),
        "proxy" => (
            "",
            "v1",
            match d.kind {
                "Node" => "NodeProxyOptions",
                "Service" => "ServiceProxyOptions",
                _ => "PodProxyOptions",
            },
            &["create", "delete", "get", "patch", "update"],
        ),
        "finalize" => ("", "v1", "Namespace", &["update"]),
        "ephemeralcontainers" | "resize" => ("", "v1", "Pod", &["get", "patch", "update"]),
        _ => (d.group, d.version, d.kind, &["get"]),
    };
    let kind = match (name, d.kind) {
        ("exec", _) => "PodExecOptions",
        ("attach", _) => "PodAttachOptions",
        ("portforward", _) => "PodPortForwardOptions",
        _ => kind,
    };
    Subresource {
        name: name.to_string(),
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
    }
}

fn build(d: &Def) -> ResourceInfo {
    let verbs: &[&str] = if d.create_only {
        CREATE_ONLY
    } else if d.kind == "ComponentStatus" {
        &["get", "list"]
    } else if d.kind == "Namespace" {
        // Namespaces have no deletecollection in kube-apiserver: deleting every namespace at
        // once (and everything in them) is not an operation it offers.
        &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ]
    } else {
        ALL_VERBS
    };
    ResourceInfo {
        group: d.group.to_string(),
        version: d.version.to_string(),
        kind: d.kind.to_string(),
        plural: d.plural.to_string(),
        singular: d.kind.to_lowercase(),
        short_names: d.short.iter().map(|s| s.to_string()).collect(),
        categories: if d.all {
            vec!["all".to_string()]
        } else {
            Vec::new()
        },
        namespaced: d.namespaced,
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        subresources: d.subs.iter().map(|s| subresource_of(d, s)).collect(),
        stored: !d.create_only && d.kind != "ComponentStatus",
        storage: match d.storage {
            Some(s) => s.to_string(),
            None if d.group.is_empty() => d.plural.to_string(),
            None => {
                // Built-in groups keep kube's flat layout; the HPA versions share one prefix.
                d.plural.to_string()
            }
        },
    }
}

/// All served resources, keyed by (group, version, plural). Cheap to clone (an `Arc`).
#[derive(Clone, Debug)]
pub struct Registry {
    inner: Arc<RwLock<Vec<ResourceInfo>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// The registry of built-in Kubernetes resources.
    pub fn builtin() -> Self {
        let list = builtin_defs().iter().map(build).collect();
        Registry {
            inner: Arc::new(RwLock::new(list)),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<ResourceInfo>> {
        // A panic while holding the lock cannot leave the list half-written (writes replace
        // whole entries), so a poisoned lock is still safe to read.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Add or replace a resource (used for CRDs).
    pub fn insert(&self, info: ResourceInfo) {
        let mut list = self.inner.write().unwrap_or_else(|e| e.into_inner());
        list.retain(|r| {
            !(r.group == info.group && r.version == info.version && r.plural == info.plural)
        });
        list.push(info);
    }

    /// Remove every version of a group's resource (used when a CRD goes away).
    pub fn remove(&self, group: &str, plural: &str) {
        let mut list = self.inner.write().unwrap_or_else(|e| e.into_inner());
        list.retain(|r| !(r.group == group && r.plural == plural));
    }

    /// Look a resource up by URL parts.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<ResourceInfo> {
        self.read()
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    }

    /// Look a resource up by group, version and kind.
    pub fn lookup_kind(&self, group: &str, version: &str, kind: &str) -> Option<ResourceInfo> {
        self.read()
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
            .cloned()
    }

    /// Whether the group/version is served at all.
    pub fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.read()
            .iter()
            .any(|r| r.group == group && r.version == version)
    }

    /// Every resource, in registration order.
    pub fn all(&self) -> Vec<ResourceInfo> {
        self.read().clone()
    }

    /// Groups in discovery order, each with its versions in preference order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut order: Vec<String> = Vec::new();
        let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in self.read().iter() {
            if !versions.contains_key(&r.group) {
                order.push(r.group.clone());
            }
            let v = versions.entry(r.group.clone()).or_default();
            if !v.contains(&r.version) {
                v.push(r.version.clone());
            }
        }
        order
            .into_iter()
            .map(|g| {
                let v = versions.remove(&g).unwrap_or_default();
                (g, v)
            })
            .collect()
    }

    /// Resources of one group/version.
    pub fn resources_of(&self, group: &str, version: &str) -> Vec<ResourceInfo> {
        self.read()
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_lookup_and_keys() {
        let reg = Registry::builtin();
        let pods = reg.lookup("", "v1", "pods").expect("pods served");
        assert_eq!(pods.kind, "Pod");
        assert!(pods.namespaced);
        assert_eq!(
            pods.key(Some("default"), "web"),
            "/registry/pods/default/web"
        );
        assert_eq!(pods.prefix(None), "/registry/pods/");
        assert_eq!(pods.qualified_resource(), "pods");
        let deploy = reg
            .lookup("apps", "v1", "deployments")
            .expect("deployments");
        assert_eq!(deploy.qualified_resource(), "deployments.apps");
        assert_eq!(deploy.qualified_kind(), "Deployment.apps");
        assert_eq!(
            deploy.subresource("scale").map(|s| s.kind.as_str()),
            Some("Scale")
        );
        let ns = reg.lookup("", "v1", "namespaces").expect("namespaces");
        assert_eq!(
            ns.key(Some("ignored"), "default"),
            "/registry/namespaces/default"
        );
    }

    #[test]
    fn all_category_matches_kubernetes() {
        let reg = Registry::builtin();
        let mut all: Vec<String> = reg
            .all()
            .into_iter()
            .filter(|r| r.categories.iter().any(|c| c == "all"))
            .map(|r| r.plural)
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(
            all,
            [
                "cronjobs",
                "daemonsets",
                "deployments",
                "horizontalpodautoscalers",
                "jobs",
                "pods",
                "replicasets",
                "replicationcontrollers",
                "services",
                "statefulsets"
            ]
        );
    }

    #[test]
    fn groups_keep_preferred_version_first() {
        let reg = Registry::builtin();
        let groups = reg.groups();
        let autoscaling = groups
            .iter()
            .find(|(g, _)| g == "autoscaling")
            .expect("autoscaling");
        assert_eq!(autoscaling.1, vec!["v2".to_string(), "v1".to_string()]);
        assert_eq!(groups[0].0, "");
    }
}
