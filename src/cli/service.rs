//! `rkube service NAME` and `rkube service list`: the URLs of services on the node, as
//! minikube prints them, and the browser opened on them.

use anyhow::Context;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams};

use super::exit::{self, Failure};
use crate::cluster::profile;
use crate::cluster::start::{admin_client, credentials};
use crate::tunnel::{self, urls};

/// Arguments of `rkube service`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// `list`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The service.
    pub name: Option<String>,
    /// The service's namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Print the URL(s) instead of opening a browser.
    #[arg(long)]
    pub url: bool,
    /// Every service in the namespace.
    #[arg(long)]
    pub all: bool,
    /// https URLs instead of http.
    #[arg(long)]
    pub https: bool,
}

/// Subcommands of `rkube service`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the URLs of the services in the cluster.
    List {
        /// Only this namespace (default: all).
        #[arg(short = 'n', long)]
        namespace: Option<String>,
    },
}

fn not_found(name: &str, ns: &str) -> Failure {
    Failure::new(
        exit::SERVICE_NOT_FOUND,
        format!("Service '{name}' was not found in '{ns}' namespace.\nYou may select another namespace by using 'rkube service {name} -n <namespace>'. Or list out all the services using 'rkube service list'"),
    )
}

/// Whether a browser can be shown (a desktop session, or a platform that always has one).
pub(super) fn has_display() -> bool {
    if cfg!(target_os = "linux") {
        ["DISPLAY", "WAYLAND_DISPLAY", "BROWSER"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
    } else {
        true
    }
}

/// Run `service`.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<i32> {
    let settings =
        profile::load(profile_name)?.ok_or_else(|| Failure::profile_not_found(profile_name))?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let node_ip: std::net::IpAddr = settings
            .node_ip
            .parse()
            .with_context(|| format!("the profile's node IP {:?}", settings.node_ip))?;
        let (_, creds) = credentials(&settings.name)?;
        let client = admin_client(&settings, &creds)
            .await
            .map_err(|e| Failure::new(exit::FAILURE, format!("cannot reach the API server of \"{profile_name}\": {e}; is it running? (`rkube status -p {profile_name}`)")))?;
        // Docker Desktop keeps the node's network inside its VM: forward through the API
        // server instead (RKUBE_FORWARD_VIA_API=1 chooses that path anywhere).
        let via_api = std::env::var("RKUBE_FORWARD_VIA_API").is_ok_and(|v| v == "1")
            || !tunnel::host_reaches_node(node_ip).await;
        if let Some(Command::List { namespace }) = args.command {
            let api: Api<Service> = match &namespace {
                Some(ns) => Api::namespaced(client, ns),
                None => Api::all(client),
            };
            let mut rows = Vec::new();
            for svc in api.list(&ListParams::default()).await?.items {
                rows.extend(urls::rows(&svc, &settings.node_ip, args.https));
            }
            print!("{}", urls::table(&rows));
            return Ok(0);
        }
        let client_for_forward = client.clone();
        let api: Api<Service> = Api::namespaced(client, &args.namespace);
        let services: Vec<Service> = if args.all {
            api.list(&ListParams::default()).await?.items
        } else {
            let Some(name) = args.name.clone() else {
                return Err(Failure::new(exit::USAGE, "name a service: `rkube service NAME`, or pass --all; `rkube service list` lists them").into());
            };
            match api.get_opt(&name).await? {
                Some(s) => vec![s],
                None => return Err(not_found(&name, &args.namespace).into()),
            }
        };
        if via_api {
            return forward_via_api(client_for_forward, services, args.url).await;
        }
        let mut opened = Vec::new();
        let mut missing = Vec::new();
        for svc in &services {
            let rows = urls::rows(svc, &settings.node_ip, args.https);
            let id = format!(
                "{}/{}",
                svc.metadata.namespace.clone().unwrap_or_default(),
                svc.metadata.name.clone().unwrap_or_default()
            );
            if rows.iter().all(|r| r.url.is_none()) {
                missing.push(id.clone());
            }
            if args.url {
                for url in rows.iter().filter_map(|r| r.url.as_deref()) {
                    crate::say!("{url}");
                }
            } else {
                print!("{}", urls::table(&rows));
            }
            if rows.iter().any(|r| r.url.is_some()) {
                opened.push((id, rows));
            }
        }
        for id in &missing {
            crate::say_err!("😿  service {id} has no node port");
        }
        if args.url {
            // A script reading the URL learns at once that there is none.
            return Ok(if opened.is_empty() { exit::SERVICE_UNAVAILABLE } else { 0 });
        }
        for (id, rows) in opened {
            let url = rows.iter().find_map(|r| r.url.clone()).unwrap_or_default();
            if !has_display() {
                crate::say!("👉  No browser here: open {url}");
                continue;
            }
            crate::say!("🎉  Opening service {id} in default browser...");
            if let Err(e) = webbrowser::open(&url) {
                crate::say!("👉  Could not open a browser ({e}): open {url}");
            }
        }
        Ok(0)
    })
}

/// Serve each node port of `services` on a localhost port through the API server's
/// port-forward, print the URLs, and stay in the foreground until Ctrl+C.
async fn forward_via_api(
    client: kube::Client,
    services: Vec<Service>,
    url_only: bool,
) -> anyhow::Result<i32> {
    let mut rows = Vec::new();
    let mut tasks = Vec::new();
    for svc in services {
        let ports: Vec<_> = svc
            .spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten())
            .filter(|p| p.node_port.is_some())
            .cloned()
            .collect();
        let id = format!(
            "{}/{}",
            svc.metadata.namespace.clone().unwrap_or_default(),
            svc.metadata.name.clone().unwrap_or_default()
        );
        if ports.is_empty() {
            crate::say_err!("😿  service {id} has no node port");
            continue;
        }
        for port in ports {
            let (addr, task) = tunnel::via_api::listen(client.clone(), svc.clone(), port.clone())
                .await
                .context("listening on a localhost port")?;
            tasks.push(task);
            rows.push(urls::Row {
                namespace: svc.metadata.namespace.clone().unwrap_or_default(),
                name: svc.metadata.name.clone().unwrap_or_default(),
                target_port: match port.name.as_deref().filter(|n| !n.is_empty()) {
                    Some(n) => format!("{n}/{}", port.port),
                    None => port.port.to_string(),
                },
                url: Some(format!("http://{addr}")),
            });
        }
    }
    if rows.is_empty() {
        return Ok(exit::SERVICE_UNAVAILABLE);
    }
    if url_only {
        for url in rows.iter().filter_map(|r| r.url.as_deref()) {
            crate::say!("{url}");
        }
    } else {
        print!("{}", urls::table(&rows));
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    crate::say_err!(
        "🏃  Forwarding through the API server: this host cannot reach the node's network."
    );
    crate::say_err!("❗  The terminal needs to be open to run it; Ctrl+C stops.");
    if !url_only {
        if let Some(url) = rows.iter().find_map(|r| r.url.clone()) {
            if has_display() {
                let _ = webbrowser::open(&url);
            }
        }
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl+C")?;
    for t in tasks {
        t.abort();
    }
    Ok(0)
}
