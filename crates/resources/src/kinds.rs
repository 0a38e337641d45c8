//! The built-in kinds, one definition each: names, scope, subresources and the strategy
//! that says how the API server defaults, validates, prints and selects the kind's objects.
//! A kind is read or added here, in one place.

use super::defaults::{self, core as dc};
use super::lifecycle;
use super::printers::{
    apps::Kind as A, batch::Kind as B, core::Kind as C, other::Kind as O, Printer,
};
use super::registry::{ResourceInfo, Subresource, ALL_VERBS, CREATE_ONLY};
use super::strategy::{Field, Strategy};
use super::validation::{self, core as vc, NameRule};

/// Every built-in resource, in discovery order.
pub(super) fn builtin() -> Vec<ResourceInfo> {
    builtin_defs().iter().map(build).collect()
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
    strategy: Strategy,
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
        strategy: Strategy::PLAIN,
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
    const fn strategy(mut self, s: Strategy) -> Self {
        self.strategy = s;
        self
    }
}

/// A kind with its own Table printer and otherwise plain behaviour.
fn printed(p: impl Into<Printer>) -> Strategy {
    Strategy {
        printer: Some(p.into()),
        ..Strategy::PLAIN
    }
}

/// Both served versions of HorizontalPodAutoscaler.
const HPA: Strategy = Strategy {
    defaults: defaults::other::horizontal_pod_autoscaler,
    validate: validation::other::horizontal_pod_autoscaler,
    printer: Some(Printer::Other(O::HorizontalPodAutoscaler)),
    generation: true,
    ..Strategy::PLAIN
};

/// What field selectors may name on a Pod (pod's GetAttrs).
const POD_FIELDS: &[Field] = &[
    Field::Text("spec.nodeName"),
    Field::Text("spec.restartPolicy"),
    Field::Text("spec.schedulerName"),
    Field::Text("spec.serviceAccountName"),
    Field::Flag("spec.hostNetwork"),
    Field::Text("status.phase"),
    Field::Text("status.podIP"),
    Field::Text("status.nominatedNodeName"),
];

/// What field selectors may name on a core Event.
const EVENT_FIELDS: &[Field] = &[
    Field::Text("involvedObject.kind"),
    Field::Text("involvedObject.namespace"),
    Field::Text("involvedObject.name"),
    Field::Text("involvedObject.uid"),
    Field::Text("involvedObject.apiVersion"),
    Field::Text("involvedObject.resourceVersion"),
    Field::Text("involvedObject.fieldPath"),
    Field::Text("reason"),
    Field::Text("reportingComponent"),
    Field::Text("type"),
    Field::Alias("source", "source.component"),
];

/// The built-in resources, in discovery order (first version of a group is preferred).
fn builtin_defs() -> Vec<Def> {
    vec![
        // core/v1
        def("", "v1", "Binding", "bindings", true).create_only(),
        def("", "v1", "ComponentStatus", "componentstatuses", false)
            .short(&["cs"])
            .strategy(printed(C::ComponentStatus)),
        def("", "v1", "ConfigMap", "configmaps", true)
            .short(&["cm"])
            .strategy(Strategy {
                validate: vc::config_map,
                validate_update: vc::config_map_update,
                ..printed(C::ConfigMap)
            }),
        def("", "v1", "Endpoints", "endpoints", true)
            .short(&["ep"])
            .strategy(Strategy {
                defaults: dc::endpoints,
                ..printed(C::Endpoints)
            }),
        def("", "v1", "Event", "events", true)
            .short(&["ev"])
            .strategy(Strategy {
                fields: EVENT_FIELDS,
                ..printed(C::Event)
            }),
        def("", "v1", "LimitRange", "limitranges", true).short(&["limits"]),
        def("", "v1", "Namespace", "namespaces", false)
            .short(&["ns"])
            .subs(&["finalize", "status"])
            .strategy(Strategy {
                name_rule: NameRule::Label,
                defaults: dc::namespace,
                prepare_create: lifecycle::namespace_create,
                prepare_update: lifecycle::namespace_update,
                validate: vc::namespace,
                fields: &[Field::Text("status.phase")],
                ..printed(C::Namespace)
            }),
        def("", "v1", "Node", "nodes", false)
            .short(&["no"])
            .subs(&["proxy", "status"])
            .strategy(Strategy {
                fields: &[Field::Flag("spec.unschedulable")],
                ..printed(C::Node)
            }),
        def(
            "",
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
        )
        .short(&["pvc"])
        .subs(&["status"])
        .strategy(Strategy {
            defaults: dc::persistent_volume_claim,
            validate: vc::persistent_volume_claim,
            validate_update: vc::persistent_volume_claim_update,
            fields: &[Field::Text("spec.volumeName")],
            ..printed(C::PersistentVolumeClaim)
        }),
        def("", "v1", "PersistentVolume", "persistentvolumes", false)
            .short(&["pv"])
            .subs(&["status"])
            .strategy(Strategy {
                defaults: dc::persistent_volume,
                fields: &[Field::Alias("name", "metadata.name")],
                ..printed(C::PersistentVolume)
            }),
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
            ])
            .strategy(Strategy {
                defaults: dc::pod,
                prepare_create: lifecycle::pod_create,
                grace_period: lifecycle::pod_grace,
                validate: vc::pod,
                validate_update: vc::pod_update,
                generation: true,
                fields: POD_FIELDS,
                ..printed(C::Pod)
            }),
        def("", "v1", "PodTemplate", "podtemplates", true).strategy(Strategy {
            defaults: dc::pod_template,
            validate: vc::pod_template,
            ..printed(C::PodTemplate)
        }),
        def(
            "",
            "v1",
            "ReplicationController",
            "replicationcontrollers",
            true,
        )
        .short(&["rc"])
        .all()
        .subs(&["scale", "status"])
        .strategy(Strategy {
            defaults: dc::replication_controller,
            validate: vc::replication_controller,
            generation: true,
            fields: &[Field::Text("status.replicas")],
            ..printed(C::ReplicationController)
        }),
        def("", "v1", "ResourceQuota", "resourcequotas", true)
            .short(&["quota"])
            .subs(&["status"])
            .strategy(printed(C::ResourceQuota)),
        def("", "v1", "Secret", "secrets", true).strategy(Strategy {
            defaults: dc::secret,
            validate: vc::secret,
            validate_update: vc::secret_update,
            fields: &[Field::Text("type")],
            ..printed(C::Secret)
        }),
        def("", "v1", "ServiceAccount", "serviceaccounts", true)
            .short(&["sa"])
            .subs(&["token"])
            .strategy(printed(C::ServiceAccount)),
        def("", "v1", "Service", "services", true)
            .short(&["svc"])
            .all()
            .subs(&["proxy", "status"])
            .strategy(Strategy {
                name_rule: NameRule::Dns1035,
                defaults: dc::service,
                prepare_create: lifecycle::service_create,
                prepare_update: lifecycle::service_update,
                validate: vc::service,
                validate_update: vc::service_update,
                fields: &[Field::Text("spec.clusterIP"), Field::Text("spec.type")],
                ..printed(C::Service)
            }),
        // apps/v1
        def(
            "apps",
            "v1",
            "ControllerRevision",
            "controllerrevisions",
            true,
        )
        .strategy(printed(A::ControllerRevision)),
        def("apps", "v1", "DaemonSet", "daemonsets", true)
            .short(&["ds"])
            .all()
            .subs(&["status"])
            .strategy(Strategy {
                defaults: defaults::apps::daemon_set,
                validate: validation::apps::daemon_set,
                validate_update: validation::apps::selector_update,
                generation: true,
                ..printed(A::DaemonSet)
            }),
        def("apps", "v1", "Deployment", "deployments", true)
            .short(&["deploy"])
            .all()
            .subs(&["scale", "status"])
            .strategy(Strategy {
                defaults: defaults::apps::deployment,
                validate: validation::apps::deployment,
                validate_update: validation::apps::selector_update,
                generation: true,
                ..printed(A::Deployment)
            }),
        def("apps", "v1", "ReplicaSet", "replicasets", true)
            .short(&["rs"])
            .all()
            .subs(&["scale", "status"])
            .strategy(Strategy {
                defaults: defaults::apps::replica_set,
                validate: validation::apps::replica_set,
                validate_update: validation::apps::selector_update,
                generation: true,
                fields: &[Field::Text("status.replicas")],
                ..printed(A::ReplicaSet)
            }),
        def("apps", "v1", "StatefulSet", "statefulsets", true)
            .short(&["sts"])
            .all()
            .subs(&["scale", "status"])
            .strategy(Strategy {
                name_rule: NameRule::Label,
                defaults: defaults::apps::stateful_set,
                validate: validation::apps::stateful_set,
                validate_update: validation::apps::stateful_set_update,
                generation: true,
                ..printed(A::StatefulSet)
            }),
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
        .subs(&["status"])
        .strategy(HPA),
        def(
            "autoscaling",
            "v1",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        )
        .short(&["hpa"])
        .all()
        .subs(&["status"])
        .strategy(HPA),
        // batch/v1
        def("batch", "v1", "CronJob", "cronjobs", true)
            .short(&["cj"])
            .all()
            .subs(&["status"])
            .strategy(Strategy {
                defaults: defaults::batch::cron_job,
                validate: validation::batch::cron_job,
                generation: true,
                ..printed(B::CronJob)
            }),
        def("batch", "v1", "Job", "jobs", true)
            .all()
            .subs(&["status"])
            .strategy(Strategy {
                defaults: defaults::batch::job,
                prepare_create: defaults::batch::job_prepare,
                validate: validation::batch::job,
                validate_update: validation::batch::job_update,
                generation: true,
                fields: &[Field::Text("status.successful")],
                ..printed(B::Job)
            }),
        // coordination
        def("coordination.k8s.io", "v1", "Lease", "leases", true).strategy(printed(O::Lease)),
        // discovery
        def(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            "endpointslices",
            true,
        )
        .strategy(Strategy {
            defaults: defaults::other::endpoint_slice,
            ..printed(O::EndpointSlice)
        }),
        // events.k8s.io shares storage with core events
        def("events.k8s.io", "v1", "Event", "events", true)
            .short(&["ev"])
            .storage("events")
            .strategy(printed(C::Event)),
        // networking
        def(
            "networking.k8s.io",
            "v1",
            "IngressClass",
            "ingressclasses",
            false,
        )
        .strategy(Strategy {
            validate: validation::networking::ingress_class,
            ..printed(O::IngressClass)
        }),
        def("networking.k8s.io", "v1", "Ingress", "ingresses", true)
            .short(&["ing"])
            .subs(&["status"])
            .strategy(Strategy {
                validate: validation::networking::ingress,
                generation: true,
                ..printed(O::Ingress)
            }),
        def(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        )
        .short(&["netpol"])
        .strategy(Strategy {
            defaults: defaults::networking::network_policy,
            validate: validation::networking::network_policy,
            generation: true,
            ..printed(O::NetworkPolicy)
        }),
        // policy
        def(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
        )
        .short(&["pdb"])
        .subs(&["status"])
        .strategy(Strategy {
            validate: validation::other::pod_disruption_budget,
            generation: true,
            ..printed(O::PodDisruptionBudget)
        }),
        // rbac
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        )
        .strategy(Strategy {
            name_rule: NameRule::PathSegment,
            defaults: defaults::rbac::binding,
            validate: validation::rbac::cluster_role_binding,
            validate_update: validation::rbac::role_ref_update,
            ..printed(O::ClusterRoleBinding)
        }),
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            false,
        )
        .strategy(Strategy {
            name_rule: NameRule::PathSegment,
            validate: validation::rbac::cluster_role,
            ..Strategy::PLAIN
        }),
        def(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            true,
        )
        .strategy(Strategy {
            name_rule: NameRule::PathSegment,
            defaults: defaults::rbac::binding,
            validate: validation::rbac::role_binding,
            validate_update: validation::rbac::role_ref_update,
            ..printed(O::RoleBinding)
        }),
        def("rbac.authorization.k8s.io", "v1", "Role", "roles", true).strategy(Strategy {
            name_rule: NameRule::PathSegment,
            validate: validation::rbac::role,
            ..Strategy::PLAIN
        }),
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
        .storage("apiextensions.k8s.io/customresourcedefinitions")
        .strategy(Strategy {
            generation: true,
            ..Strategy::PLAIN
        }),
        // apiregistration
        def(
            "apiregistration.k8s.io",
            "v1",
            "APIService",
            "apiservices",
            false,
        )
        .subs(&["status"])
        .strategy(Strategy {
            name_rule: NameRule::PathSegment,
            ..printed(O::ApiService)
        }),
        // scheduling
        def(
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            "priorityclasses",
            false,
        )
        .short(&["pc"])
        .strategy(Strategy {
            defaults: defaults::other::priority_class,
            validate: validation::other::priority_class,
            validate_update: validation::other::priority_class_update,
            ..printed(O::PriorityClass)
        }),
        // storage
        def(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            "storageclasses",
            false,
        )
        .short(&["sc"])
        .strategy(Strategy {
            defaults: defaults::other::storage_class,
            validate: validation::other::storage_class,
            validate_update: validation::other::storage_class_update,
            ..printed(O::StorageClass)
        }),
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
        strategy: d.strategy,
    }
}

/// The strategy of a built-in kind, whatever version serves it.
pub fn strategy(group: &str, kind: &str) -> Option<Strategy> {
    builtin_defs()
        .into_iter()
        .find(|d| d.group == group && d.kind == kind)
        .map(|d| d.strategy)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds whose strategies keep `metadata.generation`, as upstream's do.
    #[test]
    fn generation_follows_the_upstream_strategies() {
        let mut with: Vec<String> = builtin_defs()
            .iter()
            .filter(|d| d.strategy.generation)
            .map(|d| format!("{}/{}", d.group, d.kind))
            .collect();
        with.dedup();
        assert_eq!(
            with,
            [
                "/Pod",
                "/ReplicationController",
                "apps/DaemonSet",
                "apps/Deployment",
                "apps/ReplicaSet",
                "apps/StatefulSet",
                "autoscaling/HorizontalPodAutoscaler",
                "batch/CronJob",
                "batch/Job",
                "networking.k8s.io/Ingress",
                "networking.k8s.io/NetworkPolicy",
                "policy/PodDisruptionBudget",
                "apiextensions.k8s.io/CustomResourceDefinition",
            ]
        );
    }

    #[test]
    fn one_strategy_per_kind_across_versions() {
        let hpa = |v: &str| {
            builtin_defs()
                .into_iter()
                .find(|d| d.kind == "HorizontalPodAutoscaler" && d.version == v)
                .map(|d| d.strategy)
        };
        assert_eq!(hpa("v1"), hpa("v2"));
        assert_eq!(
            strategy("autoscaling", "HorizontalPodAutoscaler"),
            hpa("v2")
        );
        assert_eq!(strategy("example.com", "Widget"), None);
        let svc = strategy("", "Service").expect("services");
        assert_eq!(svc.name_rule, NameRule::Dns1035);
        assert_eq!(svc.field("spec.type"), Some(Field::Text("spec.type")));
        assert_eq!(svc.field("status.phase"), None);
    }
}
