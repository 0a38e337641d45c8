//! version, api-versions, api-resources, explain.

use crate::support::shared;

#[test]
fn version_reports_server() {
    let k = shared().kubectl();
    let out = k.run(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(out.ok()).expect("json");
    assert_eq!(v["serverVersion"]["major"], "1");
    assert_eq!(v["serverVersion"]["minor"], "37");
    assert!(v["serverVersion"]["gitVersion"]
        .as_str()
        .unwrap()
        .starts_with("v1.37.0"));
    assert!(
        !out.stderr.contains("WARNING"),
        "no version skew warning: {}",
        out.stderr
    );
}

#[test]
fn api_versions_lists_groups() {
    let k = shared().kubectl();
    let out = k.run(&["api-versions"]).ok().to_string();
    for gv in [
        "v1",
        "apps/v1",
        "batch/v1",
        "autoscaling/v1",
        "autoscaling/v2",
        "networking.k8s.io/v1",
        "storage.k8s.io/v1",
        "rbac.authorization.k8s.io/v1",
        "coordination.k8s.io/v1",
        "discovery.k8s.io/v1",
        "events.k8s.io/v1",
        "policy/v1",
        "scheduling.k8s.io/v1",
    ] {
        assert!(out.lines().any(|l| l == gv), "{gv} missing from:\n{out}");
    }
}

#[test]
fn api_resources_match_a_real_server() {
    let k = shared().kubectl();
    let out = k.run(&["api-resources", "--no-headers"]).ok().to_string();
    // name, shortnames, apiversion, namespaced, kind — as a v1.37 kube-apiserver lists them.
    let expected = [
        ("bindings", "", "v1", "true", "Binding"),
        ("componentstatuses", "cs", "v1", "false", "ComponentStatus"),
        ("configmaps", "cm", "v1", "true", "ConfigMap"),
        ("endpoints", "ep", "v1", "true", "Endpoints"),
        ("events", "ev", "v1", "true", "Event"),
        ("limitranges", "limits", "v1", "true", "LimitRange"),
        ("namespaces", "ns", "v1", "false", "Namespace"),
        ("nodes", "no", "v1", "false", "Node"),
        (
            "persistentvolumeclaims",
            "pvc",
            "v1",
            "true",
            "PersistentVolumeClaim",
        ),
        ("persistentvolumes", "pv", "v1", "false", "PersistentVolume"),
        ("pods", "po", "v1", "true", "Pod"),
        ("podtemplates", "", "v1", "true", "PodTemplate"),
        (
            "replicationcontrollers",
            "rc",
            "v1",
            "true",
            "ReplicationController",
        ),
        ("resourcequotas", "quota", "v1", "true", "ResourceQuota"),
        ("secrets", "", "v1", "true", "Secret"),
        ("serviceaccounts", "sa", "v1", "true", "ServiceAccount"),
        ("services", "svc", "v1", "true", "Service"),
        (
            "controllerrevisions",
            "",
            "apps/v1",
            "true",
            "ControllerRevision",
        ),
        ("daemonsets", "ds", "apps/v1", "true", "DaemonSet"),
        ("deployments", "deploy", "apps/v1", "true", "Deployment"),
        ("replicasets", "rs", "apps/v1", "true", "ReplicaSet"),
        ("statefulsets", "sts", "apps/v1", "true", "StatefulSet"),
        (
            "horizontalpodautoscalers",
            "hpa",
            "autoscaling/v2",
            "true",
            "HorizontalPodAutoscaler",
        ),
        ("cronjobs", "cj", "batch/v1", "true", "CronJob"),
        ("jobs", "", "batch/v1", "true", "Job"),
        ("leases", "", "coordination.k8s.io/v1", "true", "Lease"),
        (
            "endpointslices",
            "",
            "discovery.k8s.io/v1",
            "true",
            "EndpointSlice",
        ),
        ("events", "ev", "events.k8s.io/v1", "true", "Event"),
        (
            "ingressclasses",
            "",
            "networking.k8s.io/v1",
            "false",
            "IngressClass",
        ),
        (
            "ingresses",
            "ing",
            "networking.k8s.io/v1",
            "true",
            "Ingress",
        ),
        (
            "networkpolicies",
            "netpol",
            "networking.k8s.io/v1",
            "true",
            "NetworkPolicy",
        ),
        (
            "poddisruptionbudgets",
            "pdb",
            "policy/v1",
            "true",
            "PodDisruptionBudget",
        ),
        (
            "clusterrolebindings",
            "",
            "rbac.authorization.k8s.io/v1",
            "false",
            "ClusterRoleBinding",
        ),
        (
            "clusterroles",
            "",
            "rbac.authorization.k8s.io/v1",
            "false",
            "ClusterRole",
        ),
        (
            "rolebindings",
            "",
            "rbac.authorization.k8s.io/v1",
            "true",
            "RoleBinding",
        ),
        ("roles", "", "rbac.authorization.k8s.io/v1", "true", "Role"),
        (
            "priorityclasses",
            "pc",
            "scheduling.k8s.io/v1",
            "false",
            "PriorityClass",
        ),
        (
            "storageclasses",
            "sc",
            "storage.k8s.io/v1",
            "false",
            "StorageClass",
        ),
    ];
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    for (name, short, gv, namespaced, kind) in expected {
        let want: Vec<&str> = [name, short, gv, namespaced, kind]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        assert!(rows.contains(&want), "no row {want:?} in:\n{out}");
    }
    let wide = k
        .run(&["api-resources", "-o", "wide", "--api-group=apps"])
        .ok()
        .to_string();
    let deploy = wide
        .lines()
        .find(|l| l.starts_with("deployments"))
        .expect("deployments row");
    assert!(
        deploy.contains("create,delete,deletecollection,get,list,patch,update,watch"),
        "{deploy}"
    );
    assert!(deploy.contains("all"), "{deploy}");
}

#[test]
fn explain_walks_openapi() {
    let k = shared().kubectl();
    let out = k.run(&["explain", "deployment.spec"]).ok().to_string();
    assert!(out.contains("GROUP:      apps"), "{out}");
    assert!(out.contains("KIND:       Deployment"), "{out}");
    assert!(out.contains("FIELD: spec <DeploymentSpec>"), "{out}");
    assert!(out.contains("replicas\t<integer>"), "{out}");
    assert!(
        out.contains("template\t<PodTemplateSpec> -required-"),
        "{out}"
    );
    let pod = k
        .run(&["explain", "pods.spec.containers.ports"])
        .ok()
        .to_string();
    assert!(pod.contains("containerPort\t<integer> -required-"), "{pod}");
}
