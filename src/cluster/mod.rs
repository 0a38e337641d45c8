//! Host side of rkube: profiles, the Docker provider, the node image, `start` actions and
//! kubeconfig entries.

pub mod addons;
pub mod config;
pub mod docker;
pub mod extra_config;
pub mod image;
pub mod image_commit;
pub mod image_gc;
pub mod kubeconfig;
pub mod mounts;
pub mod network;
pub mod node_container;
pub mod nodes;
pub mod pause;
pub mod profile;
pub mod start;
pub mod user_images;
pub mod wait;
