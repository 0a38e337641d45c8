//! `rkube status`: minikube's status lines (or JSON) and its exit-code bitmask: 1 when the
//! node container is not running, 2 when the kubelet is not, 4 when the API server is not.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use serde_json::json;

use super::exit::Failure;
use crate::cluster::start::{admin_client, credentials, server_url};
use crate::cluster::wait::node_ready;
use crate::cluster::{docker, kubeconfig, node_container, profile};

/// Arguments of `rkube status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: text or json.
    #[arg(short = 'o', long = "output", default_value = "text")]
    pub output: String,
}

struct Report {
    host: &'static str,
    kubelet: &'static str,
    apiserver: &'static str,
    kubeconfig: &'static str,
}

/// Whether the kubeconfig points at this profile's API server.
fn kubeconfig_state(s: &profile::Settings) -> &'static str {
    let path = kubeconfig::default_path();
    if kubeconfig::server_of(&path, &s.name).as_deref() == Some(server_url(s).as_str()) {
        "Configured"
    } else {
        "Misconfigured"
    }
}

async fn probe(s: &profile::Settings) -> anyhow::Result<Report> {
    let d = docker::connect().await.map_err(Failure::from)?;
    let node = node_container::inspect(&d, &s.name).await?;
    let running = node.as_ref().is_some_and(|n| n.running);
    if node.as_ref().is_some_and(|n| n.paused) {
        // minikube's words for a frozen control plane.
        return Ok(Report {
            host: "Running",
            kubelet: "Stopped",
            apiserver: "Paused",
            kubeconfig: kubeconfig_state(s),
        });
    }
    if !running {
        return Ok(Report {
            host: "Stopped",
            kubelet: "Stopped",
            apiserver: "Stopped",
            kubeconfig: "Stopped",
        });
    }
    let (_, creds) = credentials(&s.name)?;
    let kc = kubeconfig_state(s);
    let Ok(client) = admin_client(s, &creds).await else {
        return Ok(Report {
            host: "Running",
            kubelet: "Stopped",
            apiserver: "Stopped",
            kubeconfig: kc,
        });
    };
    let ready = tokio::time::timeout(Duration::from_secs(5), async {
        let req = http::Request::get("/readyz").body(Vec::new()).ok()?;
        client.request_text(req).await.ok()
    })
    .await
    .ok()
    .flatten()
    .is_some_and(|t| t.trim() == "ok");
    let apiserver = if ready { "Running" } else { "Stopped" };
    let nodes: Api<Node> = Api::all(client);
    let kubelet = match tokio::time::timeout(Duration::from_secs(5), nodes.get_opt(&s.name)).await {
        Ok(Ok(Some(n))) if node_ready(&n) => "Running",
        _ => "Stopped",
    };
    Ok(Report {
        host: "Running",
        kubelet,
        apiserver,
        kubeconfig: kc,
    })
}

/// Run `status`; returns the exit code.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<i32> {
    let Some(settings) = profile::load(profile_name)? else {
        return Err(Failure::profile_not_found(profile_name).into());
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let r = rt.block_on(probe(&settings))?;
    match args.output.as_str() {
        "json" => println!(
            "{}",
            json!({"Name": profile_name, "Host": r.host, "Kubelet": r.kubelet, "APIServer": r.apiserver,
                "Kubeconfig": r.kubeconfig, "Worker": false})
        ),
        "text" => println!(
            "{profile_name}\ntype: Control Plane\nhost: {}\nkubelet: {}\napiserver: {}\nkubeconfig: {}\n",
            r.host, r.kubelet, r.apiserver, r.kubeconfig
        ),
        other => {
            return Err(Failure::new(super::exit::USAGE, format!("unknown output format {other:?}: use text or json")).into())
        }
    }
    let mut code = 0;
    if r.host != "Running" {
        code |= 1;
    }
    if r.kubelet != "Running" {
        code |= 2;
    }
    if r.apiserver != "Running" {
        code |= 4;
    }
    Ok(code)
}
