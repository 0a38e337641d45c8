//! Printer tests for the autoscaling, networking, storage, rbac and smaller groups.

use super::*;
use serde_json::json;

#[test]
fn hpa_v2_and_v1() {
    let v2 = json!({"apiVersion": "autoscaling/v2", "metadata": meta("web"),
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 10,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                             {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}}]},
        "status": {"currentReplicas": 2, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 20, "averageValue": "10m"}}}]}});
    assert_eq!(
        header("autoscaling", "HorizontalPodAutoscaler"),
        [
            "Name",
            "Reference",
            "Targets",
            "MinPods",
            "MaxPods",
            "Replicas",
            "Age"
        ]
    );
    assert_eq!(
        row("autoscaling", "HorizontalPodAutoscaler", &v2),
        vec![
            json!("web"),
            json!("Deployment/web"),
            json!("cpu: 20%/50%, memory: <unknown>/100Mi"),
            json!("1"),
            json!(10),
            json!(2),
            json!("60m")
        ]
    );
    let v1 = json!({"apiVersion": "autoscaling/v1", "metadata": meta("web"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80}});
    let c = row("autoscaling", "HorizontalPodAutoscaler", &v1);
    assert_eq!(
        (&c[2], &c[3], &c[4], &c[5]),
        (
            &json!("cpu: <unknown>/80%"),
            &json!("<unset>"),
            &json!(5),
            &json!(0)
        )
    );
    let mut v1b = v1.clone();
    v1b["status"] = json!({"currentReplicas": 1, "currentCPUUtilizationPercentage": 12});
    assert_eq!(
        row("autoscaling", "HorizontalPodAutoscaler", &v1b)[2],
        json!("cpu: 12%/80%")
    );
    let many = json!({"spec": {"metrics": [
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
        {"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "30"}}},
        {"type": "Object", "object": {"metric": {"name": "hits"}, "target": {"type": "AverageValue", "averageValue": "2"}}},
        {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {"type": "Utilization"}}}]},
        "status": {"currentMetrics": [{"type": "Pods", "pods": {"current": {"averageValue": "500"}}},
                                      {"type": "External", "external": {"current": {"value": "7"}}}]}});
    assert_eq!(
        row("autoscaling", "HorizontalPodAutoscaler", &many)[2],
        json!("500/1k, 7/30 + 2 more...")
    );
    let none = json!({"spec": {"metrics": []}});
    assert_eq!(
        row("autoscaling", "HorizontalPodAutoscaler", &none)[2],
        json!("<none>")
    );
    let ctr = json!({"spec": {"metrics": [{"type": "ContainerResource", "containerResource": {"name": "cpu", "target": {"type": "Utilization"}}}]}});
    assert_eq!(
        row("autoscaling", "HorizontalPodAutoscaler", &ctr)[2],
        json!("cpu: <unknown>/<auto>")
    );
}

#[test]
fn networking() {
    let ing = json!({"metadata": meta("web"), "spec": {"ingressClassName": "nginx",
        "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}, {}, {"host": "c.example.com"}, {"host": "d.example.com"}],
        "tls": [{"hosts": ["a.example.com"]}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}}});
    assert_eq!(
        header("networking.k8s.io", "Ingress"),
        ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    );
    assert_eq!(
        row("networking.k8s.io", "Ingress", &ing),
        vec![
            json!("web"),
            json!("nginx"),
            json!("a.example.com,b.example.com,c.example.com + 2 more..."),
            json!("192.168.49.2"),
            json!("80, 443"),
            json!("60m")
        ]
    );
    let bare = json!({"metadata": meta("x"), "spec": {"rules": [{"http": {}}]}});
    let c = row("networking.k8s.io", "Ingress", &bare);
    assert_eq!(
        (&c[1], &c[2], &c[3], &c[4]),
        (&json!("<none>"), &json!("*"), &json!(""), &json!("80"))
    );
    let class = json!({"metadata": meta("nginx"), "spec": {"controller": "k8s.io/ingress-nginx",
        "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
    assert_eq!(
        row("networking.k8s.io", "IngressClass", &class),
        vec![
            json!("nginx"),
            json!("k8s.io/ingress-nginx"),
            json!("IngressParameters.k8s.example.com/external-lb"),
            json!("60m")
        ]
    );
    let mut marked = class.clone();
    marked["metadata"]["annotations"] =
        json!({"ingressclass.kubernetes.io/is-default-class": "true"});
    assert_eq!(
        row("networking.k8s.io", "IngressClass", &marked)[0],
        json!("nginx (default)")
    );
    let np =
        json!({"metadata": meta("deny"), "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}});
    assert_eq!(
        row("networking.k8s.io", "NetworkPolicy", &np),
        vec![json!("deny"), json!("<none>"), json!("60m")]
    );
    let np2 =
        json!({"metadata": meta("db"), "spec": {"podSelector": {"matchLabels": {"role": "db"}}}});
    assert_eq!(
        row("networking.k8s.io", "NetworkPolicy", &np2)[1],
        json!("role=db")
    );
}

#[test]
fn storage_class() {
    let sc = json!({"metadata": {"name": "standard", "creationTimestamp": "2024-05-01T11:00:00Z",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "k8s.io/minikube-hostpath", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"});
    assert_eq!(
        row("storage.k8s.io", "StorageClass", &sc),
        vec![
            json!("standard (default)"),
            json!("k8s.io/minikube-hostpath"),
            json!("Delete"),
            json!("Immediate"),
            json!(false),
            json!("60m")
        ]
    );
    let other = json!({"metadata": {"name": "fast"}, "provisioner": "csi", "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true});
    let c = row("storage.k8s.io", "StorageClass", &other);
    assert_eq!(
        (&c[0], &c[2], &c[3], &c[4]),
        (
            &json!("fast"),
            &json!("Delete"),
            &json!("WaitForFirstConsumer"),
            &json!(true)
        )
    );
}

#[test]
fn rbac_bindings() {
    let rb = json!({"metadata": meta("read-pods"), "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "User", "name": "jane"}, {"kind": "Group", "name": "devs"}, {"kind": "User", "name": "bob"},
                     {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}]});
    assert_eq!(
        header("rbac.authorization.k8s.io", "RoleBinding"),
        ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
    );
    assert_eq!(
        row("rbac.authorization.k8s.io", "RoleBinding", &rb),
        vec![
            json!("read-pods"),
            json!("Role/pod-reader"),
            json!("60m"),
            json!("jane, bob"),
            json!("devs"),
            json!("kube-system/default")
        ]
    );
    let crb = json!({"metadata": meta("cluster-admin"), "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "system:masters"}]});
    assert_eq!(
        row("rbac.authorization.k8s.io", "ClusterRoleBinding", &crb),
        vec![
            json!("cluster-admin"),
            json!("ClusterRole/cluster-admin"),
            json!("60m"),
            json!(""),
            json!("system:masters"),
            json!("")
        ]
    );
}

#[test]
fn misc_groups() {
    let lease = json!({"metadata": meta("minikube"), "spec": {"holderIdentity": "minikube", "leaseDurationSeconds": 40}});
    assert_eq!(
        row("coordination.k8s.io", "Lease", &lease),
        vec![json!("minikube"), json!("minikube"), json!("60m")]
    );
    let pdb = json!({"metadata": meta("web"), "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}});
    assert_eq!(
        row("policy", "PodDisruptionBudget", &pdb),
        vec![
            json!("web"),
            json!("2"),
            json!("N/A"),
            json!(1),
            json!("60m")
        ]
    );
    let pdb2 = json!({"metadata": meta("db"), "spec": {"maxUnavailable": "25%"}});
    let c = row("policy", "PodDisruptionBudget", &pdb2);
    assert_eq!(
        (&c[1], &c[2], &c[3]),
        (&json!("N/A"), &json!("25%"), &json!(0))
    );
    let pc = json!({"metadata": {"name": "system-node-critical", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "value": 2000001000, "globalDefault": false, "preemptionPolicy": "PreemptLowerPriority"});
    assert_eq!(
        header("scheduling.k8s.io", "PriorityClass"),
        ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
    );
    assert_eq!(
        row("scheduling.k8s.io", "PriorityClass", &pc),
        vec![
            json!("system-node-critical"),
            json!(2000001000),
            json!(false),
            json!("60m"),
            json!("PreemptLowerPriority")
        ]
    );
}
