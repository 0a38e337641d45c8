//! `rkube tunnel`: forward every LoadBalancer service's ports from 127.0.0.1 and give the
//! services that ingress address, until Ctrl+C.

use std::net::IpAddr;

use anyhow::Context;

use super::exit::{self, Failure};
use crate::cluster::profile;
use crate::cluster::start::{admin_client, credentials};
use crate::tunnel::{self, loadbalancer, lock};

/// Arguments of `rkube tunnel`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove what an earlier tunnel left (accepted for minikube compatibility: rkube adds
    /// no routes, and clears ingress addresses when it stops).
    #[arg(short = 'c', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub cleanup: bool,
    /// The address the forwarded ports listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_address: IpAddr,
}

async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// Run `tunnel` in the foreground.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<()> {
    let settings =
        profile::load(profile_name)?.ok_or_else(|| Failure::profile_not_found(profile_name))?;
    let _lock = lock::acquire(&profile::dir(profile_name))
        .map_err(|e| Failure::new(exit::TUNNEL_RUNNING, e.to_string()))?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let node_ip: IpAddr = settings
            .node_ip
            .parse()
            .with_context(|| format!("the profile's node IP {:?}", settings.node_ip))?;
        // Docker Desktop keeps the node's network inside its VM: forward through the API
        // server instead (RKUBE_FORWARD_VIA_API=1 chooses that path anywhere).
        let via_api = std::env::var("RKUBE_FORWARD_VIA_API").is_ok_and(|v| v == "1")
            || !tunnel::host_reaches_node(node_ip).await;
        let (_, creds) = credentials(&settings.name)?;
        let client = admin_client(&settings, &creds)
            .await
            .map_err(|e| Failure::new(exit::FAILURE, format!("cannot reach the API server of \"{profile_name}\": {e}")))?;
        let ingress_ip = if args.bind_address.is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            args.bind_address
        };
        let cfg = loadbalancer::Config {
            profile: settings.name.clone(),
            bind: args.bind_address,
            ingress_ip,
            node_ip,
            via_api,
        };
        crate::say!("✅  Tunnel successfully started");
        if via_api {
            crate::say!("🏃  Forwarding through the API server: this host cannot reach the node's network.");
        }
        crate::say!();
        crate::say!("📌  NOTE: Please do not close this terminal as this process must stay alive for the tunnel to be accessible ...");
        crate::say!();
        let shown = cfg.clone();
        loadbalancer::run(client, cfg, stop_signal(), |status| {
            use std::io::Write;
            print!("{}", status.render(&shown));
            let _ = std::io::stdout().flush();
        })
        .await;
        crate::say!("✋  Tunnel stopped: the ports are closed and the services' ingress addresses cleared");
        Ok(())
    })
}
