//! `start --wait`: which components must be healthy before `start` returns, with minikube's
//! component names.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use kube::api::ListParams;
use kube::Api;

/// Every component name `--wait` accepts, as minikube spells them.
pub const COMPONENTS: &[&str] = &[
    "apiserver",
    "system_pods",
    "default_sa",
    "apps_running",
    "node_ready",
    "kubelet",
    "extra",
];

/// How often `until_healthy` asks the API server.
const POLL_EVERY: Duration = Duration::from_millis(10);
/// How often `until_healthy` checks that the node container still runs.
const ALIVE_EVERY: Duration = Duration::from_millis(250);

/// What to wait for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WaitFor(BTreeSet<&'static str>);

impl WaitFor {
    /// Without `--wait`: the API server and a Ready node.
    pub fn standard() -> Self {
        WaitFor(["apiserver", "node_ready"].into())
    }

    /// Parse `--wait` (`all`, `none`, `true`, `false` or a comma-separated list).
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" | "true" => set.extend(COMPONENTS.iter().copied()),
                "none" | "false" => {}
                _ => match COMPONENTS.iter().find(|c| **c == part) {
                    Some(c) => {
                        set.insert(*c);
                    }
                    None => {
                        return Err(format!(
                            "--wait: unknown component {part:?}: use all, none, or a comma-separated list of {}",
                            COMPONENTS.join(", ")
                        ))
                    }
                },
            }
        }
        Ok(WaitFor(set))
    }

    /// Whether nothing is waited for.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn wants(&self, any_of: &[&str]) -> bool {
        any_of.iter().any(|c| self.0.contains(c))
    }

    /// One check of everything asked for: `None` when all are healthy, else what is not.
    pub async fn pending(&self, client: &kube::Client, node: &str) -> Option<String> {
        if self.wants(&["apiserver"]) {
            if let Err(e) = client.apiserver_version().await {
                return Some(format!("API server: {e}"));
            }
        }
        if self.wants(&["node_ready", "kubelet"]) {
            let nodes: Api<Node> = Api::all(client.clone());
            match nodes.get_opt(node).await {
                Ok(Some(n)) if node_ready(&n) => {}
                Ok(Some(_)) => return Some(format!("node {node} is not Ready yet")),
                Ok(None) => return Some(format!("node {node} has not registered yet")),
                Err(e) => return Some(format!("API server: {e}")),
            }
        }
        if self.wants(&["default_sa"]) {
            let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
            match sas.get_opt("default").await {
                Ok(Some(_)) => {}
                Ok(None) => return Some("the default service account is not there yet".into()),
                Err(e) => return Some(format!("API server: {e}")),
            }
        }
        if self.wants(&["system_pods", "apps_running", "extra"]) {
            let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
            match pods.list(&ListParams::default()).await {
                Ok(list) => {
                    let waiting: Vec<String> = list
                        .items
                        .iter()
                        .filter(|p| !pod_running_ready(p))
                        .filter_map(|p| p.metadata.name.clone())
                        .collect();
                    if !waiting.is_empty() {
                        return Some(format!(
                            "kube-system pods not Running: {}",
                            waiting.join(", ")
                        ));
                    }
                }
                Err(e) => return Some(format!("API server: {e}")),
            }
        }
        None
    }

    /// Poll until everything asked for is healthy or `timeout` passes (then the last reason).
    pub async fn until_healthy(
        &self,
        client: &kube::Client,
        node: &str,
        timeout: Duration,
        mut still_alive: impl AsyncFnMut() -> Result<(), String>,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut alive_checked: Option<Instant> = None;
        loop {
            // Asking the engine costs more than asking the API server, and a node that
            // exited shows soon enough at this pace.
            if alive_checked.is_none_or(|t| t.elapsed() >= ALIVE_EVERY) {
                still_alive().await?;
                alive_checked = Some(Instant::now());
            }
            match self.pending(client, node).await {
                None => return Ok(()),
                Some(reason) if Instant::now() > deadline => return Err(reason),
                // A refused connection or a local GET is answered in about a millisecond:
                // a short pause keeps start close to the moment the node turns Ready.
                Some(_) => tokio::time::sleep(POLL_EVERY).await,
            }
        }
    }
}

/// Whether the node reports Ready.
pub fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Running with every container ready, or finished successfully (a completed Job's pod).
fn pod_running_ready(p: &Pod) -> bool {
    let Some(status) = &p.status else {
        return false;
    };
    match status.phase.as_deref() {
        Some("Succeeded") => true,
        Some("Running") => status
            .conditions
            .as_ref()
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minikube_values() {
        assert!(WaitFor::parse("none").unwrap().is_empty());
        assert!(WaitFor::parse("false").unwrap().is_empty());
        assert_eq!(WaitFor::parse("all").unwrap().0.len(), COMPONENTS.len());
        let w = WaitFor::parse("apiserver,default_sa").unwrap();
        assert!(w.wants(&["default_sa"]) && !w.wants(&["node_ready"]));
        let err = WaitFor::parse("apiserver,pods").unwrap_err();
        assert!(
            err.contains("\"pods\"") && err.contains("system_pods"),
            "{err}"
        );
    }
}
