//! `rkube port-relay PORT` (hidden): run by the kubelet inside a pod's sandbox to reach a
//! server on the pod's localhost.

/// Relay stdio to `localhost:port`; returns the exit code.
pub fn run(port: u16) -> anyhow::Result<i32> {
    Ok(crate::node::port_relay::run(port)?)
}
