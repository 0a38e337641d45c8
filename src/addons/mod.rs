//! Addons: extras switched on per profile, as minikube's are. Each is a folder of plain
//! manifests under `addons/` that the binary embeds ([`catalog`]), applied and removed
//! through the API like any client would ([`apply`]); its images are built from the rkube
//! binary itself. The in-pod programs of addons live here too.

pub mod apply;
pub mod catalog;
pub mod ingress;
pub mod metrics_server;
pub mod storage_provisioner;

/// The label that marks every object an addon owns (minikube's name for it).
pub const ADDON_LABEL: &str = "kubernetes.io/minikube-addons";

/// The field manager of every addon object.
pub const FIELD_MANAGER: &str = "rkube-addons";
