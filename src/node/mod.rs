//! Running the cluster's components in one process: the control plane used by
//! `rkube server`, and `rkube node-daemon`, PID 1 of the node container (control plane plus
//! kubelet), and `rkube pod-sandbox`, the process holding each pod sandbox.

pub mod control_plane;
pub mod pause;
pub mod port_relay;
pub mod reclaim;
pub mod run;
pub mod simulated;
