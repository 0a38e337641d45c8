//! API tests: `rkube server` on a temp dir, driven by the real kubectl, the Python
//! `kubernetes` client and kube-rs. No Docker needed.

#[path = "../support/mod.rs"]
mod support;

mod access;
mod aggregation;
mod autoscaling;
mod clients;
mod crash_trials;
mod crds;
mod discovery;
mod dns;
mod durability;
mod errors;
mod get;
mod lifecycle;
mod modify;
mod nodes;
mod openapi_v2;
mod pod_security;
mod proxy;
mod rbac;
mod storage;
mod streams;
mod workloads;
mod writes;
