//! `rkube logs`: what the node process wrote (control plane and kubelet).

use anyhow::Context;
use futures::StreamExt;
use std::io::Write;

use super::exit::Failure;
use crate::cluster::{docker, profile};

/// Arguments of `rkube logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep following the log.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(short = 'n', long)]
    pub length: Option<u64>,
}

/// Run `logs`.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<()> {
    if profile::load(profile_name)?.is_none() {
        return Err(Failure::profile_not_found(profile_name).into());
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let d = docker::connect().await.map_err(Failure::from)?;
        let mut stream = d.logs(
            profile_name,
            Some(bollard::query_parameters::LogsOptions {
                follow: args.follow,
                stdout: true,
                stderr: true,
                tail: args
                    .length
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "all".into()),
                ..Default::default()
            }),
        );
        let mut out = std::io::stdout();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.context("reading the node's log")?;
            out.write_all(&chunk.into_bytes())?;
            out.flush()?;
        }
        Ok(())
    })
}
