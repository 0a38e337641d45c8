//! `rkube pod-sandbox` (hidden): the process holding a pod sandbox.

/// Run until stopped.
pub fn run() -> anyhow::Result<()> {
    Ok(crate::node::pause::run()?)
}
