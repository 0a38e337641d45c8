//! Printer tests for every kind but Pod: realistic objects checked cell by cell.

use super::*;
use serde_json::json;

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}},
           "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox"}]}})
}

#[test]
fn deployment() {
    let d = json!({"metadata": meta("web"), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
                   "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
    assert_eq!(
        header("apps", "Deployment"),
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        row("apps", "Deployment", &d),
        vec![
            json!("web"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("60m"),
            json!("nginx,sidecar"),
            json!("nginx:1.25,busybox"),
            json!("app=web")
        ]
    );
    // Empty selector prints "" (selector.String()), an invalid one "<invalid>".
    let mut e = d.clone();
    e["spec"]["selector"] = json!({});
    assert_eq!(row("apps", "Deployment", &e)[7], json!(""));
    e["spec"]["selector"] = json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]});
    assert_eq!(row("apps", "Deployment", &e)[7], json!("<invalid>"));
}

#[test]
fn replicaset_statefulset_daemonset_rc() {
    let rs = json!({"metadata": meta("web-7d4b9c8f5"), "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d4b9c8f5"}}, "template": template()},
                    "status": {"replicas": 3, "readyReplicas": 3}});
    assert_eq!(
        row("apps", "ReplicaSet", &rs),
        vec![
            json!("web-7d4b9c8f5"),
            json!(3),
            json!(3),
            json!(3),
            json!("60m"),
            json!("nginx,sidecar"),
            json!("nginx:1.25,busybox"),
            json!("app=web,pod-template-hash=7d4b9c8f5")
        ]
    );
    let sts = json!({"metadata": meta("db"), "spec": {"replicas": 2, "template": template()}, "status": {"readyReplicas": 1}});
    assert_eq!(
        header("apps", "StatefulSet"),
        ["Name", "Ready", "Age", "Containers", "Images"]
    );
    assert_eq!(
        row("apps", "StatefulSet", &sts),
        vec![
            json!("db"),
            json!("1/2"),
            json!("60m"),
            json!("nginx,sidecar"),
            json!("nginx:1.25,busybox")
        ]
    );
    let ds = json!({"metadata": meta("kube-proxy"), "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                    "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.30.0"}]}}},
                    "status": {"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1}});
    assert_eq!(
        row("apps", "DaemonSet", &ds),
        vec![
            json!("kube-proxy"),
            json!(1),
            json!(1),
            json!(1),
            json!(1),
            json!(1),
            json!("kubernetes.io/os=linux"),
            json!("60m"),
            json!("kube-proxy"),
            json!("registry.k8s.io/kube-proxy:v1.30.0"),
            json!("k8s-app=kube-proxy")
        ]
    );
    let rc = json!({"metadata": meta("legacy"), "spec": {"replicas": 2, "selector": {"app": "legacy"}, "template": template()}, "status": {"replicas": 2}});
    assert_eq!(
        row("", "ReplicationController", &rc),
        vec![
            json!("legacy"),
            json!(2),
            json!(2),
            json!(0),
            json!("60m"),
            json!("nginx,sidecar"),
            json!("nginx:1.25,busybox"),
            json!("app=legacy")
        ]
    );
    let pt = json!({"metadata": meta("tpl"), "template": template()});
    assert_eq!(
        row("", "PodTemplate", &pt),
        vec![
            json!("tpl"),
            json!("nginx,sidecar"),
            json!("nginx:1.25,busybox"),
            json!("app=web")
        ]
    );
}

#[test]
fn controller_revision() {
    let cr = json!({"metadata": {"name": "db-5f7c9", "creationTimestamp": "2024-05-01T11:00:00Z",
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true, "uid": "u"}]},
        "revision": 2});
    assert_eq!(
        row("apps", "ControllerRevision", &cr),
        vec![
            json!("db-5f7c9"),
            json!("statefulset.apps/db"),
            json!(2),
            json!("60m")
        ]
    );
    let orphan = json!({"metadata": {"name": "x"}, "revision": 1});
    assert_eq!(
        row("apps", "ControllerRevision", &orphan)[1],
        json!("<none>")
    );
}

#[test]
fn jobs() {
    let job = json!({"metadata": meta("pi"), "spec": {"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}}, "template": template()},
        "status": {"succeeded": 1, "startTime": "2024-05-01T11:00:00Z", "completionTime": "2024-05-01T11:00:12Z",
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}});
    assert_eq!(
        header("batch", "Job"),
        [
            "Name",
            "Status",
            "Completions",
            "Duration",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        row("batch", "Job", &job),
        vec![
            json!("pi"),
            json!("Complete"),
            json!("1/1"),
            json!("12s"),
            json!("60m"),
            json!("nginx,sidecar"),
            json!("nginx:1.25,busybox"),
            json!("batch.kubernetes.io/controller-uid=abc")
        ]
    );
    let running = json!({"metadata": meta("work"), "spec": {"parallelism": 3, "template": template()},
        "status": {"active": 3, "startTime": "2024-05-01T11:57:00Z"}});
    let cells = row("batch", "Job", &running);
    assert_eq!(
        (&cells[1], &cells[2], &cells[3]),
        (&json!("Running"), &json!("0/1 of 3"), &json!("3m"))
    );
    let mut failed = running.clone();
    failed["status"]["conditions"] =
        json!([{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]);
    assert_eq!(row("batch", "Job", &failed)[1], json!("Failed"));
    failed["status"]["conditions"] = json!([{"type": "FailureTarget", "status": "True"}]);
    assert_eq!(row("batch", "Job", &failed)[1], json!("FailureTarget"));
    failed["status"]["conditions"] = json!([{"type": "Suspended", "status": "True"}]);
    assert_eq!(row("batch", "Job", &failed)[1], json!("Suspended"));
    failed["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
    assert_eq!(row("batch", "Job", &failed)[1], json!("Terminating"));
    let unstarted = json!({"metadata": meta("new"), "spec": {"template": template()}});
    assert_eq!(row("batch", "Job", &unstarted)[3], json!(""));
    assert_eq!(row("batch", "Job", &unstarted)[7], json!("<none>"));

    let cj = json!({"metadata": meta("hello"), "spec": {"schedule": "*/1 * * * *", "suspend": false,
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "hello", "image": "busybox:1.28"}]}}}}},
        "status": {"active": [{"name": "hello-28571234"}], "lastScheduleTime": "2024-05-01T11:59:00Z"}});
    assert_eq!(
        row("batch", "CronJob", &cj),
        vec![
            json!("hello"),
            json!("*/1 * * * *"),
            json!("<none>"),
            json!("False"),
            json!(1),
            json!("60s"),
            json!("60m"),
            json!("hello"),
            json!("busybox:1.28"),
            json!("<none>")
        ]
    );
    let cj2 =
        json!({"metadata": meta("tz"), "spec": {"schedule": "@daily", "timeZone": "Etc/UTC"}});
    let c = row("batch", "CronJob", &cj2);
    assert_eq!(
        (&c[2], &c[3], &c[4], &c[5]),
        (
            &json!("Etc/UTC"),
            &json!("<unset>"),
            &json!(0),
            &json!("<none>")
        )
    );
}

#[test]
fn services() {
    let cip = json!({"metadata": meta("kubernetes"), "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]}});
    assert_eq!(
        header("", "Service"),
        [
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
            "Selector"
        ]
    );
    assert_eq!(
        row("", "Service", &cip),
        vec![
            json!("kubernetes"),
            json!("ClusterIP"),
            json!("10.96.0.1"),
            json!("<none>"),
            json!("443/TCP"),
            json!("60m"),
            json!("<none>")
        ]
    );
    let np = json!({"metadata": meta("web"), "spec": {"type": "NodePort", "clusterIPs": ["10.96.12.34"], "selector": {"app": "web"},
        "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}});
    assert_eq!(
        row("", "Service", &np),
        vec![
            json!("web"),
            json!("NodePort"),
            json!("10.96.12.34"),
            json!("<none>"),
            json!("80:30080/TCP,53/UDP"),
            json!("60m"),
            json!("app=web")
        ]
    );
    let mut lb = json!({"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIP": "10.96.1.1", "ports": [{"port": 80, "nodePort": 31000, "protocol": "TCP"}]}});
    assert_eq!(row("", "Service", &lb)[3], json!("<pending>"));
    lb["status"] = json!({"loadBalancer": {"ingress": [{"ip": "192.168.49.100"}, {"hostname": "a-very-long-load-balancer-host.example.com"}]}});
    // The server prints wide, so nothing is clipped to 16 characters.
    assert_eq!(
        row("", "Service", &lb)[3],
        json!("192.168.49.100,a-very-long-load-balancer-host.example.com")
    );
    lb["spec"]["externalIPs"] = json!(["1.2.3.4"]);
    assert_eq!(
        row("", "Service", &lb)[3],
        json!("192.168.49.100,a-very-long-load-balancer-host.example.com,1.2.3.4")
    );
    let headless = json!({"metadata": meta("db"), "spec": {"type": "ClusterIP", "clusterIP": "None", "externalIPs": ["5.6.7.8"]}});
    let c = row("", "Service", &headless);
    assert_eq!(
        (&c[2], &c[3], &c[4]),
        (&json!("None"), &json!("5.6.7.8"), &json!("<none>"))
    );
    let ext = json!({"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "db.example.com"}});
    let c = row("", "Service", &ext);
    assert_eq!((&c[2], &c[3]), (&json!("<none>"), &json!("db.example.com")));
    assert_eq!(
        row("", "Service", &json!({"metadata": meta("odd")}))[3],
        json!("<unknown>")
    );
}

#[test]
fn endpoints_and_slices() {
    let ep = json!({"metadata": meta("web"), "subsets": [{"addresses": [{"ip": "10.244.0.5"}, {"ip": "10.244.0.6"}],
        "ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]}]});
    assert_eq!(
        row("", "Endpoints", &ep),
        vec![
            json!("web"),
            json!("10.244.0.5:80,10.244.0.6:80,10.244.0.5:9090 + 1 more..."),
            json!("60m")
        ]
    );
    let v6 = json!({"metadata": meta("v6"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 443}]}, {"addresses": [{"ip": "10.0.0.1"}]}]});
    assert_eq!(
        row("", "Endpoints", &v6)[1],
        json!("[fd00::1]:443,10.0.0.1")
    );
    assert_eq!(
        row("", "Endpoints", &json!({"metadata": meta("none")}))[1],
        json!("<none>")
    );

    let slice = json!({"metadata": meta("web-abc12"), "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.244.0.5"]}, {"addresses": ["10.244.0.6"]}, {"addresses": ["10.244.0.7"]}, {"addresses": ["10.244.0.8"]}]});
    assert_eq!(
        header("discovery.k8s.io", "EndpointSlice"),
        ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    );
    assert_eq!(
        row("discovery.k8s.io", "EndpointSlice", &slice),
        vec![
            json!("web-abc12"),
            json!("IPv4"),
            json!("80"),
            json!("10.244.0.5,10.244.0.6,10.244.0.7 + 1 more..."),
            json!("60m")
        ]
    );
    let empty = json!({"metadata": meta("e"), "addressType": "IPv4", "ports": [{"name": "x"}, {}]});
    let c = row("discovery.k8s.io", "EndpointSlice", &empty);
    assert_eq!((&c[2], &c[3]), (&json!("x,*"), &json!("<unset>")));
}

#[test]
fn nodes() {
    let n = json!({"metadata": {"name": "minikube", "creationTimestamp": "2024-04-28T12:00:00Z",
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker", "node-role.kubernetes.io/": "x"}},
        "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "192.168.49.2"}, {"type": "Hostname", "address": "minikube"}],
            "nodeInfo": {"kubeletVersion": "v1.30.0", "osImage": "Ubuntu 22.04.4 LTS", "kernelVersion": "6.5.0", "containerRuntimeVersion": "docker://26.0.1"}}});
    assert_eq!(
        row("", "Node", &n),
        vec![
            json!("minikube"),
            json!("Ready"),
            json!("control-plane,worker"),
            json!("3d"),
            json!("v1.30.0"),
            json!("192.168.49.2"),
            json!("<none>"),
            json!("Ubuntu 22.04.4 LTS"),
            json!("6.5.0"),
            json!("docker://26.0.1")
        ]
    );
    let mut cordoned = n.clone();
    cordoned["spec"] = json!({"unschedulable": true});
    cordoned["status"]["conditions"] = json!([{"type": "Ready", "status": "Unknown"}]);
    assert_eq!(
        row("", "Node", &cordoned)[1],
        json!("NotReady,SchedulingDisabled")
    );
    let bare = json!({"metadata": {"name": "n"}});
    let c = row("", "Node", &bare);
    assert_eq!(
        (&c[1], &c[2], &c[3], &c[7]),
        (
            &json!("Unknown"),
            &json!("<none>"),
            &json!("<unknown>"),
            &json!("<unknown>")
        )
    );
}

#[test]
fn events_core_and_events_api() {
    let ev = json!({"apiVersion": "v1", "kind": "Event", "metadata": meta("web.17c2"),
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{nginx}"},
        "reason": "Pulled", "message": "Successfully pulled image \"nginx\"\n", "type": "Normal",
        "source": {"component": "kubelet", "host": "minikube"}, "count": 2,
        "firstTimestamp": "2024-05-01T11:50:00Z", "lastTimestamp": "2024-05-01T11:58:00Z"});
    assert_eq!(
        header("", "Event"),
        [
            "Last Seen",
            "Type",
            "Reason",
            "Object",
            "Subobject",
            "Source",
            "Message",
            "First Seen",
            "Count",
            "Name"
        ]
    );
    assert_eq!(
        row("", "Event", &ev),
        vec![
            json!("2m"),
            json!("Normal"),
            json!("Pulled"),
            json!("pod/web"),
            json!("spec.containers{nginx}"),
            json!("kubelet, minikube"),
            json!("Successfully pulled image \"nginx\""),
            json!("10m"),
            json!(2),
            json!("web.17c2")
        ]
    );
    // A new-style event: eventTime, no count, reporting controller/instance.
    let new = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("web.17c3"),
        "regarding": {"kind": "Deployment", "name": "web"}, "reason": "ScalingReplicaSet", "note": "Scaled up replica set web-1 to 3",
        "type": "Normal", "eventTime": "2024-05-01T11:59:30.123456Z", "reportingController": "deployment-controller", "reportingInstance": ""});
    assert_eq!(
        row("events.k8s.io", "Event", &new),
        // 29.88s truncates to 29s, as Go's int(d.Seconds()) does.
        vec![
            json!("29s"),
            json!("Normal"),
            json!("ScalingReplicaSet"),
            json!("deployment/web"),
            json!(""),
            json!("deployment-controller"),
            json!("Scaled up replica set web-1 to 3"),
            json!("29s"),
            json!(1),
            json!("web.17c3")
        ]
    );
    // Series: last seen from lastObservedTime and count from the series.
    let mut series = ev.clone();
    series["series"] = json!({"count": 7, "lastObservedTime": "2024-05-01T11:59:00.000000Z"});
    let c = row("", "Event", &series);
    assert_eq!((&c[0], &c[8]), (&json!("60s"), &json!(7)));
    // The same core Event printer reads core-shaped objects served under events.k8s.io.
    assert_eq!(row("events.k8s.io", "Event", &ev)[3], json!("pod/web"));
    let bare = json!({"involvedObject": {"kind": "Node"}});
    let c = row("", "Event", &bare);
    assert_eq!(
        (&c[0], &c[3], &c[7]),
        (&json!("<unknown>"), &json!("node"), &json!("<unknown>"))
    );
}

#[test]
fn small_core_kinds() {
    let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": "2024-04-01T12:00:00Z"}, "status": {"phase": "Active"}});
    assert_eq!(
        row("", "Namespace", &ns),
        vec![json!("kube-system"), json!("Active"), json!("30d")]
    );
    let sec = json!({"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "eA==", "tls.key": "eQ=="}});
    assert_eq!(
        row("", "Secret", &sec),
        vec![
            json!("tls"),
            json!("kubernetes.io/tls"),
            json!(2),
            json!("60m")
        ]
    );
    let merged = json!({"metadata": meta("s"), "type": "Opaque", "data": {"a": "eA=="}, "stringData": {"a": "x", "b": "y"}});
    assert_eq!(row("", "Secret", &merged)[2], json!(2));
    let sa = json!({"metadata": meta("default")});
    assert_eq!(
        row("", "ServiceAccount", &sa),
        vec![json!("default"), json!("60m")]
    );
    let cm = json!({"metadata": meta("kube-root-ca.crt"), "data": {"ca.crt": "x"}, "binaryData": {"b": "AA=="}});
    assert_eq!(
        row("", "ConfigMap", &cm),
        vec![json!("kube-root-ca.crt"), json!(2), json!("60m")]
    );
    let cs = json!({"metadata": {"name": "etcd-0"}, "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]});
    assert_eq!(
        row("", "ComponentStatus", &cs),
        vec![json!("etcd-0"), json!("Healthy"), json!("ok"), json!("")]
    );
}

#[test]
fn volumes() {
    let pv = json!({"metadata": meta("pvc-1234"), "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "standard", "volumeMode": "Filesystem",
        "claimRef": {"namespace": "default", "name": "data"}}, "status": {"phase": "Bound"}});
    assert_eq!(
        header("", "PersistentVolume"),
        [
            "Name",
            "Capacity",
            "Access Modes",
            "Reclaim Policy",
            "Status",
            "Claim",
            "StorageClass",
            "VolumeAttributesClass",
            "Reason",
            "Age",
            "VolumeMode"
        ]
    );
    assert_eq!(
        row("", "PersistentVolume", &pv),
        vec![
            json!("pvc-1234"),
            json!("1Gi"),
            json!("RWO"),
            json!("Delete"),
            json!("Bound"),
            json!("default/data"),
            json!("standard"),
            json!("<unset>"),
            json!(""),
            json!("60m"),
            json!("Filesystem")
        ]
    );
    let pvc = json!({"metadata": meta("data"), "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
        "storageClassName": "standard", "volumeName": "pvc-1234", "volumeMode": "Filesystem"},
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce", "ReadOnlyMany"], "capacity": {"storage": "1Gi"}}});
    assert_eq!(
        row("", "PersistentVolumeClaim", &pvc),
        vec![
            json!("data"),
            json!("Bound"),
            json!("pvc-1234"),
            json!("1Gi"),
            json!("RWO,ROX"),
            json!("standard"),
            json!("<unset>"),
            json!("60m"),
            json!("Filesystem")
        ]
    );
    let pending = json!({"metadata": {"name": "p", "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"},
        "deletionTimestamp": "2024-05-01T11:59:00Z"}, "spec": {"storageClassName": "standard"}, "status": {"phase": "Pending"}});
    let c = row("", "PersistentVolumeClaim", &pending);
    assert_eq!(
        (&c[1], &c[2], &c[3], &c[4], &c[5]),
        (
            &json!("Terminating"),
            &json!(""),
            &json!(""),
            &json!(""),
            &json!("legacy")
        )
    );
}

#[test]
fn resource_quota() {
    let rq = json!({"metadata": meta("compute"), "status": {
        "hard": {"requests.cpu": "1", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "2"},
        "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "0"}}});
    assert_eq!(
        row("", "ResourceQuota", &rq),
        vec![
            json!("compute"),
            json!("pods: 3/10, requests.cpu: 500m/1"),
            json!("limits.cpu: 0/2, limits.memory: 0/2Gi"),
            json!("60m")
        ]
    );
}
