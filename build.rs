//! Compiles the Kubernetes protobuf schemas (shipped in the k8s-rs-pb package) into a
//! descriptor set, so the API server can decode `application/vnd.kubernetes.protobuf`
//! request bodies by reflection.

use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;

/// The packages whose objects clients send as protobuf.
const PROTOS: &[&str] = &[
    "api/core/v1/generated.proto",
    "api/apps/v1/generated.proto",
    "api/batch/v1/generated.proto",
    "api/autoscaling/v1/generated.proto",
    "api/autoscaling/v2/generated.proto",
    "api/networking/v1/generated.proto",
    "api/storage/v1/generated.proto",
    "api/rbac/v1/generated.proto",
    "api/coordination/v1/generated.proto",
    "api/discovery/v1/generated.proto",
    "api/events/v1/generated.proto",
    "api/policy/v1/generated.proto",
    "api/scheduling/v1/generated.proto",
    "api/authentication/v1/generated.proto",
    "api/authorization/v1/generated.proto",
    "apiextensions_apiserver/pkg/apis/apiextensions/v1/generated.proto",
    "apimachinery/pkg/apis/meta/v1/generated.proto",
    "apimachinery/pkg/runtime/generated.proto",
];

/// Where cargo unpacked the k8s-rs-pb package.
fn package_dir() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        // Filtered to the target being built: without it cargo wants every platform's
        // dependencies downloaded, which --offline on a fresh machine refuses.
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
        ])
        .arg(std::env::var("TARGET").expect("TARGET"))
        .current_dir(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "k8s-rs-pb"))
        .and_then(|p| p["manifest_path"].as_str())
        .expect("k8s-rs-pb in cargo metadata");
    Path::new(manifest)
        .parent()
        .expect("package dir")
        .to_path_buf()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let root = package_dir().join("src/v1_33");
    let fds = protox::compile(PROTOS, [&root])
        .unwrap_or_else(|e| panic!("compiling Kubernetes protos in {}: {e}", root.display()));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("kubernetes.fds");
    std::fs::write(&out, fds.encode_to_vec()).expect("writing descriptor set");
}
