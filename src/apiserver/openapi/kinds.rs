//! The built-in kinds with OpenAPI schemas: their k8s-openapi types, and the schema
//! generation that writes `definitions.json`.

use std::sync::OnceLock;

use k8s_openapi::api::{
    apps::v1 as apps, authentication::v1 as authn, authorization::v1 as authz,
    autoscaling::v1 as as1, autoscaling::v2 as as2, batch::v1 as batch, coordination::v1 as coord,
    core::v1 as core, discovery::v1 as disc, events::v1 as events, networking::v1 as net,
    policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as sched, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apireg;
#[cfg(test)]
use serde_json::Value;

#[cfg(test)]
type SchemaFn = fn(&mut schemars::SchemaGenerator);

pub(super) struct KindEntry {
    pub(super) group: &'static str,
    pub(super) version: &'static str,
    pub(super) kind: &'static str,
    /// Adds the kind's schema; only the test that writes `definitions.json` runs it.
    #[cfg(test)]
    pub(super) schema: SchemaFn,
}

macro_rules! kinds {
    ($( ($g:literal, $v:literal, $k:literal, $t:ty) ),* $(,)?) => {
        pub(super) fn kind_table() -> &'static [KindEntry] {
            static TABLE: OnceLock<Vec<KindEntry>> = OnceLock::new();
            TABLE.get_or_init(|| vec![$(
                KindEntry {
                    group: $g,
                    version: $v,
                    kind: $k,
                    #[cfg(test)]
                    schema: |g| { let _ = g.subschema_for::<$t>(); },
                }
            ),*]).as_slice()
        }
        pub(super) fn definition_of(group: &str, version: &str, kind: &str) -> Option<String> {
            $(
                if group == $g && version == $v && kind == $k {
                    return Some(<$t as schemars::JsonSchema>::schema_name().into_owned());
                }
            )*
            None
        }
        /// The typed serde decode that the schema walk replaced, kept as its oracle.
        #[cfg(test)]
        pub(super) fn serde_decode(
            group: &str,
            version: &str,
            kind: &str,
            obj: &Value,
        ) -> Option<Result<Vec<String>, super::strict_tests::TypeError>> {
            $(
                if group == $g && version == $v && kind == $k {
                    return Some(super::strict_tests::serde_decode::<$t>(obj));
                }
            )*
            None
        }
    };
}

kinds![
    ("", "v1", "Namespace", core::Namespace),
    ("", "v1", "Pod", core::Pod),
    ("", "v1", "Service", core::Service),
    ("", "v1", "Endpoints", core::Endpoints),
    ("", "v1", "ConfigMap", core::ConfigMap),
    ("", "v1", "Secret", core::Secret),
    ("", "v1", "ServiceAccount", core::ServiceAccount),
    ("", "v1", "Event", core::Event),
    ("", "v1", "Node", core::Node),
    ("", "v1", "PersistentVolume", core::PersistentVolume),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        core::PersistentVolumeClaim
    ),
    (
        "",
        "v1",
        "ReplicationController",
        core::ReplicationController
    ),
    ("", "v1", "ResourceQuota", core::ResourceQuota),
    ("", "v1", "LimitRange", core::LimitRange),
    ("", "v1", "PodTemplate", core::PodTemplate),
    ("", "v1", "Binding", core::Binding),
    ("", "v1", "ComponentStatus", core::ComponentStatus),
    ("apps", "v1", "Deployment", apps::Deployment),
    ("apps", "v1", "ReplicaSet", apps::ReplicaSet),
    ("apps", "v1", "StatefulSet", apps::StatefulSet),
    ("apps", "v1", "DaemonSet", apps::DaemonSet),
    ("apps", "v1", "ControllerRevision", apps::ControllerRevision),
    ("batch", "v1", "Job", batch::Job),
    ("batch", "v1", "CronJob", batch::CronJob),
    (
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        as1::HorizontalPodAutoscaler
    ),
    ("autoscaling", "v1", "Scale", as1::Scale),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        as2::HorizontalPodAutoscaler
    ),
    ("networking.k8s.io", "v1", "Ingress", net::Ingress),
    ("networking.k8s.io", "v1", "IngressClass", net::IngressClass),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        net::NetworkPolicy
    ),
    (
        "storage.k8s.io",
        "v1",
        "StorageClass",
        storage::StorageClass
    ),
    ("rbac.authorization.k8s.io", "v1", "Role", rbac::Role),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        rbac::RoleBinding
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        rbac::ClusterRole
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        rbac::ClusterRoleBinding
    ),
    ("coordination.k8s.io", "v1", "Lease", coord::Lease),
    (
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        disc::EndpointSlice
    ),
    ("events.k8s.io", "v1", "Event", events::Event),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        policy::PodDisruptionBudget
    ),
    ("policy", "v1", "Eviction", policy::Eviction),
    (
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        sched::PriorityClass
    ),
    (
        "authentication.k8s.io",
        "v1",
        "TokenRequest",
        authn::TokenRequest
    ),
    (
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        authn::TokenReview
    ),
    (
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        authn::SelfSubjectReview
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        authz::SubjectAccessReview
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        authz::SelfSubjectAccessReview
    ),
    (
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        authz::SelfSubjectRulesReview
    ),
    (
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        authz::LocalSubjectAccessReview
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        apiext::CustomResourceDefinition
    ),
    (
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        apireg::APIService
    ),
];

/// Meta types every document refers to.
#[cfg(test)]
pub(super) fn meta_schemas(g: &mut schemars::SchemaGenerator) {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
    let _ = g.subschema_for::<meta::Status>();
    let _ = g.subschema_for::<meta::DeleteOptions>();
    let _ = g.subschema_for::<meta::Patch>();
    let _ = g.subschema_for::<meta::APIResourceList>();
}
