//! Running the cluster's components in one process: the control plane used by
//! `rkube server` (and, with the Docker issue, by `rkube node` inside the node container).

pub mod control_plane;
pub mod simulated;
