//! `rkube profile list`: every profile with its state, like minikube's table.

use anyhow::Context;

use super::exit::Failure;
use crate::cluster::{docker, node_container, profile};

/// Subcommands of `rkube profile`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List profiles.
    List,
}

/// Run `profile list`.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    let Command::List = cmd;
    let names = profile::list();
    if names.is_empty() {
        println!("🤹  No profiles. Create one with \"rkube start\".");
        return Ok(());
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let rows = rt.block_on(async {
        let d = docker::connect().await.map_err(Failure::from)?;
        let mut rows = Vec::new();
        for n in &names {
            let Some(s) = profile::load(n)? else { continue };
            let state = match node_container::inspect(&d, n).await? {
                Some(c) if c.running => "OK",
                Some(_) => "Stopped",
                None => "Missing",
            };
            rows.push([
                s.name.clone(),
                "docker".to_string(),
                "docker".to_string(),
                s.node_ip.clone(),
                s.api_port.to_string(),
                s.kubernetes_version.clone(),
                state.to_string(),
                "1".to_string(),
            ]);
        }
        Ok::<_, anyhow::Error>(rows)
    })?;
    let header = [
        "PROFILE", "DRIVER", "RUNTIME", "IP", "PORT", "VERSION", "STATUS", "NODES",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!(" {:w$} ", c, w = widths[i]))
            .collect();
        format!("|{}|", parts.join("|"))
    };
    let sep = format!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    println!("{}", line(header.to_vec()));
    println!("{sep}");
    for r in &rows {
        println!("{}", line(r.iter().map(String::as_str).collect()));
    }
    Ok(())
}
