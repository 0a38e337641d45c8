//! `rkube ssh`: a shell, or one command, inside the node container.
//!
//! The node is a container on the local engine, so this is a Docker exec with a terminal
//! when one is attached; the command's exit code becomes ours, as with `ssh`.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::exit::{self, Failure};
use crate::cluster::{docker, node_container, profile};

/// Arguments of `rkube ssh`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Command to run instead of a login shell (after `--`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Run `ssh`; the result is the remote command's exit code.
pub fn run(profile_name: &str, args: Args) -> anyhow::Result<i32> {
    if profile::load(profile_name)?.is_none() {
        return Err(Failure::profile_not_found(profile_name).into());
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let code = rt.block_on(session(profile_name, args));
    // A read of our stdin may still be blocked in its thread; don't wait for a key press.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

async fn session(profile_name: &str, args: Args) -> anyhow::Result<i32> {
    let d = docker::connect().await.map_err(Failure::from)?;
    let node = node_container::inspect(&d, profile_name)
        .await
        .context("inspecting the node container")?;
    if !node.as_ref().is_some_and(|n| n.running) {
        return Err(Failure::new(
            exit::NODE_FAILED,
            format!(
                "The control-plane node {profile_name} is not running. To start it, run: rkube start -p {profile_name}"
            ),
        )
        .into());
    }
    // Like ssh: a terminal when we have one and no command, the command through the shell.
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let cmd = if args.command.is_empty() {
        vec!["/bin/sh".to_string(), "-l".to_string()]
    } else {
        vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            args.command.join(" "),
        ]
    };
    let created = d
        .create_exec(
            profile_name,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(tty),
                env: Some(vec![format!(
                    "TERM={}",
                    std::env::var("TERM").unwrap_or_else(|_| "xterm".into())
                )]),
                working_dir: Some("/".to_string()),
                cmd: Some(cmd),
                ..Default::default()
            },
        )
        .await
        .context("starting a shell in the node")?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = d
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                detach: false,
                tty,
                output_capacity: None,
            }),
        )
        .await
        .context("attaching to the shell in the node")?
    else {
        anyhow::bail!("Docker started the shell detached");
    };
    let _raw = if tty { Some(RawMode::enable()?) } else { None };
    if tty {
        resize(&d, &created.id).await;
        let (d, id) = (d.clone(), created.id.clone());
        tokio::spawn(async move {
            let Ok(mut winch) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
            else {
                return;
            };
            while winch.recv().await.is_some() {
                resize(&d, &id).await;
            }
        });
    }
    let stdin = tokio::spawn(async move {
        let mut from = tokio::io::stdin();
        let _ = tokio::io::copy(&mut from, &mut input).await;
        // End of our input is end of theirs (a piped script finishes).
        let _ = input.shutdown().await;
    });
    while let Some(chunk) = output.next().await {
        match chunk.context("reading from the node")? {
            bollard::container::LogOutput::StdErr { message } => {
                std::io::stderr().write_all(&message)?;
            }
            other => {
                let mut out = std::io::stdout();
                out.write_all(&other.into_bytes())?;
                out.flush()?;
            }
        }
    }
    stdin.abort();
    let inspect = d
        .inspect_exec(&created.id)
        .await
        .context("reading the command's exit code")?;
    Ok(inspect.exit_code.unwrap_or(exit::FAILURE as i64) as i32)
}

async fn resize(d: &bollard::Docker, id: &str) {
    if let Ok((width, height)) = crossterm::terminal::size() {
        let _ = d.resize_exec(id, ResizeExecOptions { height, width }).await;
    }
}

/// The local terminal in raw mode for as long as this lives, so keys reach the remote shell.
struct RawMode;

impl RawMode {
    fn enable() -> anyhow::Result<Self> {
        crossterm::terminal::enable_raw_mode().context("switching the terminal to raw mode")?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}
