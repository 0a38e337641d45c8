//! `rkube pause`: the process that holds a pod sandbox's namespaces. It sleeps until told
//! to stop, reaping any zombie handed to it as PID 1.

use std::time::Duration;

/// Run until SIGTERM or SIGINT.
pub fn run() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut child = signal(SignalKind::child())?;
        loop {
            tokio::select! {
                _ = term.recv() => return Ok(()),
                _ = int.recv() => return Ok(()),
                _ = child.recv() => super::run::reap_zombies(),
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            }
        }
    })
}
