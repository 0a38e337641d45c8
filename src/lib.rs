//! rkube: a minikube-style local Kubernetes in one Rust binary.
#![deny(unsafe_code)]

pub mod addons;
pub mod apiserver;
pub mod cli;
pub mod cluster;
pub mod controllers;
pub mod dashboard;
pub use rkube_network::dns;
pub mod echo_server;
pub use rkube_client::informer;
pub mod kubelet;
pub mod node;
pub mod pki;
pub use rkube_network::proxy;
pub use rkube_resources as resources;
pub mod scheduler;
pub use rkube_store as store;
pub use rkube_streams as streams;
pub mod supervisor;
pub mod tunnel;
pub mod ui;
