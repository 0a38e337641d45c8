//! The rkube binary: parse, set up logging, run, report errors.

use clap::Parser;

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RKUBE_LOG")
        // kube's client logs every refused connection at ERROR while a server starts; our
        // callers report failures themselves.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,kube_client::client::builder=off")
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = rkube::cli::Cli::parse();
    if cli.only_prints() {
        use nix::sys::signal::{signal, SigHandler, Signal};
        // SAFETY: no thread exists yet, and the default action runs no handler code.
        let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    }
    match rkube::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("❌  Error: {e:#}");
            std::process::exit(rkube::cli::exit::code_of(&e));
        }
    }
}
