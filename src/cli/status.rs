//! `rkube status`: minikube's status lines (or JSON) for every node, and its exit-code
//! bitmask: 1 when a node container is not running, 2 when a kubelet is not, 4 when the
//! API server is not (or is in Error: a component of the node keeps failing).

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
    /// Components of the node that keep failing, from `/readyz?verbose`.
    failing: Vec<String>,
}

/// The checks a verbose health answer lists as failed.
fn failed_checks(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("[-]"))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
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
            failing: Vec::new(),
        });
    }
    if !running {
        return Ok(Report {
            host: "Stopped",
            kubelet: "Stopped",
            apiserver: "Stopped",
            kubeconfig: "Stopped",
            failing: Vec::new(),
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
            failing: Vec::new(),
        });
    };
    let readyz = tokio::time::timeout(Duration::from_secs(5), async {
        let req = http::Request::get("/readyz?verbose")
            .body(Vec::new())
            .ok()?;
        Some(client.request_text(req).await)
    })
    .await
    .ok()
    .flatten();
    // A failing check answers 500 with the `[-]name failed` lines: the server runs, a
    // component of it does not, which minikube reports as Error.
    let (apiserver, failing) = match readyz {
        Some(Ok(text)) if text.contains("check passed") => ("Running", Vec::new()),
        Some(Err(kube::Error::Api(s))) if s.code == 500 => ("Error", failed_checks(&s.message)),
        _ => ("Stopped", Vec::new()),
    };
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
        failing,
    })
}

/// A worker's host and kubelet, as minikube reports them.
async fn probe_worker(s: &profile::Settings, name: &str, cp: &Report) -> anyhow::Result<Report> {
    let d = docker::connect().await.map_err(Failure::from)?;
    let node = node_container::inspect_node(&d, &s.name, name).await?;
    let (host, mut kubelet) = match node {
        Some(n) if n.paused => ("Running", "Stopped"),
        Some(n) if n.running => ("Running", "Running"),
        _ => ("Stopped", "Stopped"),
    };
    if kubelet == "Running" {
        kubelet = "Stopped";
        if cp.apiserver == "Running" {
            let (_, creds) = credentials(&s.name)?;
            if let Ok(client) = admin_client(s, &creds).await {
                let nodes: Api<Node> = Api::all(client);
                if let Ok(Ok(Some(n))) =
                    tokio::time::timeout(Duration::from_secs(5), nodes.get_opt(name)).await
                {
                    if node_ready(&n) {
                        kubelet = "Running";
                    }
                }
            }
        }
    }
    Ok(Report {
        host,
        kubelet,
        apiserver: "Irrelevant",
        kubeconfig: "Irrelevant",
        failing: Vec::new(),
    })
}

/// Run `status`; returns the exit code.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<i32> {
    let Some(settings) = profile::load(profile_name)? else {
        return Err(Failure::profile_not_found(profile_name).into());
    };
    if args.output != "text" && args.output != "json" {
        return Err(Failure::new(
            super::exit::USAGE,
            format!("unknown output format {:?}: use text or json", args.output),
        )
        .into());
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let reports = rt.block_on(async {
        let cp = probe(&settings).await?;
        let mut all = vec![(settings.name.clone(), cp)];
        for w in &settings.workers {
            let r = probe_worker(&settings, &w.name, &all[0].1).await?;
            all.push((w.name.clone(), r));
        }
        anyhow::Ok(all)
    })?;
    let mut code = 0;
    let mut json_nodes = Vec::new();
    for (i, (name, r)) in reports.iter().enumerate() {
        let worker = i > 0;
        if args.output == "json" {
            json_nodes.push(json!({"Name": name, "Host": r.host, "Kubelet": r.kubelet,
                "APIServer": r.apiserver, "Kubeconfig": r.kubeconfig, "Worker": worker}));
        } else if worker {
            println!(
                "{name}\ntype: Worker\nhost: {}\nkubelet: {}\n",
                r.host, r.kubelet
            );
        } else {
            println!(
                "{name}\ntype: Control Plane\nhost: {}\nkubelet: {}\napiserver: {}\nkubeconfig: {}\n",
                r.host, r.kubelet, r.apiserver, r.kubeconfig
            );
        }
        if r.host != "Running" {
            code |= 1;
        }
        if r.kubelet != "Running" {
            code |= 2;
        }
        if !worker && r.apiserver != "Running" {
            code |= 4;
        }
        for component in &r.failing {
            eprintln!(
                "❗  The {component} component of node {name} keeps failing: 'rkube logs' shows why"
            );
        }
    }
    if args.output == "json" {
        // minikube prints one object for one node, a list for several.
        let out = match json_nodes.len() {
            1 => json_nodes.remove(0),
            _ => serde_json::Value::Array(json_nodes),
        };
        println!("{out}");
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_checks_are_read_off_the_verbose_answer() {
        let text = "[+]ping ok\n[-]scheduler failed: reason withheld\n[+]dns ok\n[-]controller/job failed: reason withheld\nreadyz check failed";
        assert_eq!(failed_checks(text), ["scheduler", "controller/job"]);
    }
}
