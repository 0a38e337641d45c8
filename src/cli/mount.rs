//! `rkube mount HOST_DIR:NODE_DIR`: pods with `hostPath: NODE_DIR` (or below it) see the host
//! directory, read and write, until Ctrl+C. Pods see the node's filesystem, not the host's,
//! so this is how host files reach them.

use std::path::{Component, Path, PathBuf};

use anyhow::Context;

use super::exit::{self, Failure};
use crate::cluster::{docker, mounts, node_container, profile};
use crate::kubelet::host_mounts::HostMount;

/// Arguments of `rkube mount`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// HOST_DIR:NODE_DIR, e.g. $HOME/data:/mnt/data.
    #[arg(required_unless_present = "kill")]
    pub source_target: Option<String>,
    /// Stop every `rkube mount` of the profile.
    #[arg(long)]
    pub kill: bool,
}

/// The host directory and node path of `HOST:NODE`, checked.
fn parse(arg: &str) -> Result<(PathBuf, String), Failure> {
    let usage = |why: &str| {
        Failure::new(
            exit::USAGE,
            format!("{why}: use HOST_DIR:NODE_DIR, for example $HOME/data:/mnt/data"),
        )
    };
    let (host, node) = arg
        .rsplit_once(':')
        .filter(|(h, n)| !h.is_empty() && !n.is_empty())
        .ok_or_else(|| usage(&format!("{arg:?} is not a mount string")))?;
    let node_path = Path::new(node);
    if !node_path.is_absolute()
        || node_path.components().all(|c| c == Component::RootDir)
        || node_path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(usage(&format!(
            "the node path {node:?} must be absolute, below /, with no '.' or '..'"
        )));
    }
    let host_dir = std::fs::canonicalize(host).map_err(|e| {
        Failure::new(
            exit::NOT_FOUND,
            format!(
                "the host directory {host:?} cannot be used ({e}): create it or correct the path"
            ),
        )
    })?;
    if !host_dir.is_dir() {
        return Err(Failure::new(
            exit::NOT_FOUND,
            format!(
                "{} is not a directory: mount a directory",
                host_dir.display()
            ),
        ));
    }
    Ok((host_dir, node.trim_end_matches('/').to_string()))
}

/// Run `mount` until Ctrl+C; returns the exit code.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<i32> {
    let Some(settings) = profile::load(profile_name)? else {
        return Err(Failure::profile_not_found(profile_name).into());
    };
    if args.kill {
        let mut n = 0;
        for m in mounts::current(profile_name).mounts {
            if let Ok(pid) = i32::try_from(m.pid) {
                let pid = nix::unistd::Pid::from_raw(pid);
                if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_ok() {
                    n += 1;
                }
            }
        }
        crate::say!("✅  Stopped {n} mount process(es)");
        return Ok(0);
    }
    let (host_dir, node_dir) = parse(args.source_target.as_deref().unwrap_or_default())?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let d = docker::connect().await.map_err(Failure::from)?;
        let running = node_container::inspect(&d, profile_name)
            .await?
            .is_some_and(|n| n.running && !n.paused);
        if !running {
            return Err(Failure::new(
                exit::NOT_RUNNING,
                format!("The cluster \"{profile_name}\" is not running, so nothing can be mounted: run `rkube start -p {profile_name}` first"),
            )
            .into());
        }
        let host = host_dir.display().to_string();
        crate::say!("📁  Mounting host path {host} into VM as {node_dir} ...");
        crate::say!("    ▪ Mount type:   bind (the Docker engine binds the host directory into pods)");
        crate::say!("    ▪ User ID:      as on the host");
        crate::say!("    ▪ Group ID:     as on the host");
        let me = HostMount {
            host_path: host.clone(),
            node_path: node_dir.clone(),
            expires: 0,
            pid: std::process::id(),
        };
        let add = |ms: &mut Vec<HostMount>| {
            ms.retain(|m| m.node_path != me.node_path || m.pid == me.pid);
            if !ms.contains(&me) {
                ms.push(me.clone());
            }
        };
        mounts::publish(&d, &settings, add).await?;
        crate::say!("✅  Successfully mounted {host} to {node_dir}");
        crate::say!();
        crate::say!("📌  NOTE: This process must stay alive for the mount to be accessible ...");
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut renew = tokio::time::interval(mounts::RENEW_EVERY);
        renew.tick().await;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = renew.tick() => {
                    // Another mount of the same node path may have taken it over.
                    if let Err(e) = mounts::publish(&d, &settings, |_| {}).await {
                        crate::say_err!("❗  Renewing the mount: {e}");
                    }
                }
            }
        }
        crate::say!("🔥  Unmounting {node_dir} ...");
        mounts::publish(&d, &settings, |ms| ms.retain(|m| m.pid != std::process::id())).await?;
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_strings_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().display().to_string();
        let (h, n) = parse(&format!("{host}:/mnt/data/")).unwrap();
        assert_eq!(
            (h, n.as_str()),
            (std::fs::canonicalize(dir.path()).unwrap(), "/mnt/data")
        );
        assert_eq!(
            parse("/nowhere-at-all:/mnt/x").unwrap_err().code,
            exit::NOT_FOUND
        );
        assert_eq!(
            parse(&format!("{host}:relative")).unwrap_err().code,
            exit::USAGE
        );
        assert_eq!(parse(&format!("{host}:/")).unwrap_err().code, exit::USAGE);
        assert_eq!(
            parse(&format!("{host}:/mnt/../etc")).unwrap_err().code,
            exit::USAGE
        );
        assert_eq!(parse("no-colon").unwrap_err().code, exit::USAGE);
    }
}
