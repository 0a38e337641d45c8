//! The dashboard: a web UI served by the `dashboard` addon's pod, reached through the API
//! server's service proxy at minikube's URL, and the local proxy `rkube dashboard` runs so
//! that the page acts with the user's credentials.

pub mod assets;
pub mod helper;
pub mod proxy;
pub mod server;

/// Namespace of the dashboard addon.
pub const NAMESPACE: &str = "kubernetes-dashboard";

/// The dashboard's path on an API proxy (minikube's and `kubectl proxy`'s URL).
pub const PATH: &str =
    "/api/v1/namespaces/kubernetes-dashboard/services/http:kubernetes-dashboard:/proxy/";
