//! `rkube ip [-n NODE]`: a node's address, the control plane's by default.

use super::exit::{self, Failure};
use crate::cluster::profile;

/// Arguments of `rkube ip`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node, e.g. m02 (default: the control-plane node).
    #[arg(short = 'n', long)]
    pub node: Option<String>,
}

/// Run `ip`.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<()> {
    let s = profile::load(profile_name)?.ok_or_else(|| Failure::profile_not_found(profile_name))?;
    let ip = match args.node.as_deref() {
        None => s.node_ip.clone(),
        Some(n) if n == s.name => s.node_ip.clone(),
        Some(n) => match s.worker(n) {
            Some(w) => w.ip.clone(),
            None => {
                return Err(Failure::new(
                    exit::NOT_FOUND,
                    format!(
                        "cluster \"{}\" has no node {n:?}: see `rkube node list -p {}`",
                        s.name, s.name
                    ),
                )
                .into())
            }
        },
    };
    println!("{ip}");
    Ok(())
}
