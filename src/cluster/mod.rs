//! Host side of rkube: kubeconfig entries (profiles, the Docker provider and `start`
//! actions follow with the Docker issue).

pub mod kubeconfig;
