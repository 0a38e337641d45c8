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
    #[cfg(target_env = "gnu")]
    if cli.is_node() {
        let _ = std::thread::Builder::new()
            .name("heap-trim".into())
            .spawn(trim_heap);
    }
    match rkube::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("❌  Error: {e:#}");
            std::process::exit(rkube::cli::exit::code_of(&e));
        }
    }
}

/// Every minute, hand the heap's free pages back to the kernel. glibc returns only the top
/// of a heap by itself; what a burst of pods freed below it stays resident (in a node after
/// a 60-pod burst, `malloc_trim` took its anonymous memory from 44.5 to 34.2 MiB). At idle
/// a trim finds nothing and costs little.
#[cfg(target_env = "gnu")]
fn trim_heap() {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
        // SAFETY: malloc_trim takes the allocator's own locks and frees only pages no
        // allocation holds.
        unsafe {
            nix::libc::malloc_trim(0);
        }
    }
}
