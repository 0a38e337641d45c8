//! Command-line interface: one file per subcommand.

mod server;

use clap::{Parser, Subcommand};

/// rkube: a local Kubernetes in one binary.
#[derive(Debug, Parser)]
#[command(
    name = "rkube",
    version,
    about = "Local Kubernetes, minikube-style, in one Rust binary"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the control plane (API server, datastore) in the foreground on 127.0.0.1, no Docker needed.
    Server(server::Args),
}

/// Run the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Server(args) => server::run(args),
    }
}
