//! The rkube binary: parse, set up logging, run, report errors.

use clap::Parser;

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RKUBE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = rkube::cli::Cli::parse();
    if let Err(e) = rkube::cli::run(cli) {
        eprintln!("❌  Error: {e:#}");
        std::process::exit(1);
    }
}
