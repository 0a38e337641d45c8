//! Printers of the apps group: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::duration::age_cell;
use super::fields::*;
use super::{cols, ColumnDefinition};

const TEMPLATE_NAMES: &str = "Names of each container in the template.";
const TEMPLATE_IMAGES: &str = "Images referenced by each container in the template.";

/// An apps kind with a specific printer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    ControllerRevision,
}

impl Kind {
    /// Column definitions.
    pub(crate) fn columns(self) -> Vec<ColumnDefinition> {
        match self {
            Kind::Deployment => cols(&[
                ("Name", "string", 0, "name"),
                ("Ready", "string", 0, "Number of the pod with ready state"),
                (
                    "Up-to-date",
                    "string",
                    0,
                    "DeploymentStatus.updatedReplicas",
                ),
                (
                    "Available",
                    "string",
                    0,
                    "DeploymentStatus.availableReplicas",
                ),
                ("Age", "string", 0, "age"),
                ("Containers", "string", 1, TEMPLATE_NAMES),
                ("Images", "string", 1, TEMPLATE_IMAGES),
                ("Selector", "string", 1, "DeploymentSpec.selector"),
            ]),
            Kind::ReplicaSet => cols(&[
                ("Name", "string", 0, "name"),
                ("Desired", "integer", 0, "ReplicaSetSpec.replicas"),
                ("Current", "integer", 0, "ReplicaSetStatus.replicas"),
                ("Ready", "integer", 0, "ReplicaSetStatus.readyReplicas"),
                ("Age", "string", 0, "age"),
                ("Containers", "string", 1, TEMPLATE_NAMES),
                ("Images", "string", 1, TEMPLATE_IMAGES),
                ("Selector", "string", 1, "ReplicaSetSpec.selector"),
            ]),
            Kind::StatefulSet => cols(&[
                ("Name", "string", 0, "name"),
                ("Ready", "string", 0, "Number of the pod with ready state"),
                ("Age", "string", 0, "age"),
                ("Containers", "string", 1, TEMPLATE_NAMES),
                ("Images", "string", 1, TEMPLATE_IMAGES),
            ]),
            Kind::DaemonSet => cols(&[
                ("Name", "string", 0, "name"),
                (
                    "Desired",
                    "integer",
                    0,
                    "DaemonSetStatus.desiredNumberScheduled",
                ),
                (
                    "Current",
                    "integer",
                    0,
                    "DaemonSetStatus.currentNumberScheduled",
                ),
                ("Ready", "integer", 0, "DaemonSetStatus.numberReady"),
                (
                    "Up-to-date",
                    "integer",
                    0,
                    "DaemonSetStatus.updatedNumberScheduled",
                ),
                ("Available", "integer", 0, "DaemonSetStatus.numberAvailable"),
                ("Node Selector", "string", 0, "PodSpec.nodeSelector"),
                ("Age", "string", 0, "age"),
                ("Containers", "string", 1, TEMPLATE_NAMES),
                ("Images", "string", 1, TEMPLATE_IMAGES),
                ("Selector", "string", 1, "DaemonSetSpec.selector"),
            ]),
            Kind::ControllerRevision => cols(&[
                ("Name", "string", 0, "name"),
                ("Controller", "string", 0, "Controller of the object"),
                ("Revision", "string", 0, "ControllerRevision.revision"),
                ("Age", "string", 0, "age"),
            ]),
        }
    }

    /// Cells of one object.
    pub(crate) fn cells(self, o: &Value, now: Timestamp) -> Vec<Value> {
        let n = json!(name(o));
        let age = age_cell(o, now);
        let (c, im) = containers(o.pointer("/spec/template/spec"));
        match self {
            Kind::Deployment => {
                // printDeployment uses the selector's String() directly: "" when empty, "<invalid>" on error.
                let selector = selector_string(o.pointer("/spec/selector"))
                    .unwrap_or_else(|()| "<invalid>".into());
                vec![
                    n,
                    json!(format!(
                        "{}/{}",
                        i(o, "/status/readyReplicas"),
                        i(o, "/spec/replicas")
                    )),
                    json!(i(o, "/status/updatedReplicas")),
                    json!(i(o, "/status/availableReplicas")),
                    age,
                    json!(c),
                    json!(im),
                    json!(selector),
                ]
            }
            Kind::ReplicaSet => vec![
                n,
                json!(i(o, "/spec/replicas")),
                json!(i(o, "/status/replicas")),
                json!(i(o, "/status/readyReplicas")),
                age,
                json!(c),
                json!(im),
                json!(format_label_selector(o.pointer("/spec/selector"))),
            ],
            Kind::StatefulSet => vec![
                n,
                json!(format!(
                    "{}/{}",
                    i(o, "/status/readyReplicas"),
                    i(o, "/spec/replicas")
                )),
                age,
                json!(c),
                json!(im),
            ],
            Kind::DaemonSet => vec![
                n,
                json!(i(o, "/status/desiredNumberScheduled")),
                json!(i(o, "/status/currentNumberScheduled")),
                json!(i(o, "/status/numberReady")),
                json!(i(o, "/status/updatedNumberScheduled")),
                json!(i(o, "/status/numberAvailable")),
                json!(format_labels(map(o, "/spec/template/spec/nodeSelector"))),
                age,
                json!(c),
                json!(im),
                json!(format_label_selector(o.pointer("/spec/selector"))),
            ],
            Kind::ControllerRevision => {
                vec![n, json!(controller_of(o)), json!(i(o, "/revision")), age]
            }
        }
    }
}

/// The controller owner as `kind.group/name` in lower case, "<none>" without one.
fn controller_of(o: &Value) -> String {
    let Some(owner) = arr(o, "/metadata/ownerReferences")
        .iter()
        .find(|r| b(r, "/controller"))
    else {
        return "<none>".into();
    };
    let kind = s(owner, "/kind");
    // schema.ParseGroupVersion: "v1" has no group, "apps/v1" has group "apps".
    let group = s(owner, "/apiVersion")
        .split_once('/')
        .map(|(g, _)| g)
        .unwrap_or("");
    let owner_name = s(owner, "/name");
    match (kind, group) {
        ("", "") => owner_name.to_string(),
        (k, "") => format!("{}/{owner_name}", k.to_lowercase()),
        (k, g) => format!("{}/{owner_name}", format!("{k}.{g}").to_lowercase()),
    }
}
