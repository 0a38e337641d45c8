//! End-to-end tests: `rkube start` on the machine's Docker engine, real kubectl, and images
//! built locally (no registry is reachable). `scripts/test` runs them and deletes the
//! clusters afterwards.

#[path = "../support/mod.rs"]
mod support;

mod addons;
mod cluster;
mod dashboard;
mod everyday;
mod images;
mod ingress;
mod lifecycle;
mod metrics;
mod node_kills;
mod nodes;
mod pods;
mod services;
mod streams;
mod workloads;
