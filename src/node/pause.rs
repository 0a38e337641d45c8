//! `rkube pause`: the process that holds a pod sandbox's namespaces. It writes the pod's
//! resolv.conf (the pod's containers share the file), then sleeps until told to stop,
//! reaping any zombie handed to it as PID 1.

use std::time::Duration;

/// The environment variable carrying the pod's resolv.conf.
pub const RESOLV_CONF_ENV: &str = "RKUBE_RESOLV_CONF";

/// Run until SIGTERM or SIGINT.
pub fn run() -> std::io::Result<()> {
    if let Ok(conf) = std::env::var(RESOLV_CONF_ENV) {
        if !conf.is_empty() {
            std::fs::write("/etc/resolv.conf", conf)?;
        }
    }
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
