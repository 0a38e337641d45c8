//! `rkube version`.

/// Run `version`.
pub fn run() {
    println!("rkube version: v{}", env!("CARGO_PKG_VERSION"));
    println!(
        "kubernetes version: {}",
        crate::cluster::start::kubernetes_version()
    );
}
