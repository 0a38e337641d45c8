//! The column sets of each kind's printer.

use super::{col, cols, ColumnDefinition, I, S};

/// Columns of a kind's printer (group "" = core), None when it has none of its own.
pub fn columns(group: &str, kind: &str) -> Option<Vec<ColumnDefinition>> {
    Some(match (group, kind) {
        ("", "Pod") => cols(&[
            ("Name", S, 0),
            ("Ready", S, 0),
            ("Status", S, 0),
            ("Restarts", S, 0),
            ("Age", S, 0),
            ("IP", S, 1),
            ("Node", S, 1),
            ("Nominated Node", S, 1),
            ("Readiness Gates", S, 1),
        ]),
        ("", "PodTemplate") => cols(&[
            ("Template", S, 0),
            ("Containers", S, 0),
            ("Images", S, 0),
            ("Pod Labels", S, 0),
        ])
        .into_iter()
        .fold(vec![col("Name", S, 0)], |mut v, c| {
            v.push(c);
            v
        }),
        ("", "ReplicationController") => cols(&[
            ("Name", S, 0),
            ("Desired", I, 0),
            ("Current", I, 0),
            ("Ready", I, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("apps", "ReplicaSet") => cols(&[
            ("Name", S, 0),
            ("Desired", I, 0),
            ("Current", I, 0),
            ("Ready", I, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("apps", "Deployment") => cols(&[
            ("Name", S, 0),
            ("Ready", S, 0),
            ("Up-to-date", I, 0),
            ("Available", I, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("apps", "StatefulSet") => cols(&[
            ("Name", S, 0),
            ("Ready", S, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
        ]),
        ("apps", "DaemonSet") => cols(&[
            ("Name", S, 0),
            ("Desired", I, 0),
            ("Current", I, 0),
            ("Ready", I, 0),
            ("Up-to-date", I, 0),
            ("Available", I, 0),
            ("Node Selector", S, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("apps", "ControllerRevision") => cols(&[
            ("Name", S, 0),
            ("Controller", S, 0),
            ("Revision", I, 0),
            ("Age", S, 0),
        ]),
        ("batch", "Job") => cols(&[
            ("Name", S, 0),
            ("Status", S, 0),
            ("Completions", S, 0),
            ("Duration", S, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("batch", "CronJob") => cols(&[
            ("Name", S, 0),
            ("Schedule", S, 0),
            ("Timezone", S, 0),
            ("Suspend", "boolean", 0),
            ("Active", I, 0),
            ("Last Schedule", S, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ]),
        ("", "Service") => cols(&[
            ("Name", S, 0),
            ("Type", S, 0),
            ("Cluster-IP", S, 0),
            ("External-IP", S, 0),
            ("Port(s)", S, 0),
            ("Age", S, 0),
            ("Selector", S, 1),
        ]),
        ("networking.k8s.io", "Ingress") => cols(&[
            ("Name", S, 0),
            ("Class", S, 0),
            ("Hosts", S, 0),
            ("Address", S, 0),
            ("Ports", S, 0),
            ("Age", S, 0),
        ]),
        ("networking.k8s.io", "IngressClass") => cols(&[
            ("Name", S, 0),
            ("Controller", S, 0),
            ("Parameters", S, 0),
            ("Age", S, 0),
        ]),
        ("networking.k8s.io", "NetworkPolicy") => {
            cols(&[("Name", S, 0), ("Pod-Selector", S, 0), ("Age", S, 0)])
        }
        ("", "Endpoints") => cols(&[("Name", S, 0), ("Endpoints", S, 0), ("Age", S, 0)]),
        ("discovery.k8s.io", "EndpointSlice") => cols(&[
            ("Name", S, 0),
            ("AddressType", S, 0),
            ("Ports", S, 0),
            ("Endpoints", S, 0),
            ("Age", S, 0),
        ]),
        ("", "Node") => cols(&[
            ("Name", S, 0),
            ("Status", S, 0),
            ("Roles", S, 0),
            ("Age", S, 0),
            ("Version", S, 0),
            ("Internal-IP", S, 1),
            ("External-IP", S, 1),
            ("OS-Image", S, 1),
            ("Kernel-Version", S, 1),
            ("Container-Runtime", S, 1),
        ]),
        ("", "Event") | ("events.k8s.io", "Event") => cols(&[
            ("Last Seen", S, 0),
            ("Type", S, 0),
            ("Reason", S, 0),
            ("Object", S, 0),
            ("Subobject", S, 1),
            ("Source", S, 1),
            ("Message", S, 0),
            ("First Seen", S, 1),
            ("Count", S, 1),
            ("Name", S, 1),
        ]),
        ("", "Namespace") => cols(&[("Name", S, 0), ("Status", S, 0), ("Age", S, 0)]),
        ("", "Secret") => cols(&[
            ("Name", S, 0),
            ("Type", S, 0),
            ("Data", I, 0),
            ("Age", S, 0),
        ]),
        ("", "ServiceAccount") => cols(&[("Name", S, 0), ("Secrets", I, 0), ("Age", S, 0)]),
        ("", "ConfigMap") => cols(&[("Name", S, 0), ("Data", I, 0), ("Age", S, 0)]),
        ("", "PersistentVolume") => cols(&[
            ("Name", S, 0),
            ("Capacity", S, 0),
            ("Access Modes", S, 0),
            ("Reclaim Policy", S, 0),
            ("Status", S, 0),
            ("Claim", S, 0),
            ("StorageClass", S, 0),
            ("VolumeAttributesClass", S, 0),
            ("Reason", S, 0),
            ("Age", S, 0),
            ("VolumeMode", S, 1),
        ]),
        ("", "PersistentVolumeClaim") => cols(&[
            ("Name", S, 0),
            ("Status", S, 0),
            ("Volume", S, 0),
            ("Capacity", S, 0),
            ("Access Modes", S, 0),
            ("StorageClass", S, 0),
            ("VolumeAttributesClass", S, 0),
            ("Age", S, 0),
            ("VolumeMode", S, 1),
        ]),
        ("", "ResourceQuota") => cols(&[
            ("Name", S, 0),
            ("Age", S, 0),
            ("Request", S, 0),
            ("Limit", S, 0),
        ]),
        ("", "LimitRange") => cols(&[("Name", S, 0), ("Created At", "date", 0)]),
        ("autoscaling", "HorizontalPodAutoscaler") => cols(&[
            ("Name", S, 0),
            ("Reference", S, 0),
            ("Targets", S, 0),
            ("MinPods", S, 0),
            ("MaxPods", I, 0),
            ("Replicas", I, 0),
            ("Age", S, 0),
        ]),
        ("policy", "PodDisruptionBudget") => cols(&[
            ("Name", S, 0),
            ("Min Available", S, 0),
            ("Max Unavailable", S, 0),
            ("Allowed Disruptions", I, 0),
            ("Age", S, 0),
        ]),
        ("storage.k8s.io", "StorageClass") => cols(&[
            ("Name", S, 0),
            ("Provisioner", S, 0),
            ("ReclaimPolicy", S, 0),
            ("VolumeBindingMode", S, 0),
            ("AllowVolumeExpansion", S, 0),
            ("Age", S, 0),
        ]),
        ("rbac.authorization.k8s.io", "Role") | ("rbac.authorization.k8s.io", "ClusterRole") => {
            cols(&[("Name", S, 0), ("Created At", "date", 0)])
        }
        ("rbac.authorization.k8s.io", "RoleBinding")
        | ("rbac.authorization.k8s.io", "ClusterRoleBinding") => cols(&[
            ("Name", S, 0),
            ("Role", S, 0),
            ("Age", S, 0),
            ("Users", S, 1),
            ("Groups", S, 1),
            ("ServiceAccounts", S, 1),
        ]),
        ("coordination.k8s.io", "Lease") => {
            cols(&[("Name", S, 0), ("Holder", S, 0), ("Age", S, 0)])
        }
        ("scheduling.k8s.io", "PriorityClass") => cols(&[
            ("Name", S, 0),
            ("Value", I, 0),
            ("Global-Default", "boolean", 0),
            ("Age", S, 0),
            ("PreemptionPolicy", S, 0),
        ]),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            cols(&[("Name", S, 0), ("Created At", "date", 0)])
        }
        _ => return None,
    })
}
