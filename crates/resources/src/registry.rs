//! The resource registry: every served kind with its names, scope, verbs and subresources.
//!
//! The built-in entries come from [`kinds`], one definition per kind; CRDs and aggregated
//! APIs add entries at run time through [`Registry::insert`].

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::kinds;
use super::strategy::Strategy;

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
    /// What the API server does differently for this kind.
    pub strategy: Strategy,
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
        self.strategy.generation
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
        let list = kinds::builtin();
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
